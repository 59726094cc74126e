"""Handlers for Linear and matrix-product errors: in_features, bmm, mv, dot."""

from __future__ import annotations

import math
import re
from typing import Any

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import fmt_int, fmt_product, fmt_shape, ints, move_code, num


def linear_mat(m: re.Match[str], ctx: Ctx) -> Result:
    a, b, c, d = num(m["a"]), num(m["b"]), num(m["c"]), num(m["d"])
    numbers: dict[str, Any] = {"mat1": [a, b], "mat2": [c, d], "got_features": b, "in_features": c}
    is_linear = ctx.layer in ("linear", "") and "@" not in ctx.step and "matmul" not in ctx.step
    expl = (
        f"A matrix product {a}x{b} @ {c}x{d} needs the inner sizes to match: {b} (columns of mat1) must "
        f"equal {c} (rows of mat2)."
    )
    if is_linear:
        expl += (
            f" For nn.Linear, mat1 is your input with every dim but the last flattened into rows ({a} "
            f"row{'s' if a != 1 else ''} of "
            f"{b}) and mat2 is the layer's weight transposed: in_features={c}, out_features={d}. So your "
            f"input's last dim is {b} but the layer was built for in_features={c}."
        )
    hints: list[str] = []
    shape = ctx.shape
    placed = False  # the context shows where the features are: no need to guess from the numbers
    if shape is not None:
        numbers["input_shape"] = list(shape)
        if len(shape) >= 3 and math.prod(shape[1:]) == c:
            placed = True
            hints.append(
                f"The layer expects the flattened features {fmt_product(shape[1:])} = {fmt_int(c)}: insert "
                f"`x.flatten(1)` -> [{shape[0]}, {c}] before it."
            )
        elif c in shape[:-1]:
            placed = True
            where = [i for i, s in enumerate(shape[:-1]) if s == c][-1]
            hints.append(
                f"The {c} is at {ctx.dim(where)}: move it last with {move_code(len(shape), where, len(shape) - 1)}."
            )
    if not placed and is_linear and b == 2 * c:
        expl += " " + _bidirectional(b, c, ctx)
        numbers["cause"] = "bidirectional"
        hints.append(
            f"After a bidirectional LSTM/GRU build the layer with in_features = 2 × hidden_size = {b}: "
            f"`nn.Linear(2 * {c}, {d})`."
        )
        if not _from_bidirectional(ctx):
            hints.append(f"(If instead a (batch, 2, {c}) tensor was flattened, pool over that axis.)")
    elif not placed and (shape is None or len(shape) == 2) and b > c and b % c == 0:
        k = b // c
        hints.append(
            f"{fmt_int(b)} = {k} × {c}: it looks like a (batch, {k}, {c}) tensor was flattened (e.g. "
            "`flatten(1)` "
            f"over tokens × hidden). To keep {c} features, pool over that axis first (`x.mean(dim=1)`, "
            f"`x[:, 0]` or `x[:, -1]`) instead of flattening, or set in_features={b}."
        )
    elif shape is None and c > b and c % b == 0:
        k = c // b
        hints.append(
            f"in_features {fmt_int(c)} = {k} × {b}: the layer expects a flattened (batch, {k}, {b}) "
            "tensor; if "
            f"your input is (batch, {k}, {b}), insert `x.flatten(1)` -> (batch, {fmt_int(c)}) before it."
        )
    if shape is not None and len(shape) >= 3 and a == math.prod(shape[:-1]):
        hints.append(
            f"Note the {fmt_int(a)} rows = {fmt_product(shape[:-1])}: Linear is applied to every position of a "
            f"{len(shape)}-D input; pool first (e.g. `x.mean(dim=1)` or `x[:, 0]`) for one vector per "
            "sample."
        )
    if (not is_linear or ctx.layer == "") and d == b:
        hints.append(f"For `a @ b`, b looks transposed ({c}x{d}): try `a @ b.T` (or `b.transpose(-2, -1)`).")
    fix = f"Build the layer with in_features={b} (nn.Linear({b}, {d})), or make the input's last dim {c}."
    if not is_linear:
        fix = f"Make the last dim of the left operand ({b}) equal the second-to-last dim of the right ({c})."
    if hints:
        fix += " " + " ".join(hints)
    return expl, fix, numbers


def _from_bidirectional(ctx: Ctx) -> bool:
    """True when the trace says the input's last dim is a bidirectional layer's 2·hidden_size."""
    return bool(ctx.symbols) and ctx.symbols[-1].startswith("2·")  # type: ignore[index]


def _bidirectional(b: int, c: int, ctx: Ctx) -> str:
    if _from_bidirectional(ctx):
        return (
            f"{b} = 2 × {c}: your input comes from a bidirectional LSTM/GRU, which concatenates its forward and "
            f"backward states, so it has 2 × hidden_size = {b} features; the Linear was built for {c} = hidden_size."
        )
    return (
        f"{b} = 2 × {c}: the usual cause is a bidirectional LSTM/GRU before this layer — it concatenates its "
        f"forward and backward states, so its output (and `torch.cat([h_n[-2], h_n[-1]], dim=1)`) has "
        f"2 × hidden_size = {b} features, while the Linear was built with in_features = hidden_size = {c}."
    )


def bmm(m: re.Match[str], ctx: Ctx) -> Result:
    want = ints(m["want"])
    got = ints(m["got"])
    expl = (
        "torch.bmm / @ on 3-D tensors multiplies (batch, n, m) by (batch, m, p): the second tensor's first "
        f"two dims must be [batch, m] = {fmt_shape(want)}, but they are {fmt_shape(got)}."
    )
    parts = []
    if len(want) == 2 and len(got) == 2:
        if want[0] != got[0]:
            parts.append(f"the batch sizes differ ({want[0]} vs {got[0]})")
        if want[1] != got[1]:
            parts.append(
                f"the inner size differs: the first tensor's last dim is {want[1]}, the second's dim 1 is {got[1]}"
            )
    if parts:
        expl += " So " + " and ".join(parts) + "."
    fix = (
        "If the second tensor is stored the other way round (batch, p, m), transpose it: "
        "`torch.bmm(a, b.transpose(1, 2))` (as in attention scores `q @ k.transpose(-2, -1)`). "
        "Batch sizes must be equal (or 1 with torch.matmul broadcasting)."
    )
    return expl, fix, {"expected": want, "got": got}


def matmul_rank(m: re.Match[str], ctx: Ctx) -> Result:
    which = m["which"]
    expl = f"torch.bmm needs 3-D (batch, n, m) tensors; {which} is not 3-D."
    fix = "Add a batch axis with `x.unsqueeze(0)`, or use torch.matmul / `@`, which broadcasts 2-D and 3-D operands."
    return expl, fix, {}


def mv(m: re.Match[str], ctx: Ctx) -> Result:
    r, c, v = num(m["r"]), num(m["c"]), num(m["v"])
    expl = f"A matrix-vector product ({r}x{c} @ vector of {v}) needs the vector length {v} to equal the columns {c}."
    fix = f"Make the vector length {c}, or transpose the matrix if it is stored as {c}x{r}: `mat.T @ vec`."
    return expl, fix, {"mat": [r, c], "vec": v}


def dot(m: re.Match[str], ctx: Ctx) -> Result:
    a, b = num(m["a"]), num(m["b"])
    expl = f"A dot product of two 1-D tensors needs equal lengths; got {a} and {b}."
    fix = "Check both vectors' shapes; for a matrix product keep them 2-D (e.g. `x.unsqueeze(0)`)."
    return expl, fix, {"sizes": [a, b]}
