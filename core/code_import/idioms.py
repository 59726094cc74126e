"""Pooling written out by hand, recognised as the app's pooling strategies (exact idioms only).

A masked mean spread over several lines (the seeds' ``mask = inputs['attention_mask'].unsqueeze(-1).float()``,
``torch.sum(x * mask, 1) / torch.clamp(mask.sum(1), min=1e-9)``, or our export's one-liner) is the Spec's
``pooling: mean``; over ``torch.cat`` of the last four hidden states it is ``last4_concat``; over their sum
``last4_sum``; over the average of the first and the last layer ``first_last_avg``; a masked max
(``masked_fill(mask == 0, -1e9)`` then a max over tokens) is ``max``. Only the correct idiom matches: a
variant with a bug (no unsqueeze, the wrong axis) stays a chain of steps, so its error shows.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

from core.code_import.graph import Graph
from core.code_import.values import REF

MAX_EXPANDED = 400  # syntax nodes of one expanded idiom
_CASTS = ("float", "half", "double", "to", "type", "type_as", "expand", "expand_as", "bool", "long", "int")


@dataclass(frozen=True)
class Pooled:
    """A recognised pooling: the value it computes, the strategy, the layer and the ops it replaces."""

    vid: int
    strategy: str
    layer: int
    absorbed: frozenset[int]  # op ids
    note: str = ""
    synthetic: tuple[int, ...] | None = None  # the synthetic source's shape, when it is what is pooled


def find_pooling(graph: Graph, n_entries: int | None) -> Pooled | None:
    """The first value in program order that is a hand-written pooling of the encoder's hidden states."""
    for op in graph.ops:
        if op.kind != "expr" or len(op.outs) != 1:
            continue
        expanded, traversed = _expand(graph, op.outs[0])
        if expanded is None:
            continue
        m = _Matcher(graph, n_entries)
        found = m.masked_mean(expanded) or m.masked_max(expanded)
        if found is None:
            continue
        strategy, layer, note = found
        absorbed = frozenset(_absorbable(graph, op.oid, traversed | m.leaves))
        shapes = [graph.ops[oid].shape for oid in m.leaves if graph.ops[oid].kind == "source"]
        return Pooled(op.outs[0], strategy, layer, absorbed, note, shapes[0] if shapes else None)
    return None


