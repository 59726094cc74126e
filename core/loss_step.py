"""The loss step and the per-text labels of the Spec contract (issue 12): logits against targets through a
torch.nn loss, so the errors people meet at the loss can be reproduced, explained and fixed.

    {"loss": {"kind": "CrossEntropyLoss", "reduction": "mean"}, "input": "x", "target": "labels"}

- ``loss``: the torch.nn class (``kind``: CrossEntropyLoss, BCEWithLogitsLoss, MSELoss, NLLLoss) and its
  constructor parameters, named as in torch.nn (``reduction``, ``ignore_index``, ``label_smoothing``, ``weight``,
  ``pos_weight``);
- ``input``: the name holding the logits (default ``x``);
- ``target``: an expression (default ``labels``; e.g. ``labels.view(-1)``, ``labels.float()``), evaluated like a
  step, or a synthetic target ``{"shape": [16, 3], "dtype": "float", "high": 2}``.

The step binds ``loss`` (the loss value) and leaves ``x`` as it was. The Spec's top-level ``labels`` holds one entry
per text (per row of a synthetic source): a class id, a multi-hot row, a float or a list of floats; the name
``labels`` is then available to every expression.

    >>> parse_loss_step({"loss": {"kind": "CrossEntropyLoss"}, "target": "labels.view(-1)"}, "step 3").source
    'loss = nn.CrossEntropyLoss()(x, labels.view(-1))'
"""

from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import SpecError

LOSS_KEY = "loss"
LOSS_KEYS = ("input", "target")  # sibling keys of a loss step
MAX_TARGET_CHARS = 500
MAX_LABEL_VALUES = 100_000
MAX_ROW = 4096
MAX_TARGET_NUMEL = 2**22
REDUCTIONS = ("mean", "sum", "none")
TARGET_DTYPES = ("long", "float")


class LossKind(StrEnum):
    """The loss steps; the value is the torch.nn class name."""

    CROSS_ENTROPY = "CrossEntropyLoss"
    BCE_WITH_LOGITS = "BCEWithLogitsLoss"
    MSE = "MSELoss"
    NLL = "NLLLoss"

    @classmethod
    def parse(cls, value: Any, where: str = "") -> LossKind:
        """``"CrossEntropyLoss"`` (any case, with or without ``nn.``); a SpecError lists the choices."""
        text = str(value).strip().removeprefix("torch.").removeprefix("nn.").lower()
        for kind in cls:
            if kind.value.lower() == text:
                return kind
        choices = ", ".join(k.value for k in cls)
        raise SpecError(f"{where}unknown loss {str(value)[:60]!r}; choose one of: {choices}")


# constructor parameters accepted per loss (JSON types); weight / pos_weight are lists of numbers (tensors in torch)
LOSS_PARAMS: dict[LossKind, dict[str, tuple[type, ...]]] = {
    LossKind.CROSS_ENTROPY: {
        "weight": (list,),
        "ignore_index": (int,),
        "reduction": (str,),
        "label_smoothing": (float, int),
    },
    LossKind.BCE_WITH_LOGITS: {"weight": (list,), "reduction": (str,), "pos_weight": (list,)},
    LossKind.MSE: {"reduction": (str,)},
    LossKind.NLL: {"weight": (list,), "ignore_index": (int,), "reduction": (str,)},
}
TENSOR_PARAMS = ("weight", "pos_weight")


@dataclass(frozen=True)
class SyntheticTarget:
    """A random target of a given shape: ``long`` class ids in [0, high) (high defaults to 2), or ``float``: 0/1
    values when ``high`` is given (multi-hot rows with high=2), else uniform in [0, 1)."""

    shape: tuple[int, ...]
    dtype: str = "long"
    high: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shape": list(self.shape), "dtype": self.dtype}
        if self.high is not None:
            out["high"] = self.high
        return out

    @property
    def source(self) -> str:
        """The PyTorch call that builds it (the exported script uses the same, seeded)."""
        if self.dtype == "long":
            return f"torch.randint(0, {self.high or 2}, {self.shape})"
        if self.high is not None:
            return f"torch.randint(0, {self.high}, {self.shape}).float()"
        return f"torch.rand({self.shape})"


