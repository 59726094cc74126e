"""Handlers for ``nn.utils.rnn.pack_padded_sequence``: the lengths (one CPU int64 per text), their count, order, zeros.

The usual source of lengths in a BERT pipeline is the attention mask: ``lengths = attention_mask.sum(1).cpu()``.
"""

from __future__ import annotations

import re
from typing import Any

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import num

_LENGTHS = "`lengths = attention_mask.sum(1).cpu()`"


def lengths_tensor(m: re.Match[str], ctx: Ctx) -> Result:
    """``'lengths' argument should be a 1D CPU int64 tensor, but got 2D cpu Long tensor``."""
    nd, device, dtype = num(m["nd"]), m["device"], m["dtype"]
    numbers: dict[str, Any] = {"ndim": nd, "device": device, "dtype": dtype}
    expl = (
        "pack_padded_sequence needs lengths as ONE number per text: a 1-D int64 tensor on the CPU, shape (batch,)"
        f" — even when the data is on a GPU. Yours is {nd}-D, on {device}, {dtype}."
    )
    parts = []
    if nd == 2:
        expl += (
            " A 2-D tensor here is usually the attention mask itself, (batch, seq_len) of 0/1, passed where the "
            "lengths belong."
        )
    if nd != 1:
        parts.append(f"count the real tokens of each text: {_LENGTHS} -> (batch,)")
    if device != "cpu":
        parts.append("move the lengths to the CPU with `.cpu()` (only the padded data goes to the GPU)")
    if dtype.lower() not in ("long", "int64"):
        parts.append("make them int64 with `.long()`")
    if not parts:
        parts.append(f"build them as {_LENGTHS}")
    fix = "Give one length per text: " + "; ".join(parts) + "."
    return expl, fix, numbers


def lengths_count(m: re.Match[str], ctx: Ctx) -> Result:
    """``Expected `len(lengths)` to be equal to batch_size, but got 4 (batch_size=10)``."""
    n, batch = num(m["n"]), num(m["batch"])
    expl = (
        f"pack_padded_sequence got {n} lengths for a batch of {batch}: it needs one length per text. It reads the "
        "batch from dim 1 of the data unless batch_first=True (the default is (seq_len, batch, features))."
    )
    fix = (
        f"If your data is (batch, seq_len, features) — {n} texts of {batch} tokens — pass batch_first=True. "
        f"Otherwise compute the lengths from the same batch: {_LENGTHS} (one per text, shape (batch,))."
    )
    return expl, fix, {"lengths_count": n, "batch_size": batch}


def lengths_order(m: re.Match[str], ctx: Ctx) -> Result:
    """```lengths` array must be sorted in decreasing order when `enforce_sorted` is True``."""
    expl = (
        "By default (enforce_sorted=True) pack_padded_sequence wants the texts ordered longest first; a batch of "
        "texts in their natural order is not."
    )
    fix = (
        "Pass enforce_sorted=False: torch sorts the batch for you and `pad_packed_sequence` / h_n come back in "
        "your original order. (Sorting yourself is only needed for ONNX export.)"
    )
    return expl, fix, {}


def lengths_zero(m: re.Match[str], ctx: Ctx) -> Result:
    """``Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0``."""
    expl = (
        "A length of 0 (or less) means an empty sequence, which cannot be packed. Usually the lengths were summed "
        "over the wrong axis (`mask.sum(0)` counts texts per position), or an empty text is in the batch."
    )
    fix = (
        f"Count the tokens per text: {_LENGTHS}, and drop empty texts (a tokenized text always has at least "
        "[CLS] and [SEP]); `lengths.clamp(min=1)` keeps a batch running."
    )
    return expl, fix, {}
