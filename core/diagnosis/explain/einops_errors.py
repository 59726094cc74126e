"""Handlers for einops' multi-line errors (pattern, input shape, reason)."""

from __future__ import annotations

import re
from typing import Any

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import factorize, fmt_shape, ints, num

_EIN_PATTERN = re.compile(r'pattern "(?P<p>[^"\n]{0,500})"')


_EIN_SHAPE = re.compile(r"Input tensor shape: (?:torch\.Size\()?[\[(]?(?P<s>[\d, ]{0,200})")


def _head(m: re.Match[str], ctx: Ctx) -> tuple[str, str, dict[str, Any]]:
    """(head sentence, left side of the pattern, numbers) from the whole einops message (``m.string``)."""
    block = m.string
    pm = _EIN_PATTERN.search(block)
    sm = _EIN_SHAPE.search(block)
    pattern = pm["p"] if pm else ""
    shape = ints(sm["s"]) if sm else list(ctx.shape or ())
    numbers: dict[str, Any] = {"pattern": pattern, "input_shape": shape}
    lhs = pattern.split("->")[0].strip() if "->" in pattern else pattern
    head = f"einops pattern {pattern!r} on a tensor of shape {fmt_shape(shape)}: " if pattern else "einops: "
    return head, lhs, numbers


def rank(m: re.Match[str], ctx: Ctx) -> Result:
    """The left side names more or fewer axes than the tensor has dims."""
    head, lhs, numbers = _head(m, ctx)
    want, got = num(m["want"]), num(m["got"])
    numbers.update(pattern_ndim=want, tensor_ndim=got)
    return (
        head + f"the left side {lhs!r} names {want} axes but the tensor has {got} dims.",
        "Name one axis per dim on the left (e.g. 'b l h -> b h l' for (batch, tokens, hidden)), or "
        "use '...' "
        "for the dims you don't touch.",
        numbers,
    )


def divide(m: re.Match[str], ctx: Ctx) -> Result:
    """An axis split into groups of a size that does not divide it."""
    head, _, numbers = _head(m, ctx)
    length, chunk = num(m["length"]), num(m["chunk"])
    numbers.update(axis_length=length, chunk=chunk)
    ratio = f"{length} / {chunk} = {length / chunk:.4g}" if chunk else "a group of size 0 holds nothing"
    return (
        head + f"an axis of length {length} cannot be split into groups of {chunk}: {ratio} "
        f"({length} = {factorize(length)}).",
        f"Give a size that divides {length}, e.g. h=12 for 768 = 12 × 64 (BERT-base heads).",
        numbers,
    )


def product(m: re.Match[str], ctx: Ctx) -> Result:
    """All sizes of a group were given, and they do not multiply to the axis length."""
    head, _, numbers = _head(m, ctx)
    a, b = num(m["a"]), num(m["b"])
    numbers.update(axis_length=a, product=b)
    return (
        head + f"the sizes you gave multiply to {b}, but the axis has length {a}.",
        f"Give sizes whose product is {a}, or give all but one and let einops infer the last.",
        numbers,
    )


def infer(m: re.Match[str], ctx: Ctx) -> Result:
    """Two unknown sizes inside one group."""
    head, _, numbers = _head(m, ctx)
    return (
        head + f"axes {{{m['axes']}}} are inside one group and einops cannot guess how to split it.",
        "Pass all but one of them as keywords: `rearrange(x, 'b l (h d) -> b l h d', h=12)`.",
        numbers,
    )


def one_side(m: re.Match[str], ctx: Ctx) -> Result:
    """rearrange with an axis on one side only."""
    head, _, numbers = _head(m, ctx)
    return (
        head + f"rearrange must keep every axis, but {{{m['axes']}}} appear on one side only.",
        "To drop an axis aggregate it with `reduce(x, pattern, 'mean')`; to add one use `repeat(...)` "
        "with its "
        "size; or merge it into a group, e.g. 'b l h -> b (l h)'.",
        numbers,
    )


def duplicate(m: re.Match[str], ctx: Ctx) -> Result:
    """The same axis name twice on one side."""
    head, _, numbers = _head(m, ctx)
    return (
        head + f"the axis name {m['name']!r} is used twice on one side; every dim needs its own name.",
        "Give each input dim a different name, e.g. 'b l h -> b h l'.",
        numbers,
    )


def other(m: re.Match[str], ctx: Ctx) -> Result:
    """Any other einops error: its own reason line."""
    head, _, numbers = _head(m, ctx)
    return (
        head + m["reason"].strip(),
        "Check the pattern: one name per input dim, the same names on both sides, balanced parentheses, and "
        "sizes given as keywords only for axes the pattern uses.",
        numbers,
    )
