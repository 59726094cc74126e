"""A likely cause of an error, and the factoring that tells causes apart (512 targets for 8 rows: 512 = 8 × 64)."""

from __future__ import annotations

from dataclasses import dataclass


def ratio(big: int, small: int) -> int | None:
    """``k`` when ``big == k × small`` with ``k >= 2``, else None.

    >>> ratio(512, 8), ratio(12, 8)
    (64, None)
    """
    if small <= 0 or big <= small or big % small:
        return None
    return big // small


@dataclass(frozen=True)
class Cause:
    """One likely cause of a mismatch: a code (stable, for tests and UIs), the sentence that says it, the fix,
    and a short label for when it is offered as an alternative ("the targets are one-hot rows")."""

    code: str
    because: str
    fix: str
    label: str = ""


def join_fixes(causes: list[Cause]) -> str:
    """The first cause's fix, then each other one as "If instead <label>: <fix>" (repeated fixes once)."""
    parts: list[str] = []
    for i, c in enumerate(causes):
        if c.fix in " ".join(parts):
            continue
        parts.append(c.fix if i == 0 or not c.label else f"If instead {c.label}: {_lower_first(c.fix)}")
    return " ".join(parts)


def _lower_first(text: str) -> str:
    """``"Build it"`` -> ``"build it"``; ``"BCEWithLogitsLoss"`` and ``"`x`"`` stay as they are."""
    return text[0].lower() + text[1:] if text[:1].isupper() and text[1:2].islower() else text


def join_because(causes: list[Cause]) -> str:
    """The causes' sentences, the second and later ones as alternatives: "... Or the axes are read ..."."""
    parts = []
    for i, c in enumerate(causes):
        parts.append(c.because if i == 0 else f"Or {_lower_first(c.because)}")
    return " ".join(parts)
