"""Axis meaning: a label and a symbol per dimension, following the data through every step.

>>> [a.label for a in text_axes((2, 9, 384))]
['batch (B)', 'tokens (L)', 'hidden (H)']

Labels move with the data, op by op (``op_axes``): permute/transpose/movedim reorder them, unsqueeze
inserts ``new axis (1)``, indexing and reductions drop them, slicing/chunk/narrow keep them with smaller
sizes (``tokens (L[1:-1])``), ``F.pad`` grows them (``tokens (L+3)``), reshape/flatten/rearrange merge or
split them into composite labels or mark them ``mixed`` (see ``core.diagnosis.reshape_axes``). Layers name their
outputs: ``hidden_out (2·hidden_size)``, ``channels (C_out)``, ``positions (L_out)`` with its formula.
"""

from __future__ import annotations

import math
from typing import Any

from core.diagnosis.reshape_axes import (
    BATCH,
    HIDDEN,
    NEW_AXIS,
    SEQUENCE_ROLES,
    TOKENS,
    einops_axes,
    generic,
    paren,
    reshape_axes,
)
from core.records import Axis, Stage
from core.spec import LayerKind, LayerStep, Pooling

__all__ = [
    "BATCH",
    "HIDDEN",
    "NEW_AXIS",
    "TOKENS",
    "expr_axes",
    "fit",
    "generic",
    "index_drops",
    "layer_axes",
    "op_axes",
    "pooled_axes",
    "reshape_axes",
    "root_axes",
    "state_axes",
    "synthetic_axes",
    "text_axes",
]

RESHAPES = ("reshape", "view", "flatten", "unflatten")
REDUCTIONS = ("mean", "sum", "amax", "amin")
_WORDS = {"mean": "averaged", "sum": "summed", "amax": "max over", "amin": "min over"}


def fit(axes: tuple[Axis, ...], shape: tuple[int, ...]) -> tuple[Axis, ...]:
    """``axes`` if there is one per dim of ``shape``, else generic labels (the label count is the rank)."""
    axes = tuple(axes)
    return axes if len(axes) == len(shape) else tuple(generic(i, d) for i, d in enumerate(shape))


def text_axes(shape: tuple[int, ...]) -> tuple[Axis, ...]:
    """(B, L, H) of an encoder output."""
    return fit((BATCH, TOKENS, HIDDEN)[: len(shape)], shape)


def synthetic_axes(shape: tuple[int, ...]) -> tuple[Axis, ...]:
    """A synthetic tensor is read as (batch, tokens, hidden) when 3-D, (batch, hidden) when 2-D."""
    if len(shape) == 3:
        return (BATCH, TOKENS, HIDDEN)
    if len(shape) == 2:
        return (BATCH, HIDDEN)
    return fit((), shape)


def pooled_axes(pooling: Pooling, shape: tuple[int, ...]) -> tuple[Axis, ...]:
    """(B, H) after pooling; ``4·hidden (4·H)`` for last4_concat."""
    if pooling is Pooling.NONE:
        return text_axes(shape)
    if pooling is Pooling.LAST4_CONCAT:
        return fit((BATCH, Axis("4·hidden", "4·H", "hidden", "4·H = last 4 layers concatenated")), shape)
    return fit((BATCH, HIDDEN), shape)


def state_axes(shape: tuple[int, ...], batch: Axis = BATCH) -> tuple[Axis, ...]:
    """h_n / c_n of an LSTM/GRU: (num_layers·D, batch, hidden_out), or (num_layers·D, hidden_out) unbatched."""
    layers = Axis("layers·directions", "num_layers·D", "layers", "one entry per layer and direction")
    width = Axis("hidden_out", "hidden_size", "features")
    if len(shape) == 3:
        return (layers, batch, width)
    return fit((layers, width), shape)


