"""Symbolic values of the expression language (sizes, numbers, size tuples, dtypes) and their resolution.

The parser (``core.engine.parse``) turns every non-tensor argument into one of these records; ``resolve``
turns it into a plain Python value once the shapes of the named tensors are known:

    >>> resolve(Bin("//", DimOf("x", Lit(-1), "x.size(-1)"), Lit(12), "x.size(-1) // 12"), _Shapes({"x": (2, 9, 384)}))
    32
    >>> resolve(ShapeOf("x", SliceE(None, Lit(-1), None), "x.shape[:-1]"), _Shapes({"x": (2, 9, 384)}))
    (2, 9)

Every intermediate number is bounded (ints within ``MAX_INT``, floats finite unless written as ``inf``), so a
hostile size like ``10 ** 100`` is refused while it is being computed, never materialised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.errors import ExpressionRefused

MAX_INT = 10**7
MAX_FLOAT = 1.8e308
MAX_TUPLE = 16

DTYPES = {
    "float32": "float32", "float": "float32", "float16": "float16", "half": "float16", "bfloat16": "bfloat16",
    "float64": "float64", "double": "float64", "int64": "int64", "long": "int64", "int32": "int32", "int": "int32",
    "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
}  # fmt: skip


@dataclass(frozen=True)
class Lit:
    """An int literal, e.g. ``-1`` in ``x.reshape(32, -1)``."""

    value: int


@dataclass(frozen=True)
class Const:
    """Any other literal: a float, bool, None, a string (pattern, mode) or a list of ints (an index list)."""

    value: Any


@dataclass(frozen=True)
class DimOf:  # x.shape[i] / x.size(i)
    name: str
    index: Any
    text: str


@dataclass(frozen=True)
class NDimOf:  # x.ndim / x.dim()
    name: str


@dataclass(frozen=True)
class NumelOf:  # x.numel()
    name: str


@dataclass(frozen=True)
class ShapeOf:  # x.shape / x.size() / x.shape[:-1] (a tuple of ints)
    name: str
    part: Any = None  # SliceE or None
    text: str = ""


@dataclass(frozen=True)
class Bin:
    """``left op right`` on numbers (``+ - * / // % **``) or size tuples (``+``)."""

    op: str
    left: Any
    right: Any
    text: str


@dataclass(frozen=True)
class Call:
    """A scalar function: ``math.sqrt(d)``, ``float('-inf')``, ``int(...)``, ``min(a, b)``."""

    fn: str
    args: tuple
    text: str


@dataclass(frozen=True)
class Sizes:  # varargs sizes (``x.view(2, -1)``) or one tuple (``x.view((2, -1))``), flattened by resolve
    items: tuple


@dataclass(frozen=True)
class Star:  # ``*x.shape[:-1]`` inside sizes
    value: Any


@dataclass(frozen=True)
class TupleE:  # a tuple / list literal of values, e.g. the pad widths ``(0, 0, 0, 3)``
    items: tuple


@dataclass(frozen=True)
class SliceE:
    start: Any
    stop: Any
    step: Any


@dataclass(frozen=True)
class DTypeE:  # torch.float32
    name: str


@dataclass(frozen=True)
class DTypeOf:  # x.dtype
    name: str


@dataclass(frozen=True)
class DeviceOf:  # x.device: the device of that tensor (the app picks devices; this only follows them)
    name: str


@dataclass(frozen=True)
class FInfo:  # torch.finfo(x.dtype).min
    dtype: Any
    attr: str
    text: str


@dataclass(frozen=True)
class SubExpr:
    """A tensor operand: another chain (``m.unsqueeze(-1)`` in ``x * m.unsqueeze(-1)``)."""

    expr: Any  # core.engine.parse.Expr


@dataclass(frozen=True)
class Spread:
    """A tuple of tensors used as the whole index: ``x[torch.where(m)]`` is ``x[i0, i1, ...]``, one index
    tensor per dim of ``m`` (Python passes the tuple itself as the index)."""

    expr: Any  # core.engine.parse.Expr whose result is a tuple


def refuse(message: str) -> None:
    raise ExpressionRefused(message)


def torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, DTYPES[name])


