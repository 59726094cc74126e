"""Parse an expression step (a string) into an ``Expr``: a whitelist walk of Python's ``ast``, never eval.

    >>> parse_expr("x.permute(0, 2, 1).reshape(x.shape[0], -1)").ops[1].name
    'reshape'

Everything not on the whitelist is refused with ``ExpressionRefused`` and a one-line message that names
the construct and lists what is allowed.  Sizes that depend on the input (``x.shape[0]``, ``x.size(-1)``)
stay symbolic here and are resolved by ``core.engine.expr.bind``.
"""

from __future__ import annotations

import ast
import io
import math
import tokenize
from dataclasses import dataclass
from typing import Any

from core.engine.ops import Op
from core.errors import ExpressionRefused

MAX_SOURCE_LEN = 500
MAX_NODES = 300
MAX_DEPTH = 100
MAX_NESTING = 12
MAX_INT = 10**7
MAX_OPS = 32
MAX_PATTERN = 200
MAX_LIST = 8

TENSOR_NAMES = ("x", "h_n", "c_n", "lengths")
INDEX_TENSOR_NAMES = ("lengths",)
NAMES = (*TENSOR_NAMES, "torch", "F", "rearrange", "reduce")
REDUCTIONS = ("mean", "sum", "max", "min", "prod")
PAD_MODES = ("constant",)


@dataclass(frozen=True)
class P:
    """One parameter of an op: name, kind, default (``REQ`` when required), keyword aliases."""

    name: str
    kind: str
    default: Any = "<required>"
    aliases: tuple[str, ...] = ()
    kw: bool = False  # goes to Op.kwargs instead of Op.args


REQ = "<required>"
_DIMS = [P("dim", "dims", None), P("keepdim", "bool", False, kw=True)]
# canonical name -> parameters after the tensor.  kind "sizes" = varargs or one tuple.
SIGS: dict[str, list[P]] = {
    "reshape": [P("shape", "sizes")],
    "view": [P("size", "sizes")],
    "expand": [P("size", "sizes")],
    "repeat": [P("repeats", "sizes")],
    "permute": [P("dims", "sizes")],
    "transpose": [P("dim0", "int"), P("dim1", "int")],
    "flatten": [P("start_dim", "int", 0), P("end_dim", "int", -1)],
    "unflatten": [P("dim", "int"), P("sizes", "ints")],
    "unsqueeze": [P("dim", "int")],
    "squeeze": [P("dim", "dims", None)],
    "contiguous": [],
    "mean": _DIMS,
    "sum": _DIMS,
    "amax": _DIMS,
    "amin": _DIMS,
    "chunk": [P("chunks", "int"), P("dim", "int", 0)],
    "split": [P("split_size_or_sections", "int_or_ints", aliases=("split_size",)), P("dim", "int", 0)],
    "narrow": [P("dim", "int"), P("start", "int"), P("length", "int")],
    "select": [P("dim", "int"), P("index", "int")],
    "movedim": [P("source", "int_or_ints"), P("destination", "int_or_ints")],
    "pad": [P("pad", "ints"), P("mode", "mode", "constant", kw=True), P("value", "num", None, kw=True)],
    "rearrange": [P("pattern", "pattern")],
    "reduce": [P("pattern", "pattern"), P("reduction", "reduction")],
    "cat": [P("tensors", "tensors"), P("dim", "int", 0, aliases=("axis",))],
    "stack": [P("tensors", "tensors"), P("dim", "int", 0, aliases=("axis",))],
}
ALIASES = {"swapaxes": "transpose", "swapdims": "transpose", "moveaxis": "movedim", "concat": "cat"}
_FUNC_ONLY = ("pad", "rearrange", "reduce", "cat", "stack")
METHODS = (*(n for n in SIGS if n not in _FUNC_ONLY), "swapaxes", "swapdims", "moveaxis")
TORCH_FUNCS = tuple(
    n for n in SIGS if n not in ("view", "expand", "repeat", "contiguous", "pad", "rearrange", "reduce")
)
FUNCS: dict[str, str] = {f"torch.{n}": n for n in TORCH_FUNCS}
FUNCS.update({"torch.swapaxes": "transpose", "torch.swapdims": "transpose", "torch.moveaxis": "movedim"})
FUNCS.update({"torch.concat": "cat", "torch.concatenate": "cat", "torch.nn.functional.pad": "pad"})
FUNCS.update({"rearrange": "rearrange", "reduce": "reduce"})
SIZE_ATTRS = ("shape", "ndim", "size", "dim")
ATTRS = set(METHODS) | set(SIZE_ATTRS) | {"T", "mT", "nn", "functional", "pad", "arange"} | set(TORCH_FUNCS)
ATTRS |= {"swapaxes", "swapdims", "moveaxis", "concat", "concatenate"}

