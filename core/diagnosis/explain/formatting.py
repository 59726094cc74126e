"""Small helpers that write shapes, numbers and permutations the way the explanations quote them."""

from __future__ import annotations

import re
from collections.abc import Sequence

_INT = re.compile(r"-?\d+")


def ints(text: str) -> list[int]:
    return [int(t) for t in _INT.findall(text)]


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
