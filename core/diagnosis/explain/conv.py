"""Handlers for convolution and pooling errors: channels at dim 1, rank, kernel longer than the input, padding."""

from __future__ import annotations

import math
import re
from typing import Any

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import fmt_shape, ints, move_code, move_perm, num


def conv_channels(m: re.Match[str], ctx: Ctx) -> Result:
    groups = num(m["groups"])
    weight = ints(m["weight"])
    in_shape = ints(m["input"])
    exp, got = num(m["exp"]), num(m["got"])
    nd = max(len(weight) - 2, 1)
    layer = f"Conv{nd}d"
    layout = {1: "(batch, channels, length)", 2: "(batch, channels, height, width)"}.get(nd, "(batch, channels, ...)")
    unbatched = ctx.shape is not None and len(ctx.shape) == len(in_shape) - 1
    numbers: dict[str, Any] = {
        "groups": groups,
        "weight_shape": weight,
        "input_shape": in_shape,
        "expected_channels": exp,
        "got_channels": got,
    }
    expl = (
        f"{layer} reads its input as {layout} and takes the channels from dim 1. The layer was built "
        f"for {exp} input channels (weight {fmt_shape(weight)} = out_channels {weight[0]}, in_channels"
        f"{'/groups' if groups > 1 else ''} {weight[1] if len(weight) > 1 else '?'}, kernel), "
        f"but your input {fmt_shape(in_shape)} has {got} at dim 1."
    )
    if groups > 1:
        expl += f" With groups={groups}, in_channels = {weight[1]} × {groups} = {exp}."
    if unbatched and ctx.shape is not None:
        expl += (
            f" Your tensor {fmt_shape(ctx.shape)} is {len(ctx.shape)}-D, so {layer} treated it as ONE unbatched "
            f"sample (channels = {ctx.shape[0]}) and added the leading 1."
        )
        if len(ctx.shape) == 2 and nd == 1:
            expl += " A (batch, hidden) sentence vector (after pooling) has no token axis to convolve over."
            fix = (
                "Keep the token axis: use pooling 'none' (the un-pooled (batch, tokens, hidden) output) and "
                f"insert `x.permute(0, 2, 1)` -> (batch, {exp}, tokens) before the {layer}. For a single "
                f"vector per sample, `x.unsqueeze(-1)` -> (batch, hidden, 1) works only with kernel_size=1 "
                "(then it is just a Linear layer)."
            )
            numbers["input_shape"] = in_shape
            return expl, fix, numbers
    elif in_shape and in_shape[0] == 1 and ctx.shape is None:
        expl += (
            f" (If your tensor is {len(in_shape) - 1}-D, torch treated it as one unbatched sample and "
            "added the leading 1; a pooled (batch, hidden) sentence vector has no token axis to convolve "
            "over: use the un-pooled (batch, tokens, hidden) output instead.)"
        )
    positions = [i for i, s in enumerate(in_shape) if s == exp and i != 1]
    if positions:
        p = positions[-1]
        numbers["channels_at_dim"] = p
        shown_shape = ctx.shape if (ctx.shape is not None and len(ctx.shape) == len(in_shape)) else in_shape
        expl += f" The {exp} is at {ctx.dim(p, shown_shape)}"
        if nd == 1 and len(in_shape) == 3 and p == 2:
            expl += (
                ": this is the (batch, tokens, hidden) layout BERT produces, hidden last, while "
                f"{layer} wants the features in the middle."
            )
        else:
            expl += "."
        if unbatched:
            code = move_code(len(in_shape) - 1, p - 1, 0)
            new = [in_shape[p]] + [s for i, s in enumerate(in_shape[1:], 1) if i != p]
        else:
            code = move_code(len(in_shape), p, 1)
            perm = move_perm(len(in_shape), p, 1)
            new = [in_shape[i] for i in perm]
        fix = (
            f"Move dim {p} to dim 1 before this layer: insert {code} -> {fmt_shape(new)}. Do not use "
            ".view() or .reshape() for this: they keep the memory order and would mix tokens and "
            f"features. (If {got} really are your channels, build the layer with in_channels={got}.)"
        )
    else:
        expl += f" No dim of your input has size {exp}."
        fix = (
            f"Build the layer with in_channels={got} (nn.{layer}({got}, {weight[0]}, kernel_size=...)) so it "
            f"matches dim 1, or change the previous step so that dim 1 holds {exp} channels."
        )
    return expl, fix, numbers


def conv_rank_fix(op: str, shape: list[int], lo: int, hi: int) -> str:
    r = len(shape)
    if r > hi:
        extra = r - hi
        singletons = [i for i, s in enumerate(shape) if s == 1]
        if len(singletons) >= extra:
            code = "x" + "".join(f".squeeze({i})" for i in sorted(singletons[:extra], reverse=True))
            return f"Drop the size-1 dim(s): `{code}`."
        merged = [math.prod(shape[: extra + 1]), *shape[extra + 1 :]]
        return (
            f"Merge the extra leading dims into the batch: `x.flatten(0, {extra})` -> {fmt_shape(merged)} "
            "(and unflatten the result afterwards), or pool/select away the extra axis first."
        )
    missing = lo - r
    return (
        f"Add the missing dim(s): `x.unsqueeze(0)` adds a batch axis{', ' if missing > 1 else ''}"
        f"{'`x.unsqueeze(1)` a single channel' if missing > 1 else ''}. A 1-D pooled vector has no length "
        f"axis for {op} to slide over: feed the un-pooled (batch, tokens, hidden) output, permuted to "
        "(batch, hidden, tokens)."
    )


