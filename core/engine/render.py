"""Render bound op chains back to PyTorch source, and describe each op in plain words.

>>> from core.engine.chain import Op
>>> to_source([Op("transpose", (1, 2)), Op("flatten", (1, -1))])
'x.transpose(1, 2).flatten(1)'
>>> to_source([Op("mul", (0.125,)), Op("softmax", (-1,))], "scores")
'(scores * 0.125).softmax(-1)'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from core.engine.catalog import OPS, REQ
from core.engine.chain import IndexList, Op, Operand
from core.engine.values import DeviceOf

_SHORT = (("torch.nn.functional.", "F."),)
_INFIX = {name: d.infix for name, d in OPS.items() if d.infix}
_LEGACY = (
    "reshape",
    "view",
    "expand",
    "repeat",
    "permute",
    "transpose",
    "index",
    "chunk",
    "split",
    "mean",
    "sum",
    "amax",
    "amin",
    "flatten",
    "squeeze",
    "pad",
    "rearrange",
    "reduce",
    "cat",
    "stack",
)


def src(v: Any) -> str:
    """One argument as Python source."""
    if isinstance(v, slice):
        parts = ["" if p is None else str(p) for p in (v.start, v.stop)]
        return ":".join(parts) + ("" if v.step is None else f":{v.step}")
    if v is Ellipsis:
        return "..."
    if isinstance(v, Operand):
        return _wrapped(to_source(v.ops, v.root), v.ops)
    if isinstance(v, IndexList):
        return "[" + ", ".join(map(str, v.values)) + "]"
    if isinstance(v, DeviceOf):
        return f"{v.name}.device"
    if isinstance(v, tuple):
        return "(" + ", ".join(src(i) for i in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, float) and not math.isfinite(v):
        return f"float('{v}')"
    if type(v).__name__ == "dtype":
        return str(v)
    if type(v).__name__ == "device":
        return "x.device"
    return repr(v)


def _wrapped(text: str, ops: Any) -> str:
    return f"({text})" if ops and ops[-1].name in _INFIX else text


def _args(vals: tuple) -> str:
    return ", ".join(src(v) for v in vals)


def _func_name(full: str) -> str:
    for long, short in _SHORT:
        if full.startswith(long):
            return short + full[len(long) :]
    return full


def _call_args(op: Op) -> str:
    """Positional args (trailing defaults dropped) then keyword-only ones, by the catalog's signature."""
    d = OPS[op.name]
    plist = [p for p in d.params if not p.kw and p.kind != "tensors"]
    vals = list(op.args)
    while vals and len(vals) <= len(plist) and plist[len(vals) - 1].default != REQ and vals[-1] == plist[
            len(vals) - 1].default:  # fmt: skip
        vals.pop()
    parts = [src(v) for v in vals]
    parts += [f"{k}={src(v)}" for k, v in op.kwargs if k not in ("pick", "tuple", "reflected", "attr")]
    return ", ".join(parts)


def _pick(op: Op, text: str) -> str:
    pick = op.kw("pick")
    if pick is None:
        return text
    return f"{text}.{pick}" if isinstance(pick, str) else f"{text}[{pick}]"


def _render_legacy(op: Op, acc: str) -> str:
    n, a = op.name, op.args
    kw = "".join(f", {k}={src(v)}" for k, v in op.kwargs if (k, v) != ("keepdim", False) and k != "tuple")
    if n == "transpose" and op.kw("attr"):
        return f"{acc}.{op.kw('attr')}"
    if n == "index":
        return f"{acc}[{_args(a)}]"
    if n in ("reshape", "view", "expand", "repeat", "permute") and not a:
        return f"{acc}.{n}(())"
    if n in ("chunk", "split"):
        base = f"{acc}.{n}({src(a[0])}, dim={a[1]})"
        return base if len(a) < 3 or a[2] is None else f"{base}[{a[2]}]"
    if n in ("mean", "sum", "amax", "amin"):
        return f"{acc}.{n}(dim={src(a[0])}{kw})" if a[0] is not None or kw else f"{acc}.{n}()"
    if n == "flatten" and a[1] == -1:
        return f"{acc}.flatten({a[0]})"
    if n == "squeeze":
        return f"{acc}.squeeze({'' if a[0] is None else src(a[0])})"
    if n == "pad":
        return f"F.pad({acc}, {src(a[0])}{kw})"
    if n in ("rearrange", "reduce"):
        return f"{n}({acc}, {_args(a)}{kw})"
    if n in ("cat", "stack"):
        return f"torch.{n}([{', '.join([acc] + [src(o) for o in a[0]])}], dim={a[1]})"
    return f"{acc}.{n}({_args(a)}{kw})"


