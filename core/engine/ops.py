"""Layout helpers that ask torch: the shape and strides after an op, computed on ``meta`` tensors.

Every op of a chain is an ``Op`` record (``core.engine.chain``). Its output shape and strides are not predicted
by a rule of ours: ``step_layout`` runs the op on ``meta`` tensors (shape + strides, no memory), so torch
computes them, and raises ``ShapeError`` with torch's own message when torch rejects the op.

    >>> predict_op(Op("transpose", (1, 2)), (32, 128, 768))     # (b, l, h) -> (b, h, l)
    (32, 768, 128)
"""

from __future__ import annotations

from typing import Any

from core.engine.chain import OP_NAMES, IndexList, IndexTensor, Layout, Op, Operand, Shape, contiguous_strides
from core.engine.evaluate import meta_layout

__all__ = [
    "OP_NAMES",
    "IndexList",
    "IndexTensor",
    "Layout",
    "Op",
    "Operand",
    "Shape",
    "chain_shapes",
    "contiguous_strides",
    "predict_op",
    "step_layout",
]


def step_layout(op: Op, layout: Layout, dtype: Any = None) -> Layout:
    """(shape, strides) after ``op`` on a tensor of that layout, computed by torch on ``meta`` tensors.

    Raises ShapeError with torch's message when torch rejects the op. Any strides are accepted, so other
    modules can follow dims through permutes by passing ``(shape, (0, 1, 2, ...))``.
    """
    return meta_layout(op, layout, dtype)


def predict_op(op: Op, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape after one op on a contiguous tensor, e.g. ``predict_op(Op("transpose", (1, 2)), (32, 128, 768))``
    -> ``(32, 768, 128)``."""
    shape = tuple(shape)
    return step_layout(op, (shape, contiguous_strides(shape)))[0]


def chain_shapes(root_shape: Shape, ops: tuple[Op, ...], root_strides: tuple[int, ...] | None = None) -> list[Shape]:
    """Shapes after each op of a chain (no budget check)."""
    layout: Layout = (tuple(root_shape), tuple(root_strides or contiguous_strides(tuple(root_shape))))
    out = []
    for op in ops:
        layout = step_layout(op, layout)
        out.append(layout[0])
    return out
