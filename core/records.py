"""Plain-value records of a trace: axes, findings (warnings / notes) and stages.

Every field is a plain value (tuples, strings, ints) so a Stage serialises to JSON; tensors are kept
beside the records in ``Trace.tensors``, never inside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.fixes import Fix


@dataclass(frozen=True)
class Axis:
    """What one dimension means, e.g. ``Axis("tokens", "L", "tokens")`` -> ``tokens (L)``.

    role is the colour key (batch, tokens, hidden, time, channels, positions, features, classes,
    directions, layers, mixed, other); formula gives a symbolic size, e.g.
    ``L_out = floor((L + 2p - d(k-1) - 1)/s) + 1 = 126``.
    """

    name: str
    symbol: str
    role: str = "other"
    formula: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.symbol})" if self.symbol else self.name

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "symbol": self.symbol, "role": self.role, "formula": self.formula}


@dataclass(frozen=True)
class Finding:
    """A warning (the run works but the meaning is probably wrong) or an informative note."""

    code: str
    message: str
    fix: Fix | None = None
    severity: str = "warning"  # warning | note
    step_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "severity": self.severity, "message": self.message}
        if self.step_index is not None:
            out["step"] = self.step_index
        if self.fix is not None:
            out["fix"] = self.fix.description
            out["fix_edit"] = self.fix.to_dict()["edit"]
        return out


@dataclass(frozen=True)
class Stage:
    """One stage of a trace: the tensor after the source, the pooling, or a step.

    shape ``(b, l, h)`` etc.; strides in elements; bytes = numel * element size.
    extras: plain facts of the stage, e.g. ``(("h_n", (2, 4, 128)), ("c_n", (2, 4, 128)))``.
    """

    index: int
    name: str
    kind: str  # source | pooling | expr | lstm | gru | conv1d | linear
    source: str
    shape: tuple[int, ...]
    axes: tuple[Axis, ...]
    dtype: str
    device: str
    strides: tuple[int, ...]
    contiguous: bool
    numel: int
    bytes: int
    step_index: int | None = None
    warnings: tuple[Finding, ...] = ()
    extras: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    @property
    def axis_labels(self) -> tuple[str, ...]:
        return tuple(a.label for a in self.axes)

    @property
    def title(self) -> str:
        """The stage's name with the names its step bound: ``step 2 → w`` (just ``step 2`` when it set ``x``)."""
        binds = self.extra("binds")
        return f"{self.name} → {', '.join(binds)}" if binds else self.name

    def extra(self, key: str, default: Any = None) -> Any:
        return dict(self.extras).get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "kind": self.kind,
            "step": self.step_index,
            "source": self.source,
            "shape": list(self.shape),
            "axes": list(self.axis_labels),
            "axis_details": [a.to_dict() for a in self.axes],
            "dtype": self.dtype,
            "device": self.device,
            "strides": list(self.strides),
            "contiguous": self.contiguous,
            "numel": self.numel,
            "bytes": self.bytes,
            "warnings": [w.to_dict() for w in self.warnings],
            "extras": {k: _plain(v) for k, v in self.extras},
        }


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v
