"""Warnings for a mean / max / sum over the token axis of a padded batch that ignores the attention mask.

- ``unmasked_reduction``: ``x.mean(dim=1)``, ``x.amax(dim=1)``, ``x.sum(dim=1)``, einops
  ``reduce(x, "b l h -> b h", "mean")`` or ``torch.einsum('bld->bd', x)`` over a padded (batch, tokens, …)
  tensor: the shorter texts' [PAD] positions are averaged in, compete for the maximum, or are added. Fix: pooling
  'mean' / 'max' (masked), or the masked formula with ``mask`` (sentence-transformers' Pooling: masked sum over the
  clamped count of real tokens; max after pushing [PAD] to -inf).

Any layout and any name: the token axis is found by its meaning (``tokens``), wherever it is, on the encoder output,
after an LSTM (``pooled = out.mean(dim=1)``) or any name the step reads; the masked formula is written over that name
and keeps the step's own target. A chain that already applied the mask (``x * mask.unsqueeze(-1)``, ``masked_fill``)
is left alone.
"""

from __future__ import annotations

from typing import Any

from core.diagnosis.finding_tools import OpSite, predicts, replace_fix, shorter
from core.diagnosis.rnn_states import rnn_facts
from core.diagnosis.step_names import NOT_DATA_ROLES, reads, rename, value_text
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
    if op.name == "einsum" and _einsum_sums(op, t, len(site.s_in)) and not _operand_masks(site):
        return "sum"
    return None


def _einsum_sums(op: Any, t: int, ndim: int) -> bool:
    """True when ``torch.einsum(equation, <the chain's tensor>, …)`` sums over its dim ``t``: the letter of that dim
    is not in the output (``'bld->bd'``, ``'bl,bld->bd'`` read from the first operand). Explicit ``->`` only, no
    ``...``."""
    eq = op.args[0] if op.args else None
    if not isinstance(eq, str) or "->" not in eq or "." in eq:
        return False
    lhs, out = (p.replace(" ", "") for p in eq.split("->", 1))
    first = lhs.split(",")[0]
    return len(first) == ndim and first[t] not in out


def _operand_masks(site: OpSite) -> bool:
    """True when another operand of the einsum is the mask, computed from it, or weights masked like it."""
    operands = site.op.args[1] if len(site.op.args) > 1 and isinstance(site.op.args[1], tuple) else ()
    for item in operands:
        root = getattr(item, "root", None)
        named = site.book.get(root) if site.book is not None else None
        if root in MASK_NAMES or (named is not None and (named.from_mask or named.role == "mask")):
            return True
        if named is not None and named.pad_fill == "zero":
            return True
    return False


_PRODUCTS = ("mul",)
_KEEPS_ZERO = (*_PRODUCTS, "unsqueeze", "squeeze", "view", "reshape", "permute", "transpose", "expand", "contiguous")


def _masked_before(site: OpSite) -> bool:
    """True when the chain applied the mask before this op (a product with it or with a name computed from it,
    ``m = mask.unsqueeze(-1).float()``, or with weights masked like it, ``w = softmax(scores masked with -inf)``:
    zero at every [PAD] position; or masked_fill / where)."""
    book = site.book
    before = site.ops[: site.k]
    if site.named is not None and site.named.pad_fill == "zero" and all(o.name in _KEEPS_ZERO for o in before):
        return True  # the weights themselves, or weights times data (``(w.unsqueeze(-1) * out).sum(1)``)
    for op in before:
        if op.name in ("masked_fill", "where"):
            return True
        for a in (*op.args, *(v for _, v in op.kwargs)):
            for item in a if isinstance(a, tuple) else (a,):
                root = getattr(item, "root", None)
                named = book.get(root) if book is not None else None
                if root in MASK_NAMES or (named is not None and (named.from_mask or named.role == "mask")):
                    return True
                if named is not None and named.pad_fill == "zero" and op.name in _PRODUCTS:
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
    if not site.info.get("padded") or not lengths or site.root in NOT_DATA or site.role in NOT_DATA_ROLES:
        return []
    if site.named is not None and site.named.from_mask:
        return []  # the mask itself, reshaped (``m.sum(1)``: the real-token counts)
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
        return "neutral" if site.op.name in ("sum", "einsum") or site.op.args[1:2] == ("sum",) else "zero"
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
    rnn = rnn_facts(site.stages, site.book, site.root)
    after = f"the {rnn.kind}'s outputs at [PAD] positions" if rnn is not None and rnn.over_tokens else "[PAD] vectors"
    effect = {
        "mean": f"and {after} are averaged in as if they were words",
        "sum": f"and {after} are added in",
        "max": f"and {after} compete for every feature's maximum",
        "min": f"and {after} compete for every feature's minimum",
    }[kind]
    formula = masked_formula(kind, t, len(site.s_in))
    ways = f"the masked formula `{rename(formula, {'x': site.root})}`"
    if kind in POOLINGS and site.role == "source":
        ways = f"pooling '{kind}' (masked by the attention mask), or " + ways
    if zeroed:
        effect = (
            f"and although the [PAD] vectors were zeroed, the mean still divides by all {top} positions instead of "
            "each text's own number of tokens"
        )
        formula = f"x.sum(dim={t}) / " + ("mask.sum(dim=1, keepdim=True)" if len(site.s_in) == 3 else "mask.sum(dim=1)")
        ways = f"`{rename(formula, {'x': site.root})}`"
    msg = (
        f"`{site.step}` takes the {kind} over all {top} positions of {site.a_in[t].label} for every text, but the "
        f"batch is padded: {shorter(short, lengths)} ({', '.join(map(str, short))} real tokens) — the shortest "
        f"has {top - fewest} [PAD] positions of {top}, {effect}. Use {ways}."
    )
    return Finding("unmasked_reduction", msg, _fix(site, t, kind, formula), step_index=site.index)


