"""Evaluate one expression of pasted code symbolically: names, numbers, sizes, tensors as terms.

Nothing is computed on data and nothing of the paste runs: an expression becomes a value of
``core.code_import.values``. Integer arithmetic on sizes is folded only within bounds (no ``10**10**10``,
no ``'a' * 10**9``); tensor expressions are rebuilt as fresh ``ast`` terms over graph value nodes and
checked later by the engine's own whitelist parser.
"""

from __future__ import annotations

import ast
import contextlib
from typing import Any

from core.code_import.graph import Graph
from core.code_import.scope import (
    BUILTIN_NAMES,
    COMPARE,
    MAX_INT,
    MAX_ITEMS,
    MAX_STR,
    MAX_WORK,
    Env,
    concrete_int,
    describe,
    fold_numbers,
    size_text,
)
from core.code_import.values import (
    REF,
    DictV,
    Dtype,
    Encoding,
    Func,
    FunctionV,
    HiddenStates,
    Labels,
    NotUnderstood,
    Output,
    Py,
    RandomTarget,
    Seq,
    ShapeOf,
    Size,
    Tensor,
    Term,
    Unknown,
    ref_node,
)


class Evaluator:
    """Expression evaluation over an ``Env``; the interpreter (statements) builds on it."""

    graph: Graph

    def __init__(self) -> None:
        self.work = 0
        self.line = 0  # the statement being evaluated
        self.record: Any = None
        self.pending_seed: int | None = None  # torch.manual_seed(n) waiting for the next layer built

    # ------------------------------------------------------------------------------------ dispatch
    def ev(self, node: ast.AST, env: Env) -> Any:
        self.work += 1
        if self.work > MAX_WORK:
            raise NotUnderstood(f"the importer's work limit ({MAX_WORK:,} expression steps) was reached here")
        method = getattr(self, f"ev_{type(node).__name__}", None)
        if method is None:
            raise NotUnderstood(f"`{type(node).__name__}` syntax is not understood here")
        return method(node, env)

    def ev_Constant(self, node: ast.Constant, env: Env) -> Any:
        v = node.value
        if isinstance(v, bool) or v is None or v is Ellipsis:
            return Py(v)
        if isinstance(v, int | float):
            if isinstance(v, int) and abs(v) > MAX_INT:
                raise NotUnderstood("an integer this large is not a tensor size")
            return Size(ast.Constant(v), v)
        if isinstance(v, str):
            return Py(v)
        raise NotUnderstood(f"a {type(v).__name__} literal is not understood")

    def ev_Name(self, node: ast.Name, env: Env) -> Any:
        v = env.get(node.id)
        if v is None:
            v = self.builtin(node.id)
        if v is None:
            raise NotUnderstood(f"`{node.id}` is not defined in the pasted code")
        if isinstance(v, Unknown):
            where = f" on line {v.line}" if v.line else ""
            raise NotUnderstood(f"`{node.id}` comes from code not understood{where} ({v.reason})")
        return v

    def builtin(self, name: str) -> Any:
        if name == "__name__":
            return Py("__main__")
        if name in ("True", "False", "None"):
            return Py({"True": True, "False": False, "None": None}[name])
        if name in BUILTIN_NAMES:
            return Func(f"builtins.{name}")
        return None

    def ev_Tuple(self, node: ast.Tuple, env: Env) -> Seq:
        return Seq(self._items(node.elts, env), "tuple")

    def ev_List(self, node: ast.List, env: Env) -> Seq:
        return Seq(self._items(node.elts, env), "list")

    def _items(self, elts: list[ast.expr], env: Env) -> tuple[Any, ...]:
        out: list[Any] = []
        for e in elts:
            if isinstance(e, ast.Starred):
                v = self.ev(e.value, env)
                out.extend(self.iterate(v, e))
            else:
                out.append(self.ev(e, env))
            if len(out) > MAX_ITEMS * 4:
                raise NotUnderstood(f"a list of more than {MAX_ITEMS * 4} items is not understood")
        return tuple(out)

    def ev_Dict(self, node: ast.Dict, env: Env) -> DictV:
        items: list[tuple[str, Any]] = []
        for k, v in zip(node.keys, node.values):
            value = self.ev(v, env)
            if k is None:
                if not isinstance(value, DictV):
                    raise NotUnderstood("`**` inside a dict literal needs a dict")
                items.extend(value.items)
                continue
            key = self.ev(k, env)
            if not isinstance(key, Py) or not isinstance(key.value, str):
                raise NotUnderstood("only string keys are understood in a dict literal")
            items.append((key.value, value))
        return DictV(tuple(items))

    def ev_JoinedStr(self, node: ast.JoinedStr, env: Env) -> Py:
        """An f-string is text; the tensors and shapes it formats are noted (a print shows their shape)."""
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                with contextlib.suppress(NotUnderstood):
                    self.printed(self.ev(part.value, env))
        return Py("<f-string>")

    def printed(self, value: Any) -> None:
        """Note a tensor (or its shape) that the statement prints."""
        if self.record is None:
            return
        if isinstance(value, Term):
            value = self.materialize(value)
        if isinstance(value, Tensor | ShapeOf):
            self.record.prints.append(value.vid)

    def ev_Lambda(self, node: ast.Lambda, env: Env) -> FunctionV:
        return FunctionV(node, env.locals if env.locals is not env.globals else env.globals)

    def ev_Starred(self, node: ast.Starred, env: Env) -> Any:
        raise NotUnderstood("`*` unpacking is only understood inside a call or a list")

    # ------------------------------------------------------------------------------------ operators
    def ev_UnaryOp(self, node: ast.UnaryOp, env: Env) -> Any:
        v = self.ev(node.operand, env)
        if isinstance(node.op, ast.Not):
            if isinstance(v, Py):
                return Py(not v.value)
            if isinstance(v, Size) and v.value is not None:
                return Py(not v.value)
            raise NotUnderstood("`not` of a value the importer cannot know")
        if isinstance(v, Size):
            if isinstance(node.op, ast.USub):
                value = -v.value if v.value is not None else None
                if isinstance(v.term, ast.Constant):
                    return Size.of(value) if value is not None else v
                return Size(ast.UnaryOp(ast.USub(), v.term), value, v.refs)
            if isinstance(node.op, ast.UAdd):
                return v
        if self.is_tensor(v):
            return Term(ast.UnaryOp(type(node.op)(), self.tensor_term(v)))
        raise NotUnderstood(f"`{ast.unparse(node)[:60]}` is not understood")

    def ev_BinOp(self, node: ast.BinOp, env: Env) -> Any:
        left, right = self.ev(node.left, env), self.ev(node.right, env)
        return self.binop(type(node.op), left, right, node)

    def binop(self, op: type, left: Any, right: Any, node: ast.AST | None = None) -> Any:
        if isinstance(left, Size) and isinstance(right, Size):
            value = None
            if left.value is not None and right.value is not None:
                value = fold_numbers(op, left.value, right.value)
                if value is None and op is not ast.Div:
                    raise NotUnderstood("this arithmetic would give a number too large for a tensor size")
            if op is ast.Div and value is not None and left.refs | right.refs == frozenset():
                pass
            term = ast.BinOp(left.term, op(), right.term)
            return Size(term, value, left.refs | right.refs)
        if isinstance(left, Seq) and isinstance(right, Seq) and op is ast.Add:
            return Seq(left.items + right.items, left.kind)
        if isinstance(left, Seq | Py) and isinstance(right, Size) and op is ast.Mult:
            return self._repeat(left, right)
        if isinstance(left, Py) and isinstance(left.value, str) and op in (ast.Add, ast.Mod):
            return Py("<str>")
        if self.is_tensor(left) or self.is_tensor(right):
            return Term(ast.BinOp(self.operand_term(left), op(), self.operand_term(right)))
        text = ast.unparse(node)[:60] if node is not None else ""
        raise NotUnderstood(f"`{text}`: arithmetic on {describe(left)} and {describe(right)} is not understood")

    def _repeat(self, seq: Any, times: Size) -> Any:
        n = times.value
        if not isinstance(n, int) or n < 0:
            raise NotUnderstood("repeating a sequence needs a known count")
        if isinstance(seq, Py):
            if not isinstance(seq.value, str) or len(seq.value) * n > MAX_STR:
                raise NotUnderstood("this string would be too long")
            return Py(seq.value * n)
        if len(seq.items) * n > MAX_ITEMS * 4:
            raise NotUnderstood(f"a list of more than {MAX_ITEMS * 4} items is not understood")
        return Seq(seq.items * n, seq.kind)

    def ev_BoolOp(self, node: ast.BoolOp, env: Env) -> Any:
        result: Any = None
        for value_node in node.values:
            v = self.ev(value_node, env)
            truth = self.truth(v)
            result = v
            if isinstance(node.op, ast.And) and not truth:
                return v
            if isinstance(node.op, ast.Or) and truth:
                return v
        return result

    def truth(self, v: Any) -> bool:
        """Python truthiness of a value the importer knows; NotUnderstood for a runtime value."""
        if isinstance(v, Py):
            return bool(v.value)
        if isinstance(v, Size) and v.value is not None:
            return bool(v.value)
        if isinstance(v, Seq):
            return bool(v.items)
        if isinstance(v, Tensor | Term):
            raise NotUnderstood("the truth of a tensor depends on its values (torch would need .any() / .all())")
        if isinstance(v, Size):
            raise NotUnderstood(f"the condition depends on a size the code does not fix ({size_text(v)})")
        return True  # objects: models, layers, instances

    def ev_Compare(self, node: ast.Compare, env: Env) -> Any:
        left = self.ev(node.left, env)
        result: Any = Py(True)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.ev(right_node, env)
            if isinstance(op, ast.Is | ast.IsNot):
                same = self._is(left, right)
                value = same if isinstance(op, ast.Is) else not same
                result = Py(value)
            elif isinstance(op, ast.In | ast.NotIn):
                result = Py(self._contains(right, left) ^ isinstance(op, ast.NotIn))
            elif self.is_tensor(left) or self.is_tensor(right):
                if len(node.ops) > 1:
                    raise NotUnderstood("chained comparisons of tensors are not understood")
                return Term(ast.Compare(self.operand_term(left), [type(op)()], [self.operand_term(right)]))
            else:
                a, b = self._plain(left), self._plain(right)
                if a is None or b is None:
                    raise NotUnderstood(f"`{ast.unparse(node)[:60]}` depends on values the importer cannot know")
                try:
                    result = Py(bool(COMPARE[type(op)](a, b)))
                except TypeError:
                    raise NotUnderstood(f"`{ast.unparse(node)[:60]}` compares values of different kinds") from None
            if isinstance(result, Py) and not result.value:
                return result
            left = right
        return result

    def _is(self, a: Any, b: Any) -> bool:
        if isinstance(a, Size) and isinstance(b, Size) and a.value is not None:
            return a.value == b.value
        if isinstance(a, Py) and isinstance(b, Py):
            return a.value is b.value or a.value == b.value
        if isinstance(a, Py) or isinstance(b, Py):
            return False  # an object is not None
        return a is b

    def _contains(self, container: Any, item: Any) -> bool:
        key = self._plain(item)
        if isinstance(container, DictV):
            return key in dict(container.items)
        if isinstance(container, Seq):
            return key in [self._plain(v) for v in container.items]
        if isinstance(container, Encoding):
            return key in ("input_ids", "attention_mask", "token_type_ids")
        if isinstance(container, Py) and isinstance(container.value, str) and isinstance(key, str):
            return key in container.value
        raise NotUnderstood(f"`in` over {describe(container)} is not understood")

    def _plain(self, v: Any) -> Any:
        if isinstance(v, Py):
            return v.value
        if isinstance(v, Size):
            return v.value
        return None

    def ev_IfExp(self, node: ast.IfExp, env: Env) -> Any:
        test = self.ev(node.test, env)
        return self.ev(node.body if self.truth(test) else node.orelse, env)

    # ------------------------------------------------------------------------------ comprehensions
    def ev_ListComp(self, node: ast.ListComp, env: Env) -> Seq:
        return Seq(tuple(self._comprehend(node, env)), "list")

    def ev_GeneratorExp(self, node: ast.GeneratorExp, env: Env) -> Seq:
        return Seq(tuple(self._comprehend(node, env)), "tuple")

    def ev_DictComp(self, node: ast.DictComp, env: Env) -> Any:
        # `{k: v.to(device) for k, v in inputs.items()}` keeps the tokenizer's output as it is
        gen = node.generators[0] if len(node.generators) == 1 else None
        if gen is not None and isinstance(gen.iter, ast.Call) and isinstance(gen.iter.func, ast.Attribute):
            base = self.ev(gen.iter.func.value, env)
            if isinstance(base, Encoding | DictV) and gen.iter.func.attr == "items":
                return base
        raise NotUnderstood("a dict comprehension is only understood over the tokenizer's output (.items())")

    def _comprehend(self, node: ast.ListComp | ast.GeneratorExp, env: Env) -> list[Any]:
        if len(node.generators) != 1 or node.generators[0].is_async:
            raise NotUnderstood("a comprehension with several `for` clauses is not understood")
        gen = node.generators[0]
        items = self.iterate(self.ev(gen.iter, env), gen.iter)
        local = dict(env.locals)
        inner = Env(env.globals, local)
        out = []
        for item in items:
            self.bind_target(gen.target, item, inner)
            if all(self.truth(self.ev(cond, inner)) for cond in gen.ifs):
                out.append(self.ev(node.elt, inner))
        return out

    def iterate(self, v: Any, node: ast.AST | None = None) -> list[Any]:
        """The items of a value the importer can unroll (at most MAX_ITEMS)."""
        if isinstance(v, Seq):
            items = list(v.items)
        elif isinstance(v, HiddenStates):
            raise NotUnderstood("iterating over all hidden states is not understood; index the layers you need")
        elif isinstance(v, Py) and isinstance(v.value, str):
            items = [Py(c) for c in v.value[:MAX_ITEMS]]
        elif isinstance(v, DictV):
            items = [Py(k) for k, _ in v.items]
        elif isinstance(v, ShapeOf):
            raise NotUnderstood("iterating over a shape needs its length; unpack it: b, l, h = x.shape")
        else:
            from core.code_import.values import ModuleList, Sequential

            if isinstance(v, ModuleList | Sequential):
                items = list(v.items)
            else:
                text = ast.unparse(node)[:60] if node is not None else describe(v)
                raise NotUnderstood(f"a loop over `{text}` cannot be unrolled (its items are not in the code)")
        if len(items) > MAX_ITEMS:
            raise NotUnderstood(f"a loop of {len(items)} items is more than the {MAX_ITEMS} the importer unrolls")
        return items

    def bind_target(self, target: ast.AST, value: Any, env: Env) -> None:
        """Assign ``value`` to a Name / tuple target in ``env`` (no materialisation: see the interpreter)."""
        if isinstance(target, ast.Name):
            env.set(target.id, value)
            return
        if isinstance(target, ast.Tuple | ast.List):
            items = self.unpack(value, len(target.elts))
            for t, v in zip(target.elts, items):
                self.bind_target(t, v, env)
            return
        raise NotUnderstood(f"assigning to `{ast.unparse(target)[:40]}` is not understood")

    def unpack(self, value: Any, n: int) -> list[Any]:
        if isinstance(value, Seq):
            if len(value.items) != n:
                raise NotUnderstood(f"cannot unpack {len(value.items)} values into {n} names")
            return list(value.items)
        if isinstance(value, ShapeOf):
            rank = self.known_rank(value)
            if rank is not None and rank != n:
                name = self.graph.values[value.vid].names
                shown = f"{name[-1]}.shape" if name else "the shape"
                raise NotUnderstood(f"{shown} has {rank} sizes; it cannot be unpacked into {n} names (a ValueError)")
            return [self.dim(value, i) for i in range(n)]
        raise NotUnderstood(f"cannot unpack {describe(value)} into {n} names")

    # ---------------------------------------------------------------------------------- subscripts
    def ev_Subscript(self, node: ast.Subscript, env: Env) -> Any:
        base = self.ev(node.value, env)
        return self.subscript(base, node.slice, env, node)

    def subscript(self, base: Any, index: ast.expr, env: Env, node: ast.AST) -> Any:
        if self.is_tensor(base):
            return Term(ast.Subscript(self.tensor_term(base), self.index_term(index, env), ast.Load()))
        if isinstance(base, ShapeOf):
            if isinstance(index, ast.Slice):
                sliced = ast.Subscript(base.term, self._slice_term(index, env), ast.Load())
                return ShapeOf(base.vid, sliced)
            i = self.ev(index, env)
            return self.dim(base, concrete_int(i, "a shape index"))
        key = self.ev(index, env) if not isinstance(index, ast.Slice) else None
        if isinstance(base, Seq):
            if isinstance(index, ast.Slice):
                parts = [None if p is None else concrete_int(self.ev(p, env), "a slice bound") for p in
                         (index.lower, index.upper, index.step)]  # fmt: skip
                return Seq(base.items[slice(*parts)], base.kind)
            i = concrete_int(key, "an index into a list")
            if not -len(base.items) <= i < len(base.items):
                raise NotUnderstood(f"index {i} is out of range for a sequence of {len(base.items)}")
            return base.items[i]
        if isinstance(base, DictV) and isinstance(key, Py) and isinstance(key.value, str):
            found = base.get(key.value)
            if found is None:
                raise NotUnderstood(f"the dict has no key {key.value!r}")
            return found
        if isinstance(base, Encoding | Output | HiddenStates):
            return self.hf_subscript(base, key, index, env)
        raise NotUnderstood(f"indexing {describe(base)} is not understood")

    def hf_subscript(self, base: Any, key: Any, index: ast.expr, env: Env) -> Any:
        raise NotImplementedError  # core.code_import.calls

    def dim(self, shape: ShapeOf, i: int) -> Size:
        term = ast.Subscript(shape.term, ast.Constant(i) if i >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-i)))
        whole = isinstance(shape.term, ast.Attribute)
        return Size(term, self.known_dim(shape.vid, i) if whole else None, frozenset({shape.vid}))

    def known_rank(self, shape: ShapeOf) -> int | None:
        """The number of sizes in a whole ``x.shape`` when the code fixes it (synthetic source, hidden states)."""
        if not isinstance(shape.term, ast.Attribute):
            return None
        op = self.graph.op_of(shape.vid)
        if op.kind == "source" and op.shape:
            return len(op.shape)
        return 3 if op.kind == "hidden" else None

    def known_dim(self, vid: int, i: int) -> int | None:
        """The size of dim ``i`` of value ``vid`` when the code fixes it (the synthetic source's shape)."""
        op = self.graph.op_of(vid)
        shape: tuple[int | None, ...] | None = None
        if op.kind == "source":
            shape = op.shape
        elif op.kind == "hidden":
            shape = (getattr(self, "batch", None), None, getattr(self, "hidden_size", None))
        if shape is None or not -len(shape) <= i < len(shape):
            return None
        return shape[i]

    def index_term(self, index: ast.expr, env: Env) -> ast.expr:
        if isinstance(index, ast.Tuple):
            return ast.Tuple([self._index_item(e, env) for e in index.elts], ast.Load())
        return self._index_item(index, env)

    def _index_item(self, e: ast.expr, env: Env) -> ast.expr:
        if isinstance(e, ast.Slice):
            return self._slice_term(e, env)
        return self.operand_term(self.ev(e, env))

    def _slice_term(self, s: ast.Slice, env: Env) -> ast.Slice:
        parts = [None if p is None else self.operand_term(self.ev(p, env)) for p in (s.lower, s.upper, s.step)]
        return ast.Slice(*parts)

    # ---------------------------------------------------------------------------------- tensor terms
    @staticmethod
    def is_tensor(v: Any) -> bool:
        return isinstance(v, Tensor | Term)

    def tensor_term(self, v: Any) -> ast.expr:
        if isinstance(v, Tensor):
            return ref_node(v.vid)
        if isinstance(v, Term):
            return v.term
        raise NotUnderstood(f"expected a tensor, got {describe(v)}")

    def operand_term(self, v: Any, what: str = "an argument") -> ast.expr:
        """The term of any value that can appear inside a tensor expression."""
        if isinstance(v, Tensor | Term):
            return self.tensor_term(v)
        if isinstance(v, Size):
            return v.term
        if isinstance(v, Py):
            if isinstance(v.value, str) and len(v.value) > 500:
                raise NotUnderstood("a string this long is not a tensor argument")
            return ast.Constant(v.value)
        if isinstance(v, Seq):
            items = [self.operand_term(i, what) for i in v.items]
            return ast.List(items, ast.Load()) if v.kind == "list" else ast.Tuple(items, ast.Load())
        if isinstance(v, ShapeOf):
            return v.term
        if isinstance(v, Labels):  # literal data used as a tensor elsewhere (an index, a mask)
            data = ast.parse(repr([list(r) if isinstance(r, tuple) else r for r in v.data]), mode="eval").body
            return ast.Call(ast.Attribute(ast.Name("torch", ast.Load()), "tensor", ast.Load()), [data], [])
        if isinstance(v, RandomTarget):  # torch.rand(shape) / torch.randint(0, high, shape)[.float()]
            shape = ast.Tuple([ast.Constant(d) for d in v.shape], ast.Load())
            torch_fn = ast.Attribute(ast.Name("torch", ast.Load()), "rand" if v.high is None else "randint", ast.Load())
            if v.high is None:
                return ast.Call(torch_fn, [shape], [])
            call = ast.Call(torch_fn, [ast.Constant(0), ast.Constant(v.high), shape], [])
            if v.dtype == "float":
                return ast.Call(ast.Attribute(call, "float", ast.Load()), [], [])
            return call
        if isinstance(v, Dtype):
            if v.of is not None:
                return ast.Attribute(ref_node(v.of), "dtype", ast.Load())
            return ast.Attribute(ast.Name("torch", ast.Load()), v.name, ast.Load())
        raise NotUnderstood(f"{describe(v)} cannot be {what} of a tensor operation")

    def shape_of(self, v: Any) -> ShapeOf:
        t = self.as_tensor(v)
        return ShapeOf(t.vid, ast.Attribute(ref_node(t.vid), "shape", ast.Load()))

    def as_tensor(self, v: Any) -> Tensor:
        """A value node for ``v`` (a Term becomes its own step on the current line)."""
        if isinstance(v, Tensor):
            return v
        if isinstance(v, Term):
            return self.materialize(v)
        raise NotUnderstood(f"expected a tensor, got {describe(v)}")

    def materialize(self, v: Term, n_out: int = 1) -> Any:
        op = self.graph.add_expr(
            v.term, self.line, self.record, n_out, fallback=v.fallback, note=v.note, translated=v.translated
        )
        if v.translated and self.record is not None:
            self.record.notes.append(v.translated)
        if n_out == 1:
            return Tensor(op.outs[0])
        return Seq(tuple(Tensor(o) for o in op.outs))


def is_ref(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id.startswith(REF)