def root_axes(
    root: str | None, shape: tuple[int, ...], prev: Stage, env_axes: dict[str, tuple[Axis, ...]] | None = None
) -> tuple[Axis, ...]:
    """Labels of an expression's root tensor: a name's own labels (``env_axes``), else ``x`` is the previous
    stage, h_n/c_n LSTM states, lengths (B,), mask (B, L)."""
    if root is None:
        return fit((), shape)
    if env_axes and root in env_axes and len(env_axes[root]) == len(shape):
        return tuple(env_axes[root])
    batch = next((a for a in prev.axes if a.role == "batch"), BATCH)
    if root in ("mask", "attention_mask", "input_ids") and len(shape) == 2:
        return (batch, TOKENS)
    if root == "x":
        return fit(prev.axes, shape) if tuple(shape) == tuple(prev.shape) else fit((), shape)
    if root in ("h_n", "c_n"):
        return state_axes(shape, batch)
    if root == "lengths":
        return fit((batch,), shape)
    return fit((), shape)


def expr_axes(
    ops: tuple[Any, ...],
    shapes: list[tuple[int, ...]],
    prev: Stage,
    root: str | None = "x",
    root_shape: tuple[int, ...] | None = None,
    env_axes: dict[str, tuple[Axis, ...]] | None = None,
) -> tuple[Axis, ...]:
    """Axes after an expression: the root's labels moved op by op (``shapes[i]`` is the shape after ``ops[i]``).

    >>> from core.engine.expr import bind, parse_expr
    >>> st = Stage(0, "s", "source", "", (32, 128, 768), (BATCH, TOKENS, HIDDEN), "float32", "cpu", (), True, 0, 0)
    >>> ops = bind(parse_expr("x.permute(0, 2, 1)"), {"x": (32, 128, 768)})    # (b, l, h) -> (b, h, l)
    >>> [a.label for a in expr_axes(ops, [(32, 768, 128)], st)]
    ['batch (B)', 'hidden (H)', 'tokens (L)']
    """
    shape = tuple(root_shape) if root_shape is not None else (tuple(prev.shape) if root is not None else ())
    axes = root_axes(root, shape, prev, env_axes)
    if not shapes:
        return axes
    env = _Env(prev, env_axes or {})
    for op, out in zip(ops, shapes):
        try:
            axes = fit(op_axes(op, shape, axes, tuple(out), env), tuple(out))
        except Exception:  # a label rule must never break a trace: fall back to dim i
            axes = fit((), tuple(out))
        shape = tuple(out)
    return fit(axes, tuple(shapes[-1]))


class _Env:
    """What op rules need besides the op: the labels of named tensors (for operands such as ``m`` in ``x * m``)."""

    def __init__(self, prev: Stage | None, names: dict[str, tuple[Axis, ...]]) -> None:
        self.prev = prev
        self.names = names

    def operand(self, o: Any) -> tuple[Axis, ...]:
        """Labels of a bound operand (``core.engine.ops.Operand``): its root's labels moved through its ops."""
        shapes = list(getattr(o, "shapes", ()) or ())
        if not shapes or shapes[-1] is None:
            return ()
        root_shape = shapes[0]
        if root_shape is None or self.prev is None:
            axes: tuple[Axis, ...] = fit((), tuple(shapes[1]) if len(shapes) > 1 else ())
            shape = tuple(shapes[1]) if len(shapes) > 1 else ()
            rest = list(zip(o.ops[1:], shapes[2:]))
        else:
            axes = root_axes(o.root, tuple(root_shape), self.prev, self.names)
            shape, rest = tuple(root_shape), list(zip(o.ops, shapes[1:]))
        for op, out in rest:
            try:
                axes = fit(op_axes(op, shape, axes, tuple(out), self), tuple(out))
            except Exception:
                axes = fit((), tuple(out))
            shape = tuple(out)
        return fit(axes, tuple(shapes[-1]))


# ------------------------------------------------------------------------------------------ per op


