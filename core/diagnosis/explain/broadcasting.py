"""Handlers for element-wise broadcasting, expand and repeat errors."""

from __future__ import annotations

import re
from typing import Any

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import fmt_shape, ints, num


def broadcast(m: re.Match[str], ctx: Ctx) -> Result:
    a, b, d = num(m["a"]), num(m["b"]), num(m["d"])
    expl = (
        f"Element-wise operations (+, -, *, /, masked_fill, where, losses, @ batch dims) line shapes up from "
        f"the right; at dim {d} of the result one tensor has {a} and the other {b}. Sizes must be equal, "
        "or one "
        "of them 1 (then it is broadcast)."
    )
    fix = (
        "Make the sizes at that dim equal, or insert a size-1 axis where one tensor lacks it with "
        "`unsqueeze`. A common case in BERT pipelines: an attention mask (batch, tokens) applied to hidden "
        "states (batch, tokens, hidden) needs `mask.unsqueeze(-1)` -> (batch, tokens, 1), e.g. "
        "`(x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)`."
    )
    longer, table = max(a, b), min(a, b)
    if d == 1 and table in _POSITION_TABLES and longer > table:
        fix += (
            f" If it was raised inside a transformer's embeddings (paste the whole traceback to tell), the text has "
            f"{longer} tokens and the model {table} positions: tokenize with truncation=True, max_length={table}."
        )
    return expl, fix, {"size_a": a, "size_b": b, "dim": d}


_POSITION_TABLES = (512, 1024, 2048, 4096)  # max_position_embeddings of common BERT-style checkpoints


def expand(m: re.Match[str], ctx: Ctx) -> Result:
    new, old, d = num(m["new"]), num(m["old"]), num(m["dim"])
    numbers: dict[str, Any] = {"expanded_size": new, "existing_size": old, "dim": d}
    expl = (
        f"expand() can only stretch dims of size 1 (it makes a view, no copy). Dim {d} has size {old}, "
        f"which cannot become {new}."
    )
    if m["target"] is not None:
        target, have = ints(m["target"]), ints(m["have"])
        numbers.update(target_shape=target, tensor_shape=have)
        expl += f" Target {fmt_shape(target)}, tensor {fmt_shape(have)}."
    fix = (
        "Expand only size-1 dims (use -1 to keep a dim): add the axis first, e.g. "
        "`mask.unsqueeze(-1).expand(-1, -1, hidden)`; use `repeat` if you need real copies, or check that "
        "you expand to the right shape (`expand_as(other)`)."
    )
    return expl, fix, numbers


def expand_rank(m: re.Match[str], ctx: Ctx) -> Result:
    n, nd = num(m["n"]), num(m["nd"])
    expl = f"expand() got {n} size(s) for a {nd}-D tensor; it needs at least one size per dim."
    fix = "Give a size for every dim (-1 keeps it), e.g. `x.expand(-1, 4)`, or `unsqueeze` first to add new axes."
    return expl, fix, {"sizes_given": n, "ndim": nd}


def repeat_rank(m: re.Match[str], ctx: Ctx) -> Result:
    expl = "repeat() needs one repeat count per dim of the tensor (more are allowed and add leading dims)."
    if ctx.shape is not None:
        expl += f" Your input {fmt_shape(ctx.shape)} has {len(ctx.shape)} dims."
    fix = (
        "Give a count for every dim, 1 to keep it: e.g. `x.repeat(1, 1, 2)` for a 3-D tensor; `expand` "
        "avoids the copy for size-1 dims."
    )
    return expl, fix, {}
