"""Handlers for normalisation layers: LayerNorm's normalized_shape, BatchNorm's num_features."""

from __future__ import annotations

import re

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import fmt_shape, ints, num


def layernorm(m: re.Match[str], ctx: Ctx) -> Result:
    ns, got = ints(m["ns"]), ints(m["got"])
    expl = (
        f"LayerNorm({fmt_shape(ns)[1:-1]}) normalizes the LAST dim(s), which must be {fmt_shape(ns)}; your "
        f"input is {fmt_shape(got)}."
    )
    fix = (
        f"Build it as nn.LayerNorm({got[-1] if got else '...'}) for the last dim, or move the features "
        "last (`x.transpose(1, 2)` after a Conv1d)."
    )
    return expl, fix, {"normalized_shape": ns, "input_shape": got}


def norm_features(m: re.Match[str], ctx: Ctx) -> Result:
    want, got = num(m["want"]), num(m["got"])
    expl = (
        f"BatchNorm1d(num_features={want}) normalizes dim 1 of (batch, features, length); your input has {got} there."
    )
    fix = (
        f"Use num_features={got}, or permute so the {want} features are at dim 1 (`x.permute(0, 2, 1)` "
        "for BERT output)."
    )
    return expl, fix, {"num_features": want, "got": got}
