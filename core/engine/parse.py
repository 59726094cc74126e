"""Parse a step (one Python statement) into a ``Statement``: the op chains of its value, never evaluated.

    >>> parse_expr("x.permute(0, 2, 1).reshape(x.shape[0], -1)").ops[1].name
    'reshape'
    >>> s = parse_statement("values, indices = x.max(dim=1)")
    >>> s.names, s.expr.ops[0].name
    (('values', 'indices'), 'max')

An expression is a *spine*: a chain of ops from a root name (``x``, ``mask``, a name bound by an earlier step)
or from a constructor (``torch.zeros(...)``); an op may take other tensors as operands (``SubExpr``), e.g.
``x * m.unsqueeze(-1)`` is the spine ``x`` with one op ``mul`` whose operand is the chain ``m.unsqueeze(-1)``.
Sizes and numbers stay symbolic (``core.engine.values``) until ``bind`` knows the shapes. The text first
passes ``core.engine.whitelist.prepass`` (the security boundary); what is refused says why and how to fix it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from core.engine.catalog import FUNCS, METHODS, OPS, REQ, TUPLE_FIELDS, OpDef, P
from core.engine.chain import Op
from core.engine.parse_args import ArgumentParser, is_scalar
from core.engine.values import (
    SCALAR_FUNCS,
    Bin,
    Const,
    Lit,
    Sizes,
    SliceE,
    Spread,
    SubExpr,
)
from core.engine.whitelist import (
    _BINOPS,
    _CMPOPS,
    _WHAT,
    EINOPS_FUNCS,
    MAX_LIST,
    MAX_OPS,
    MAX_PATTERN,
    MAX_TARGETS,
    NAMESPACES,
    RESERVED,
    _close,
    _namespace_name,
    _tensor_name,
    prepass,
    refuse,
)

__all__ = ["Bin", "Expr", "Lit", "Sizes", "Statement", "SubExpr", "parse_expr", "parse_statement"]

LEGACY_VARARGS = ("reshape", "view", "expand", "repeat", "permute")
_TUPLE_RETURNING = {"chunk", "split", "unbind", "tensor_split", "topk", "sort", "pad_packed_sequence"}
_ARITH_WORD = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%", "pow": "**"}
PackedOps = ("pack_padded_sequence",)


@dataclass(frozen=True)
class Expr:
    """A parsed expression: the tensor it starts from (None for a constructor) and its op chain (symbolic).

    result: what the value is -- ``tensor``, ``tuple`` (unpack it or pick one) or ``packed`` (PackedSequence).
    """

    source: str
    root: str | None
    ops: tuple[Op, ...]
    result: str = "tensor"


@dataclass(frozen=True)
class Statement:
    """One step: ``targets`` None for a bare expression (its result becomes ``x``), else the names it binds,
    e.g. ``"w"`` or ``("values", "indices")`` or ``("out", ("h", "c"))``."""

    source: str
    targets: Any
    expr: Expr

    @property
    def names(self) -> tuple[str, ...]:
        """The names this step binds, in order (``_`` skipped); ``("x",)`` for a bare expression."""
        return tuple(n for n in _flat(self.targets if self.targets is not None else "x") if n != "_")


def _flat(t: Any) -> list[str]:
    return [t] if isinstance(t, str) else [n for item in t for n in _flat(item)]


class _Parser(ArgumentParser):
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

    # ------------------------------------------------------------------------------------ tensor chains
    def expr(self, node: ast.AST) -> Expr:
        root, ops = self.tensor(node)
        return Expr(self.seg(node), root, tuple(ops), _result(ops))

    def sub_expr(self, node: ast.AST) -> SubExpr:
        e = self.expr(node)
        if e.result == "tuple":
            refuse(f"`{e.source}` is a tuple here; pick one tensor, e.g. `{e.source}[0]`")
        return SubExpr(e)

    def tensor(self, node: ast.AST) -> tuple[str | None, list[Op]]:
        text = self.seg(node)
        if is_scalar(node):
            refuse(f"`{text}` is a number or a size, not a tensor; {_WHAT}")
        if isinstance(node, ast.Name):
            return _tensor_name(node.id, text), []
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Subscript):
            v = node.value
            if isinstance(v, ast.Call) and self.returns_tuple(v):
                return self.call(v, pick=self.pick_index(node.slice), whole=node)
            root, ops = self.tensor(v)
            _no_tuple(ops, self.seg(v))
            return root, self.add(ops, Op("index", self.index_items(node.slice), (), self.op_source(node, v)))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.tensor(node.operand)
            root, ops = self.tensor(node.operand)
            name = "neg" if isinstance(node.op, ast.USub) else "bitwise_not"
            return root, self.add(ops, Op(name, (), (), text))
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                refuse(f"`{text}`: chained comparisons are not allowed; combine two with `&`")
            return self.binary(node, _CMPOPS[type(node.ops[0])], node.left, node.comparators[0])
        refuse(f"`{text}` is not a tensor expression; {_WHAT}")
        raise AssertionError

    def attribute(self, node: ast.Attribute) -> tuple[str | None, list[Op]]:
        attr, text = node.attr, self.seg(node)
        if attr in ("T", "mT"):
            root, ops = self.tensor(node.value)
            _no_tuple(ops, self.seg(node.value))
            args = (0, 1) if attr == "T" else (-2, -1)
            return root, self.add(ops, Op("transpose", args, (("attr", attr),), self.op_source(node, node.value)))
        if attr in ("values", "indices") and isinstance(node.value, ast.Call) and self.returns_tuple(node.value):
            return self.call(node.value, pick=attr, whole=node)
        if attr in ("data", "batch_sizes", "sorted_indices", "unsorted_indices"):
            root, ops = self.tensor(node.value)
            return root, self.add(ops, Op(attr, (), (), self.op_source(node, node.value)))
        refuse(f"`{text}` is not a tensor; use sizes inside an op, e.g. x.reshape(x.shape[0], -1)")
        raise AssertionError

    def binop(self, node: ast.BinOp) -> tuple[str | None, list[Op]]:
        name = _BINOPS.get(type(node.op))
        if name is None:
            refuse(f"`{self.seg(node)}`: this operator is not allowed on tensors")
        return self.binary(node, name, node.left, node.right)  # type: ignore[arg-type]

    def binary(self, node: ast.AST, name: str, left: ast.AST, right: ast.AST) -> tuple[str | None, list[Op]]:
        if is_scalar(left):
            root, ops = self.tensor(right)
            _no_tuple(ops, self.seg(right))
            other, kwargs = self.value(left), (("reflected", True),)
        else:
            root, ops = self.tensor(left)
            _no_tuple(ops, self.seg(left))
            other = self.value(right) if is_scalar(right) else self.sub_expr(right)
            kwargs = ()
        return root, self.add(ops, Op(name, (other,), kwargs, self.seg(node)))

    def pick_index(self, node: ast.AST) -> Any:
        if isinstance(node, (ast.Slice, ast.Tuple)):
            refuse(f"`[{self.seg(node)}]`: pick one piece with an int, e.g. [0]")
        return self.int_value(node, "picking a piece")

    # ------------------------------------------------------------------------------------------ calls
    def call_target(self, node: ast.Call) -> tuple[ast.AST | None, str]:
        """(tensor node for a method call or None for a function, canonical op name)."""
        func = node.func
        fname = _namespace_name(func)
        if fname is not None:
            if fname == "torch.einsum":
                return None, "einsum"
            if fname in SCALAR_FUNCS or fname == "torch.finfo":
                refuse(f"`{self.seg(node)}` is a number, not a tensor; {_WHAT}")
            if fname not in FUNCS:
                refuse(
                    f"`{fname}` is not a supported function{_close(fname, set(FUNCS))}; the README's expression "
                    "section lists what is supported"
                )
            name = FUNCS[fname]
            if name in ("max", "min") and _elementwise(node.args[1:], node.keywords):  # torch.max(input, other)
                return None, {"max": "maximum", "min": "minimum"}[name]
            return None, name
        if isinstance(func, ast.Attribute):
            if func.attr == "where":  # not rewritten by _method_where: its arguments do not fit
                refuse(
                    f"`{self.seg(node)}`: the method takes a condition and the other value, "
                    "x.where(condition, other) (= torch.where(condition, x, other))"
                )
            if func.attr not in METHODS:
                refuse(f"`.{func.attr}` is not allowed here{_close(func.attr, set(METHODS))}")
            name = METHODS[func.attr]
            if name in ("max", "min") and _elementwise(node.args, node.keywords):  # x.max(other)
                name = {"max": "maximum", "min": "minimum"}[name]
            return func.value, name
        refuse(f"calling `{self.seg(func)}` is not allowed; {_WHAT}")
        raise AssertionError

    def returns_tuple(self, node: ast.Call) -> bool:
        node = _as_torch_call(node)
        try:
            _, name = self.call_target(node)
        except Exception:
            return False
        if name in _TUPLE_RETURNING:
            return True
        d = OPS[name]
        if d.returns != "tuple_if":
            return False
        key = {"max": "dim", "min": "dim", "nonzero": "as_tuple"}.get(name, "return_indices")
        pos = [p.name for p in d.params].index(key)
        given = [k.value for k in node.keywords if k.arg == key]
        args = node.args[1:] if _namespace_name(node.func) else node.args
        if not given and len(args) > pos:
            given = [args[pos]]
        if not given:
            return False
        v = given[0]
        if key == "dim":
            return not (isinstance(v, ast.Constant) and v.value is None)
        return isinstance(v, ast.Constant) and v.value is True

    def call(self, node: ast.Call, pick: Any = None, whole: ast.AST | None = None) -> tuple[str | None, list[Op]]:
        node = _as_torch_call(node)
        tensor_node, name = self.call_target(node)
        d = OPS[name]
        pos, kws = list(node.args), list(node.keywords)
        method = tensor_node is not None
        if name == "einsum":
            return self.einsum(node, pos, kws)
        if not method and not d.ctor:  # function form: the first argument is the tensor (or the list)
            first_key = ("tensors",) if name in ("cat", "stack") else ("input", "tensor", "condition", "sequence")
            hit = [k for k in kws if k.arg in first_key]
            if pos and not isinstance(pos[0], ast.Starred):
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
            others = tuple(self.sub_expr(e) for e in elts[1:])
        if tensor_node is None:
            root, ops = None, []
        else:
            root, ops = self.tensor(tensor_node)
            _no_tuple(ops, self.seg(tensor_node))
        args, kwargs = self.params(d, pos, kws, method)
        if name in ("cat", "stack"):
            args = (others, *args)
        tuple_result = name in _TUPLE_RETURNING or (d.returns == "tuple_if" and self.returns_tuple(node))
        if pick is not None:
            if name in ("chunk", "split"):
                args = (*args, pick)
            elif isinstance(pick, str) and pick not in TUPLE_FIELDS.get(name, ()):
                refuse(f"`{self.seg(whole or node)}`: `{name}` has no field `{pick}`")
            else:
                kwargs = (*kwargs, ("pick", pick))
        elif tuple_result:
            if name in ("chunk", "split"):
                args = (*args, None)
            kwargs = (*kwargs, ("tuple", True))
        full = whole if whole is not None else node
        inner = tensor_node if method else None
        return root, self.add(ops, Op(name, args, kwargs, self.op_source(full, inner)))

    def einsum(self, node: ast.Call, pos: list, kws: list) -> tuple[str | None, list[Op]]:
        if kws or not pos:
            refuse("`torch.einsum` takes the equation and the tensors, e.g. torch.einsum('bij,bjk->bik', a, b)")
        eq = self.value(pos[0]) if isinstance(pos[0], ast.Constant) else None
        if not (isinstance(eq, Const) and isinstance(eq.value, str)):
            refuse("`torch.einsum` needs the equation as a string literal first")
        tensors = pos[1:]
        if len(tensors) == 1 and isinstance(tensors[0], (ast.List, ast.Tuple)):
            tensors = list(tensors[0].elts)  # type: ignore[attr-defined]
        if not 1 <= len(tensors) <= MAX_LIST:
            refuse(f"`torch.einsum` takes 1 to {MAX_LIST} tensors")
        root, ops = self.tensor(tensors[0])
        others = tuple(self.sub_expr(t) for t in tensors[1:])
        return root, self.add(ops, Op("einsum", (eq.value, others), (), self.seg(node)))

    # -------------------------------------------------------------------------------------- arguments
    def params(self, d: OpDef, pos: list, kws: list, method: bool) -> tuple[tuple, tuple]:
        name, sig = d.name, [p for p in d.params if p.kind != "tensors"]
        if (
            (method or d.ctor) and sig and sig[0].kind == "sizes"
        ):  # x.view(2, -1), x.view((2, -1)), x.view(size=(2, -1))
            first = sig[0]
            size_kws = [k for k in kws if k.arg == first.name or k.arg in first.aliases]
            rest = [k for k in kws if k not in size_kws]
            nodes = pos if not size_kws else [size_kws[0].value]
            if size_kws and pos:
                refuse(f"`{name}` got its sizes twice")
            if not nodes:
                refuse(f"`{name}` needs sizes, e.g. x.{name}(32, -1)")
            sizes = Sizes(tuple(self.size_item(n) for n in nodes))
            args, kwargs = self.bind_params(d, sig[1:], [], rest)
            return (sizes, *args), kwargs
        if any(isinstance(a, ast.Starred) for a in pos):
            refuse(f"`*` unpacking is only allowed among the sizes of a reshape-like call (in `{self.src}`)")
        if len(pos) > len([p for p in sig if not p.kw]) and name not in ("pad",):
            allowed = [p.name for p in sig if not p.kw]
            refuse(f"`{name}` takes at most {len(allowed)} arguments after the tensor: {', '.join(allowed) or 'none'}")
        return self.bind_params(d, sig, pos, kws)

    def bind_params(self, d: OpDef, sig: list[P], pos: list, kws: list) -> tuple[tuple, tuple]:
        name = d.name
        given: dict[str, ast.AST] = {p.name: a for p, a in zip(sig, pos)}
        axis_kws = []
        if name in ("rearrange", "reduce", "einops_repeat"):
            axis_kws = [k for k in kws if d.param(k.arg) is None]
            kws = [k for k in kws if k not in axis_kws]
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
                raise AssertionError
            elif p.kw:
                continue
            else:
                value = p.default
            (kwargs.append((p.name, value)) if p.kw else args.append(value))
        if name in ("mean", "sum", "amax", "amin") and not any(k == "keepdim" for k, _ in kwargs):
            kwargs.insert(0, ("keepdim", False))
        for k in axis_kws:
            if not k.arg.isidentifier():
                refuse(f"einops axis name `{k.arg}` is not allowed")
            kwargs.append((k.arg, self.int_value(k.value, f"einops axis `{k.arg}`")))
        return tuple(args), tuple(kwargs)

    # ------------------------------------------------------------------------------------------ index
    def index_items(self, node: ast.AST) -> tuple:
        if isinstance(node, ast.Call) and self.returns_tuple(node):  # x[torch.where(m)]: the tuple is the index
            return (Spread(self.expr(node)),)
        elts = node.elts if isinstance(node, ast.Tuple) else [node]
        if sum(1 for e in elts if isinstance(e, ast.Constant) and e.value is Ellipsis) > 1:
            refuse("an index can only have a single ellipsis ('...')")
        return tuple(self.index_item(e) for e in elts)

    def index_item(self, node: ast.AST) -> Any:
        text = self.seg(node)
        if isinstance(node, ast.Slice):
            parts = (node.lower, node.upper, node.step)
            return SliceE(*(None if p is None else self.int_value(p, "a slice bound") for p in parts))
        if isinstance(node, ast.Constant) and (node.value is None or node.value is Ellipsis):
            return node.value
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            refuse(f"`{text}`: a bool index is not allowed; use None to add a dim")
        if isinstance(node, ast.List):
            if not 1 <= len(node.elts) <= 64:
                refuse(f"`{text}`: an index list holds 1 to 64 ints")
            return Const(("list", tuple(self.int_value(e, "an index list") for e in node.elts)))
        if isinstance(node, ast.Starred):
            refuse(f"`{text}`: `*` is not allowed in an index")
        if is_scalar(node):
            return self.int_value(node, "an index")
        return self.sub_expr(node)

    # ------------------------------------------------------------------------------------- statements
    def targets(self, node: ast.AST, depth: int = 0) -> Any:
        if isinstance(node, ast.Name):
            if node.id != "_" and (node.id in RESERVED or node.id.startswith("_")):
                refuse(f"cannot bind the name `{node.id}`; choose another name")
            return node.id
        if isinstance(node, (ast.Tuple, ast.List)) and depth < 2 and node.elts:
            return tuple(self.targets(e, depth + 1) for e in node.elts)
        refuse(f"`{self.seg(node)}`: assign to a name or unpack into names, e.g. `a, b = x.chunk(2, dim=-1)`")


def _result(ops: list[Op] | tuple[Op, ...]) -> str:
    if not ops:
        return "tensor"
    last = ops[-1]
    if last.kw("tuple"):
        return "tuple"
    return "packed" if last.name in PackedOps else "tensor"


def _no_tuple(ops: list[Op], text: str) -> None:
    if ops and ops[-1].kw("tuple"):
        name = ops[-1].name
        fields = TUPLE_FIELDS.get(name)
        pick = f"`.{fields[0]}` / `[0]`" if fields else "`[0]`"
        refuse(f"`{text}` returns a tuple; pick one piece ({pick}) or unpack it, e.g. `a, b = {text}`")


def parse_statement(source: str) -> Statement:
    """Validate ``source`` against the whitelist and return its statement; raises ExpressionRefused.

    >>> parse_statement("w = torch.bmm(out, h_n[-1].unsqueeze(2))").names
    ('w',)
    """
    if not isinstance(source, str):
        refuse(f"an expression must be a string, got {type(source).__name__}")
    tree = prepass(source)
    src = source.strip()
    stmt = tree.body[0]
    parser = _Parser(src)
    if isinstance(stmt, ast.Expr):
        targets, value = None, stmt.value
    elif isinstance(stmt, ast.Assign):
        if len(stmt.targets) != 1:
            refuse("one `=` per step: chained assignments (a = b = ...) are not allowed")
        targets, value = parser.targets(stmt.targets[0]), stmt.value
    elif isinstance(stmt, ast.AugAssign):
        if not isinstance(stmt.target, ast.Name):
            refuse(f"`{src}`: augmented assignment works on a name only")
        targets = parser.targets(stmt.target)
        name = _BINOPS.get(type(stmt.op))
        if name is None:
            refuse(f"`{src}`: this operator is not allowed on tensors")
        root, ops = _tensor_name(stmt.target.id, src), []
        other = parser.value(stmt.value) if is_scalar(stmt.value) else parser.sub_expr(stmt.value)
        ops = parser.add(ops, Op(name, (other,), (), src))  # type: ignore[arg-type]
        return Statement(src, targets, Expr(src, root, tuple(ops)))
    else:
        refuse(f"`{src}` is not an expression or an assignment; {_WHAT}")
        raise AssertionError
    n_targets = len(_flat(targets)) if targets is not None else 1
    if n_targets > MAX_TARGETS:
        refuse(f"a step binds at most {MAX_TARGETS} names")
    expr = parser.expr(value)
    if expr.result == "tuple" and not isinstance(targets, tuple):
        _no_tuple(list(expr.ops), expr.source)
    return Statement(src, targets, expr)


def parse_expr(source: str) -> Expr:
    """The value of a step as an ``Expr`` (for an assignment, its right-hand side); raises ExpressionRefused.

    >>> [op.name for op in parse_expr("x[:, 0, :].unsqueeze(1)").ops]
    ['index', 'unsqueeze']
    """
    return parse_statement(source).expr


def names_read(stmt: Statement) -> set[str]:
    """Every tensor name the statement reads (roots of the spine and of its operands, sizes read from names)."""
    out: set[str] = set()

    def walk(obj: Any) -> None:
        if isinstance(obj, Expr):
            if obj.root is not None:
                out.add(obj.root)
            walk(obj.ops)
        elif isinstance(obj, SubExpr):
            walk(obj.expr)
        elif isinstance(obj, Op):
            walk(obj.args)
            walk(tuple(v for _, v in obj.kwargs))
        elif isinstance(obj, (tuple, list)):
            for item in obj:
                walk(item)
        elif hasattr(obj, "__dataclass_fields__"):
            name = getattr(obj, "name", None)
            if isinstance(name, str) and type(obj).__name__ in ("DimOf", "NDimOf", "NumelOf", "ShapeOf", "DTypeOf",
                                                                 "DeviceOf"):  # fmt: skip
                out.add(name)
            for f in obj.__dataclass_fields__:
                walk(getattr(obj, f))

    walk(stmt.expr)
    return out


__all__ += ["EINOPS_FUNCS", "MAX_PATTERN", "NAMESPACES", "is_scalar", "names_read"]


def _elementwise(args: list[ast.expr], keywords: list[ast.keyword]) -> bool:
    """``max`` / ``min`` called with a second tensor (positional, or ``other=``) after the input: PyTorch's
    elementwise overload (``torch.maximum`` / ``torch.minimum``), not the reduction over ``dim``."""
    return bool(args and not is_scalar(args[0])) or any(k.arg == "other" for k in keywords)


def _as_torch_call(node: ast.Call) -> ast.Call:
    """The call PyTorch documents a form as: ``torch.where(c)`` is ``torch.nonzero(c, as_tuple=True)`` and
    ``a.where(c, b)`` is ``torch.where(c, a, b)``; other calls are returned as they are."""
    return _method_where(_where_as_nonzero(node))


def _method_where(node: ast.Call) -> ast.Call:
    """``a.where(condition, other)`` (the Tensor method; also ``condition=`` / ``other=``) is
    ``torch.where(condition, a, other)`` (PyTorch's documentation of ``Tensor.where``), at the same place in the
    source. A call that does not fit that signature is left for the method check to refuse."""
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr != "where" or _namespace_name(func) is not None:
        return node
    given = dict(zip(("condition", "other"), node.args))
    for k in node.keywords:
        if k.arg not in ("condition", "other") or k.arg in given:
            return node
        given[k.arg] = k.value
    if len(node.args) > 2 or set(given) != {"condition", "other"}:
        return node
    where = ast.copy_location(ast.Attribute(ast.Name("torch", ast.Load()), "where", ast.Load()), func)
    return ast.copy_location(ast.Call(where, [given["condition"], func.value, given["other"]], []), node)


def _where_as_nonzero(node: ast.Call) -> ast.Call:
    """``torch.where(condition)`` (one argument) is ``torch.nonzero(condition, as_tuple=True)`` (PyTorch's
    documentation of ``torch.where``): the same call with that name and keyword, at the same place in the source
    (messages quote the visitor's text)."""
    if _namespace_name(node.func) != "torch.where" or len(node.args) + len(node.keywords) != 1:
        return node
    if node.keywords and node.keywords[0].arg != "condition":
        return node
    args = node.args or [node.keywords[0].value]
    flag = ast.copy_location(ast.Constant(True), node)
    func = ast.copy_location(ast.Attribute(ast.Name("torch", ast.Load()), "nonzero", ast.Load()), node.func)
    return ast.copy_location(ast.Call(func, args, [ast.keyword("as_tuple", flag)]), node)