def _wrap(d: int, n: int) -> int:
    return d + n if d < 0 else d


def _order(op: Any, shape: tuple[int, ...]) -> list[int]:
    """Where each output dim comes from, for permute / transpose / movedim (the shape rule's own dispatch)."""
    from core.engine.ops import step_layout

    ids = tuple(range(len(shape)))
    return list(step_layout(op, (tuple(shape), ids))[1])


def _piece(axis: Axis, start: int, stop: int, size: int) -> Axis:
    """A contiguous part of an axis: ``tokens (L[1:5])``; unchanged when it is the whole axis."""
    if start == 0 and stop == size:
        return axis
    sym = paren(axis.symbol or axis.name)
    return Axis(axis.name, f"{sym}[{start}:{stop}]", axis.role, f"{stop - start} of {size} ({sym}[{start}:{stop}])")


def _slice_axis(axis: Axis, sl: slice, size: int, out: int) -> Axis:
    start, stop, step = sl.indices(size)
    if step == 1:
        return _piece(axis, start, stop, size)
    sym = paren(axis.symbol or axis.name)
    text = ":".join("" if v is None else str(v) for v in (sl.start, sl.stop)) + f":{sl.step}"
    return Axis(axis.name, f"{sym}[{text}]", axis.role, f"every {step}th of {size}: {out}")


def _index_axes(op: Any, shape: tuple[int, ...], axes: tuple[Axis, ...], out: tuple[int, ...]) -> list[Axis]:
    from core.engine.ops import IndexList, Operand

    items = list(op.args)

    def consumes(it: Any) -> int:
        if it is None or it is Ellipsis:
            return 0
        if isinstance(it, Operand) and it.dtype in ("bool", "uint8"):
            return max(len(it.shape), 1)
        return 1

    used = sum(consumes(it) for it in items)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at : at + 1] = [slice(None)] * (len(shape) - used)
    else:
        items += [slice(None)] * (len(shape) - used)
    result: list[Axis | None] = []
    tensors: list[tuple[int, int, Any]] = []  # (position in result, first input dim, index tensor)
    d = 0
    for it in items:
        if it is None:
            result.append(NEW_AXIS)
            continue
        if isinstance(it, slice):
            n = len(range(*it.indices(shape[d])))
            result.append(_slice_axis(axes[d], it, shape[d], n))
        elif isinstance(it, (Operand, IndexList)):
            tensors.append((len(result), d, it))
            result.append(None)
        d += consumes(it)
    if not tensors:
        return [a for a in result if a is not None]
    positions = [p for p, _, _ in tensors]
    contiguous = positions == list(range(positions[0], positions[0] + len(positions)))
    before = [a for a in result[: positions[0]] if a is not None] if contiguous else []
    after = [a for a in result[positions[-1] + 1 :] if a is not None] if contiguous else []
    rest = [a for a in result if a is not None]
    n_adv = len(out) - (len(before) + len(after) if contiguous else len(rest))
    adv_sizes = out[len(before) : len(before) + n_adv] if contiguous else out[:n_adv]
    adv = [_index_label(tensors, shape, axes, adv_sizes)] if n_adv == 1 else [
        Axis("indexed", str(s), "other") for s in adv_sizes]  # fmt: skip
    return before + adv + after if contiguous else adv + rest


def _index_label(tensors: list[tuple[int, int, Any]], shape: tuple[int, ...], axes: tuple[Axis, ...], sizes) -> Axis:
    """The label of the one dim advanced indexing gives: the indexed axis itself, batch, or `selected`."""
    n = sizes[0] if sizes else 0
    for _, dim, t in tensors:
        root = getattr(t, "root", None)
        ops = getattr(t, "ops", ())
        if root is None and ops and ops[0].name == "arange" and dim < len(shape) and shape[dim] == n:
            return axes[dim]
        if getattr(t, "dtype", "") in ("bool", "uint8"):
            names = " × ".join(a.name for a in axes[dim : dim + max(len(t.shape), 1)])
            return Axis(f"selected {names}", "N", "other", f"the {n} entries where the mask is True")
    if any(getattr(t, "root", None) == "lengths" for _, _, t in tensors):
        return next((a for a in axes if a.role == "batch"), BATCH)
    return Axis("indexed", str(n), "other")