def _fix(site: OpSite, t: int, kind: str, formula: str) -> Fix | None:
    """Pooling (a bare ``x.mean(dim=1)`` on the encoder output), else the masked formula over the step's own
    name, bound to its own target (``pooled = (out * mask.unsqueeze(-1)).sum(dim=1) / …``)."""
    spec, i = site.spec, site.index
    steps = spec.to_dict()["steps"]
    whole = site.k == 0 and len(site.ops) == 1 and not site.op.kw("keepdim", False) and site.single
    only_tokens = site.op.name == "reduce" or _reduced_dims(site.op, len(site.s_in)) == {t}
    bare_x = site.root == "x" and site.targets is None and site.role == "source"
    bare_x = bare_x and not any("x" in reads(s) for s in spec.steps[:i])  # nothing else reads the encoder output
    if whole and bare_x and only_tokens and kind in POOLINGS and t == 1 and spec.pooling is Pooling.NONE:
        rest = steps[:i] + steps[i + 1 :]
        fix = Fix(
            f"set pooling to '{kind}' (masked over the real tokens) and remove step {i + 1}",
            "update",
            value={"pooling": kind, "steps": rest},
        )
        if predicts(spec, fix, site.stages[:-1], max(len(rest) - 1, 0)):
            return fix
    if "mask" not in (site.info.get("env") or {}):
        return None
    why = " (masked: only the real tokens count)"
    masked = _masked_root(site, kind)
    if masked is not None:  # max / min / sum in any spelling: mask the name the step reads, keep the rest
        value = value_text(site.step)
        if value is not None:
            return replace_fix(spec, site.stages[:-1], i, site.keep(rename(value, {site.root: masked})), why)
    batch = next((d for d, a in enumerate(site.a_in) if a.role == "batch"), None)
    if whole and batch == 1 - t and len(site.s_in) in (2, 3):
        return replace_fix(spec, site.stages[:-1], i, site.write(formula), why)
    return None


def _masked_root(site: OpSite, kind: str) -> str | None:
    """The root with its [PAD] positions made neutral for a max / min / sum (``out.masked_fill(mask.unsqueeze(-1)
    == 0, float("-inf"))``, ``(out * mask.unsqueeze(-1))``), when the root is (batch, tokens, …) or (tokens, batch,
    …) at the mask's own length; the rest of the step (``.max(dim=1).values``, tuple unpacking) is kept."""
    if kind == "mean":
        return None
    lengths = tuple(site.info.get("lengths") or ())
    root_axes, shape = site.axes[0], site.shapes[0]
    roles = [a.role for a in root_axes[:2]]
    if len(shape) not in (2, 3) or not lengths or sorted(roles) != ["batch", "tokens"]:
        return None
    if shape[roles.index("tokens")] != max(lengths):
        return None
    m = "mask" if roles[1] == "tokens" else "mask.T"
    m3 = f"{m}.unsqueeze(-1)" if len(shape) == 3 else m
    if kind == "sum":
        return f"({site.root} * {m3})"
    fill = '"-inf"' if kind == "max" else '"inf"'
    return f"{site.root}.masked_fill({m3} == 0, float({fill}))"
