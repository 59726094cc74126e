"""Handlers for dimension arguments: permute orders, duplicate dims, .t() on 3-D, dim out of range."""

from __future__ import annotations

import re
from typing import Any

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import fmt_shape, num

_EXAMPLE_RANK = 12


def permute_dims(m: re.Match[str], ctx: Ctx) -> Result:
    nd = num(m["nd"]) if m["nd"] else (len(ctx.shape) if ctx.shape else None)
    nl = num(m["nl"]) if m["nl"] else None
    expl = "permute() needs every dimension listed exactly once, as a full new order."
    if nd is not None and nl is not None:
        expl += f" The tensor has {nd} dims but you gave {nl}."
    numbers = {"ndim": nd, "len_dims": nl}
    # the example order is written out for a rank a person could type (a pasted message may claim any rank)
    example = ", ".join(map(str, [0, *range(nd - 1, 0, -1)])) if nd and 1 < nd <= _EXAMPLE_RANK else "0, 2, 1"
    fix = (
        f"List all {nd if nd and nd > 0 else 'the'} dims, e.g. `x.permute({example})`; to swap just two dims use "
        "`x.transpose(a, b)`."
    )
    if nd is not None and nl is not None and nl > nd:
        fix += (
            " You listed more dims than the tensor has: an earlier step (pooling, `x[:, 0]`) may have "
            "removed "
            "one; check the shape, or add an axis with `unsqueeze`."
        )
    return expl, fix, numbers


def permute_duplicate(m: re.Match[str], ctx: Ctx) -> Result:
    expl = "A dim appears twice in the list: permute needs each dim exactly once (a reduction each at most once)."
    if m.groupdict().get("dim"):
        expl = f"Dim {num(m['dim'])} appears more than once in the list of dims."
    fix = "Write each dim once, e.g. `x.permute(0, 2, 1)` for (batch, tokens, hidden) -> (batch, hidden, tokens)."
    return expl, fix, {}


def t_rank(m: re.Match[str], ctx: Ctx) -> Result:
    expl = f".t() / .T on a matrix only: your tensor is {num(m['nd'])}-D."
    fix = "Say which two dims to swap: `x.transpose(1, 2)`, or `x.mT` / `x.transpose(-2, -1)` for the last two."
    return expl, fix, {"ndim": num(m["nd"])}


def dim_range(m: re.Match[str], ctx: Ctx) -> Result:
    lo, hi, got = num(m["lo"]), num(m["hi"]), num(m["got"])
    nd = hi + 1
    numbers: dict[str, Any] = {"range": [lo, hi], "got_dim": got, "ndim": nd}
    if ctx.shape is not None and len(ctx.shape) == hi:  # unsqueeze: one position past the last dim
        expl = (
            f"Your tensor has {hi} dims; unsqueeze can insert a new axis at positions 0..{hi} (or {lo}..-1), "
            f"but you asked for {got}."
        )
    else:
        expl = (
            f"Valid dims here are 0..{hi} (or {lo}..-1), so the tensor has {nd} dim{'s' if nd != 1 else ''} "
            f"({nd - 1} if this was unsqueeze, which may also insert after the last); you asked for dim "
            f"{got}. "
            f"Dims count from 0: the last one is {hi}, or -1."
        )
    if ctx.shape is not None:
        expl += " Your input " + fmt_shape(ctx.shape)
        if ctx.axes and len(ctx.axes) == len(ctx.shape):
            expl += " = (" + ", ".join(f"dim {i}: {a}" for i, a in enumerate(ctx.axes)) + ")"
        expl += "."
    fix = f"Use a dim in [{lo}, {hi}]"
    if got == nd or got == -nd - 1:
        fix += f" - probably dim {hi if got > 0 else lo} (off by one, or use -1 for the last dim)"
    fix += (
        ". If you expected more dims, an earlier step removed one: pooling turns (batch, tokens, hidden) "
        "into (batch, hidden) and `x[:, 0]` drops the token axis. (unsqueeze accepts one position more.)"
    )
    return expl, fix, numbers