def index_drops(op: Any, shape: tuple[int, ...], axes: tuple[Axis, ...]) -> list[tuple[int, Axis, int]]:
    """Dims an ``index`` / ``select`` op removes with an integer: ``[(dim, axis, index)]``.

    ``x[:, 0, :]`` on (B, L, H) -> ``[(1, tokens (L), 0)]``.
    """
    if op.name == "select":
        d = _wrap(op.args[0], len(shape))
        return [(d, axes[d], op.args[1])]
    if op.name != "index":
        return []
    items = list(op.args)
    consuming = sum(1 for it in items if it is not None and it is not Ellipsis)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at : at + 1] = [slice(None)] * (len(shape) - consuming)
    out, d = [], 0
    for it in items:
        if it is None:
            continue
        if isinstance(it, int) and not isinstance(it, bool) and d < len(axes):
            out.append((d, axes[d], it))
        d += 1
    return out


def _grown(axis: Axis, old: int, new: int, how: str) -> Axis:
    if old == new:
        return axis
    sym = paren(axis.symbol or axis.name)
    delta = new - old
    symbol = f"{sym}+{delta}" if delta > 0 else f"{sym}−{-delta}"
    return Axis(
        axis.name, symbol, axis.role, f"{symbol} = {old} {'+' if delta > 0 else '−'} {abs(delta)} = {new} ({how})"
    )


