"""Axis meaning through the ops beyond reshaping: arithmetic and broadcasting, matmul / einsum, softmax,
reductions, gather / index_select / topk, pooling, unfold, PackedSequence ... (the shape ops live in ``axes``).

    >>> from core.engine.ops import Op, Operand
    >>> from core.diagnosis.reshape_axes import BATCH, TOKENS, HIDDEN
    >>> mask = Operand("mask", (Op("unsqueeze", (-1,)),), ((2, 9), (2, 9, 1)), "int64")
    >>> [a.label for a in more_axes(Op("mul", (mask,)), (2, 9, 8), (BATCH, TOKENS, HIDDEN), (2, 9, 8), None)]
    ['batch (B)', 'tokens (L)', 'hidden (H)']

Broadcasting keeps, for every output dim, the label of an input whose size there equals the output's (the spine
first, a size-1 ``new axis`` last). ``q @ k.mT`` gives (…, L, L): rows from ``q``, columns from ``k``'s last label.
"""

from __future__ import annotations

from typing import Any

from core.diagnosis.reshape_axes import NEW_AXIS, generic, paren, reshape_axes
from core.records import Axis

KEEP = {
    "neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "sin", "cos", "reciprocal", "sign",
    "floor", "ceil", "round", "log1p", "expm1", "erf", "square", "logical_not", "bitwise_not", "isnan", "isinf",
    "clone", "detach", "gelu", "silu", "leaky_relu", "elu", "float", "long", "int", "bool", "half", "double", "to",
    "type", "type_as", "cpu", "softmax", "log_softmax", "cumsum", "tril", "triu", "normalize", "layer_norm", "flip",
    "roll", "zeros_like", "ones_like", "full_like", "clamp", "clamp_min", "clamp_max", "data", "argsort",
    "scaled_dot_product_attention",
}  # fmt: skip
BROADCAST = {"add", "sub", "mul", "div", "floordiv", "mod", "pow", "eq", "ne", "lt", "le", "gt", "ge", "and", "or",
             "xor", "maximum", "minimum", "masked_fill", "where"}  # fmt: skip
REDUCING = {"norm", "vector_norm", "argmax", "argmin", "max", "min", "logsumexp", "std", "var", "prod", "any", "all",
            "cosine_similarity"}  # fmt: skip
_WORDS = {"norm": "norm over", "vector_norm": "norm over", "argmax": "argmax over", "argmin": "argmin over",
          "max": "max over", "min": "min over", "logsumexp": "logsumexp over", "std": "std over", "var": "var over",
          "prod": "product over", "any": "any over", "all": "all over", "cosine_similarity": "cosine over"}  # fmt: skip


def _wrap(d: int, n: int) -> int:
    return d + n if d < 0 else d


def _fit(axes: Any, shape: tuple[int, ...]) -> tuple[Axis, ...]:
    axes = tuple(axes)
    return axes if len(axes) == len(shape) else tuple(generic(i, s) for i, s in enumerate(shape))


def _operands(op: Any) -> list[Any]:
    from core.engine.ops import Operand

    out = []
    for a in op.args:
        for item in a if isinstance(a, tuple) else (a,):
            if isinstance(item, Operand):
                out.append(item)
    return out


def broadcast(out: tuple[int, ...], sources: list[tuple[tuple[int, ...], tuple[Axis, ...]]]) -> tuple[Axis, ...]:
    """Labels of a broadcast result: per output dim (aligned right), the first source label of the same size."""
    labels: list[Axis] = []
    for i in range(len(out)):
        back = len(out) - i
        pick = None
        for shape, axes in sources:
            j = len(shape) - back
            if j < 0 or len(axes) != len(shape):
                continue
            if shape[j] == out[i] and not (axes[j] is NEW_AXIS and out[i] != 1):
                pick = axes[j]
                break
        labels.append(pick if pick is not None else generic(i, out[i]))
    return tuple(labels)


def _reduced(name: str, dims: Any, shape: tuple[int, ...], axes: tuple[Axis, ...], keep: bool) -> tuple[Axis, ...]:
    if dims is None or dims == ():
        idx = set(range(len(shape)))
    else:
        idx = {_wrap(d, len(shape)) for d in (dims if isinstance(dims, tuple) else (dims,))}
    if keep:
        word = _WORDS.get(name, f"{name} over")
        return tuple(
            Axis(f"{word} {a.name}", "1", a.role, f"{name} over {a.label}") if i in idx else a
            for i, a in enumerate(axes)
        )
    return tuple(a for i, a in enumerate(axes) if i not in idx)


def _piece(axis: Axis, size: int, word: str) -> Axis:
    return Axis(axis.name, f"{word}({paren(axis.symbol or axis.name)})", axis.role, f"{size} {word} of {axis.label}")