def _expand(graph: Graph, vid: int) -> tuple[ast.expr | None, set[int]]:
    """The term of ``vid`` with every single-output expression it reads inlined; the ops inlined."""
    traversed: set[int] = set()
    count = [0]

    def inline(v: int) -> ast.expr:
        op = graph.op_of(v)
        if op.kind != "expr" or len(op.outs) != 1 or op.term is None:
            return ast.Name(f"{REF}{v}", ast.Load())
        traversed.add(op.oid)
        tree = copy.deepcopy(op.term)

        class Sub(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.AST:
                count[0] += 1
                if count[0] > MAX_EXPANDED:
                    raise OverflowError
                if node.id.startswith(REF):
                    return inline(int(node.id[len(REF) :]))
                return node

        return Sub().visit(tree)

    try:
        return inline(vid), traversed
    except (OverflowError, RecursionError):
        return None, traversed


def _absorbable(graph: Graph, result_oid: int, traversed: set[int]) -> set[int]:
    """Ops of the idiom that nothing else reads (those are replaced by the pooling stage)."""
    readers = graph.readers()
    absorbed = set(traversed) - {result_oid}
    changed = True
    while changed:
        changed = False
        for oid in list(absorbed):
            for vid in graph.ops[oid].outs:
                if any(r.oid not in absorbed and r.oid != result_oid for r in readers.get(vid, [])):
                    absorbed.discard(oid)
                    changed = True
                    break
    return absorbed


def _dim_is(node: ast.expr | None, *values: int) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value in values
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value in values
    return False


def _method(node: ast.expr, *names: str) -> tuple[ast.expr, ast.Call] | None:
    """``receiver.name(…)`` on a tensor (not ``torch.name(…)``): (receiver, call)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names:
        if isinstance(node.func.value, ast.Name) and node.func.value.id in ("torch", "F"):
            return None
        return node.func.value, node
    return None


def _func(node: ast.expr, *names: str) -> ast.Call | None:
    """``torch.name(…)``: the call, when its dotted name is one of ``names``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    owner = node.func.value
    return node if isinstance(owner, ast.Name) and f"{owner.id}.{node.func.attr}" in names else None


def _kw(call: ast.Call, *names: str) -> ast.expr | None:
    for k in call.keywords:
        if k.arg in names:
            return k.value
    return None


class _Matcher:
    def __init__(self, graph: Graph, n_entries: int | None) -> None:
        self.graph = graph
        self.n = n_entries
        self.leaves: set[int] = set()

    # -------------------------------------------------------------------------------- leaves
    def _ref(self, node: ast.expr) -> int | None:
        if isinstance(node, ast.Name) and node.id.startswith(REF):
            return int(node.id[len(REF) :])
        return None

    def hidden(self, node: ast.expr) -> int | None:
        """The negative hidden-state index of a leaf, or None."""
        vid = self._ref(node)
        if vid is None:
            return None
        op = self.graph.op_of(vid)
        if op.kind != "hidden" or op.hidden_layer is None:
            return None
        layer = op.hidden_layer
        if layer >= 0:
            if self.n is None:
                return None
            layer -= self.n
        self.leaves.add(op.oid)
        return layer

    def mask(self, node: ast.expr) -> bool:
        """``attention_mask`` widened to (b, l, 1) (unsqueeze / None index), with casts and expands."""
        widened = False
        while True:
            vid = self._ref(node)
            if vid is not None:
                op = self.graph.op_of(vid)
                return widened and op.kind == "builtin" and op.builtin == "attention_mask"
            m = _method(node, "unsqueeze")
            if m is not None and m[1].args and _dim_is(m[1].args[0], -1, 2):
                node, widened = m[0], True
                continue
            m = _method(node, *_CASTS)
            if m is not None:
                node = m[0]
                continue
            if isinstance(node, ast.Subscript):
                items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
                if any(isinstance(i, ast.Constant) and i.value is None for i in items):
                    node, widened = node.value, True
                    continue
            return False

    # --------------------------------------------------------------------------------- shapes
    def _sum_tokens(self, node: ast.expr) -> ast.expr | None:
        m = _method(node, "sum")
        if m is not None:
            inner, call = m
            dim = call.args[0] if call.args else _kw(call, "dim", "axis")
        else:
            call = _func(node, "torch.sum")
            if call is None or not call.args:
                return None
            inner = call.args[0]
            dim = call.args[1] if len(call.args) > 1 else _kw(call, "dim", "axis")
        keep = _kw(call, "keepdim")
        if keep is not None and not (isinstance(keep, ast.Constant) and keep.value is False):
            return None
        return inner if _dim_is(dim, 1, -2) else None

    def _unclamp(self, node: ast.expr) -> ast.expr:
        m = _method(node, "clamp", "clamp_min", "clip")
        if m is not None:
            return m[0]
        call = _func(node, "torch.clamp", "torch.clamp_min", "torch.clip")
        if call is not None and call.args:
            return call.args[0]
        return node

    def _pair(self, node: ast.expr, op: type) -> tuple[ast.expr, ast.expr] | None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, op):
            return node.left, node.right
        names = {ast.Mult: ("mul",), ast.Div: ("div", "true_divide"), ast.Add: ("add",)}[op]
        m = _method(node, *names)
        if m is not None and len(m[1].args) == 1:
            return m[0], m[1].args[0]
        call = _func(node, *(f"torch.{n}" for n in names))
        if call is not None and len(call.args) == 2:
            return call.args[0], call.args[1]
        return None

    # ------------------------------------------------------------------------------- strategies
    def masked_mean(self, node: ast.expr) -> tuple[str, int, str] | None:
        div = self._pair(node, ast.Div)
        if div is None:
            return None
        top, bottom = div
        summed = self._sum_tokens(top)
        count = self._sum_tokens(self._unclamp(bottom))
        if summed is None or count is None or not self.mask(count):
            return None
        mul = self._pair(summed, ast.Mult)
        if mul is None:
            return None
        a, b = mul
        hidden = a if self.mask(b) else b if self.mask(a) else None
        return self.layers(hidden) if hidden is not None else None

    def masked_max(self, node: ast.expr) -> tuple[str, int, str] | None:
        inner = None
        m = _method(node, "amax")
        if m is not None and (m[1].args or m[1].keywords):
            call = m[1]
            if _dim_is(call.args[0] if call.args else _kw(call, "dim"), 1, -2):
                inner = m[0]
        if inner is None and isinstance(node, ast.Subscript) and _dim_is(node.slice, 0):
            inner = self._max_call(node.value)
        if inner is None and isinstance(node, ast.Attribute) and node.attr == "values":
            inner = self._max_call(node.value)
        if inner is None:
            return None
        filled = _method(inner, "masked_fill")
        if filled is None or len(filled[1].args) != 2:
            return None
        hidden_node, call = filled
        cond, value = call.args
        if not self._padding_test(cond) or not self._very_negative(value):
            return None
        found = self.layers(hidden_node)
        return ("max", found[1], found[2]) if found is not None and found[0] == "mean" else None

    def _max_call(self, node: ast.expr) -> ast.expr | None:
        m = _method(node, "max")
        if m is not None:
            call = m[1]
            if _dim_is(call.args[0] if call.args else _kw(call, "dim"), 1, -2):
                return m[0]
        call = _func(node, "torch.max")
        if call is not None and call.args:
            dim = call.args[1] if len(call.args) > 1 else _kw(call, "dim")
            if _dim_is(dim, 1, -2):
                return call.args[0]
        return None

    def _padding_test(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            right = node.comparators[0]
            if isinstance(right, ast.Constant) and right.value in (0, False):
                return self.mask(node.left)
        m = _method(node, "eq")
        if m is not None and m[1].args and isinstance(m[1].args[0], ast.Constant) and m[1].args[0].value == 0:
            return self.mask(m[0])
        return False

    @staticmethod
    def _very_negative(node: ast.expr) -> bool:
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            v = node.operand.value
            return isinstance(v, int | float) and v >= 1e4
        return isinstance(node, ast.Constant) and isinstance(node.value, int | float) and node.value <= -1e4

    def layers(self, node: ast.expr) -> tuple[str, int, str] | None:
        """What the pooled tensor is: one hidden layer, the last four concatenated or summed, first+last."""
        k = self.hidden(node)
        if k is not None:
            op = self.graph.op_of(self._ref(node))  # type: ignore[arg-type]
            return "mean", op.hidden_layer if op.hidden_layer is not None else -1, ""
        vid = self._ref(node)
        if vid is not None and self.graph.op_of(vid).kind == "source":  # the synthetic (batch, tokens, hidden)
            self.leaves.add(self.graph.op_of(vid).oid)
            return "mean", -1, ""
        cat = _func(node, "torch.cat", "torch.concat", "torch.concatenate")
        if cat is not None and cat.args and isinstance(cat.args[0], ast.List | ast.Tuple):
            dim = cat.args[1] if len(cat.args) > 1 else _kw(cat, "dim", "axis")
            keys = [self.hidden(e) for e in cat.args[0].elts]
            if _dim_is(dim, -1, 2) and sorted(k for k in keys if k is not None) == [-4, -3, -2, -1]:
                note = "" if keys == [-1, -2, -3, -4] else (
                    "the last four layers are concatenated in another order than the app's (-1, -2, -3, -4): "
                    "the same shape, the features in another order")  # fmt: skip
                return "last4_concat", -1, note
            return None
        terms = self._sum_terms(node)
        if terms is not None and sorted(terms) == [-4, -3, -2, -1]:
            return "last4_sum", -1, ""
        div = self._pair(node, ast.Div)
        if div is not None and isinstance(div[1], ast.Constant) and div[1].value == 2:
            terms = self._sum_terms(div[0])
            if terms is not None and self.n is not None and sorted(terms) == sorted([1 - self.n, -1]):
                return "first_last_avg", -1, ""
        return None

    def _sum_terms(self, node: ast.expr) -> list[int] | None:
        add = self._pair(node, ast.Add)
        if add is not None:
            left, right = self._sum_terms(add[0]), self._sum_terms(add[1])
            return left + right if left is not None and right is not None else None
        m = _method(node, "sum")
        if m is not None and m[1].args and _dim_is(m[1].args[0], 0):
            stack = _func(m[0], "torch.stack")
            if stack is not None and stack.args and isinstance(stack.args[0], ast.List | ast.Tuple):
                keys = [self.hidden(e) for e in stack.args[0].elts]
                return None if None in keys else keys  # type: ignore[return-value]
        k = self.hidden(node)
        return [k] if k is not None else None
