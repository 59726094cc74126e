"""The source shape as the user types it: ``"2×4×6"``, ``"2, 4, 6"``, ``"(2, 4, 6)"`` -> ``(2, 4, 6)``."""

from __future__ import annotations

import math
import re

__all__ = ["MAX_SOURCE_NDIM", "MAX_SOURCE_NUMEL", "parse_shape_text"]

MAX_SOURCE_NDIM = 6
MAX_SOURCE_NUMEL = 2**26

_SHAPE_SEPARATORS = re.compile(r"\s*[,x×X*;]\s*|\s+")


def parse_shape_text(text: str, max_numel: int = MAX_SOURCE_NUMEL) -> tuple[int, ...]:
    """``"2×4×6"``, ``"2, 4, 6"``, ``"(2, 4, 6)"`` or ``"2x4x6"`` -> ``(2, 4, 6)``; ValueError with a reason.

    >>> parse_shape_text("(32, 128, 768)")
    (32, 128, 768)
    """
    raw = (text or "").strip().strip("()[]").strip().rstrip(",").strip()
    if not raw:
        raise ValueError("type a shape, e.g. 2, 4, 6")
    parts = _SHAPE_SEPARATORS.split(raw)
    if len(raw) > 100 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ValueError(f"`{text[:40]}` is not a shape: write sizes separated by commas or ×, e.g. 2, 4, 6")
    shape = tuple(int(p) for p in parts)
    if len(shape) > MAX_SOURCE_NDIM:
        raise ValueError(f"{len(shape)} dims is too many here; use at most {MAX_SOURCE_NDIM}")
    if any(s < 1 for s in shape):
        raise ValueError("every size must be at least 1")
    if math.prod(shape) > max_numel:
        raise ValueError(f"{shape} has {math.prod(shape):,} elements; the limit is {max_numel:,}")
    return shape
