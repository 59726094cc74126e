"""Small helpers that write shapes, numbers and permutations the way the explanations quote them."""

from __future__ import annotations

import re
from collections.abc import Sequence

_INT = re.compile(r"-?\d+")

MAX_SIZE_DIGITS = 19
"""A tensor size or index is a 64-bit integer (``|v| < 2**63``, at most 19 digits); a longer number in a message is
not a size torch could have printed."""
_INT64 = 2**63


class OversizedNumber(ValueError):
    """A number in an error message that no tensor size can be: more than ``MAX_SIZE_DIGITS`` digits, or beyond
    int64. ``digits`` is how many digits it has (counted without calling ``int()``, which refuses more than 4,300)."""

    def __init__(self, digits: int) -> None:
        super().__init__(f"a number of {digits:,} digits")
        self.digits = digits


def num(text: str | None) -> int:
    """The int written in ``text`` (a regex capture: ``"768"``, ``"-1"``, ``"007"``), bounded to what torch prints.

    Every number read from a pasted message goes through here, never through a bare ``int()``: Python's ``int()``
    raises ValueError beyond 4,300 digits, and a 30-digit "size" would make the handlers' arithmetic meaningless.

    Raises:
        OversizedNumber: more than ``MAX_SIZE_DIGITS`` significant digits, or ``|value| >= 2**63``.
        ValueError: ``text`` holds no number at all (a regex capture never does).
    """
    body = (text or "").strip()
    sign = -1 if body.startswith("-") else 1
    digits = body.lstrip("+-")
    if not digits.isdecimal():  # the Unicode digits regex's \d matches, which int() reads too
        raise ValueError(f"not a number: {body[:40]!r}")
    digits = digits.lstrip("0") or "0"
    if len(digits) > MAX_SIZE_DIGITS:
        raise OversizedNumber(len(digits))
    value = sign * int(digits)
    if abs(value) >= _INT64:
        raise OversizedNumber(len(digits))
    return value


def ints(text: str) -> list[int]:
    """Every int in ``text`` (``"[32, 128, 768]" -> [32, 128, 768]``), each through :func:`num`."""
    return [num(t) for t in _INT.findall(text)]


def fmt_shape(s: Sequence[int]) -> str:
    return "[" + ", ".join(str(v) for v in s) + "]"


def fmt_int(v: int) -> str:
    return f"{v:,}"


def fmt_product(s: Sequence[int]) -> str:
    return " × ".join(str(v) for v in s)


def move_perm(ndim: int, src: int, dst: int) -> list[int]:
    """The permutation that moves dim ``src`` to position ``dst``, keeping the others in order."""
    order = [i for i in range(ndim) if i != src]
    order.insert(dst, src)
    return order


def move_code(ndim: int, src: int, dst: int) -> str:
    perm = move_perm(ndim, src, dst)
    code = f"`x.permute({', '.join(str(p) for p in perm)})`"
    if abs(src - dst) == 1:
        a, b = sorted((src, dst))
        code += f" (or `x.transpose({a}, {b})`)"
    return code


def factorize(n: int) -> str:
    """``3145728 -> "2^20 × 3"`` (trial division, n is at most a tensor size)."""
    if n < 2:
        return str(n)
    parts, p, rest = [], 2, n
    while p * p <= rest and p < 10_000:
        k = 0
        while rest % p == 0:
            rest //= p
            k += 1
        if k:
            parts.append(f"{p}^{k}" if k > 1 else str(p))
        p += 1 if p == 2 else 2
    if rest > 1:
        parts.append(str(rest))
    return " × ".join(parts)