def _check(v: Any, text: str) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and abs(v) > MAX_INT:
        refuse(f"`{text}` evaluates to {v if abs(v) < 10**30 else 'a huge number'}, beyond the limit of ±{MAX_INT:,}")
    if isinstance(v, float) and math.isfinite(v) and abs(v) > MAX_FLOAT:
        refuse(f"`{text}` evaluates to {v:.3g}, beyond the limit of ±{MAX_FLOAT:.0e}")
    return v


def _pow(a: Any, b: Any, text: str) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b >= 0:
        if abs(a) > 1 and b * math.log2(abs(a)) > 64:
            refuse(f"`{text}` evaluates to a huge number, beyond the limit of ±{MAX_INT:,}")
        return a**b
    try:
        out = math.pow(a, b)
    except (OverflowError, ValueError) as e:
        refuse(f"`{text}` cannot be computed ({e})")
    return out


def _binary(op: str, a: Any, b: Any, text: str) -> Any:
    if isinstance(a, tuple) or isinstance(b, tuple):
        if op == "+" and isinstance(a, tuple) and isinstance(b, tuple):
            if len(a) + len(b) > MAX_TUPLE:
                refuse(f"`{text}` has more than {MAX_TUPLE} sizes")
            return a + b
        refuse(f"`{text}`: size tuples can only be joined with `+`, e.g. x.shape[:-1] + (12, 64)")
    if not all(isinstance(v, (int, float)) for v in (a, b)):
        refuse(f"`{text}`: arithmetic needs numbers, got {type(a).__name__} and {type(b).__name__}")
    if op in ("/", "//", "%") and b == 0:
        refuse(f"`{text}` divides by zero")
    if op == "**":
        return _pow(a, b, text)
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0.0, "//": a // b, "%": a % b}[op]


_MATH = {
    "math.sqrt": math.sqrt, "math.log": math.log, "math.exp": math.exp, "math.ceil": math.ceil,
    "math.floor": math.floor, "math.log2": math.log2, "math.log10": math.log10, "abs": abs, "round": round,
    "min": min, "max": max, "math.prod": None,
}  # fmt: skip
SCALAR_FUNCS = (*_MATH, "float", "int")
SCALAR_CONSTS = {"math.pi": math.pi, "math.e": math.e, "math.inf": math.inf, "math.nan": math.nan}


def _call(v: Call, shapes: Any) -> Any:
    args = [resolve(a, shapes) for a in v.args]
    if v.fn == "float":
        (a,) = args
        if isinstance(a, str):
            if a.strip().lower() not in ("inf", "-inf", "+inf", "nan", "infinity", "-infinity"):
                refuse(f"`{v.text}`: only float('inf'), float('-inf') and float('nan') are allowed from strings")
            return float(a)
        return float(_number(a, v.text))
    if v.fn == "int":
        return int(_number(args[0], v.text))
    if v.fn == "math.prod":
        (a,) = args
        out = 1
        for s in a if isinstance(a, tuple) else (a,):
            out = _check(out * _number(s, v.text), v.text)
        return out
    for a in args:
        _number(a, v.text)
    try:
        return _MATH[v.fn](*args)
    except (ValueError, OverflowError, TypeError) as e:
        refuse(f"`{v.text}` cannot be computed ({e})")


def _number(a: Any, text: str) -> Any:
    if isinstance(a, bool) or not isinstance(a, (int, float)):
        refuse(f"`{text}` needs a number, got {type(a).__name__}")
    return a


