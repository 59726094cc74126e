"""Terms as Python text: value-node placeholders (``_ref_3``) replaced by names, sizes by numbers.

>>> import ast
>>> render(ast.parse("_ref_0.transpose(1, 2)", mode="eval").body, lambda vid, dim: "x")
'x.transpose(1, 2)'
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from typing import Any

from core.code_import.values import REF


def render_placeholders(term: ast.AST, graph: Any = None) -> str:
    """A term as text for notes: value nodes shown by the user's name (else ``x``)."""

    def name(vid: int) -> str:
        if graph is not None and vid in graph.values and graph.values[vid].names:
            return graph.values[vid].names[-1]
        return "x"

    return render(term, lambda vid, dim: name(vid))


def render(term: ast.AST, namer: Callable[[int, int | None], str | int]) -> str:
    """``term`` as Python text; ``namer(vid, dim)`` names a value node (dim: the index of a ``.shape[i]``
    read, so a size the code fixes may come back as an int)."""
    tree = copy.deepcopy(term)

    class Sub(ast.NodeTransformer):
        def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
            v = node.value
            if (
                isinstance(v, ast.Attribute)
                and v.attr == "shape"
                and isinstance(v.value, ast.Name)
                and v.value.id.startswith(REF)
            ):
                dim = _int_of(node.slice)
                if dim is not None:
                    got = namer(int(v.value.id[len(REF) :]), dim)
                    if isinstance(got, int):
                        return ast.Constant(got)
            self.generic_visit(node)
            return node

        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id.startswith(REF):
                got = namer(int(node.id[len(REF) :]), None)
                return ast.Name(str(got), ast.Load())
            return node

    return ast.unparse(Sub().visit(tree))


def _int_of(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value if isinstance(node.operand.value, int) else None
    return None