_ALLOWED_NODES = (
    ast.Expression, ast.Call, ast.Attribute, ast.Name, ast.Load, ast.Constant, ast.Subscript, ast.Slice,
    ast.Tuple, ast.List, ast.BinOp, ast.UnaryOp, ast.keyword,
    ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.USub, ast.UAdd,
)  # fmt: skip
_NODE_WORDS = {
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.Starred: "`*` unpacking",
    ast.NamedExpr: "`:=` (walrus)",
    ast.Pow: "`**`",
    ast.Div: "`/` (use `//` for int sizes)",
    ast.Dict: "dict literals",
    ast.Set: "set literals",
    ast.Compare: "comparisons",
    ast.BoolOp: "`and` / `or`",
    ast.IfExp: "conditional expressions",
}
_WHAT = "an expression is one chain of tensor ops over x, e.g. x.permute(0, 2, 1).reshape(32, -1)"


@dataclass(frozen=True)
class Expr:
    """A parsed expression: the tensor it starts from and its op chain (arguments still symbolic)."""

    source: str
    root: str
    ops: tuple[Op, ...]


# symbolic values, resolved by core.engine.expr.bind
@dataclass(frozen=True)
class Lit:
    value: int


@dataclass(frozen=True)
class DimOf:  # x.shape[i] / x.size(i)
    name: str
    index: Any
    text: str


@dataclass(frozen=True)
class NDimOf:  # x.ndim / x.dim()
    name: str


@dataclass(frozen=True)
class ShapeOf:  # the whole x.shape / x.size()
    name: str


@dataclass(frozen=True)
class Bin:
    op: str
    left: Any
    right: Any
    text: str


@dataclass(frozen=True)
class Sizes:  # varargs sizes, flattened by bind
    items: tuple


@dataclass(frozen=True)
class SliceE:
    start: Any
    stop: Any
    step: Any


@dataclass(frozen=True)
class ArangeE:
    n: Any


@dataclass(frozen=True)
class TensorRefE:  # lengths - k
    name: str
    offset: Any


@dataclass(frozen=True)
class SubExpr:
    expr: Expr


def refuse(message: str) -> None:
    raise ExpressionRefused(message)


def _allowed(words: tuple[str, ...] | set[str]) -> str:
    return ", ".join(sorted(words))


def _prepass(src: str) -> ast.Expression:
    if len(src) > MAX_SOURCE_LEN:
        refuse(f"expression is {len(src):,} characters long; the limit is {MAX_SOURCE_LEN}")
    if not src.strip():
        refuse(f"empty expression; {_WHAT}")
    if ";" in src:
        refuse(f"only one expression is allowed (found `;`); {_WHAT}")
    first = src.strip().split()[0]
    if first in ("import", "from"):
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
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as e:
        refuse(f"not a single Python expression ({e.msg}); {_WHAT}")
    except (RecursionError, MemoryError, ValueError):
        refuse(f"expression could not be parsed; {_WHAT}")
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