def more_axes(op: Any, shape: tuple[int, ...], axes: tuple[Axis, ...], out: tuple[int, ...], env: Any):
    """Labels after ``op`` for the ops this module knows; None for the others (reshape, permute, index ...)."""
    name, a = op.name, op.args
    operand_axes = env.operand if env is not None else (lambda o: ())
    if name in KEEP:
        return axes if tuple(out) == tuple(shape) else None
    if name in BROADCAST or name == "expand_as":
        sources = [(shape, axes)] + [(tuple(o.shape), _fit(operand_axes(o), tuple(o.shape))) for o in _operands(op)]
        return broadcast(out, sources)
    if name in ("matmul", "bmm", "mm"):
        other = _operands(op)
        if not other or len(shape) < 2 or len(other[0].shape) < 2:
            return None
        o = other[0]
        oax = _fit(operand_axes(o), tuple(o.shape))
        left, right = (
            ((tuple(o.shape), oax), (shape, axes)) if op.kw("reflected") else ((shape, axes), (tuple(o.shape), oax))
        )
        batch = broadcast(out[:-2], [(left[0][:-2], left[1][:-2]), (right[0][:-2], right[1][:-2])])
        return (*batch, left[1][-2], right[1][-1])
    if name == "einsum":
        return _einsum_axes(
            a[0], [(shape, axes)] + [(tuple(o.shape), _fit(operand_axes(o), tuple(o.shape))) for o in a[1]], out
        )
    if name in REDUCING:
        if name in ("max", "min", "argmax", "argmin", "prod") and a and a[0] is None:
            return ()
        if name == "cosine_similarity":
            return _reduced(name, a[1], shape, axes, False)
        dims = a[1] if name == "norm" else (a[1] if name == "vector_norm" else a[0])
        keep = bool(a[2] if name in ("norm", "vector_norm") else (a[1] if len(a) > 1 else False))
        return _reduced(name, dims, shape, axes, keep)
    if name in ("topk", "sort"):
        d = _wrap(a[1] if name == "topk" else a[0], len(shape))
        if name == "topk" and out[d] != shape[d]:
            return (*axes[:d], _piece(axes[d], out[d], "top"), *axes[d + 1 :])
        return axes
    if name == "index_select":
        d = _wrap(a[0], len(shape))
        return (*axes[:d], Axis(f"picked {axes[d].name}", str(out[d]), axes[d].role), *axes[d + 1 :])
    if name == "gather":
        return _fit(axes, out)
    if name == "repeat_interleave":
        if a[1] is None:
            return (Axis("repeated", str(out[0]) if out else "", "other"),)
        d = _wrap(a[1], len(shape))
        r = out[d] // shape[d] if shape[d] else 1
        sym = paren(axes[d].symbol or axes[d].name)
        return (
            *axes[:d],
            Axis(axes[d].name, f"{r}·{sym}" if out[d] == r * shape[d] else str(out[d]), axes[d].role),
            *axes[d + 1 :],
        )
    if name in ("unbind",):
        d = _wrap(a[0], len(shape))
        return (*axes[:d], *axes[d + 1 :])
    if name == "tensor_split":
        d = _wrap(a[1], len(shape))
        return (*axes[:d], _piece(axes[d], out[d], "part"), *axes[d + 1 :])
    if name == "t":
        return tuple(reversed(axes))
    if name in ("view_as", "reshape_as"):
        return reshape_axes(shape, axes, out)
    if name == "unfold":
        d = _wrap(a[0], len(shape))
        sym = paren(axes[d].symbol or axes[d].name)
        windows = Axis(
            f"windows over {axes[d].name}", "W", "positions", f"W = ({sym} − {a[1]}) // {a[2]} + 1 = {out[d]}"
        )
        return (*axes[:d], windows, *axes[d + 1 :], Axis("window", str(a[1]), axes[d].role, f"{a[1]} consecutive"))
    if name in ("max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d"):
        last = axes[-1]
        pooled = Axis(f"pooled {last.name}", "L_out", "positions", f"L_out = {out[-1]}")
        return (*axes[:-1], pooled) if out[-1] != shape[-1] else axes
    if name == "one_hot":
        return (*axes, Axis("classes", "C", "classes", f"C = {out[-1]}"))
    if name in ("pack_padded_sequence",):
        return (Axis("packed tokens", "ΣL", "tokens", "the real tokens of every sequence, time step by time step"),
                *axes[2:]) if len(axes) >= 3 else None  # fmt: skip
    if name == "pad_packed_sequence":
        return None
    return None


def _einsum_axes(eq: str, sources: list[tuple[tuple[int, ...], tuple[Axis, ...]]], out: tuple[int, ...]):
    eq = eq.replace(" ", "")
    if "..." in eq or "->" not in eq:
        return None
    lhs, rhs = eq.split("->")
    labels: dict[str, Axis] = {}
    for term, (_, axes) in zip(lhs.split(","), sources):
        for c, ax in zip(term, axes):
            labels.setdefault(c, ax)
    return tuple(labels.get(c, generic(i, s)) for i, (c, s) in enumerate(zip(rhs, out)))
