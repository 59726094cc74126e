"""Names and numbers of pasted code: scopes, a few words naming a value's kind for messages, and Python arithmetic on
known sizes folded only within bounds (no ``10**10**10``, no ``'a' * 10**9``)."""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

from core.code_import.render import render_placeholders
from core.code_import.values import (
    ClassV,
    Config,
    DictV,
    Dtype,
    Encoding,
    Func,
    FunctionV,
    HiddenStates,
    Instance,
    Method,
    Namespace,
    NotUnderstood,
    Opaque,
    Output,
    Py,
    Seq,
    ShapeOf,
    Size,
    Tensor,
    Term,
)

MAX_INT = 10**12
MAX_ITEMS = 64  # list / comprehension / loop length the importer unrolls
MAX_WORK = 40_000  # expression nodes evaluated per import
MAX_STR = 100_000

BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
BUILTIN_NAMES = (
    "print", "len", "range", "int", "float", "list", "tuple", "zip", "enumerate", "sum", "min", "max", "super",
    "isinstance", "str", "round", "abs", "dict", "sorted", "reversed", "bool", "repr", "format", "iter", "next",
    "True", "False", "None", "any", "all", "map", "filter", "set", "divmod", "pow", "staticmethod",
    "classmethod", "property", "object",
)  # fmt: skip
DTYPES = (
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
    "int16", "int8", "uint8", "bool", "complex64",
)  # fmt: skip


class Env:
    """A scope: local names, then the module's globals."""

    def __init__(self, globals_: dict[str, Any], locals_: dict[str, Any] | None = None) -> None:
        self.globals = globals_
        self.locals = locals_ if locals_ is not None else globals_

    def get(self, name: str) -> Any:
        if name in self.locals:
            return self.locals[name]
        if name in self.globals:
            return self.globals[name]
        return None

    def set(self, name: str, value: Any) -> None:
        self.locals[name] = value


def describe(v: Any) -> str:
    """A few words naming a value's kind, for messages."""
    names = {
        Tensor: "a tensor",
        Term: "a tensor",
        Size: "a number",
        ShapeOf: "a shape",
        Seq: "a sequence",
        DictV: "a dict",
        Encoding: "the tokenizer's output",
        Output: "the model's output",
        HiddenStates: "the hidden states",
        Config: "a model config",
        ClassV: "a class",
        Instance: "a module instance",
        FunctionV: "a function",
        Namespace: "a module",
        Func: "a function",
        Method: "a method",
        Dtype: "a dtype",
        Opaque: "an object",
    }
    if isinstance(v, Py):
        return f"the value {v.value!r}"[:60]
    label = getattr(v, "label", "")
    kind = type(v).__name__
    if kind in ("Passer", "Layer", "Applied") and label:
        return f"the module {label}"
    modules = {"Sequential": "an nn.Sequential", "ModuleList": "an nn.ModuleList", "Loss": "a loss function",
               "Model": "a BERT model", "Tokenizer": "a tokenizer"}  # fmt: skip
    return names.get(type(v)) or modules.get(kind) or kind.lower()


def size_value(v: Any) -> int | float | None:
    return v.value if isinstance(v, Size) else None


def concrete_int(v: Any, what: str) -> int:
    """An int the code fixes (a literal, a constant, a checkpoint size); NotUnderstood otherwise."""
    if isinstance(v, Size) and isinstance(v.value, int) and not isinstance(v.value, bool):
        return v.value
    if isinstance(v, Size) and isinstance(v.value, float) and v.value.is_integer():
        return int(v.value)
    raise NotUnderstood(f"{what} must be a number the code fixes; here it is {size_text(v)}")


def size_text(v: Any) -> str:
    if isinstance(v, Size):
        return f"`{unparse_term(v.term)}`"
    return describe(v)


def unparse_term(term: ast.AST) -> str:
    return render_placeholders(term)


def fold_numbers(op: type, a: Any, b: Any) -> Any:
    """Python arithmetic on known numbers, refused when the result would be huge."""
    if op is ast.Pow and (abs(a) > 10**6 or abs(b) > 64 or (isinstance(b, int) and b < 0 and a == 0)):
        return None
    if op is ast.Mult and isinstance(a, int | float) and isinstance(b, int | float) and abs(a) * abs(b) > MAX_INT**2:
        return None
    if op in (ast.FloorDiv, ast.Mod, ast.Div) and b == 0:
        return None
    try:
        out = BINARY[op](a, b)
    except (OverflowError, ZeroDivisionError, ValueError, TypeError):
        return None
    if isinstance(out, int) and abs(out) > MAX_INT:
        return None
    if isinstance(out, float) and not math.isfinite(out):
        return None
    return out