@dataclass(frozen=True)
class LossStep:
    """``{"loss": {"kind": ..., <params>}, "input": "x", "target": "labels"}`` (see the module docstring)."""

    kind: LossKind
    params: dict[str, Any] = field(default_factory=dict)
    input: str = "x"
    target: str | SyntheticTarget = "labels"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {LOSS_KEY: {"kind": self.kind.value, **self.params}}
        if self.input != "x":
            out["input"] = self.input
        out["target"] = self.target.to_json() if isinstance(self.target, SyntheticTarget) else self.target
        return out

    @property
    def label(self) -> str:
        return LOSS_KEY

    @property
    def names(self) -> tuple[str, ...]:
        """The names this step binds."""
        return ("loss",)

    @property
    def target_source(self) -> str:
        return self.target.source if isinstance(self.target, SyntheticTarget) else self.target

    @property
    def source(self) -> str:
        """``loss = nn.CrossEntropyLoss(reduction='sum')(x, labels)``."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"loss = nn.{self.kind.value}({args})({self.input}, {self.target_source})"

    @property
    def reads_labels(self) -> bool:
        """True when the target expression reads the name ``labels`` (found with ast, never evaluated)."""
        if isinstance(self.target, SyntheticTarget):
            return False
        try:
            tree = ast.parse(self.target, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        return any(isinstance(n, ast.Name) and n.id == "labels" for n in ast.walk(tree))


def _name_ok(name: str) -> bool:
    return name.isidentifier() and not name.startswith("_") and len(name) <= 60


def parse_loss_step(raw: dict[str, Any], where: str) -> LossStep:
    """A loss step from its JSON object; SpecError names the step and the bad key or value."""
    extra = [k for k in raw if k not in (LOSS_KEY, *LOSS_KEYS)]
    if extra:
        raise SpecError(
            f"{where}: a loss step has the keys loss, input and target; unknown: {', '.join(map(str, extra))[:80]}"
        )
    body = raw[LOSS_KEY]
    if isinstance(body, str):
        body = {"kind": body}
    if not isinstance(body, dict) or "kind" not in body:
        raise SpecError(f'{where}: "loss" must be an object with a "kind", e.g. {{"kind": "CrossEntropyLoss"}}')
    kind = LossKind.parse(body["kind"], f"{where}: ")
    allowed = LOSS_PARAMS[kind]
    params: dict[str, Any] = {}
    for name, value in body.items():
        if name == "kind":
            continue
        if name not in allowed:
            raise SpecError(
                f"{where}: {kind.value} has no parameter {name!r}; torch.nn parameters are: {', '.join(allowed)}"
            )
        params[name] = _param(kind, name, value, where)
    name = raw.get("input", "x")
    if not isinstance(name, str) or not _name_ok(name.strip()):
        raise SpecError(f'{where}: \'input\' must be a name such as "x" or "logits", got {json.dumps(name)[:60]}')
    target = _target(raw.get("target", "labels"), where)
    return LossStep(kind, params, name.strip(), target)


def _param(kind: LossKind, name: str, value: Any, where: str) -> Any:
    what = f"{where}: {kind.value}.{name}"
    if name == "reduction":
        if value not in REDUCTIONS:
            raise SpecError(f"{what} must be one of {', '.join(REDUCTIONS)}, got {json.dumps(value)[:40]}")
        return value
    if name in TENSOR_PARAMS:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_ROW:
            raise SpecError(f"{what} must be a list of 1 to {MAX_ROW} numbers (one per class)")
        if not all(_number(v) for v in value):
            raise SpecError(f"{what} must hold finite numbers")
        return [float(v) for v in value]
    if name == "ignore_index":
        if isinstance(value, bool) or not isinstance(value, int) or not -1_000_000 <= value <= 1_000_000:
            raise SpecError(f"{what} must be an integer, e.g. -100")
        return value
    if name == "label_smoothing":
        if not _number(value) or not 0.0 <= float(value) <= 1.0:
            raise SpecError(f"{what} must be a number in 0..1")
        return float(value)
    raise AssertionError(name)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _target(raw: Any, where: str) -> str | SyntheticTarget:
    if isinstance(raw, str):
        text = raw.strip()
        if not text or len(text) > MAX_TARGET_CHARS:
            raise SpecError(
                f"{where}: 'target' must be a non-empty expression of at most {MAX_TARGET_CHARS} characters"
            )
        return text
    if not isinstance(raw, dict):
        raise SpecError(
            f'{where}: \'target\' is an expression ("labels", "labels.view(-1)") or a synthetic target '
            '{"shape": [16], "dtype": "long", "high": 3}'
        )
    unknown = set(raw) - {"shape", "dtype", "high"}
    if unknown:
        raise SpecError(f"{where}: a synthetic target has shape, dtype and high; unknown: {', '.join(sorted(unknown))}")
    shape = raw.get("shape")
    if not isinstance(shape, list) or len(shape) > 6 or not all(_size(d) for d in shape):
        raise SpecError(f"{where}: the target's 'shape' must be a list of 0 to 6 positive integers, e.g. [16, 3]")
    if math.prod(shape) > MAX_TARGET_NUMEL:
        raise SpecError(f"{where}: the target has {math.prod(shape):,} values; the limit is {MAX_TARGET_NUMEL:,}")
    dtype = raw.get("dtype", "long")
    if dtype not in TARGET_DTYPES:
        raise SpecError(f"{where}: the target's 'dtype' is 'long' (class ids) or 'float', got {json.dumps(dtype)[:40]}")
    high = raw.get("high")
    if high is not None and not (_size(high) and high <= 1_000_000):
        raise SpecError(f"{where}: the target's 'high' (class count) must be a positive integer")
    return SyntheticTarget(tuple(shape), dtype, high)


def _size(d: Any) -> bool:
    return isinstance(d, int) and not isinstance(d, bool) and d >= 1


def parse_labels(raw: Any, rows: int, what: str) -> tuple[Any, ...]:
    """The Spec's ``labels``: one entry per ``what`` (``rows`` of them) — an int, a float, or a list of them.

    Rows are kept as tuples (the Spec is frozen); lists of different lengths are allowed (labels per token).
    """
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"'labels' must be a list with one entry per {what}, e.g. [1, 0, 2]")
    if len(raw) != rows:
        head, _, rest = what.partition(" ")  # "row of the synthetic source" -> "rows of the synthetic source"
        there = f"is 1 {what}" if rows == 1 else f"are {rows} {head}s{' ' + rest if rest else ''}"
        raise SpecError(
            f"'labels' has {len(raw)} entries but there {there}: give one label (or one row of labels) per {what}"
        )
    nested = [isinstance(v, list) for v in raw]
    if any(nested) and not all(nested):
        raise SpecError("'labels' mixes single labels and rows: give every entry as a number, or every entry as a list")
    out: list[Any] = []
    count = 0
    for v in raw:
        values = v if isinstance(v, list) else [v]
        if isinstance(v, list) and not 1 <= len(v) <= MAX_ROW:
            raise SpecError(f"a row of 'labels' must hold 1 to {MAX_ROW} numbers")
        if not all(_number(x) for x in values):
            bad = next(x for x in values if not _number(x))
            raise SpecError(f"'labels' must hold numbers (class ids, 0/1 or floats), got {json.dumps(bad)[:40]}")
        count += len(values)
        out.append(tuple(values) if isinstance(v, list) else v)
    if count > MAX_LABEL_VALUES:
        raise SpecError(f"'labels' holds {count:,} values; the limit is {MAX_LABEL_VALUES:,}")
    return tuple(out)


def labels_json(labels: tuple[Any, ...]) -> list[Any]:
    return [list(v) if isinstance(v, tuple) else v for v in labels]
