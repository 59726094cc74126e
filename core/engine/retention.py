"""What one pipeline run keeps alive, and the bytes of it: the memory budget is per pipeline, not per op.

A run holds the names of its environment (``x``, bound names, ``h_n`` ...), every stage tensor kept for the
page's charts and, inside one step, the intermediates of its chain. ``Retention`` applies the same rules to
the prediction (meta tensors) and to the real run, so the bytes predicted before anything runs are the bytes
the run holds:

- tensors are counted by storage, so a view (``view``, ``permute``, ``expand``...) costs nothing more;
- a stage tensor larger than ``KEEP_FOR_DISPLAY`` is released once a later step has run, unless a name still
  holds it (the last stage is always kept); the stage record (shape, strides, bytes) stays;
- inside a step only the op being computed and its input are alive (``transient``), not the whole chain.

    >>> import torch
    >>> r = Retention(limit=10 * 2**20, keep_for_display=2**20)
    >>> x = torch.empty(512, 512, device="meta")               # 1 MiB
    >>> r.add_stage(x, {"x": x}, "source")
    1048576
    >>> y = x.repeat(1, 4)                                      # 4 MiB, a new storage
    >>> r.add_stage(y, {"x": y}, "step 1")                      # the source stays: 1 MiB is small enough to show
    5242880
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.errors import BudgetExceeded

KEEP_FOR_DISPLAY = 32 * 2**20  # bytes: a stage tensor up to this size stays for the charts after later steps


def tensors_in(value: Any) -> list[Any]:
    """Every tensor inside ``value`` (a tensor, a tuple / list of them, a PackedSequence's data)."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    data = getattr(value, "data", None)
    if isinstance(data, torch.Tensor) and hasattr(value, "batch_sizes"):
        return [data]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in tensors_in(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in tensors_in(item)]
    return []


def storage_of(t: Any) -> tuple[int, int]:
    """(identity, bytes) of a tensor's storage: views of one tensor share it (meta tensors included)."""
    storage = t.untyped_storage()
    return storage._cdata, storage.nbytes()


def live_bytes(values: Iterable[Any]) -> int:
    """Bytes of the distinct storages behind ``values`` (each value: a tensor or a structure of them)."""
    seen: dict[int, int] = {}
    for v in values:
        for t in tensors_in(v):
            key, size = storage_of(t)
            seen[key] = size
    return sum(seen.values())


def fmt(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


class Retention:
    """The stage tensors a run keeps for display and the bytes it holds; BudgetExceeded over ``limit``."""

    def __init__(
        self,
        limit: int,
        keep_for_display: int = KEEP_FOR_DISPLAY,
        extra: int = 0,
        work: float = 0.0,
        work_limit: float | None = None,
    ) -> None:
        self.limit = limit
        self.keep_for_display = keep_for_display
        self.extra = extra  # bytes held outside the steps (the encoder's hidden states)
        self.shown: list[Any] = []  # stage values, None once released
        self.peak = 0
        self.work = work  # FLOPs of the run so far (the encoder's forward, then each layer step)
        self.work_limit = work_limit

    def add_work(self, flops: float, where: str) -> float:
        """Add a step's work to the run's; BudgetExceeded when the whole run goes over ``work_limit``."""
        from core.limits import fmt_flops

        self.work += flops
        if self.work_limit is not None and self.work > self.work_limit:
            raise BudgetExceeded(
                f"with {where} the run would take about {fmt_flops(self.work)} of work in all (the encoder and the "
                f"layer steps); the server's limit for one run is {fmt_flops(self.work_limit)}. Use smaller inputs "
                "or fewer or smaller layers"
            )
        return self.work

    def _held(self, env: dict[str, Any], more: Iterable[Any] = ()) -> int:
        return self.extra + live_bytes([*env.values(), *(v for v in self.shown if v is not None), *more])

    def check(self, env: dict[str, Any], transient: Iterable[Any], where: str) -> int:
        """Bytes held while a step computes (``transient``: its op's input and output); BudgetExceeded if over."""
        held = self._held(env, transient)
        self.peak = max(self.peak, held)
        if held > self.limit:
            raise BudgetExceeded(
                f"at {where} the pipeline would hold {fmt(held)} at once (every tensor alive then: its names, the "
                f"stages kept for display, the op's input and output); the server's memory limit for one run is "
                f"{fmt(self.limit)}. Use smaller sizes, or fewer steps that copy (repeat, cat, contiguous)"
            )
        return held

    def add_stage(self, value: Any, env: dict[str, Any], where: str) -> int:
        """Record a new stage and release the older ones no longer worth keeping; the bytes held after it."""
        held = self.check(env, [value], where)
        alive = {storage_of(t)[0] for v in env.values() for t in tensors_in(v)}
        for i, old in enumerate(self.shown):
            if old is None:
                continue
            ts = tensors_in(old)
            size = live_bytes([old])
            if size > self.keep_for_display and not any(storage_of(t)[0] in alive for t in ts):
                self.shown[i] = None
        self.shown.append(value)
        return min(held, self._held(env))

    def released(self) -> list[int]:
        """Indices of the stages whose tensors were released."""
        return [i for i, v in enumerate(self.shown) if v is None]


SOURCE_NAMES = frozenset({"x", "mask", "attention_mask", "input_ids", "lengths", "labels"})


def drop_unread(env: dict[str, Any], later: set[str], keep_for_display: int = KEEP_FOR_DISPLAY) -> list[str]:
    """Forget the bound names no later step reads (the pipeline's own names stay), when they hold more than
    ``keep_for_display`` bytes; returns the names dropped."""
    dropped = [
        name
        for name, value in env.items()
        if name not in SOURCE_NAMES and name not in later and live_bytes([value]) > keep_for_display
    ]
    for name in dropped:
        del env[name]
    return dropped


def chain_transients(input_value: Any, results: list[Any]) -> list[list[Any]]:
    """For a chain of op results, the pairs alive while each op computes: (its input, its output)."""
    pairs = []
    before = input_value
    for value in results:
        pairs.append([before, value])
        before = value
    return pairs
