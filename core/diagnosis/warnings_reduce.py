"""Warnings for a mean / max / sum over the token axis of a padded batch that ignores the attention mask.

- ``unmasked_reduction``: ``x.mean(dim=1)``, ``x.amax(dim=1)``, ``x.sum(dim=1)`` or einops
  ``reduce(x, "b l h -> b h", "mean")`` over a padded (batch, tokens, …) tensor: the shorter texts' [PAD] positions
  are averaged in, compete for the maximum, or are added. Fix: pooling 'mean' / 'max' (masked), or the masked
  formula with ``mask`` (sentence-transformers' Pooling: masked sum over the clamped count of real tokens; max
  after pushing [PAD] to -inf).

Any layout: the token axis is found by its meaning (``tokens``), wherever it is, and after an LSTM as well as on the
encoder output. A chain that already applied the mask (``x * mask.unsqueeze(-1)``, ``masked_fill``) is left alone.
"""

from __future__ import annotations

from typing import Any

from core.diagnosis.finding_tools import OpSite, predicts, shorter
from core.fixes import Fix
from core.records import Finding
from core.spec import Pooling

REDUCTIONS = {"mean": "mean", "sum": "sum", "amax": "max", "amin": "min", "max": "max", "min": "min"}
EINOPS = {"mean": "mean", "sum": "sum", "max": "max", "min": "min"}
MASK_NAMES = ("mask", "attention_mask")
NOT_DATA = (*MASK_NAMES, "input_ids", "lengths")
POOLINGS = {"mean": Pooling.MEAN, "max": Pooling.MAX}


def _reduced_dims(op: Any, ndim: int) -> set[int]:
    dim = op.args[0] if op.args else None
    if dim is None or dim == ():
        return set(range(ndim))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return {d % ndim for d in dims if isinstance(d, int)}


def _kind(site: OpSite, t: int) -> str | None:
    """``"mean"`` / ``"max"`` / ``"sum"`` / ``"min"`` when op ``site.k`` reduces dim ``t``, else None."""
    op = site.op
    if op.name in REDUCTIONS and (op.name not in ("max", "min") or (op.args and op.args[0] is not None)):
        return REDUCTIONS[op.name] if t in _reduced_dims(op, len(site.s_in)) else None
    if op.name == "reduce" and len(op.args) > 1 and op.args[1] in EINOPS:
        out_axes = site.axes[site.k + 1]
        if not any(a.role == "tokens" for a in out_axes):
            return EINOPS[op.args[1]]
    return None


def _masked_before(site: OpSite) -> bool:
    """True when the chain applied the mask before this op (a product with it, or masked_fill)."""
    for op in site.ops[: site.k]:
        if op.name in ("masked_fill", "where"):
            return True
        for a in (*op.args, *(v for _, v in op.kwargs)):
            for item in a if isinstance(a, tuple) else (a,):
                if getattr(item, "root", None) in MASK_NAMES:
                    return True
    return False


def masked_formula(kind: str, t: int, ndim: int) -> str:
    """The masked reduction over token dim ``t`` of a (…, tokens, hidden) tensor whose batch is dim ``1 - t``.

    ``mask`` is (batch, tokens); seq-first tensors read it transposed.
    """
    m = "mask" if t == 1 else "mask.T"
    m3 = f"{m}.unsqueeze(-1)" if ndim == 3 else m
    if kind == "max":
        return f'x.masked_fill({m3} == 0, float("-inf")).amax(dim={t})'
    if kind == "min":
        return f'x.masked_fill({m3} == 0, float("inf")).amin(dim={t})'
    total = f"(x * {m3}).sum(dim={t})"
    if kind == "sum":
        return total
    count = "mask.sum(dim=1, keepdim=True)" if ndim == 3 else "mask.sum(dim=1)"
    return f"{total} / {count}"


def op_findings(site: OpSite) -> list[Finding]:
    """A warning when op ``site.k`` reduces the full, padded token axis of data that was not masked."""
    lengths = tuple(site.info.get("lengths") or ())
    if not site.info.get("padded") or not lengths or site.root in NOT_DATA:
        return []
    t = next((d for d, a in enumerate(site.a_in) if a.role == "tokens" and site.s_in[d] == max(lengths)), None)
    if t is None:
        return []
    kind = _kind(site, t)
    if kind is None or _masked_before(site):
        return []
    return [_unmasked(site, t, kind, lengths)]


def _unmasked(site: OpSite, t: int, kind: str, lengths: tuple[int, ...]) -> Finding:
    top = max(lengths)
    short = [n for n in lengths if n < top]
    fewest = min(lengths)
    prev = site.stages[-2]
    after = f"the {prev.kind.upper()}'s outputs at [PAD] positions" if prev.kind in ("lstm", "gru") else "[PAD] vectors"
    effect = {
        "mean": f"and {after} are averaged in as if they were words",
        "sum": f"and {after} are added in",
        "max": f"and {after} compete for every feature's maximum",
        "min": f"and {after} compete for every feature's minimum",
    }[kind]
    formula = masked_formula(kind, t, len(site.s_in))
    ways = f"the masked formula `{formula}`"
    if kind in POOLINGS and prev.kind == "source":
        ways = f"pooling '{kind}' (masked by the attention mask), or " + ways
    msg = (
        f"`{site.step}` takes the {kind} over all {top} positions of {site.a_in[t].label} for every text, but the "
        f"batch is padded: {shorter(short, lengths)} ({', '.join(map(str, short))} real tokens) — the shortest "
        f"has {top - fewest} [PAD] positions of {top}, {effect}. Use {ways}."
    )
    return Finding("unmasked_reduction", msg, _fix(site, t, kind), step_index=site.index)


def _fix(site: OpSite, t: int, kind: str) -> Fix | None:
    spec, i = site.spec, site.index
    prev = site.stages[-2]
    steps = spec.to_dict()["steps"]
    whole = site.k == 0 and len(site.ops) == 1 and site.root == "x"
    only_tokens = site.op.name == "reduce" or _reduced_dims(site.op, len(site.s_in)) == {t}
    if whole and only_tokens and kind in POOLINGS and prev.kind == "source" and t == 1 and spec.pooling is Pooling.NONE:
        rest = steps[:i] + steps[i + 1 :]
        fix = Fix(
            f"set pooling to '{kind}' (masked over the real tokens) and remove step {i + 1}",
            "update",
            value={"pooling": kind, "steps": rest},
        )
        if predicts(spec, fix, site.stages[:-1], max(len(rest) - 1, 0)):
            return fix
    return None
