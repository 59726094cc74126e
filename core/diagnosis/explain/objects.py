"""Handlers for the wrong kind of object: an LSTM's tuple or a ModelOutput used as a tensor; dtype and device."""

from __future__ import annotations

import re

from core.diagnosis.explain.context import Ctx, Result


def tuple_input(m: re.Match[str], ctx: Ctx) -> Result:
    expl = (
        "A tuple was used where a tensor is needed. nn.LSTM/GRU return a tuple: output, (h_n, c_n) for LSTM "
        "(output, h_n for GRU), and Hugging Face models may return tuples too."
    )
    fix = (
        "Unpack it: `output, (h_n, c_n) = lstm(x)`; then use output (batch, seq, num_directions * hidden) or "
        "`h_n[-1]` (batch, hidden). In nn.Sequential wrap the LSTM in a small module that returns only "
        "output."
    )
    return expl, fix, {}


def model_output(m: re.Match[str], ctx: Ctx) -> Result:
    cls = m["cls"]
    expl = f"{cls} is a container of tensors, not a tensor."
    fix = (
        "Take the tensor you need: `outputs.last_hidden_state` (batch, tokens, hidden), "
        "`outputs.pooler_output` "
        "(batch, hidden), or `outputs.hidden_states[-1]` with output_hidden_states=True."
    )
    return expl, fix, {"class": cls}


def dtype_mismatch(m: re.Match[str], ctx: Ctx) -> Result:
    expl = "The operands have different dtypes (e.g. integer token ids or float64 numpy data meeting float32 weights)."
    fix = (
        "Convert the input: `x.float()` (or `x.to(layer.weight.dtype)`); numpy arrays arrive as float64, use "
        "`torch.from_numpy(a).float()`. Token ids for nn.Embedding must be long."
    )
    return expl, fix, {}


def device_mismatch(m: re.Match[str], ctx: Ctx) -> Result:
    expl = "The tensors (or a tensor and a layer's weights) live on different devices, e.g. cuda:0 and cpu."
    fix = (
        "Move both to one device: `model.to(device)` and `x = x.to(device)` (layers built later need "
        "`.to(device)` too)."
    )
    return expl, fix, {}


def device_assert(m: re.Match[str], ctx: Ctx) -> Result:
    """``CUDA error: device-side assert triggered``: a GPU kernel's own check failed; CUDA reports it late, without
    the reason (and every CUDA call after it fails too)."""
    expl = (
        "A check inside a GPU kernel failed. CUDA does not say which, and reports it late — often at a later line "
        "than the one that caused it. Almost always it is an index out of range: a class id ≥ the number of "
        "classes (or negative) in CrossEntropyLoss / NLLLoss, a token id ≥ the vocabulary size in nn.Embedding, "
        "or an index out of bounds in indexing / gather."
    )
    fix = (
        "Run the same batch on CPU (`model.to('cpu')` and the tensors too): torch then raises the real error at the "
        "right line (e.g. `Target 3 is out of bounds.`). Or rerun with the environment variable "
        "CUDA_LAUNCH_BLOCKING=1. Check `labels.max() < num_classes` and `input_ids.max() < vocab_size`; restart the "
        "Python process afterwards, the CUDA context is unusable after this error."
    )
    return expl, fix, {}
