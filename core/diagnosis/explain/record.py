"""The answer of ``explain``: one frozen record per explained message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Explanation:
    """A diagnosis of one error message.

    Attributes:
        recognized: True when the message matched a known error.
        kind: a key of ``KINDS``, e.g. ``"conv_channels"`` (``"unrecognized"`` when not recognized).
        explanation: the cause in plain words, with the numbers from the message.
        fix: a concrete action in PyTorch terms.
        numbers: the values parsed from the message, e.g.
            ``{"expected_channels": 768, "got_channels": 128, "input_shape": [32, 128, 768]}``.
        message: the exception line that was explained (not part of ``to_dict``).
    """

    recognized: bool
    kind: str
    explanation: str
    fix: str
    numbers: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """``{"recognized", "kind", "explanation", "fix", "numbers"}`` — the CLI / JSON form."""
        return {
            "recognized": self.recognized,
            "kind": self.kind,
            "explanation": self.explanation,
            "fix": self.fix,
            "numbers": dict(self.numbers),
        }