# Python's operator precedence (higher binds tighter); comparisons never chain in a rendering
_PREC = {"**": 7, "*": 5, "@": 5, "/": 5, "//": 5, "%": 5, "+": 4, "-": 4, "&": 3, "^": 2, "|": 1}


def _prec(sym: str | None) -> int:
    return 99 if sym is None else _PREC.get(sym, 0)


def render_op(op: Op, acc: str, acc_infix: str | None = None) -> str:
    """Source of ``op`` applied to the expression ``acc`` (``acc_infix``: the operator ``acc`` ends with)."""
    n, d = op.name, OPS[op.name]
    if n in _INFIX and not op.kw("rounding_mode") and op.kw("alpha") is None:
        sym, other = _INFIX[n], op.args[0]
        mine, theirs = _prec(sym), _prec(acc_infix)
        reflected = bool(op.kw("reflected"))
        if theirs < mine or (theirs == mine and (reflected or sym == "**" or mine == 0)):
            acc = f"({acc})"
        other_text = src(other)
        if isinstance(other, (int, float)) and not isinstance(other, bool) and (other < 0 or sym == "**"):
            other_text = f"({other_text})"
        left, right = (other_text, acc) if reflected else (acc, other_text)
        return f"{left} {sym} {right}"
    if acc_infix:
        acc = f"({acc})"
    if n in _LEGACY and not (n in ("mean", "sum") and op.kw("dtype") is not None):
        return _render_legacy(op, acc)
    if n == "transpose":
        return _render_legacy(op, acc)
    if n in ("data", "batch_sizes", "sorted_indices", "unsorted_indices"):
        return f"{acc}.{n}"
    if n == "einsum":
        return f"torch.einsum({op.args[0]!r}, {', '.join([acc, *(src(o) for o in op.args[1])])})"
    if n == "einops_repeat":
        kw = "".join(f", {k}={src(v)}" for k, v in op.kwargs)
        return f"repeat({acc}, {op.args[0]!r}{kw})"
    if n in ("maximum", "minimum") and d.methods:
        return f"{acc}.{n}({src(op.args[0])})"
    if n in ("max", "min") and op.args and op.args[0] is None:
        return f"{acc}.{n}()"
    args = _call_args(op)
    if d.ctor:
        return f"{_func_name(d.funcs[0])}({args})"
    if n == "where":
        return f"torch.where({acc}, {args})"
    if d.methods:
        return _pick(op, f"{acc}.{d.methods[0]}({args})")
    return _pick(op, f"{_func_name(d.funcs[0])}({acc}{', ' if args else ''}{args})")


def to_source(ops: tuple[Op, ...] | list[Op], root: str | None = "x") -> str:
    """Render a bound chain as PyTorch (``F`` = torch.nn.functional, einops' rearrange/reduce/repeat).

    >>> to_source([Op("index", (slice(None), -1)), Op("unsqueeze", (1,))], "h_n")
    'h_n[:, -1].unsqueeze(1)'
    """
    acc, infix = root or "", None
    for op in ops:
        acc = render_op(op, acc, infix)
        plain = not op.kw("rounding_mode") and op.kw("alpha") is None
        infix = _INFIX[op.name] if op.name in _INFIX and plain else None
    return acc


# ------------------------------------------------------------------------------------------- describe


def _dims_text(d: Any) -> str:
    if d is None or d == ():
        return "all dims"
    return f"dim {d}" if isinstance(d, int) else "dims " + ", ".join(map(str, d))


