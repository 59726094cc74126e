"""Axis meaning: a label and a symbol per dimension, following the data through every step.

>>> [a.label for a in text_axes((2, 9, 384))]
['batch (B)', 'tokens (L)', 'hidden (H)']
"""

from __future__ import annotations

from typing import Any

from core.records import Axis, Stage
from core.spec import LayerKind, LayerStep, Pooling

BATCH = Axis("batch", "B", "batch")
TOKENS = Axis("tokens", "L", "tokens")
HIDDEN = Axis("hidden", "H", "hidden")


def generic(i: int, size: int) -> Axis:
    return Axis(f"dim {i}", f"d{i}", "other")


def text_axes(shape: tuple[int, ...]) -> tuple[Axis, ...]:
    """(B, L, H) of an encoder output."""
    return (BATCH, TOKENS, HIDDEN)[: len(shape)]


def synthetic_axes(shape: tuple[int, ...]) -> tuple[Axis, ...]:
    """A synthetic tensor is read as (batch, tokens, hidden) when 3-D, (batch, hidden) when 2-D."""
    if len(shape) == 3:
        return (BATCH, TOKENS, HIDDEN)
    if len(shape) == 2:
        return (BATCH, HIDDEN)
    return tuple(generic(i, d) for i, d in enumerate(shape))


def pooled_axes(pooling: Pooling, shape: tuple[int, ...]) -> tuple[Axis, ...]:
    if pooling is Pooling.NONE:
        return text_axes(shape)
    if pooling is Pooling.LAST4_CONCAT:
        return (BATCH, Axis("4·hidden", "4H", "hidden"))
    return (BATCH, HIDDEN)


def expr_axes(ops: tuple[Any, ...], shapes: list[tuple[int, ...]], prev: Stage) -> tuple[Axis, ...]:
    """Axes after an expression; generic labels unless the shape is unchanged."""
    if not shapes:
        return prev.axes
    out = shapes[-1]
    if out == prev.shape:
        return prev.axes
    return tuple(generic(i, d) for i, d in enumerate(out))


def layer_axes(step: LayerStep, params: dict[str, Any], prev: Stage, out: tuple[int, ...]) -> tuple[Axis, ...]:
    if step.kind is LayerKind.LINEAR:
        return (*prev.axes[:-1], Axis("out_features", "F_out", "features"))
    if step.kind is LayerKind.CONV1D:
        lead = prev.axes[:-2]
        return (*lead, Axis("channels", "C_out", "channels"), Axis("positions", "L_out", "positions"))
    width = "2·hidden_size" if params.get("bidirectional") else "hidden_size"
    h = Axis("hidden_out", width, "features")
    if len(out) == 2:
        return (prev.axes[0] if prev.axes else generic(0, out[0]), h)
    return (*prev.axes[:2], h)