def op_axes(
    op: Any, shape: tuple[int, ...], axes: tuple[Axis, ...], out: tuple[int, ...], env: Any = None
) -> tuple[Axis, ...]:
    """Labels after one bound op (``core.engine.ops.Op``) taking ``shape`` labelled ``axes`` to ``out``.

    ``env`` (optional) gives the labels of operands (``x * m``, ``q @ k.mT``); without it they are generic.
    """
    from core.diagnosis.op_axes import more_axes

    shape, out, axes = tuple(shape), tuple(out), fit(axes, tuple(shape))
    name, a = op.name, op.args
    more = more_axes(op, shape, axes, out, env if env is not None else _Env(None, {}))
    if more is not None:
        return more
    if name in RESHAPES:
        return reshape_axes(shape, axes, out)
    if name == "contiguous":
        return axes
    if name in ("permute", "transpose", "movedim"):
        return tuple(axes[i] for i in _order(op, shape))
    if name == "unsqueeze":
        d = _wrap(a[0], len(shape) + 1)
        return (*axes[:d], NEW_AXIS, *axes[d:])
    if name == "squeeze":
        if a[0] is None:
            drop = {i for i, s in enumerate(shape) if s == 1}
        else:
            dims = a[0] if isinstance(a[0], tuple) else (a[0],)
            drop = {_wrap(d, len(shape)) for d in dims if shape[_wrap(d, len(shape))] == 1}
        return tuple(x for i, x in enumerate(axes) if i not in drop)
    if name in REDUCTIONS:
        dim = a[0]
        dims = (
            set(range(len(shape)))
            if dim is None or dim == ()
            else {_wrap(d, len(shape)) for d in (dim if isinstance(dim, tuple) else (dim,))}
        )
        if op.kw("keepdim", False):
            return tuple(
                Axis(f"{_WORDS[name]} {x.name}", "1", x.role, f"{name} over {x.label}") if i in dims else x
                for i, x in enumerate(axes)
            )
        return tuple(x for i, x in enumerate(axes) if i not in dims)
    if name in ("chunk", "split", "narrow"):
        d = _wrap(a[1] if name != "narrow" else a[0], len(shape))
        size = shape[d]
        if name == "narrow":
            start = a[1] + size if a[1] < 0 else a[1]
            piece = _piece(axes[d], start, start + a[2], size)
        elif name == "chunk" and size % a[0] == 0 and out[d] == size // a[0]:
            sym = paren(axes[d].symbol or axes[d].name)
            k = a[2] % a[0]
            piece = Axis(axes[d].name, f"{sym}/{a[0]}", axes[d].role, f"chunk {k} of {a[0]}: {sym}/{a[0]} = {out[d]}")
        else:
            sizes = _pieces(name, a, size)
            k = a[2] % len(sizes)
            start = sum(sizes[:k])
            piece = _piece(axes[d], start, start + sizes[k], size)
        return (*axes[:d], piece, *axes[d + 1 :])
    if name == "select":
        d = _wrap(a[0], len(shape))
        return (*axes[:d], *axes[d + 1 :])
    if name == "index":
        return tuple(_index_axes(op, shape, axes, out))
    if name == "pad":
        grown = list(axes)
        pad = tuple(a[0])
        for i in range(len(pad) // 2):
            d = len(shape) - 1 - i
            how = f"F.pad adds {pad[2 * i]} before, {pad[2 * i + 1]} after"
            grown[d] = _grown(axes[d], shape[d], out[d], how)
        return tuple(grown)
    if name in ("rearrange", "reduce"):
        return einops_axes(a[0], dict(op.kwargs), shape, axes, out, reduce=name == "reduce")
    if name == "cat":
        d = _wrap(a[1], len(shape))
        others = [o.shape[d] for o in a[0]]
        sym = paren(axes[d].symbol or axes[d].name)
        symbol = f"{len(others) + 1}·{sym}" if all(s == shape[d] for s in others) else f"{sym}+{sum(others)}"
        return (
            *axes[:d],
            Axis(axes[d].name, symbol, axes[d].role, f"torch.cat along dim {d}: {out[d]}"),
            *axes[d + 1 :],
        )
    if name == "stack":
        d = _wrap(a[1], len(shape) + 1)
        return (*axes[:d], Axis("stacked", str(out[d]), "other"), *axes[d:])
    if name == "expand":
        lead = len(out) - len(shape)
        new = [Axis("broadcast", str(s), "other") for s in out[:lead]]
        for i, x in enumerate(axes):
            new.append(x if shape[i] == out[lead + i] else Axis(f"broadcast {x.name}", str(out[lead + i]), "other"))
        return tuple(new)
    if name == "repeat":
        lead = len(out) - len(shape)
        new = [Axis("repeats", str(s), "other") for s in out[:lead]]
        for i, x in enumerate(axes):
            r = out[lead + i] // shape[i] if shape[i] else 1
            new.append(x if r == 1 else Axis(x.name, f"{r}·{paren(x.symbol or x.name)}", x.role))
        return tuple(new)
    return fit((), out)


def _pieces(name: str, a: tuple, size: int) -> list[int]:
    if name == "chunk":
        step = max(1, math.ceil(size / a[0])) if size else 0
        a = (step, a[1], a[2])
    sec = a[0]
    if isinstance(sec, tuple):
        return list(sec)
    n = max((size + sec - 1) // sec, 1) if sec else 1
    return [sec] * (n - 1) + [size - sec * (n - 1)]


# ------------------------------------------------------------------------------------------ layers


def layer_axes(step: LayerStep, params: dict[str, Any], prev: Stage, out: tuple[int, ...]) -> tuple[Axis, ...]:
    """Axes after a layer. ``params`` are the resolved constructor kwargs (input size filled in)."""
    axes, shape = fit(prev.axes, tuple(prev.shape)), tuple(prev.shape)
    if step.kind is LayerKind.LINEAR:
        f = params.get("out_features", out[-1] if out else 0)
        feat = Axis("out_features", "F_out", "features", f"F_out = out_features = {f}")
        return fit((*axes[:-1], feat), out)
    if step.kind is LayerKind.CONV1D:
        return fit(_conv_axes(params, axes, shape, out), out)
    return fit(_rnn_axes(params, axes, out), out)


def _conv_axes(params: dict[str, Any], axes: tuple[Axis, ...], shape: tuple[int, ...], out: tuple[int, ...]):
    from core.engine.layers import conv1d_formula

    lead = axes[:-2] if len(shape) == 3 else ()
    length = shape[-1] if shape else 0
    channels = Axis("channels", "C_out", "channels", f"C_out = out_channels = {params.get('out_channels')}")
    try:
        formula = conv1d_formula(length, params)
    except (KeyError, TypeError, ValueError):
        formula = ""
    along = axes[-1] if axes else None
    if along is not None and along.role in ("hidden", "features"):
        positions = Axis(f"positions over {along.name}", "L_out", "mixed", formula)
    else:
        positions = Axis("positions", "L_out", "positions", formula)
    return (*lead, channels, positions)


def _hidden_out(params: dict[str, Any]) -> Axis:
    h = params.get("hidden_size")
    proj = params.get("proj_size") or 0
    if params.get("bidirectional"):
        width = "2·proj_size" if proj else "2·hidden_size"
        formula = f"{width} = 2 × {proj or h} = {2 * (proj or h)} (forward and backward concatenated)"
    else:
        width = "proj_size" if proj else "hidden_size"
        formula = f"{width} = {proj or h}"
    return Axis("hidden_out", width, "features", formula)


def _rnn_axes(params: dict[str, Any], axes: tuple[Axis, ...], out: tuple[int, ...]):
    hidden_out = _hidden_out(params)
    if len(out) == 2:  # unbatched (seq, features): dim 0 is time
        first = axes[0] if axes else generic(0, out[0])
        if first.role == "batch":
            first = Axis(f"{first.name} read as time", first.symbol, "mixed", "a 2-D input is one unbatched sequence")
        return (first, hidden_out)
    if len(axes) < 2:
        return fit((), out)
    if params.get("batch_first"):
        return (axes[0], axes[1], hidden_out)
    first, second = axes[0], axes[1]
    if first.role == "batch" and second.role != "batch":  # (B, L, H) read as (seq, batch, features)
        first = Axis(f"{first.name} read as time", first.symbol, "mixed", "batch_first=False: dim 0 is time")
        second = Axis(f"{second.name} read as batch", second.symbol, "mixed", "batch_first=False: dim 1 is batch")
    return (first, second, hidden_out)


def packed_axes(step: LayerStep, params: dict[str, Any], out: tuple[int, ...]) -> tuple[Axis, ...]:
    """A recurrent layer's output on a PackedSequence: (packed tokens ΣL, hidden_out)."""
    tokens = Axis("packed tokens", "ΣL", "tokens", "the real tokens of every sequence, time step by time step")
    return fit((tokens, _hidden_out(params)), out)


def sequence_dim(axes: tuple[Axis, ...]) -> int | None:
    """The first tokens/time dim, if any."""
    return next((i for i, a in enumerate(axes) if a.role in SEQUENCE_ROLES), None)


LOSS = Axis("loss", "", "other", "the loss value, averaged (or summed) over every sample")


def loss_axes(kind: str, logits_axes: tuple[Axis, ...], out: tuple[int, ...]) -> tuple[Axis, ...]:
    """Axes of a loss value: none when reduced; with reduction='none' one per sample — the logits' axes without the
    class dim (dim 1) for CrossEntropyLoss / NLLLoss, the logits' own axes for BCEWithLogitsLoss / MSELoss."""
    if not out:
        return ()
    if kind in ("CrossEntropyLoss", "NLLLoss") and len(logits_axes) >= 2:
        return fit((logits_axes[0], *logits_axes[2:]), out)
    return fit(logits_axes, out)
