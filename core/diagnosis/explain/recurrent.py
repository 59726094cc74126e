"""Handlers for LSTM/GRU errors: input_size, rank, initial hidden state."""

from __future__ import annotations

import re
from typing import Any

from core.diagnosis.explain.context import Ctx, Result, layer_name
from core.diagnosis.explain.formatting import fmt_shape, move_code, num


def rnn_input_size(m: re.Match[str], ctx: Ctx) -> Result:
    exp, got = num(m["exp"]), num(m["got"])
    name = layer_name(ctx, "LSTM/GRU")
    numbers: dict[str, Any] = {"expected_input_size": exp, "got_input_size": got}
    expl = (
        f"{name} reads the features from the LAST dim of its input ((batch, seq, features) with "
        f"batch_first=True, (seq, batch, features) without). It was built with input_size={exp}, but the "
        f"last dim of your input is {got}."
    )
    moved = ""
    if ctx.shape is not None:
        numbers["input_shape"] = list(ctx.shape)
        where = [i for i, s in enumerate(ctx.shape[:-1]) if s == exp]
        expl += f" Your input is {fmt_shape(ctx.shape)}."
        if where:
            d = where[-1]
            numbers["features_at_dim"] = d
            expl += f" The {exp} is at {ctx.dim(d)}"
            if len(ctx.shape) == 3 and d == 1:
                expl += ": the (batch, channels, length) layout a Conv1d produces."
            else:
                expl += "."
            code = move_code(len(ctx.shape), d, len(ctx.shape) - 1)
            moved = f"Move it last: insert {code} before this step. "
    if not moved:
        moved = (
            f"If the {exp} features sit at another dim (e.g. after a Conv1d, whose output is "
            "(batch, channels, length)), move them last with `x.transpose(1, 2)`. "
        )
    fix = (
        moved
        + f"Otherwise build the layer for this input: input_size={got} "
        + f"(nn.{name.split('/')[0]}({got}, hidden_size, ...))."
    )
    return expl, fix, numbers


def rnn_rank(m: re.Match[str], ctx: Ctx) -> Result:
    got = num(m["got"])
    name = m["name"] or layer_name(ctx, "LSTM/GRU")
    expl = (
        f"{name} takes a 3-D input (batch, seq, features) with batch_first=True (or (seq, batch, features)), "
        f"or an unbatched 2-D (seq, features); yours is {got}-D"
        + (f" {fmt_shape(ctx.shape)}." if ctx.shape is not None else ".")
    )
    if got > 3:
        fix = (
            "Merge the extra dims: e.g. a (batch, chunks, tokens, hidden) tensor becomes (batch * chunks, "
            "tokens, hidden) with `x.flatten(0, 1)`, or (batch, chunks * tokens, hidden) with "
            "`x.flatten(1, 2)`; or pool/select the extra axis away."
        )
    else:
        fix = (
            "Add the missing axes: a single sequence of vectors is `x.unsqueeze(0)` (batch of 1). Beware: a "
            "pooled (batch, hidden) tensor is accepted as ONE unbatched sequence of length batch; use "
            "`x.unsqueeze(1)` -> (batch, 1, hidden) to give each sample a sequence of length 1."
        )
    return expl, fix, {"got_ndim": got}
