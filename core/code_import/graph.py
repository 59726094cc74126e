"""The data-flow graph the importer builds from pasted code (single assignment: one node per value).

Ops are what a statement does to tensors, in program order: the source (``torch.randn`` or the encoder's
hidden states), a tensor expression, a layer call. Values are the tensors they make: one per op, or
several (an LSTM's ``out, (h_n, c_n)``; ``values, indices = x.max(dim=1)``). ``core.code_import.emit``
turns the ops into Spec steps; which value is called ``x`` is decided there, not here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from core.code_import.values import Layer, refs_in

BUILTINS = ("attention_mask", "input_ids", "lengths")


@dataclass(eq=False)
class Op:
    """One thing done to tensors.

    kind: source (synthetic ``torch.randn``) | hidden (an entry of the encoder's hidden states) |
    builtin (``attention_mask``, ``input_ids``, ``lengths``) | expr | layer | pool.
    term: the expression (``expr``), leaves ``_ref_N`` naming value nodes; inputs: every value node it
    reads (tensors and shapes); primary: the input whose chain it continues (the method's receiver, the
    first tensor argument, the layer's input).
    """

    oid: int
    kind: str
    line: int
    record: Any
    outs: list[int] = field(default_factory=list)
    term: ast.expr | None = None
    inputs: tuple[int, ...] = ()
    primary: int | None = None
    layer: Layer | None = None
    h0: ast.expr | None = None
    c0: ast.expr | None = None
    shape: tuple[int, ...] | None = None  # source
    hidden_layer: int | None = None  # hidden
    builtin: str = ""  # builtin
    pooling: str = ""  # pool
    fallback: ast.expr | None = None  # the term to use when the engine refuses ``term`` (same shape)
    note: str = ""
    translated: str = ""
    seed: int | None = None
    loss: dict[str, Any] | None = None  # loss: {"kind", "params", "target"} (core.code_import.losses)


@dataclass(eq=False)
class Value:
    """A tensor: output ``index`` of op ``oid``; names: the user's names bound to it, in order."""

    vid: int
    oid: int
    index: int = 0
    from_source: bool = False
    names: list[str] = field(default_factory=list)
    bound: list[tuple[str, int]] = field(default_factory=list)  # (name, number of ops when it was bound)

    def name_before(self, oid: int) -> str | None:
        """The user's name for this value as the op ``oid`` was made (the latest binding before it)."""
        found = [name for name, at in self.bound if at <= oid]
        return found[-1] if found else None


class Graph:
    """Ops in program order and the values they make."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.values: dict[int, Value] = {}
        self.builtins: dict[str, int] = {}
        self.source: int | None = None  # the synthetic source's value, or None
        self.hidden: dict[int, int] = {}  # hidden-state layer index -> value
        self.seed: int | None = None
        self.texts_line: int | None = None

    def op_of(self, vid: int) -> Op:
        return self.ops[self.values[vid].oid]

    def _new_op(self, kind: str, line: int, record: Any, n_out: int = 1, **kw: Any) -> Op:
        op = Op(len(self.ops), kind, line, record, **kw)
        self.ops.append(op)
        from_source = kind in ("source", "hidden") or any(self.values[v].from_source for v in op.inputs)
        for i in range(n_out):
            vid = len(self.values)
            self.values[vid] = Value(vid, op.oid, i, from_source)
            op.outs.append(vid)
        return op

    def add_source(self, shape: tuple[int, ...], line: int, record: Any, translated: str = "") -> int:
        op = self._new_op("source", line, record, shape=shape, translated=translated)
        self.source = op.outs[0]
        return op.outs[0]

    def add_hidden(self, layer: int, line: int, record: Any, key: int | None = None) -> int:
        """The hidden-state entry ``layer`` as written in the code; ``key`` (a negative index) dedupes."""
        key = layer if key is None else key
        if key not in self.hidden:
            op = self._new_op("hidden", line, record, hidden_layer=layer)
            self.hidden[key] = op.outs[0]
        return self.hidden[key]

    def add_builtin(self, name: str, line: int, record: Any) -> int:
        if name not in self.builtins:
            op = self._new_op("builtin", line, record, builtin=name)
            self.builtins[name] = op.outs[0]
        return self.builtins[name]

    def add_expr(self, term: ast.expr, line: int, record: Any, n_out: int = 1, **kw: Any) -> Op:
        inputs = tuple(sorted(refs_in(term)))
        return self._new_op("expr", line, record, n_out, term=term, inputs=inputs, primary=self._primary(term), **kw)

    def add_layer(self, layer: Layer, x: int, line: int, record: Any, h0: Any = None, c0: Any = None) -> Op:
        n_out = {"lstm": 3, "gru": 2}.get(layer.kind.value, 1)
        inputs = {x}
        for t in (h0, c0):
            if t is not None:
                inputs |= refs_in(t)
        return self._new_op(
            "layer", line, record, n_out, layer=layer, inputs=tuple(sorted(inputs)), primary=x, h0=h0, c0=c0
        )

    def _primary(self, term: ast.expr) -> int | None:
        """The first value node read in evaluation order that comes from the source (else the first)."""
        order = _refs_in_order(term)
        for vid in order:
            if self.values[vid].from_source:
                return vid
        return order[0] if order else None

    def readers(self) -> dict[int, list[Op]]:
        """value -> the ops that read it, in program order."""
        out: dict[int, list[Op]] = {}
        for op in self.ops:
            for vid in op.inputs:
                out.setdefault(vid, []).append(op)
        return out


def _refs_in_order(term: ast.expr) -> list[int]:
    """Value nodes in the order Python evaluates them: receiver first, then arguments left to right."""
    from core.code_import.values import REF

    out: list[int] = []

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.Name) and node.id.startswith(REF):
            vid = int(node.id[len(REF) :])
            if vid not in out:
                out.append(vid)
            return
        if isinstance(node, ast.Call):
            walk(node.func)
            for a in node.args:
                walk(a)
            for k in node.keywords:
                walk(k.value)
            return
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(term)
    return out