_DESCRIBE: dict[str, Callable[[Op], str]] = {
    "reshape": lambda op: f"reshape to {src(op.args)} (copies if needed)",
    "view": lambda op: f"view as {src(op.args)} (no copy; needs compatible strides)",
    "permute": lambda op: f"reorder dims to {src(op.args)}",
    "expand": lambda op: f"broadcast to {src(op.args)} without copying",
    "repeat": lambda op: f"tile {src(op.args)} times (copies)",
    "transpose": lambda op: f"swap dims {op.args[0]} and {op.args[1]}",
    "movedim": lambda op: f"move dim {src(op.args[0])} to position {src(op.args[1])}",
    "squeeze": lambda op: (
        "remove all size-1 dims" if op.args[0] is None else f"remove {_dims_text(op.args[0])} if size 1"
    ),
    "chunk": lambda op: (
        f"cut dim {op.args[1]} into {op.args[0]} chunks"
        + (f", take chunk {op.args[2]}" if len(op.args) > 2 and op.args[2] is not None else "")
    ),
    "split": lambda op: (
        f"split dim {op.args[1]} into pieces of {src(op.args[0])}"
        + (f", take piece {op.args[2]}" if len(op.args) > 2 and op.args[2] is not None else "")
    ),
    "narrow": lambda op: f"take {op.args[2]} entries of dim {op.args[0]} starting at {op.args[1]}",
    "index": lambda op: f"index [{_args(op.args)}]",
    "rearrange": lambda op: f"rearrange {op.args[0]!r}",
    "reduce": lambda op: f"reduce {op.args[0]!r} by {op.args[1]}",
    "cat": lambda op: f"concatenate with {len(op.args[0])} more tensor(s) along dim {op.args[1]}",
    "stack": lambda op: f"stack with {len(op.args[0])} more tensor(s) along a new dim {op.args[1]}",
    "einsum": lambda op: f"einsum {op.args[0]!r} with {len(op.args[1])} more tensor(s)",
    "max": lambda op: (
        "maximum of all entries"
        if op.args[0] is None
        else f"maximum over dim {op.args[0]}"
        + (f" ({op.kw('pick')})" if isinstance(op.kw("pick"), str) else " (values, indices)")
    ),
    "min": lambda op: (
        "minimum of all entries"
        if op.args[0] is None
        else f"minimum over dim {op.args[0]}"
        + (f" ({op.kw('pick')})" if isinstance(op.kw("pick"), str) else " (values, indices)")
    ),
    "topk": lambda op: (
        f"the {op.args[0]} largest along dim {op.args[1]}"
        if op.args[2]
        else f"the {op.args[0]} smallest along dim {op.args[1]}"
    ),
    "unbind": lambda op: f"split dim {op.args[0]} into its slices",
    "tensor_split": lambda op: f"split dim {op.args[1]} at {src(op.args[0])}",
    "where": lambda op: f"{src(op.args[0])} where the condition holds, else {src(op.args[1])}",
}
_BINARY_WORDS = {
    "add": "add", "sub": "subtract", "mul": "multiply by", "div": "divide by", "floordiv": "floor-divide by",
    "mod": "remainder of division by", "pow": "raise to the power", "matmul": "matrix product with",
    "eq": "compare == with", "ne": "compare != with", "lt": "compare < with", "le": "compare <= with",
    "gt": "compare > with", "ge": "compare >= with", "and": "logical and with", "or": "logical or with",
    "xor": "logical xor with",
}  # fmt: skip
_REDUCE_WORDS = {"mean": "average", "sum": "sum", "amax": "maximum", "amin": "minimum"}


def describe(op: Op) -> str:
    """One line in plain words, e.g. ``describe(Op("transpose", (1, 2)))`` -> ``"swap dims 1 and 2"``."""
    n = op.name
    if n in _REDUCE_WORDS:
        keep = ", keeping it as size 1" if op.kw("keepdim") else ""
        return f"{_REDUCE_WORDS[n]} over {_dims_text(op.args[0])}{keep}"
    if n in _BINARY_WORDS:
        other = src(op.args[0]) if op.args else "?"
        if op.kw("reflected") and n in ("sub", "div", "pow", "floordiv", "mod", "matmul"):
            return f"{other} {OPS[n].infix} the tensor (elementwise)"
        return f"{_BINARY_WORDS[n]} {other}" + ("" if n == "matmul" else " (elementwise, broadcast)")
    if n == "transpose" and op.kw("attr"):
        return "reverse the dims (x.T)" if op.kw("attr") == "T" else "swap the last two dims (x.mT)"
    if n in _DESCRIBE:
        return _DESCRIBE[n](op)
    words = OPS[n].words
    if words:
        try:
            return words.format(*(src(a) for a in op.args))
        except (IndexError, KeyError, ValueError):
            return words.split("{")[0].strip() or n
    return n.replace("_", " ")
