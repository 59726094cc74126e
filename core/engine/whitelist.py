"""The security boundary of the expression language: limits and the ``ast`` node whitelist (never eval).

``prepass`` checks a step's text before any meaning is read from it: its length, bracket nesting, one
statement, the number and depth of syntax nodes, every node type, every attribute and name. Anything else is
refused with ``ExpressionRefused``: one line that names the construct and, where one exists, the supported
spelling (``suggestion`` holds a rewritten step when a mechanical rewrite exists, e.g. in-place ``.masked_fill_``).
"""

from __future__ import annotations

import ast
import builtins
import difflib
import io
import keyword
import math
import tokenize
from typing import Any

from core.engine.catalog import FUNCS, HINTS, METHODS, REDUCTIONS
from core.engine.values import DTYPES, MAX_INT, SCALAR_CONSTS, SCALAR_FUNCS
from core.errors import ExpressionRefused

MAX_SOURCE_LEN = 500
MAX_NODES = 400
MAX_DEPTH = 100
MAX_NESTING = 12
MAX_OPS = 32
MAX_PATTERN = 200
MAX_LIST = 8
MAX_DATA = 64
MAX_TARGETS = 8

BUILTIN_TENSORS = ("x", "h_n", "c_n", "lengths", "mask", "attention_mask", "input_ids")
NAMESPACES = ("torch", "F", "nn", "math", "einops")
EINOPS_FUNCS = ("rearrange", "reduce", "repeat")
RESERVED = frozenset({*NAMESPACES, *EINOPS_FUNCS, *dir(builtins), *keyword.kwlist}) - {"_"}
SIZE_ATTRS = ("shape", "ndim", "size", "dim", "numel", "dtype", "device")
_NS_ATTRS = {"nn", "functional", "utils", "rnn", "linalg", "special", "finfo", "min", "max", "eps", "tiny"}
ATTRS = (
    set(METHODS)
    | set(SIZE_ATTRS)
    | _NS_ATTRS
    | {f.rsplit(".", 1)[1] for f in FUNCS}
    | set(DTYPES)
    | {"T", "mT", "values", "indices", "data", "batch_sizes", "sorted_indices", "unsorted_indices", "einsum"}
    | {n.split(".")[1] for n in (*SCALAR_FUNCS, *SCALAR_CONSTS) if "." in n}
)
STR_CHOICES = {
    "mode": ("constant", "reflect", "replicate", "circular"),
    "approximate": ("none", "tanh"),
    "rounding_mode": ("floor", "trunc"),
    "reduction": REDUCTIONS,
}

_BINOPS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floordiv", ast.Mod: "mod",
    ast.Pow: "pow", ast.MatMult: "matmul", ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor",
}  # fmt: skip
_CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
_NUMOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}
_ALLOWED_NODES = (
    ast.Module,
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.Store,
    ast.Call,
    ast.Attribute,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Subscript,
    ast.Slice,
    ast.Tuple,
    ast.List,
    ast.BinOp,
    ast.UnaryOp,
    ast.keyword,
    ast.Starred,
    ast.Compare,
    ast.USub,
    ast.UAdd,
    ast.Invert,
    *_BINOPS,
    *_CMPOPS,
)
_NODE_WORDS = {
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.NamedExpr: "`:=` (walrus)",
    ast.Dict: "dict literals",
    ast.Set: "set literals",
    ast.BoolOp: "`and` / `or` (use `&` / `|` on boolean tensors)",
    ast.IfExp: "conditional expressions (use torch.where(cond, a, b))",
    ast.Not: "`not` (use `~` on a boolean tensor)",
    ast.LShift: "`<<`",
    ast.RShift: "`>>`",
    ast.Is: "`is`",
    ast.IsNot: "`is not`",
    ast.In: "`in`",
    ast.NotIn: "`not in`",
    ast.AnnAssign: "annotated assignments",
}
_WHAT = "a step is one expression or assignment over tensors, e.g. x.permute(0, 2, 1) or w = torch.softmax(s, dim=1)"
ALLOWED_NAMES = (
    "x, h_n, c_n, lengths, mask, attention_mask, input_ids, names bound by earlier steps, torch, F, nn, math"
)


def refuse(message: str, suggestion: str | None = None) -> None:
    raise ExpressionRefused(message, suggestion=suggestion)


