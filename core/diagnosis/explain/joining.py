"""Handlers for joining and padding: torch.cat, torch.stack, F.pad."""

from __future__ import annotations

import re

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import fmt_shape, ints, num


def cat_size(m: re.Match[str], ctx: Ctx) -> Result:
    d, exp, got, t = num(m["dim"]), num(m["exp"]), num(m["got"]), num(m["t"])
    expl = (
        f"torch.cat(..., dim={d}) joins tensors along dim {d}; every OTHER dim must be equal. At one of them "
        f"tensor 0 has size {exp} but tensor {t} has {got}."
    )
    fix = (
        "Print `[t.shape for t in tensors]`. Either concatenate along the dim where they really differ "
        "(dim=...), or make the other dims equal: pad/truncate texts to the same max_length, pool, or "
        "transpose one of them."
    )
    return expl, fix, {"cat_dim": d, "expected_size": exp, "got_size": got, "tensor_number": t}


def cat_size_old(m: re.Match[str], ctx: Ctx) -> Result:
    d, a, b, d2 = num(m["dim"]), num(m["a"]), num(m["b"]), num(m["d2"])
    expl = f"torch.cat(..., dim={d}) needs every other dim equal, but at dim {d2} the tensors have {a} and {b}."
    fix = f"Make dim {d2} equal, or concatenate along dim={d2} if that is the axis you meant to join."
    return expl, fix, {"cat_dim": d, "mismatch_dim": d2, "sizes": [a, b]}


def cat_rank(m: re.Match[str], ctx: Ctx) -> Result:
    a, b = num(m["a"]), num(m["b"])
    expl = f"torch.cat needs tensors with the same number of dims; got {a}-D and {b}-D."
    fix = (
        "Add the missing axis to the smaller one: e.g. a pooled (batch, hidden) vector next to (batch, "
        "tokens, "
        "hidden) needs `v.unsqueeze(1)` -> (batch, 1, hidden)."
    )
    return expl, fix, {"ndims": [a, b]}


def stack_size(m: re.Match[str], ctx: Ctx) -> Result:
    s1, e1, s2, e2 = ints(m["s1"]), num(m["e1"]), ints(m["s2"]), num(m["e2"])
    expl = f"torch.stack needs identical shapes, but entry {e1} is {fmt_shape(s1)} and entry {e2} is {fmt_shape(s2)}"
    if len(s1) == len(s2):
        diff = [i for i, (x, y) in enumerate(zip(s1, s2, strict=True)) if x != y]
        expl += " (they differ at " + ", ".join(f"dim {i}: {s1[i]} vs {s2[i]}" for i in diff) + ")."
    else:
        expl += f" ({len(s1)}-D vs {len(s2)}-D)."
    fix = (
        "Pad to a common length (tokenizer `padding=True` / `padding='max_length'`, or "
        "`torch.nn.utils.rnn.pad_sequence`), or use torch.cat to join along an existing dim."
    )
    return expl, fix, {"shape_a": s1, "shape_b": s2, "entries": [e1, e2]}


def pad_odd(m: re.Match[str], ctx: Ctx) -> Result:
    expl = (
        "F.pad takes (left, right) pairs, starting from the LAST dim and moving backwards; an odd count "
        "is not a set of pairs."
    )
    fix = (
        "`F.pad(x, (0, 0, 0, 2))` pads 2 positions at the end of dim -2 (tokens of (batch, tokens, "
        "hidden)); `(1, 1)` pads the last dim."
    )
    return expl, fix, {}


def pad_long(m: re.Match[str], ctx: Ctx) -> Result:
    n, nd = num(m["n"]), num(m["nd"])
    expl = (
        f"F.pad got {n} numbers = {n // 2} (left, right) pairs, but the tensor has only {nd} dims (at "
        f"most {2 * nd} numbers)."
    )
    fix = f"Give at most {nd} pairs, last dim first: `(last_l, last_r, prev_l, prev_r, ...)`."
    return expl, fix, {"pad_length": n, "ndim": nd}
