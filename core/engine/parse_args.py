"""Arguments and values of a call in a step: the kind of every parameter (int, sizes, dims, dtype, tensor ...)
read from the ``ast`` into symbolic values (``core.engine.values``), never evaluated.

    >>> import ast
    >>> is_scalar(ast.parse("x.size(-1) ** 0.5", mode="eval").body), is_scalar(ast.parse("x * 2", mode="eval").body)
    (True, False)
"""

from __future__ import annotations

import ast
from typing import Any

from core.engine.opdef import P
from core.engine.values import (
    DTYPES,
    SCALAR_CONSTS,
    SCALAR_FUNCS,
    Bin,
    Call,
    Const,
    DeviceOf,
    DimOf,
    DTypeE,
    DTypeOf,
    FInfo,
    Lit,
    NDimOf,
    NumelOf,
    ShapeOf,
    Sizes,
    SliceE,
    Star,
    TupleE,
)
from core.engine.whitelist import _NUMOPS, MAX_DATA, STR_CHOICES, _dotted, _namespace_name, _tensor_name, refuse


def _is_shape_read(node: ast.AST) -> bool:
    """``x.shape`` / ``x.size()`` (a whole size tuple)."""
    if isinstance(node, ast.Attribute) and node.attr == "shape":
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "size"
        and not node.args
        and not node.keywords
        and _namespace_name(node.func) is None
    )


def is_scalar(node: ast.AST) -> bool:
    """True for a number / size / size tuple expression (``x.size(-1) ** 0.5``), False for a tensor one."""
    if isinstance(node, ast.Constant):
        return node.value is not Ellipsis
    if isinstance(node, ast.Attribute):
        dotted = _dotted(node)
        if dotted in SCALAR_CONSTS or node.attr in ("ndim", "shape", "dtype", "device"):
            return True
        if node.attr in ("min", "max", "eps", "tiny") and isinstance(node.value, ast.Call):
            return _dotted(node.value.func) == "torch.finfo"
        return dotted is not None and dotted.startswith("torch.") and node.attr in DTYPES
    if isinstance(node, ast.Subscript):
        return _is_shape_read(node.value)
    if isinstance(node, ast.Call):
        fname = _dotted(node.func)
        if fname in SCALAR_FUNCS:
            return True
        return (
            isinstance(node.func, ast.Attribute)
            and node.func.attr in ("size", "dim", "numel")
            and (_namespace_name(node.func) is None)
        )
    if isinstance(node, ast.BinOp):
        return is_scalar(node.left) and is_scalar(node.right)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.USub, ast.UAdd)) and is_scalar(node.operand)
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(is_scalar(e.value if isinstance(e, ast.Starred) else e) for e in node.elts)
    return False