def _check_node(src: str, node: ast.AST) -> None:
    text = ast.get_source_segment(src, node) if hasattr(node, "lineno") else None
    if not isinstance(node, _ALLOWED_NODES):
        word = _NODE_WORDS.get(type(node), f"`{type(node).__name__}` syntax")
        refuse(f"{word} {'are' if word.endswith('s') else 'is'} not allowed (in `{text or src}`); {_WHAT}")
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            refuse(f"`{text}`: dunder and private attributes are not allowed")
        if node.attr not in ATTRS:
            if (_dotted(node.value) or "").split(".")[0] in ("torch", "F"):
                refuse(f"`{text}` is not allowed; allowed functions: {_allowed(set(FUNCS))}")
            refuse(f"`{text}` is not allowed; allowed methods: {_allowed(set(METHODS))}")
    elif isinstance(node, ast.Name) and node.id not in NAMES:
        refuse(f"name `{node.id}` is not allowed; allowed names: {', '.join(NAMES)}")
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
            if not math.isfinite(v) or abs(v) > MAX_INT:
                refuse(f"number `{text}` is out of range")
        elif isinstance(v, str):
            if len(v) > MAX_PATTERN:
                refuse(f"string of {len(v)} characters; the limit is {MAX_PATTERN}")
        else:
            refuse(f"constant `{text}` of type {type(v).__name__} is not allowed")


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def _func_name(func: ast.AST) -> str | None:
    """'torch.cat' / 'torch.nn.functional.pad' / 'rearrange' for a namespace function, None for a method."""
    name = _dotted(func)
    if name is None:
        return None
    name = "torch.nn.functional." + name[2:] if name.startswith("F.") else name
    if name in ("rearrange", "reduce") or name.startswith("torch."):
        return name
    return None


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.n_ops = 0

    def seg(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.src, node) or ""

    def add(self, ops: list[Op], op: Op) -> list[Op]:
        self.n_ops += 1
        if self.n_ops > MAX_OPS:
            refuse(f"more than {MAX_OPS} operations in one expression")
        return [*ops, op]

    def op_source(self, node: ast.AST, inner: ast.AST | None) -> str:
        full = self.seg(node)
        if inner is None or isinstance(inner, ast.Name):
            return full
        head = self.seg(inner)
        return full[len(head) :] if head and full.startswith(head) else full

    # ---- tensors
    def tensor(self, node: ast.AST) -> tuple[str, list[Op]]:
        if isinstance(node, ast.Name):
            if node.id in TENSOR_NAMES:
                return node.id, []
            refuse(f"`{node.id}` is not a tensor; tensors are {', '.join(TENSOR_NAMES)}")
        if isinstance(node, ast.Attribute):
            if node.attr in ("T", "mT"):
                root, ops = self.tensor(node.value)
                args = (0, 1) if node.attr == "T" else (-2, -1)
                op = Op("transpose", args, (("attr", node.attr),), self.op_source(node, node.value))
                return root, self.add(ops, op)
            refuse(f"`{self.seg(node)}` is not a tensor; use sizes inside an op, e.g. x.reshape(x.shape[0], -1)")
        if isinstance(node, ast.Subscript):
            v = node.value
            if isinstance(v, ast.Call) and self.call_target(v)[1] in ("chunk", "split"):
                pick = self.int_expr(node.slice, "picking a piece")
                return self.call(v, pick=pick, whole=node)
            root, ops = self.tensor(v)
            items = self.index_items(node.slice)
            return root, self.add(ops, Op("index", items, (), self.op_source(node, v)))
        if isinstance(node, ast.Call):
            return self.call(node)
        refuse(f"`{self.seg(node)}` is not a tensor expression; {_WHAT}")
        raise AssertionError

    def call_target(self, node: ast.Call) -> tuple[ast.AST | None, str]:
        """(tensor node for a method call or None for a function, canonical op name)."""
        func = node.func
        fname = _func_name(func)
        if fname is not None:
            if fname not in FUNCS:
                refuse(f"`{fname}` is not allowed; allowed functions: {_allowed(set(FUNCS))}")
            return None, FUNCS[fname]
        if isinstance(func, ast.Attribute):
            if func.attr not in METHODS:
                refuse(f"`.{func.attr}` is not allowed here; allowed methods: {_allowed(set(METHODS))}")
            return func.value, ALIASES.get(func.attr, func.attr)
        refuse(f"calling `{self.seg(func)}` is not allowed; allowed functions: {_allowed(set(FUNCS))}")
        raise AssertionError

    def call(self, node: ast.Call, pick: Any = None, whole: ast.AST | None = None) -> tuple[str, list[Op]]:
        tensor_node, name = self.call_target(node)
        if name in ("chunk", "split") and pick is None:
            refuse(f"`{name}` returns a tuple; pick one piece, e.g. x.{name}(2, dim=-1)[0]")
        pos, kws = list(node.args), list(node.keywords)
        if tensor_node is None:  # function form: the first argument is the tensor (or the list for cat/stack)
            first_key = ("tensors",) if name in ("cat", "stack") else ("input", "tensor")
            hit = [k for k in kws if k.arg in first_key]
            if pos:
                tensor_node = pos.pop(0)
            elif hit:
                tensor_node = hit[0].value
                kws.remove(hit[0])
            else:
                refuse(f"`{self.seg(node)}` needs a tensor as its first argument")
        others: tuple = ()
        if name in ("cat", "stack"):
            if not isinstance(tensor_node, (ast.List, ast.Tuple)) or not 1 <= len(tensor_node.elts) <= MAX_LIST:
                refuse(f"`torch.{name}` takes a list of 1 to {MAX_LIST} tensors, e.g. torch.{name}([x, x], dim=-1)")
            elts = tensor_node.elts  # type: ignore[union-attr]
            tensor_node = elts[0]
            others = tuple(SubExpr(self.sub_expr(e)) for e in elts[1:])
        root, ops = self.tensor(tensor_node)
        args, kwargs = self.params(name, pos, kws, method=tensor_node is node.func.value if isinstance(
            node.func, ast.Attribute) else False)  # fmt: skip
        if name in ("cat", "stack"):
            args = (others, *args)
        if pick is not None:
            args = (*args, pick)
        full = whole if whole is not None else node
        inner = tensor_node if name not in ("cat", "stack") and _func_name(node.func) is None else None
        return root, self.add(ops, Op(name, args, kwargs, self.op_source(full, inner)))

    def sub_expr(self, node: ast.AST) -> Expr:
        root, ops = self.tensor(node)
        return Expr(self.seg(node), root, tuple(ops))

    # ---- arguments
    def params(self, name: str, pos: list, kws: list, method: bool) -> tuple[tuple, tuple]:
        sig = [p for p in SIGS[name] if p.kind != "tensors"]
        if method and sig and sig[0].kind == "sizes":
            allowed_kw = (sig[0].name,) if name == "permute" else ()
            for k in kws:
                if k.arg not in allowed_kw:
                    refuse(f"keyword `{k.arg}` is not allowed for `{name}`; pass the sizes positionally")
            nodes = pos if not kws else [kws[0].value]
            if len(nodes) == 1 and isinstance(nodes[0], (ast.Tuple, ast.List)):
                nodes = list(nodes[0].elts)
            if not nodes:
                refuse(f"`{name}` needs sizes, e.g. x.{name}(32, -1)")
            return (Sizes(tuple(self.size_item(n) for n in nodes)),), ()
        if len(pos) > len(sig):
            refuse(f"`{name}` takes at most {len(sig)} arguments after the tensor: {', '.join(p.name for p in sig)}")
        given: dict[str, ast.AST] = {p.name: a for p, a in zip(sig, pos)}
        if name in ("rearrange", "reduce"):
            axis_kws = [k for k in kws if k.arg not in [p.name for p in sig]]
            kws = [k for k in kws if k not in axis_kws]
        else:
            axis_kws = []
        for k in kws:
            match = [p for p in sig if k.arg == p.name or k.arg in p.aliases]
            if not match:
                allowed = ", ".join(p.name for p in sig) or "none"
                refuse(f"keyword `{k.arg}` is not allowed for `{name}`; allowed keywords: {allowed}")
            if match[0].name in given:
                refuse(f"`{name}` got `{match[0].name}` twice")
            given[match[0].name] = k.value
        args, kwargs = [], []
        for p in sig:
            if p.name in given:
                value = self.convert(p, given[p.name], name)
            elif p.default == REQ:
                refuse(f"`{name}` needs `{p.name}`")
            else:
                if p.kw:
                    continue
                value = p.default
            (kwargs.append((p.name, value)) if p.kw else args.append(value))
        if name in ("mean", "sum", "amax", "amin") and not kwargs:
            kwargs.append(("keepdim", False))
        for k in axis_kws:
            if not k.arg.isidentifier():
                refuse(f"einops axis name `{k.arg}` is not allowed")
            kwargs.append((k.arg, self.int_expr(k.value, f"einops axis `{k.arg}`")))
        return tuple(args), tuple(kwargs)

    def convert(self, p: P, node: ast.AST, op: str) -> Any:
        what = f"`{p.name}` of `{op}`"
        kind = p.kind
        if kind == "int":
            return self.int_expr(node, what)
        if kind in ("ints", "sizes"):
            if isinstance(node, (ast.Tuple, ast.List)):
                return Sizes(tuple(self.size_item(e) for e in node.elts))
            return Sizes((self.size_item(node),))
        if kind == "int_or_ints":
            if isinstance(node, (ast.Tuple, ast.List)):
                return tuple(self.int_expr(e, what) for e in node.elts)
            return self.int_expr(node, what)
        if kind == "dims":
            if isinstance(node, ast.Constant) and node.value is None:
                return None
            return self.convert(P(p.name, "int_or_ints"), node, op)
        if kind == "bool":
            if isinstance(node, ast.Constant) and isinstance(node.value, bool):
                return node.value
            refuse(f"{what} must be True or False, got `{self.seg(node)}`")
        if kind == "num":
            v = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else node
            if isinstance(v, ast.Constant) and type(v.value) in (int, float):
                return -v.value if v is not node else v.value
            refuse(f"{what} must be a number, got `{self.seg(node)}`")
        if kind in ("mode", "reduction", "pattern"):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                refuse(f"{what} must be a string literal, got `{self.seg(node)}`")
            s = node.value  # type: ignore[attr-defined]
            choices = {"mode": PAD_MODES, "reduction": REDUCTIONS}.get(kind)
            if choices and s not in choices:
                refuse(f"{what} {s!r} is not allowed; allowed: {', '.join(choices)}")
            return s
        raise AssertionError(kind)

    def size_item(self, node: ast.AST) -> Any:
        if (isinstance(node, ast.Attribute) and node.attr == "shape") or (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "size"
            and not node.args and not node.keywords
        ):  # fmt: skip
            name = node.value if isinstance(node, ast.Attribute) else node.func.value  # type: ignore[attr-defined]
            return ShapeOf(self.tensor_name(name, self.seg(node)))
        return self.int_expr(node, "a size")

    def tensor_name(self, node: ast.AST, text: str) -> str:
        if isinstance(node, ast.Name) and node.id in TENSOR_NAMES:
            return node.id
        refuse(f"`{text}`: sizes can only be read from {', '.join(TENSOR_NAMES)} directly, e.g. x.shape[0]")
        raise AssertionError

    def int_expr(self, node: ast.AST, what: str) -> Any:
        text = self.seg(node)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, int) and not isinstance(v, bool):
                return Lit(v)
            kind = "a float" if isinstance(v, float) else f"a {type(v).__name__}"
            refuse(f"`{text}` is {kind}; {what} needs an int")
        if isinstance(node, ast.UnaryOp):
            inner = self.int_expr(node.operand, what)
            return Bin("-", Lit(0), inner, text) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%"}
            sym = ops.get(type(node.op))
            if sym is None:
                refuse(f"`{text}`: only + - * // % are allowed on sizes")
            return Bin(sym, self.int_expr(node.left, what), self.int_expr(node.right, what), text)  # type: ignore[arg-type]
        if isinstance(node, ast.Subscript):
            v = node.value
            is_shape = isinstance(v, ast.Attribute) and v.attr == "shape"
            is_size = isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "size"
            if is_size and (v.args or v.keywords):  # type: ignore[union-attr]
                is_size = False
            if is_shape or is_size:
                base = v.value if is_shape else v.func.value  # type: ignore[attr-defined,union-attr]
                return DimOf(self.tensor_name(base, text), self.int_expr(node.slice, "a dim"), text)
            refuse(f"`{text}`: subscripts are only allowed on tensors and on x.shape")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("size", "dim"):
            name = self.tensor_name(node.func.value, text)
            if node.func.attr == "dim" and not node.args and not node.keywords:
                return NDimOf(name)
            args = list(node.args) + [k.value for k in node.keywords if k.arg == "dim"]
            if node.func.attr == "size" and len(args) == 1 and len(node.args) + len(node.keywords) == 1:
                return DimOf(name, self.int_expr(args[0], "a dim"), text)
        if isinstance(node, ast.Attribute) and node.attr == "ndim":
            return NDimOf(self.tensor_name(node.value, text))
        refuse(f"`{text}` is not allowed where {what} is expected; use int literals, x.shape[i], x.size(i), + - * // %")
        raise AssertionError

    def index_items(self, node: ast.AST) -> tuple:
        elts = node.elts if isinstance(node, ast.Tuple) else [node]
        if sum(1 for e in elts if isinstance(e, ast.Constant) and e.value is Ellipsis) > 1:
            refuse("an index can only have a single ellipsis ('...')")
        return tuple(self.index_item(e) for e in elts)

    def index_item(self, node: ast.AST) -> Any:
        text = self.seg(node)
        if isinstance(node, ast.Slice):
            parts = (node.lower, node.upper, node.step)
            return SliceE(*(None if p is None else self.int_expr(p, "a slice bound") for p in parts))
        if isinstance(node, ast.Constant) and (node.value is None or node.value is Ellipsis):
            return node.value
        if isinstance(node, ast.Call) and _func_name(node.func) is not None:
            if _func_name(node.func) != "torch.arange" or len(node.args) != 1 or node.keywords:
                refuse(f"`{text}`: the only index function is torch.arange(n)")
            return ArangeE(self.int_expr(node.args[0], "torch.arange"))
        if isinstance(node, ast.Name) and node.id in TENSOR_NAMES:
            return TensorRefE(self.index_tensor_name(node, text), Lit(0))
        if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Name) and node.left.id in TENSOR_NAMES:
            name = self.index_tensor_name(node.left, text)
            if not isinstance(node.op, (ast.Add, ast.Sub)):
                refuse(f"`{text}`: only `{name} - k` or `{name} + k` can be used as an index")
            off = self.int_expr(node.right, "an index offset")
            return TensorRefE(name, off if isinstance(node.op, ast.Add) else Bin("-", Lit(0), off, text))
        if isinstance(node, (ast.List, ast.Tuple)):
            refuse(f"`{text}`: list indices are not allowed; use torch.arange(n) or lengths - 1")
        return self.int_expr(node, "an index")

    def index_tensor_name(self, node: ast.Name, text: str) -> str:
        if node.id not in INDEX_TENSOR_NAMES:
            refuse(f"`{text}`: only torch.arange(n) and lengths (± k) can be used as index tensors")
        return node.id


def parse_expr(source: str) -> Expr:
    """Validate ``source`` against the whitelist and return its parsed chain; raises ExpressionRefused.

    >>> [op.name for op in parse_expr("x[:, 0, :].unsqueeze(1)").ops]
    ['index', 'unsqueeze']
    """
    if not isinstance(source, str):
        refuse(f"an expression must be a string, got {type(source).__name__}")
    tree = _prepass(source)
    parser = _Parser(source)
    root, ops = parser.tensor(tree.body)
    return Expr(source, root, tuple(ops))