class _Shapes:
    """The minimal resolution context: named shapes (and optionally dtypes / devices)."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtypes: dict[str, Any] | None = None) -> None:
        self.shapes = shapes
        self.dtypes = dtypes or {}

    def shape(self, name: str) -> tuple[int, ...]:
        if name not in self.shapes:
            refuse(f"`{name}` is not available here; available: {', '.join(self.shapes) or 'none'}")
        return tuple(self.shapes[name])

    def dtype(self, name: str) -> Any:
        import torch

        self.shape(name)
        return self.dtypes.get(name, torch.float32)

    def device(self, name: str) -> Any:
        return None


def resolve(v: Any, ctx: Any) -> Any:
    """The plain value of a symbolic value; ``ctx`` answers ``shape(name)``, ``dtype(name)``, ``device(name)``.

    Tensor operands (``SubExpr``) are not handled here (see ``core.engine.expr``).
    """
    if isinstance(v, Lit):
        return v.value
    if isinstance(v, Const):
        return v.value
    if isinstance(v, NDimOf):
        return len(ctx.shape(v.name))
    if isinstance(v, NumelOf):
        return _check(math.prod(ctx.shape(v.name)), f"{v.name}.numel()")
    if isinstance(v, DimOf):
        shape, i = ctx.shape(v.name), resolve(v.index, ctx)
        if not isinstance(i, int) or isinstance(i, bool):
            refuse(f"`{v.text}`: a dim index must be an int")
        if not -len(shape) <= i < len(shape):
            from core.errors import ShapeError

            raise ShapeError(
                f"`{v.text}`: {v.name} has {len(shape)} dims {shape}, so index {i} is out of range",
                kind="shape_index",
            )
        return shape[i]
    if isinstance(v, ShapeOf):
        shape = ctx.shape(v.name)
        return shape if v.part is None else tuple(shape[resolve(v.part, ctx)])
    if isinstance(v, Bin):
        return _check(_binary(v.op, resolve(v.left, ctx), resolve(v.right, ctx), v.text), v.text)
    if isinstance(v, Call):
        return _check(_call(v, ctx), v.text)
    if isinstance(v, Sizes):
        return flatten_sizes(tuple(resolve(i, ctx) for i in v.items), v)
    if isinstance(v, Star):
        return resolve(v.value, ctx)
    if isinstance(v, TupleE):
        out: list[Any] = []
        for item in v.items:
            r = resolve(item, ctx)
            out.extend(r if isinstance(item, Star) else [r])
        return tuple(out)
    if isinstance(v, SliceE):
        return slice(*(None if p is None else resolve(p, ctx) for p in (v.start, v.stop, v.step)))
    if isinstance(v, DTypeE):
        return torch_dtype(v.name)
    if isinstance(v, DTypeOf):
        return ctx.dtype(v.name)
    if isinstance(v, DeviceOf):
        return ctx.device(v.name)
    if isinstance(v, FInfo):
        import torch

        dtype = resolve(v.dtype, ctx)
        if not dtype.is_floating_point:
            refuse(f"`{v.text}`: torch.finfo needs a floating dtype, got {dtype}")
        return float(getattr(torch.finfo(dtype), v.attr))
    if isinstance(v, tuple):
        return tuple(resolve(i, ctx) for i in v)
    return v


def flatten_sizes(items: tuple, v: Any = None) -> tuple[int, ...]:
    """Varargs sizes to one tuple: ``(2, -1)`` stays, ``((2, -1),)`` unwraps, a ``*x.shape[:-1]`` splices in."""
    starred = v is not None and any(isinstance(i, Star) for i in v.items)
    if len(items) == 1 and isinstance(items[0], tuple) and not starred:
        items = items[0]
    else:
        flat: list[Any] = []
        for item, sym in zip(items, v.items if v is not None else items):
            if isinstance(sym, Star) or (v is None and isinstance(item, tuple)):
                flat.extend(item)
            elif isinstance(item, tuple):
                refuse("a size tuple among other sizes needs `*`, e.g. x.view(*x.shape[:-1], 12, 64)")
            else:
                flat.append(item)
        items = tuple(flat)
    for s in items:
        if isinstance(s, bool) or not isinstance(s, int):
            kind = "a float" if isinstance(s, float) else f"a {type(s).__name__}"
            refuse(f"a size is {kind} ({s!r}); sizes must be ints (use `//` rather than `/`)")
    if len(items) > MAX_TUPLE:
        refuse(f"more than {MAX_TUPLE} sizes")
    return tuple(items)
