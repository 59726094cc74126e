"""The safe tensor expression language: parse, bind, predict shapes, run, render, describe.

    >>> e = parse_expr("x.reshape(x.shape[0], 16, -1)")
    >>> predict_shapes(e, {"x": (32, 128, 768)})        # (b, l, h) -> (b, 16, l*h/16)
    [(32, 16, 6144)]

Parsing (ast whitelist) lives in ``core.engine.parse``; per-op shape rules in ``core.engine.ops``.  This module
binds symbolic sizes to the environment's shapes, enforces the memory budget before anything runs, runs
each op with real torch and turns any torch failure into ``ShapeError`` with torch's own message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from core.engine.ops import (
    OP_NAMES,
    IndexTensor,
    Layout,
    Op,
    Operand,
    chain_shapes,
    contiguous_strides,
    predict_op,
    step_layout,
)
from core.engine.parse import (
    MAX_INT,
    ArangeE,
    Bin,
    DimOf,
    Expr,
    Lit,
    NDimOf,
    ShapeOf,
    Sizes,
    SliceE,
    SubExpr,
    TensorRefE,
    parse_expr,
)
from core.errors import ExpressionRefused, ShapeError

__all__ = [
    "MAX_NUMEL",
    "OP_NAMES",
    "Expr",
    "IndexTensor",
    "Op",
    "Operand",
    "bind",
    "describe",
    "parse_expr",
    "predict_op",
    "predict_shapes",
    "run_expr",
    "to_source",
]

MAX_NUMEL = 2**27
VARARGS_OPS = ("reshape", "view", "expand", "repeat", "permute")
Shapes = dict[str, tuple[int, ...]]


# ------------------------------------------------------------------------------------------- bind


def _int(v: Any, shapes: Shapes) -> int:
    if isinstance(v, Lit):
        return v.value
    if isinstance(v, NDimOf):
        return len(_shape(v.name, shapes))
    if isinstance(v, DimOf):
        shape, i = _shape(v.name, shapes), _int(v.index, shapes)
        if not -len(shape) <= i < len(shape):
            raise ShapeError(
                f"`{v.text}`: {v.name} has {len(shape)} dims {shape}, so index {i} is out of range",
                kind="shape_index",
            )
        return shape[i]
    if isinstance(v, Bin):
        a, b = _int(v.left, shapes), _int(v.right, shapes)
        if v.op in ("//", "%") and b == 0:
            raise ExpressionRefused(f"`{v.text}` divides by zero")
        out = {"+": a + b, "-": a - b, "*": a * b, "//": a // b if b else 0, "%": a % b if b else 0}[v.op]
        if abs(out) > MAX_INT:
            raise ExpressionRefused(f"`{v.text}` evaluates to {out:,}, beyond the limit of ±{MAX_INT:,}")
        return out
    raise AssertionError(v)


def _shape(name: str, shapes: Shapes) -> tuple[int, ...]:
    if name not in shapes:
        hint = " (h_n and c_n exist after an LSTM/GRU step)" if name in ("h_n", "c_n") else ""
        raise ExpressionRefused(f"`{name}` is not available here{hint}; available: {', '.join(shapes) or 'none'}")
    return tuple(shapes[name])


def _resolve(v: Any, shapes: Shapes) -> Any:
    if isinstance(v, (Lit, NDimOf, DimOf, Bin)):
        return _int(v, shapes)
    if isinstance(v, Sizes):
        out: list[int] = []
        for item in v.items:
            out.extend(_shape(item.name, shapes) if isinstance(item, ShapeOf) else [_int(item, shapes)])
        return tuple(out)
    if isinstance(v, SliceE):
        return slice(*(None if p is None else _int(p, shapes) for p in (v.start, v.stop, v.step)))
    if isinstance(v, ArangeE):
        n = _int(v.n, shapes)
        if n < 0:
            raise ShapeError("upper bound and larger bound inconsistent with step sign", kind="arange")
        return IndexTensor((n,))
    if isinstance(v, TensorRefE):
        return IndexTensor(_shape(v.name, shapes), v.name, _int(v.offset, shapes))
    if isinstance(v, SubExpr):
        ops = bind(v.expr, shapes)
        root_shape = _shape(v.expr.root, shapes)
        return Operand(v.expr.root, ops, (root_shape, *chain_shapes(root_shape, ops)))
    if isinstance(v, tuple):
        return tuple(_resolve(i, shapes) for i in v)
    return v


def bind(expr: Expr, shapes: Shapes) -> tuple[Op, ...]:
    """Resolve symbolic sizes (``x.shape[0]``, ``x.size(-1) // 2``) with the env's shapes.

    >>> bind(parse_expr("x.view(x.size(0), 768, -1)"), {"x": (32, 128, 768)})[0].args
    (32, 768, -1)
    """
    _shape(expr.root, shapes)
    out = []
    for op in expr.ops:
        args = _resolve(op.args, shapes)
        if op.name in VARARGS_OPS and op.args and isinstance(op.args[0], Sizes):
            args = args[0]  # x.reshape(32, -1) and torch.reshape(x, (32, -1)) bind alike: (32, -1)
        out.append(Op(op.name, args, tuple((k, _resolve(v, shapes)) for k, v in op.kwargs), op.source))
    return tuple(out)


# ---------------------------------------------------------------------------------------- predict


def _fmt_bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _check_budget(what: str, shape: tuple[int, ...], max_numel: int) -> None:
    numel = math.prod(shape)
    if numel > max_numel:
        raise ExpressionRefused(
            f"`{what}` would create {numel:,} elements ({_fmt_bytes(numel * 4)} as float32); the limit is "
            f"{max_numel:,} elements ({_fmt_bytes(max_numel * 4)}); use smaller sizes"
        )


def _check_inputs(op: Op, max_numel: int) -> None:
    for a in op.args:
        for item in a if isinstance(a, tuple) else (a,):
            if isinstance(item, Operand):
                for shape in item.shapes:
                    _check_budget(op.source or op.name, shape, max_numel)
            elif isinstance(item, IndexTensor):
                _check_budget(item.source, item.shape, max_numel)


def _walk(ops: tuple[Op, ...], layout: Layout, max_numel: int) -> tuple[list[tuple[int, ...]], ShapeError | None]:
    """Predicted shapes op by op; stops at the first op torch would reject (returned, not raised)."""
    out: list[tuple[int, ...]] = []
    for op in ops:
        _check_inputs(op, max_numel)
        try:
            layout = step_layout(op, layout)
        except ShapeError as e:
            return out, e
        _check_budget(op.source or op.name, layout[0], max_numel)
        out.append(layout[0])
    return out, None


def predict_shapes(
    expr: Expr,
    shapes: Shapes,
    max_numel: int = MAX_NUMEL,
    strides: dict[str, tuple[int, ...]] | None = None,
) -> list[tuple[int, ...]]:
    """Shape after each op, pure Python (no tensor work).

    Raises ShapeError for an op torch would reject and ExpressionRefused above ``max_numel`` elements.
    ``strides`` (optional) gives the env tensors' strides, which decide whether ``view`` works.

    >>> predict_shapes(parse_expr("x.transpose(1, 2)"), {"x": (32, 128, 768)})   # (b, l, h) -> (b, h, l)
    [(32, 768, 128)]
    """
    ops = bind(expr, shapes)
    root = _shape(expr.root, shapes)
    st = (strides or {}).get(expr.root) or contiguous_strides(root)
    out, err = _walk(ops, (root, tuple(st)), max_numel)
    if err is not None:
        raise err
    return out


# -------------------------------------------------------------------------------------------- run


def _pick(fn: Callable[..., tuple], op: Op) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda t: fn(t)[op.args[2]]


def _reduce(t: torch.Tensor, op: Op) -> torch.Tensor:
    dim, keepdim = op.args[0], bool(op.kw("keepdim", False))
    fn = getattr(t, op.name)
    if dim is None or dim == ():
        return fn(dim=None, keepdim=True) if keepdim else fn()
    return fn(dim=dim, keepdim=keepdim)


def _transpose(t: torch.Tensor, op: Op) -> torch.Tensor:
    attr = op.kw("attr")
    if attr == "T":
        step_layout(op, (tuple(t.shape), tuple(t.stride())))  # refuses the deprecated N-D x.T
        return t.T
    return t.mT if attr == "mT" else t.transpose(*op.args)


def _run_op(t: torch.Tensor, op: Op, env: dict[str, torch.Tensor]) -> torch.Tensor:
    import einops
    import torch.nn.functional as F

    a, n = op.args, op.name
    if n in ("reshape", "view", "expand", "repeat", "permute", "flatten", "unflatten", "unsqueeze"):
        return getattr(t, n)(*a)
    if n == "movedim" and (isinstance(a[0], tuple) or isinstance(a[1], tuple)):
        return t.movedim(*(v if isinstance(v, tuple) else (v,) for v in a))
    if n in ("narrow", "select", "movedim"):
        return getattr(t, n)(*a)
    if n == "transpose":
        return _transpose(t, op)
    if n == "squeeze":
        return t.squeeze() if a[0] is None else t.squeeze(a[0])
    if n == "contiguous":
        return t.contiguous()
    if n in ("mean", "sum", "amax", "amin"):
        return _reduce(t, op)
    if n in ("chunk", "split"):
        return getattr(t, n)(a[0], a[1])[a[2]]
    if n == "index":
        items = tuple(i.materialize(env, t.device) if isinstance(i, IndexTensor) else i for i in a)
        return t[items]
    if n == "pad":
        return F.pad(t, a[0], **dict(op.kwargs))
    if n == "rearrange":
        return einops.rearrange(t, a[0], **dict(op.kwargs))
    if n == "reduce":
        return einops.reduce(t, a[0], a[1], **dict(op.kwargs))
    if n in ("cat", "stack"):
        others = [_run_chain(o.root, o.ops, env).to(t.device) for o in a[0]]
        return getattr(torch, n)([t, *others], dim=a[1])
    raise AssertionError(n)


def _run_chain(root: str, ops: tuple[Op, ...], env: dict[str, torch.Tensor]) -> torch.Tensor:
    t = env[root]
    for op in ops:
        t = _run_op(t, op, env)
    return t


_KINDS = (
    ("view size is not compatible", "view_stride"),
    ("is invalid for input of size", "reshape_numel"),
    ("Dimension out of range", "dim_range"),
    ("out of bounds", "index_range"),
    ("out of range", "index_range"),
    ("too many indices", "index_count"),
    ("Sizes of tensors must match", "cat_shapes"),
    ("stack expects each tensor", "stack_shapes"),
    ("permute", "permute_dims"),
    ("expanded size", "expand"),
    ("unflatten", "unflatten"),
    ("Padding", "pad"),
    ("processing rearrange-reduction pattern", "einops"),
    ("split", "split"),
    ("chunk", "chunk"),
    ("could not be broadcast", "index"),
)


def classify(message: str) -> str:
    """A short category for a torch error message, e.g. ``"view_stride"``; ``"torch"`` if unknown."""
    return next((kind for pattern, kind in _KINDS if pattern in message), "torch")


def _meta(t: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(tuple(t.shape), t.stride(), dtype=t.dtype, device="meta")


def run_expr(expr: Expr, env: dict[str, torch.Tensor], max_numel: int = MAX_NUMEL) -> list[tuple[Op, torch.Tensor]]:
    """Run the chain with real torch and return each op with its result.

    Sizes are predicted first: an over-budget op is refused (ExpressionRefused) before anything runs.
    Any failure of torch becomes ``ShapeError(message=<torch's message verbatim>, kind=...)``.

    >>> x = torch.zeros(32, 10, 64)
    >>> [tuple(t.shape) for _, t in run_expr(parse_expr("x[:, -1, :]"), {"x": x})]   # (b, l, h) -> (b, h)
    [(32, 64)]
    """
    shapes = {k: tuple(v.shape) for k, v in env.items()}
    ops = bind(expr, shapes)
    root = env[expr.root]
    predicted, predicted_error = _walk(ops, (shapes[expr.root], tuple(root.stride())), max_numel)
    results: list[tuple[Op, torch.Tensor]] = []
    t = root
    try:
        for i, op in enumerate(ops):
            if i == len(predicted) and predicted_error is not None:
                # predicted to fail: try on a meta tensor first, so a wrong prediction cannot allocate
                try:
                    probe = _run_op(_meta(t), op, env)
                    _check_budget(op.source or op.name, tuple(probe.shape), max_numel)
                except (ExpressionRefused, ShapeError):
                    raise
                except Exception:
                    pass
            t = _run_op(t, op, env)
            if i >= len(predicted):
                _check_budget(op.source or op.name, tuple(t.shape), max_numel)
            results.append((op, t))
    except (ExpressionRefused, ShapeError):
        raise
    except Exception as e:
        raise ShapeError(str(e), step=expr.source, input_shape=tuple(t.shape), kind=classify(str(e))) from e
    return results


# ----------------------------------------------------------------------------------- render, describe


def _src(v: Any) -> str:
    if isinstance(v, slice):
        parts = ["" if p is None else str(p) for p in (v.start, v.stop)]
        return ":".join(parts) + ("" if v.step is None else f":{v.step}")
    if v is Ellipsis:
        return "..."
    if isinstance(v, IndexTensor):
        return v.source
    if isinstance(v, Operand):
        return to_source(v.ops, v.root)
    if isinstance(v, tuple):
        return "(" + ", ".join(_src(i) for i in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def _args(vals: tuple) -> str:
    return ", ".join(_src(v) for v in vals)


def _render(op: Op, acc: str) -> str:
    n, a = op.name, op.args
    kw = "".join(f", {k}={_src(v)}" for k, v in op.kwargs if (k, v) != ("keepdim", False))
    if n == "transpose" and op.kw("attr"):
        return f"{acc}.{op.kw('attr')}"
    if n == "index":
        return f"{acc}[{_args(a)}]"
    if n in ("chunk", "split"):
        return f"{acc}.{n}({_src(a[0])}, dim={a[1]})[{a[2]}]"
    if n in ("mean", "sum", "amax", "amin"):
        return f"{acc}.{n}(dim={_src(a[0])}{kw})" if a[0] is not None or kw else f"{acc}.{n}()"
    if n == "flatten" and a[1] == -1:
        return f"{acc}.flatten({a[0]})"
    if n == "squeeze":
        return f"{acc}.squeeze({'' if a[0] is None else _src(a[0])})"
    if n == "pad":
        return f"F.pad({acc}, {_src(a[0])}{kw})"
    if n in ("rearrange", "reduce"):
        return f"{n}({acc}, {_args(a)}{kw})"
    if n in ("cat", "stack"):
        return f"torch.{n}([{', '.join([acc] + [_src(o) for o in a[0]])}], dim={a[1]})"
    return f"{acc}.{n}({_args(a)}{kw})"


def to_source(ops: tuple[Op, ...] | list[Op], root: str = "x") -> str:
    """Render a bound chain as PyTorch (``F`` = torch.nn.functional, einops' rearrange/reduce).

    >>> to_source(bind(parse_expr("x.swapaxes(1, 2).flatten(1)"), {"x": (2, 3, 4)}))
    'x.transpose(1, 2).flatten(1)'
    """
    acc = root
    for op in ops:
        acc = _render(op, acc)
    return acc


def _dims_text(d: Any) -> str:
    if d is None or d == ():
        return "all dims"
    return f"dim {d}" if isinstance(d, int) else "dims " + ", ".join(map(str, d))


_DESCRIBE: dict[str, Callable[[Op], str]] = {
    "reshape": lambda op: f"reshape to {_src(op.args)} (copies if needed)",
    "view": lambda op: f"view as {_src(op.args)} (no copy; needs compatible strides)",
    "permute": lambda op: f"reorder dims to {_src(op.args)}",
    "transpose": lambda op: f"swap dims {op.args[0]} and {op.args[1]}",
    "movedim": lambda op: f"move dim {_src(op.args[0])} to position {_src(op.args[1])}",
    "flatten": lambda op: f"merge dims {op.args[0]}..{op.args[1]} into one",
    "unflatten": lambda op: f"split dim {op.args[0]} into {_src(op.args[1])}",
    "unsqueeze": lambda op: f"insert a size-1 dim at {op.args[0]}",
    "squeeze": lambda op: (
        "remove all size-1 dims" if op.args[0] is None else f"remove {_dims_text(op.args[0])} if size 1"
    ),
    "contiguous": lambda op: "copy into contiguous memory (no-op if already contiguous)",
    "chunk": lambda op: f"cut dim {op.args[1]} into {op.args[0]} chunks, take chunk {op.args[2]}",
    "split": lambda op: f"split dim {op.args[1]} into pieces of {_src(op.args[0])}, take piece {op.args[2]}",
    "narrow": lambda op: f"take {op.args[2]} entries of dim {op.args[0]} starting at {op.args[1]}",
    "select": lambda op: f"take index {op.args[1]} of dim {op.args[0]} (the dim disappears)",
    "expand": lambda op: f"broadcast to {_src(op.args)} without copying",
    "repeat": lambda op: f"tile {_src(op.args)} times (copies)",
    "index": lambda op: f"index [{_args(op.args)}]",
    "pad": lambda op: f"pad by {_src(op.args[0])} (pairs from the last dim backwards)",
    "rearrange": lambda op: f"rearrange {op.args[0]!r}",
    "reduce": lambda op: f"reduce {op.args[0]!r} by {op.args[1]}",
    "cat": lambda op: f"concatenate with {len(op.args[0])} more tensor(s) along dim {op.args[1]}",
    "stack": lambda op: f"stack with {len(op.args[0])} more tensor(s) along a new dim {op.args[1]}",
}


def describe(op: Op) -> str:
    """One line in plain words, e.g. ``describe(Op("transpose", (1, 2)))`` -> ``"swap dims 1 and 2"``."""
    if op.name in ("mean", "sum", "amax", "amin"):
        word = {"mean": "average", "sum": "sum", "amax": "maximum", "amin": "minimum"}[op.name]
        keep = ", keeping it as size 1" if op.kw("keepdim") else ""
        return f"{word} over {_dims_text(op.args[0])}{keep}"
    return _DESCRIBE[op.name](op)