def prepass(src: str) -> ast.Module:
    if len(src) > MAX_SOURCE_LEN:
        refuse(f"expression is {len(src):,} characters long; the limit is {MAX_SOURCE_LEN}")
    if not src.strip():
        refuse(f"empty expression; {_WHAT}")
    if src.lstrip().split()[0] in ("import", "from"):
        refuse(f"`import` is not allowed; {_WHAT}")
    level = 0
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(src).readline))
    except (tokenize.TokenError, SyntaxError) as e:
        refuse(f"not a single Python expression ({e.args[0]}); {_WHAT}")
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in "([{":
            level += 1
            if level > MAX_NESTING:
                refuse(f"brackets nested more than {MAX_NESTING} deep")
        elif tok.type == tokenize.OP and tok.string in ")]}":
            level -= 1
        elif tok.type == tokenize.OP and tok.string == ";":
            refuse(f"only one expression (or one assignment) per step (found `;`); {_WHAT}")
    try:
        tree = ast.parse(src.strip(), mode="exec")
    except SyntaxError as e:
        refuse(f"not a single Python expression ({e.msg}); {_WHAT}")
    except (RecursionError, MemoryError, ValueError):
        refuse(f"expression could not be parsed; {_WHAT}")
    if len(tree.body) != 1:
        refuse(f"only one expression (or one assignment) per step (found {len(tree.body)} statements); {_WHAT}")
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        refuse(f"expression has {len(nodes)} syntax nodes; the limit is {MAX_NODES}")
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            refuse(f"expression is nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    for node in nodes:  # outermost syntax first: `lambda` before its `arguments`
        if not isinstance(node, _ALLOWED_NODES):
            _check_node(src, node)
    for node in reversed(nodes):  # innermost names first: `torch.ops` before `torch.ops.aten`
        _check_node(src, node)
    return tree


def _close(word: str, options: Any) -> str:
    near = difflib.get_close_matches(word, sorted(options), n=3, cutoff=0.75)
    return f"; did you mean {' / '.join(near)}?" if near else ""


def _check_node(src: str, node: ast.AST) -> None:
    text = ast.get_source_segment(src, node) if hasattr(node, "lineno") else None
    if not isinstance(node, _ALLOWED_NODES):
        word = _NODE_WORDS.get(type(node), f"`{type(node).__name__}` syntax")
        refuse(f"{word} {'are' if word.endswith('s') else 'is'} not allowed (in `{text or src}`); {_WHAT}")
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            refuse(f"`{text}`: dunder and private attributes are not allowed")
        if node.attr not in ATTRS:
            _unknown_attr(src, node, text or "")
    elif isinstance(node, ast.Name) and node.id in RESERVED and node.id not in (*NAMESPACES, *EINOPS_FUNCS):
        if node.id not in ("float", "int", "abs", "min", "max", "round", "True", "False", "None"):
            refuse(f"name `{node.id}` is not allowed; allowed names: {ALLOWED_NAMES}")
    elif isinstance(node, ast.Name) and node.id.startswith("__"):
        refuse(f"name `{node.id}` is not allowed; allowed names: {ALLOWED_NAMES}")
    elif isinstance(node, ast.keyword) and (node.arg is None or node.arg.startswith("_")):
        refuse(f"`**` unpacking and private keyword names are not allowed (in `{src}`)")
    elif isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or v is None or v is Ellipsis:
            return
        if isinstance(v, int):
            if abs(v) > MAX_INT:
                refuse(f"integer {v if abs(v) < 10**30 else '(huge)'} is beyond the limit of ±{MAX_INT:,}")
        elif isinstance(v, float):
            if not math.isfinite(v):
                refuse(f"number `{text}` is out of range")
        elif isinstance(v, str):
            if len(v) > MAX_PATTERN:
                refuse(f"string of {len(v)} characters; the limit is {MAX_PATTERN}")
        else:
            refuse(f"constant `{text}` of type {type(v).__name__} is not allowed")


def _unknown_attr(src: str, node: ast.Attribute, text: str) -> None:
    name = node.attr
    head = (_dotted(node.value) or "").split(".")[0]
    if name.endswith("_") and name[:-1] in ATTRS:
        fixed = src.replace(f".{name}(", f".{name[:-1]}(")
        refuse(
            f"`{text}`: in-place `.{name}` is not allowed (it would change a tensor other steps read); "
            f"use `.{name[:-1]}`",
            suggestion=fixed if fixed != src else None,
        )
    hint = HINTS.get(name)
    if hint:
        refuse(f"`{text}` is not allowed: {hint}")
    if head in NAMESPACES:
        refuse(
            f"`{text}` is not allowed: not a supported function{_close(name, {f.rsplit('.', 1)[1] for f in FUNCS})}"
            "; the README's expression section lists what is supported"
        )
    refuse(f"`{text}` is not allowed{_close(name, ATTRS)}; the README's expression section lists the supported methods")


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def _namespace_name(func: ast.AST) -> str | None:
    """'torch.cat' / 'torch.nn.functional.pad' / 'rearrange' for a namespace function, None for a method."""
    name = _dotted(func)
    if name is None:
        return None
    head = name.split(".")[0]
    if head == "F":
        return "torch.nn.functional." + name[2:]
    if head == "nn":
        return "torch." + name
    if head == "einops" or name in EINOPS_FUNCS:
        return "einops." + name.split(".")[-1]
    if head in ("torch", "math") or name in SCALAR_FUNCS:
        return name
    return None


def _tensor_name(name: str, text: str) -> str:
    if name in NAMESPACES or name in EINOPS_FUNCS or name in RESERVED:
        refuse(f"`{text}` is not a tensor; {_WHAT}")
    return name
