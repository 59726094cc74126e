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

from core.diagnosis.finding_tools import OpSite, predicts, replace_fix, shorter
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
    pads = _pads(site, t, lengths)
    if pads == "neutral" and kind != "mean":
        return []  # masked in an earlier step: zeros for a sum, -inf (or very negative) for a max
    return [_unmasked(site, t, kind, lengths, zeroed=pads == "zero")]


def _pads(site: OpSite, t: int, lengths: tuple[int, ...]) -> str:
    """What the reduced tensor holds at the [PAD] positions: ``"zero"`` (masked by a product), ``"neutral"`` for
    the op (zeros for sum, ≤ -1e4 for max, ≥ 1e4 for min), or ``"data"``. Read from the real tensor (k == 0 only)."""
    from core.engine.evaluate import first

    env = site.info.get("env") or {}
    b = next((d for d, a in enumerate(site.a_in) if a.role == "batch"), None)
    if site.k != 0 or site.root not in env or b is None or b == t:
        return "data"
    data = first(env[site.root])
    if tuple(getattr(data, "shape", ())) != tuple(site.s_in) or not data.is_floating_point():
        return "data"
    top = max(lengths)
    pads = [data.select(b, j).narrow(t - (t > b), n, top - n) for j, n in enumerate(lengths) if n < top]
    if not pads:
        return "data"
    if all(bool((p == 0).all()) for p in pads):
        return "neutral" if site.op.name in ("sum",) or site.op.args[1:2] == ("sum",) else "zero"
    op = site.op.args[1] if site.op.name == "reduce" else site.op.name
    if op in ("amax", "max") and all(bool((p <= -1e4).all()) for p in pads):
        return "neutral"
    if op in ("amin", "min") and all(bool((p >= 1e4).all()) for p in pads):
        return "neutral"
    return "data"


def _unmasked(site: OpSite, t: int, kind: str, lengths: tuple[int, ...], zeroed: bool = False) -> Finding:
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
    if zeroed:
        effect = (
            f"and although the [PAD] vectors were zeroed, the mean still divides by all {top} positions instead of "
            "each text's own number of tokens"
        )
        formula = f"x.sum(dim={t}) / " + ("mask.sum(dim=1, keepdim=True)" if len(site.s_in) == 3 else "mask.sum(dim=1)")
        ways = f"`{formula}`"
    msg = (
        f"`{site.step}` takes the {kind} over all {top} positions of {site.a_in[t].label} for every text, but the "
        f"batch is padded: {shorter(short, lengths)} ({', '.join(map(str, short))} real tokens) — the shortest "
        f"has {top - fewest} [PAD] positions of {top}, {effect}. Use {ways}."
    )
    return Finding("unmasked_reduction", msg, _fix(site, t, kind, formula), step_index=site.index)


def _fix(site: OpSite, t: int, kind: str, formula: str) -> Fix | None:
    spec, i = site.spec, site.index
    prev = site.stages[-2]
    steps = spec.to_dict()["steps"]
    whole = site.k == 0 and len(site.ops) == 1 and site.root == "x" and not site.op.kw("keepdim", False)
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
    batch = next((d for d, a in enumerate(site.a_in) if a.role == "batch"), None)
    if whole and batch == 1 - t and len(site.s_in) in (2, 3) and "mask" in (site.info.get("env") or {}):
        return replace_fix(spec, site.stages[:-1], i, formula, " (masked: only the real tokens count)")
    return None