class ArgumentParser:
    """Reads call arguments and values; the chain parser (``core.engine.parse``) supplies ``seg`` and ``sub_expr``."""

    src: str

    def seg(self, node: ast.AST) -> str:  # pragma: no cover - provided by the chain parser
        raise NotImplementedError

    def sub_expr(self, node: ast.AST) -> Any:  # pragma: no cover - provided by the chain parser
        raise NotImplementedError

    def convert(self, p: P, node: ast.AST, op: str) -> Any:
        what, kind, text = f"`{p.name}` of `{op}`", p.kind, self.seg(node)
        if kind == "int":
            return self.int_value(node, what)
        if kind in ("ints", "sizes"):
            if isinstance(node, (ast.Tuple, ast.List)):
                return TupleE(tuple(self.size_item(e) for e in node.elts))
            return Sizes((self.size_item(node),))
        if kind in ("opt_tensor", "opt_bool") and isinstance(node, ast.Constant) and node.value is None:
            return None
        if kind == "opt_tensor":
            return self.sub_expr(node)
        if kind == "opt_bool":
            kind = "bool"
        if kind == "ints_or_tensor":
            kind = "int_or_ints" if is_scalar(node) else "tensor"
            if kind == "tensor":
                return self.sub_expr(node)
        if kind == "opt_num_or_tensor":
            if isinstance(node, ast.Constant) and node.value is None:
                return None
            return self.num_value(node, what) if is_scalar(node) else self.sub_expr(node)
        if kind in ("int_or_ints", "dims", "opt_ints"):
            if kind in ("dims", "opt_ints") and isinstance(node, ast.Constant) and node.value is None:
                return None
            if isinstance(node, (ast.Tuple, ast.List)):
                return TupleE(tuple(self.int_value(e, what) for e in node.elts))
            return self.int_value(node, what)
        if kind in ("opt_int", "opt_num", "num", "p"):
            if isinstance(node, ast.Constant) and node.value is None and kind.startswith("opt"):
                return None
            if kind == "p" and isinstance(node, ast.Constant) and node.value == "fro":
                return "fro"
            if kind == "opt_int":
                return self.int_value(node, what)
            return self.num_value(node, what)
        if kind == "bool":
            if isinstance(node, ast.Constant) and isinstance(node.value, bool):
                return node.value
            refuse(f"{what} must be True or False, got `{text}`")
        if kind == "tensor":
            return self.sub_expr(node)
        if kind in ("tensor_or_num", "int_or_tensor"):
            return self.value(node) if is_scalar(node) else self.sub_expr(node)
        if kind in ("dtype", "to_target", "device"):
            return self.dtype_or_device(node, kind, what)
        if kind in ("str", "reduction", "pattern"):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                if kind == "str" and isinstance(node, ast.Constant) and node.value is None:
                    return None
                refuse(f"{what} must be a string literal, got `{text}`")
            s = node.value  # type: ignore[attr-defined]
            choices = STR_CHOICES.get(p.name) or STR_CHOICES.get(kind)
            if choices and s not in choices:
                refuse(f"{what} {s!r} is not allowed; allowed: {', '.join(choices)}")
            return s
        if kind == "data":
            return Const(self.data_literal(node, 0))
        raise AssertionError(kind)

    def dtype_or_device(self, node: ast.AST, kind: str, what: str) -> Any:
        text = self.seg(node)
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        dotted = _dotted(node)
        if dotted and dotted.startswith("torch.") and dotted[6:] in DTYPES and kind != "device":
            return DTypeE(dotted[6:])
        if isinstance(node, ast.Attribute) and node.attr == "dtype" and kind != "device":
            return DTypeOf(_tensor_name(_dotted(node.value) or "", text))
        if isinstance(node, ast.Attribute) and node.attr == "device" and kind != "dtype":
            return DeviceOf(_tensor_name(_dotted(node.value) or "", text))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            refuse(
                f"`{text}`: moving tensors between devices is not allowed; the app picks the device "
                "(follow another tensor with .to(x.device))"
            )
        if kind == "to_target" and not is_scalar(node):
            return self.sub_expr(node)
        refuse(f"{what} must be a torch dtype such as torch.float32, got `{text}`")

    def data_literal(self, node: ast.AST, depth: int) -> Any:
        if isinstance(node, (ast.List, ast.Tuple)) and depth < 2 and len(node.elts) <= MAX_DATA:
            return tuple(self.data_literal(e, depth + 1) for e in node.elts)
        v = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else node
        if isinstance(v, ast.Constant) and type(v.value) in (int, float, bool):
            return -v.value if v is not node else v.value
        refuse(f"`torch.tensor` takes a list of at most {MAX_DATA} numbers (two levels deep), got `{self.seg(node)}`")

    # ----------------------------------------------------------------------------------------- values
    def size_item(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Starred):
            if not is_scalar(node.value):
                refuse(f"`{self.seg(node)}`: `*` unpacks a size tuple only, e.g. *x.shape[:-1]")
            return Star(self.value(node.value))
        return self.int_value(node, "a size")

    def int_value(self, node: ast.AST, what: str) -> Any:
        v = self.value(node)
        if isinstance(v, Const) and not isinstance(v.value, bool) and isinstance(v.value, float):
            refuse(f"`{self.seg(node)}` is a float; {what} needs an int")
        if isinstance(v, Const) and not (v.value is None or isinstance(v.value, int)):
            refuse(f"`{self.seg(node)}` is a {type(v.value).__name__}; {what} needs an int")
        for sub in ast.walk(node):
            if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Div):
                refuse(f"`{self.seg(node)}`: `/` gives a float; use `//` for int sizes ({what})")
        return v

    def num_value(self, node: ast.AST, what: str) -> Any:
        v = self.value(node)
        if isinstance(v, Const) and (isinstance(v.value, str) or v.value is None):
            refuse(f"`{self.seg(node)}`: {what} needs a number")
        return v

    def value(self, node: ast.AST) -> Any:
        """A symbolic number / size / size tuple / string / dtype (``core.engine.values``)."""
        text = self.seg(node)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, int) and not isinstance(v, bool):
                return Lit(v)
            if v is Ellipsis:
                refuse(f"`...` is only allowed in an index ({text})")
            return Const(v)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.value(node.operand)
            return Bin("-", Lit(0), inner, text) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            sym = _NUMOPS.get(type(node.op))
            if sym is None or not is_scalar(node):
                refuse(f"`{text}`: only + - * / // % ** are allowed on numbers and sizes")
            return Bin(sym, self.value(node.left), self.value(node.right), text)  # type: ignore[arg-type]
        if isinstance(node, (ast.Tuple, ast.List)):
            if len(node.elts) > 16:
                refuse(f"`{text}`: at most 16 sizes")
            return TupleE(tuple(self.size_item(e) for e in node.elts))
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted in SCALAR_CONSTS:
                return Const(SCALAR_CONSTS[dotted])
            if dotted and dotted.startswith("torch.") and node.attr in DTYPES:
                return DTypeE(node.attr)
            if node.attr in ("min", "max", "eps", "tiny") and isinstance(node.value, ast.Call):
                call = node.value
                if _dotted(call.func) == "torch.finfo" and len(call.args) == 1 and not call.keywords:
                    return FInfo(self.dtype_or_device(call.args[0], "dtype", "torch.finfo"), node.attr, text)
            if node.attr in ("ndim", "shape", "dtype", "device"):
                name = self.tensor_name(node.value, text)
                return {"ndim": NDimOf, "dtype": DTypeOf, "device": DeviceOf}.get(node.attr, ShapeOf)(name)
        if isinstance(node, ast.Subscript) and _is_shape_read(node.value):
            v = node.value
            base = v.value if isinstance(v, ast.Attribute) else v.func.value  # type: ignore[attr-defined]
            name = self.tensor_name(base, text)
            if isinstance(node.slice, ast.Slice):
                s = node.slice
                parts = (s.lower, s.upper, s.step)
                return ShapeOf(
                    name, SliceE(*(None if p is None else self.int_value(p, "a slice") for p in parts)), text
                )
            return DimOf(name, self.int_value(node.slice, "a dim"), text)
        if isinstance(node, ast.Call):
            return self.scalar_call(node, text)
        if isinstance(node, ast.Name):
            refuse(f"`{text}` is a tensor; a number or a size is expected here (e.g. {text}.size(-1))")
        refuse(
            f"`{text}` is not allowed where a number or a size is expected; use int literals, x.shape[i], "
            "x.size(i), + - * // %"
        )
        raise AssertionError

    def scalar_call(self, node: ast.Call, text: str) -> Any:
        func = node.func
        fname = _dotted(func)
        if fname in SCALAR_FUNCS:
            if node.keywords or not 1 <= len(node.args) <= 2:
                refuse(f"`{text}`: {fname}() takes one or two plain arguments")
            for a in node.args:
                if isinstance(a, ast.Name) and not is_scalar(a):
                    refuse(f"`{a.id}` is a tensor; {fname}() needs a number or a size, e.g. {fname}({a.id}.size(-1))")
                if not is_scalar(a):
                    refuse(f"`{text}`: {fname}() of a tensor is not a number; use tensor methods (e.g. x.abs())")
            return Call(fname, tuple(self.value(a) for a in node.args), text)  # type: ignore[arg-type]
        if isinstance(func, ast.Attribute) and func.attr in ("size", "dim", "numel"):
            name = self.tensor_name(func.value, text)
            args = list(node.args) + [k.value for k in node.keywords if k.arg == "dim"]
            if len(args) != len(node.args) + len(node.keywords):
                refuse(f"`{text}`: only `dim=` is allowed here")
            if func.attr == "dim" and not args:
                return NDimOf(name)
            if func.attr == "numel" and not args:
                return NumelOf(name)
            if func.attr == "size" and not args:
                return ShapeOf(name)
            if func.attr == "size" and len(args) == 1:
                return DimOf(name, self.int_value(args[0], "a dim"), text)
        refuse(f"`{text}` is not allowed where a number or a size is expected")
        raise AssertionError

    def tensor_name(self, node: ast.AST, text: str) -> str:
        if isinstance(node, ast.Name):
            return _tensor_name(node.id, text)
        refuse(f"`{text}`: sizes can only be read from a named tensor directly, e.g. x.shape[0] (bind a name first)")
        raise AssertionError
