"""What a handler knows besides the message: the failing step's input shape, axis names and layer.

Every handler has the signature ``(match, ctx) -> (explanation, fix, numbers)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Ctx:
    """The failing step as the trace engine saw it; every field is optional (a pasted error has none).

    Attributes:
        shape: the step's input shape, e.g. ``(32, 128, 768)``.
        axes: one name per dim of ``shape``, e.g. ``("batch", "tokens", "hidden")``.
        layer: the layer kind in lower case (``"lstm"``, ``"conv1d"``...) or ``""``.
        params: the layer's resolved constructor parameters.
        step: the step's source text, e.g. ``"x @ w"``.
        symbols: one size symbol per dim of ``shape``, e.g. ``("B", "L", "2·hidden_size")``.
        frames: the traceback's last frame before the message (file and source line that raised), or ``""``.
        after_ops: ``shape`` is what the failing op received after earlier ops of the step changed the step's
            input (``x.mean(1).view(5, -1)``); its axes are unknown, so no axis (batch, ...) is assumed.
    """

    shape: tuple[int, ...] | None = None
    axes: tuple[str, ...] | None = None
    layer: str = ""  # lstm | gru | conv1d | linear | ""
    params: dict[str, Any] = field(default_factory=dict)
    step: str = ""
    symbols: tuple[str, ...] | None = None
    frames: str = ""
    after_ops: bool = False

    def dim(self, d: int, shape: Sequence[int] | None = None) -> str:
        """``"dim 2 (hidden)"`` when axis labels are known for ``shape`` (default: the input shape)."""
        shape = self.shape if shape is None else tuple(shape)
        if self.axes and shape is not None and len(self.axes) == len(shape) and -len(shape) <= d < len(shape):
            return f"dim {d} ({self.axes[d]})"
        return f"dim {d}"


def make_ctx(context: dict[str, Any] | None) -> Ctx:
    """``Ctx`` from the ``context`` dict of ``explain``; malformed entries are dropped, never raised."""
    if not isinstance(context, dict):
        return Ctx()
    shape = as_int_tuple(context.get("input_shape"))
    axes_raw = context.get("input_axes")
    axes = tuple(str(a) for a in axes_raw) if isinstance(axes_raw, (list, tuple)) else None
    layer = context.get("layer")
    kind, params = "", {}
    if isinstance(layer, dict):
        kind_raw = layer.get("kind", "")
        kind = str(getattr(kind_raw, "value", kind_raw)).lower()
        params = layer.get("params") if isinstance(layer.get("params"), dict) else {}
    elif isinstance(layer, str):
        kind = layer.lower()
    symbols_raw = context.get("input_symbols")
    symbols = tuple(str(a) for a in symbols_raw) if isinstance(symbols_raw, (list, tuple)) else None
    step = str(context.get("step") or "")
    after_ops = context.get("after_ops") is True
    return Ctx(shape=shape, axes=axes, layer=kind, params=dict(params), step=step, symbols=symbols, after_ops=after_ops)


def as_int_tuple(value: Any) -> tuple[int, ...] | None:
    if not isinstance(value, (list, tuple)):
        return None
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        return None


def layer_name(ctx: Ctx, default: str) -> str:
    """The torch class name of the context's layer (``"LSTM"``), or ``default``."""
    return {"lstm": "LSTM", "gru": "GRU", "conv1d": "Conv1d", "linear": "Linear", "rnn": "RNN"}.get(ctx.layer, default)


Result = tuple[str, str, dict[str, Any]]  # explanation, fix, numbers
Handler = Callable[[re.Match[str], Ctx], Result]
