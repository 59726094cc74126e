"""Handlers for the reshape family: view on a non-contiguous tensor, element counts, unflatten, split, flatten."""

from __future__ import annotations

import math
import re
from typing import Any

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import factorize, fmt_int, fmt_product, fmt_shape, ints, num


def view_stride(m: re.Match[str], ctx: Ctx) -> Result:
    expl = (
        ".view() never copies: it can only reinterpret memory that is laid out in the new order. After "
        "permute/transpose (or slicing) the tensor is a non-contiguous view, so the dims you are merging "
        "are not adjacent in memory."
    )
    if ctx.shape is not None:
        expl += f" Your input {fmt_shape(ctx.shape)} is such a view."
    fix = (
        "Use `.reshape(...)` (copies only when needed) instead of `.view(...)`, or call `.contiguous()` "
        "first: `x.contiguous().view(...)`. Remember that permuting then reshaping changes which numbers "
        "end up together."
    )
    return expl, fix, {}


def reshape_size(m: re.Match[str], ctx: Ctx) -> Result:
    shape = ints(m["shape"])
    numel = num(m["numel"])
    numbers: dict[str, Any] = {"target_shape": shape, "numel": numel}
    known = [s for s in shape if s != -1]
    prod_known = math.prod(known)
    n_infer = len(shape) - len(known)
    src = (
        f" Your tensor {fmt_shape(ctx.shape)} has {fmt_product(ctx.shape)} = {fmt_int(numel)} elements."
        if ctx.shape
        else ""
    )
    expl = f"reshape/view must keep the number of elements: the input has {fmt_int(numel)} ({factorize(numel)}).{src}"
    if n_infer == 1:
        numbers["known_product"] = prod_known
        if prod_known == 0:
            expl += " A 0 in the new shape leaves nothing for the -1 to fill."
            fix = "Remove the 0 from the shape."
        else:
            ratio = numel / prod_known
            known_text = f"({fmt_product(known)} = {fmt_int(prod_known)})" if len(known) > 1 else fmt_int(prod_known)
            expl += (
                f" The -1 would have to be {fmt_int(numel)} / {known_text} = {ratio:.4g}, which is not a whole number."
            )
            fix = (
                f"Choose the other sizes so that their product divides {fmt_int(numel)}: keep the sizes you know "
                "(batch, tokens, hidden) and split only one axis into factors of it, e.g. "
                "`x.reshape(x.size(0), 16, -1)`."
            )
    else:
        expl += f" The new shape holds {fmt_product(shape)} = {fmt_int(prod_known)} ≠ {fmt_int(numel)}."
        fits: list[tuple[int, int]] = []
        for i in range(len(shape)):
            rest = math.prod(shape[:i] + shape[i + 1 :])
            if rest > 0 and numel % rest == 0:
                fits.append((i, numel // rest))
        last = len(shape) - 1
        rest_last = math.prod(shape[:-1]) if shape else 1
        if rest_last > 0 and numel % rest_last == 0 and shape:
            v = numel // rest_last
            numbers["fitting_last_dim"] = v
            expl += (
                f" Keeping {fmt_shape(shape[:-1])}, the last dim must be {fmt_int(numel)} / "
                f"({fmt_product(shape[:-1])}) = {v}."
            )
            new = [*shape[:-1], v]
            fix = (
                f"Use `x.reshape({', '.join(map(str, new))})`, or let torch compute the last size: "
                f"`x.reshape({', '.join(map(str, shape[:-1]))}, -1)`."
            )
        elif shape:
            expl += (
                f" {fmt_product(shape[:-1])} = {fmt_int(rest_last)} does not divide {fmt_int(numel)}, so no last dim "
                "fits."
            )
            fix = "Change the other sizes so their product divides the element count, then put -1 in one place."
        else:
            fix = "Give a shape whose sizes multiply to the element count."
        others = [(i, v) for i, v in fits if i != last][:2]
        if others:
            alts = [[*shape[:i], v, *shape[i + 1 :]] for i, v in others]
            fix += " Other shapes that fit: " + ", ".join(fmt_shape(a) for a in alts) + "."
    if ctx.shape and shape and shape[0] not in (-1, ctx.shape[0]) and not ctx.after_ops:
        fix += (
            f" Your batch is {ctx.shape[0]}, not {shape[0]}: use `x.size(0)` or -1 instead of a "
            "hard-coded batch "
            "size (the last batch of a dataset is often smaller)."
        )
    return expl, fix, numbers


def multiple_infer(m: re.Match[str], ctx: Ctx) -> Result:
    expl = (
        "Only one size in reshape/view can be -1: torch can infer one missing factor, not how to split it between two."
    )
    fix = (
        "Write all sizes but one explicitly, e.g. `x.reshape(x.size(0), 16, -1)`, or use `x.size(i)` for "
        "the dims you keep."
    )
    if ctx.shape is not None:
        fix += f" Your input is {fmt_shape(ctx.shape)}."
    return expl, fix, {}


def unflatten_size(m: re.Match[str], ctx: Ctx) -> Result:
    sizes = ints(m["sizes"])
    d, size = num(m["dim"]), num(m["size"])
    known = [s for s in sizes if s != -1]
    pk = math.prod(known)
    known_str = f"{fmt_product(known)} = {fmt_int(pk)}" if len(known) > 1 else fmt_int(pk)
    expl = f"unflatten splits dim {d} (size {fmt_int(size)}) into {fmt_shape(sizes)}, but {known_str}"
    if -1 in sizes and pk:
        expl += f" does not divide {fmt_int(size)} ({fmt_int(size)} / {fmt_int(pk)} = {size / pk:.4g})."
    else:
        expl += f" ≠ {fmt_int(size)}."
    fix = (
        f"Pick sizes whose product is {fmt_int(size)} ({factorize(size)}), e.g. with one -1 and a divisor of "
        f"{fmt_int(size)}."
    )
    return expl, fix, {"sizes": sizes, "dim": d, "dim_size": size}


def split_size(m: re.Match[str], ctx: Ctx) -> Result:
    total, d = num(m["total"]), num(m["dim"])
    sizes = ints(m["sizes"])
    expl = (
        f"split with a list of sizes must cover dim {d} exactly: {' + '.join(map(str, sizes))} = "
        f"{sum(sizes)} ≠ {total}."
    )
    fix = (
        f"Make the sizes sum to {total}, or pass one int to split into equal chunks "
        f"(`x.split({sizes[0] if sizes else 1}, dim={d})`)."
    )
    return expl, fix, {"total": total, "dim": d, "sizes": sizes}


def flatten_args(m: re.Match[str], ctx: Ctx) -> Result:
    expl = "flatten(start_dim, end_dim) merges the dims from start_dim up to end_dim; start_dim came after end_dim."
    fix = (
        "Swap the two arguments, e.g. `x.flatten(1, 2)` to merge dims 1 and 2 (`x.flatten(1)` merges "
        "everything after the batch)."
    )
    return expl, fix, {}