def conv_rank(m: re.Match[str], ctx: Ctx) -> Result:
    op = m["op"].lower()
    shape = ints(m["shape"])
    lo, hi = num(m["lo"]), num(m["hi"])
    layout = {
        "conv1d": "(batch, channels, length) or unbatched (channels, length)",
        "conv2d": "(batch, channels, height, width) or unbatched (channels, height, width)",
    }.get(op, "(batch, channels, ...)")
    expl = f"{op} accepts {hi}-D {layout}; your input {fmt_shape(shape)} is {len(shape)}-D."
    return expl, conv_rank_fix(op, shape, lo, hi), {"input_shape": shape, "expected_ndim": [lo, hi]}


def conv_rank_old(m: re.Match[str], ctx: Ctx) -> Result:
    want = num(m["want"])
    weight = ints(m["weight"])
    shape = ints(m["shape"])
    op = f"conv{max(len(weight) - 2, 1)}d"
    expl = (
        f"{op} (weight {fmt_shape(weight)}) expects {want}-D input (batch, channels, ...); your input "
        f"{fmt_shape(shape)} is {len(shape)}-D."
    )
    return expl, conv_rank_fix(op, shape, want, want), {"input_shape": shape, "expected_ndim": [want, want]}


def kernel_too_large(m: re.Match[str], ctx: Ctx) -> Result:
    size = ints(m["size"])
    kernel = ints(m["kernel"])
    pairs = list(zip(size, kernel, strict=False))
    i = next((j for j, (s_, k_) in enumerate(pairs) if k_ > s_), 0)
    s_i, k = pairs[i] if pairs else (0, 0)
    expl = (
        f"After padding, each channel has spatial size {' x '.join(map(str, size))} but the kernel spans "
        f"{' x '.join(map(str, kernel))}: a window of {k} cannot fit in {s_i} positions. "
    )
    if len(size) == 1:
        expl += (
            "Conv1d slides over the LAST dim (length); in BERT pipelines that is the token axis after "
            "`x.permute(0, 2, 1)`."
        )
    else:
        expl += f"Conv{len(size)}d slides over the last {len(size)} dims."
    if ctx.shape is not None:
        expl += f" Your input {fmt_shape(ctx.shape)} has {ctx.shape[-1]} at the last dim."
    fix = (
        f"Pad the input so the kernel fits: padding={(k - 1) // 2} (or padding='same' with stride 1) keeps "
        f"the length; or use kernel_size <= {s_i}. If the last dim is tiny because the axes are swapped "
        "(channels last) or the tokens were pooled away, permute so tokens are last, or skip pooling "
        "before the convolution; very short texts may also need a larger max_length with padding."
    )
    return expl, fix, {"padded_input_size": size, "kernel_size": kernel}


def pool_output_size(m: re.Match[str], ctx: Ctx) -> Result:
    op, size = m["op"], num(m["size"])
    expl = (
        f"{op} would produce an output of size {size}: the pooling window (kernel_size) is longer than the "
        "(padded) last dim of the input. Pooling layers slide over the LAST dim, like Conv1d."
    )
    if ctx.shape is not None:
        expl += f" Your input {fmt_shape(ctx.shape)} has {ctx.shape[-1]} there."
    fix = (
        "Use a kernel_size no larger than the last dim, pad the input, or pool over the token axis after "
        "`x.permute(0, 2, 1)`; to pool a whole sequence to one value use nn.AdaptiveMaxPool1d(1) or "
        "`x.amax(dim=-1)`."
    )
    return expl, fix, {"output_size": size}


def conv_padding_same(m: re.Match[str], ctx: Ctx) -> Result:
    expl = (
        "padding='same' is valid in PyTorch's Conv1d/Conv2d, but only with stride=1: with a stride the "
        "output cannot have the same length as the input."
    )
    fix = "Use stride=1 with padding='same', or give an integer padding, e.g. padding=(kernel_size - 1) // 2."
    return expl, fix, {}


def conv_padding_invalid(m: re.Match[str], ctx: Ctx) -> Result:
    mode = m["mode"]
    expl = f"padding={mode!r} is not a PyTorch option: Conv layers accept an int/tuple, 'same' or 'valid'."
    fix = "Use padding='same' (stride 1), padding='valid' (no padding) or an integer."
    if mode == "causal":
        fix += (
            " For Keras-style causal padding, pad only on the left yourself: "
            "`F.pad(x, (kernel_size - 1, 0))` before a Conv1d with padding=0."
        )
    return expl, fix, {"padding": mode}
