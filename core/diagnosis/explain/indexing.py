"""Handlers for indexing errors: index out of bounds, select, gather, narrow, too many indices, masks."""

from __future__ import annotations

import re
from typing import Any

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import fmt_shape, ints, num


def index_range(m: re.Match[str], ctx: Ctx) -> Result:
    idx, d, size = num(m["idx"]), num(m["dim"]), num(m["size"])
    expl = (
        f"Index {idx} does not exist at dim {d}: it has size {size}, so valid indices are 0..{size - 1} "
        f"(or -{size}..-1)."
    )
    if ctx.shape is not None and len(ctx.shape) > d:
        expl = expl.replace(f"at dim {d}", f"at {ctx.dim(d)}", 1)
    tokens_axis = (ctx.axes is not None and d < len(ctx.axes) and "token" in ctx.axes[d].lower()) or (
        ctx.axes is None and d == 1
    )
    fix = f"Use an index below {size}"
    if idx == size:
        fix += f" (off by one: the last element is {size - 1}, or -1)"
    fix += "."
    if tokens_axis:
        fix += (
            f" If dim {d} is the token axis, the sequence is only {size} tokens long (padding/truncation to "
            "max_length): take the last token with `x[:, -1]`, [CLS] with `x[:, 0]`, or raise max_length."
        )
    return expl, fix, {"index": idx, "dim": d, "size": size}


def select_range(m: re.Match[str], ctx: Ctx) -> Result:
    idx, d = num(m["idx"]), num(m["dim"])
    shape = ints(m["shape"])
    size = shape[d] if 0 <= d < len(shape) else 0
    expl = (
        f"Index {idx} does not exist at dim {d} of {fmt_shape(shape)}: valid indices are 0..{size - 1} "
        f"(or -{size}..-1)."
    )
    fix = f"Use an index below {size}; `-1` is the last element."
    return expl, fix, {"index": idx, "dim": d, "size": size, "input_shape": shape}


def gather_range(m: re.Match[str], ctx: Ctx) -> Result:
    idx, size = num(m["idx"]), num(m["size"])
    expl = f"index_select/gather got index {idx}, but the dim has size {size} (valid 0..{size - 1})."
    fix = f"Keep every index below {size}."
    return expl, fix, {"index": idx, "size": size}


def narrow(m: re.Match[str], ctx: Ctx) -> Result:
    s, n, size = num(m["start"]), num(m["len"]), num(m["size"])
    expl = f"narrow(dim, start={s}, length={n}) would read up to position {s + n - 1}, but the dim has size {size}."
    fix = (
        f"Use start + length <= {size}, e.g. length {max(size - s, 0)}; slicing `x[:, {s}:{s + n}]` clips "
        "instead of failing."
    )
    return expl, fix, {"start": s, "length": n, "size": size}


def too_many_indices(m: re.Match[str], ctx: Ctx) -> Result:
    nd = num(m["nd"])
    expl = f"You indexed with more positions than the tensor has dims ({nd})."
    fix = (
        f"Index with at most {nd} positions. Usually an earlier step removed a dim: pooling (batch, tokens, "
        "hidden) -> (batch, hidden) or `x[:, -1, :]`; after that `x[:, 0, :]` no longer applies - use "
        "`x[:, 0]`."
    )
    return expl, fix, {"ndim": nd}


def mask_shape(m: re.Match[str], ctx: Ctx) -> Result:
    mask, tensor = ints(m["mask"]), ints(m["tensor"])
    expl = (
        f"A boolean mask must match the leading dims of the tensor: mask {fmt_shape(mask)} vs tensor "
        f"{fmt_shape(tensor)}."
    )
    fix = (
        "Build the mask with the same leading shape (e.g. the attention mask (batch, tokens) for (batch, "
        "tokens, hidden))."
    )
    return expl, fix, {"mask_shape": mask, "tensor_shape": tensor}


_SHAPE_LIST = re.compile(r"\[([\d, ]{0,60})\]")


def index_broadcast(m: re.Match[str], ctx: Ctx) -> Result:
    """``shape mismatch: indexing tensors could not be broadcast together with shapes [13], [2]``."""
    shapes = [ints(s) for s in _SHAPE_LIST.findall(m["shapes"])]
    numbers: dict[str, Any] = {"index_shapes": shapes}
    listed = " and ".join(fmt_shape(s) for s in shapes)
    expl = (
        "Indexing with several index tensors, `x[i, j]`, pairs them element by element — it takes x[i[0], j[0]], "
        f"x[i[1], j[1]], ... — so they must have the same shape (or broadcast). Yours are {listed}."
    )
    ones = [s[0] for s in shapes if len(s) == 1]
    if len(shapes) == 2 and len(ones) == 2:
        rows, texts = ones
        expl += (
            f" The usual case is picking each text's last real token, `x[torch.arange(x.shape[0]), lengths - 1]`: "
            f"torch.arange(x.shape[0]) has one entry per row of dim 0 ({rows}) and lengths one per text ({texts}), "
            f"so dim 0 of x is not the batch: x is (seq_len, batch, hidden) — the output of an LSTM/GRU without "
            "batch_first=True, or a transposed tensor — and the indices run along the wrong axes."
        )
        if ctx.shape is not None and len(ctx.shape) >= 2 and ctx.shape[:2] == (rows, texts):
            expl += f" Your x is {fmt_shape(ctx.shape)}: dim 0 has the {rows} positions, dim 1 the {texts} texts."
        fix = (
            "Index the batch where it is: for (seq_len, batch, hidden) use `x[lengths - 1, torch.arange(x.shape[1])]`, "
            "or make x batch-first first (batch_first=True on the LSTM/GRU, or `x.transpose(0, 1)`) and keep "
            f"`x[torch.arange(x.shape[0]), lengths - 1]`. Both index tensors need one entry per text ({texts} here, "
            "if that is your batch)."
        )
    else:
        fix = (
            "Give the index tensors the same shape (one entry per element you want), or add size-1 dims where one "
            "should broadcast against the other, e.g. `x[torch.arange(b)[:, None], idx]` for a (b, k) idx."
        )
    return expl, fix, numbers
