"""Handlers for LSTM/GRU initial states (h0, c0): shapes that do not fit the input, reasoned from the numbers.

``Expected hidden[0] size (1, 8, 300), got [1, 32, 300]`` has several usual causes, and the numbers tell them apart
(:func:`state_causes`): only the batch differs (the last, smaller batch of an epoch with a hard-coded h0; a
(batch, seq) / (seq, batch) mix-up; a decoder step unsqueezed on the wrong dim), only num_layers × num_directions
differs (a bidirectional or multi-layer layer given a one-direction state), only the features differ (an encoder's
output or a projected vector of another size), or the state is a whole output sequence.
"""

from __future__ import annotations

import re
from typing import Any

from core.diagnosis.explain.causes import Cause, join_because, join_fixes
from core.diagnosis.explain.context import Ctx, Result, layer_name
from core.diagnosis.explain.formatting import fmt_shape, ints, num

_STATE = {"hidden[0]": "h0 (hidden[0])", "hidden[1]": "c0 (hidden[1])", "hidden": "h0", "cell": "c0 (the cell state)"}


def _batch_code(ctx: Ctx) -> tuple[str, str]:
    """(the expression for the batch size, a note for the other layout) from the layer's batch_first, if known."""
    bf = ctx.params.get("batch_first")
    if bf is None:
        return "x.size(0)", " (`x.size(1)` without batch_first=True)"
    return ("x.size(0)", "") if bf else ("x.size(1)", "")


def state_causes(want: list[int], got: list[int], ctx: Ctx) -> list[Cause]:
    """Likely causes, most likely first, of an initial state ``got`` where (layers·directions, batch, hidden)
    ``want`` is needed. Empty when the shapes are not both 3-D."""
    if len(want) != 3 or len(got) != 3:
        return []
    n_states, batch, hidden = want
    g_states, g_batch, g_hidden = got
    name = layer_name(ctx, "LSTM/GRU")
    b_code, b_note = _batch_code(ctx)
    rebuild = (
        f"Build the state from the input on every forward: `h0 = torch.zeros({n_states}, {b_code}, {hidden}, "
        f"device=x.device)`{b_note}, and `c0 = torch.zeros_like(h0)` for an LSTM — or leave them out: PyTorch "
        f"starts from zeros."
    )
    causes: list[Cause] = []
    if got == [batch, n_states, hidden] and batch != n_states:
        return [
            Cause(
                "batch_first_state",
                f"Your state is (batch, num_layers × num_directions, hidden) = {fmt_shape(got)}: built batch-first. "
                "Initial states are (num_layers × num_directions, batch, hidden_size) even with batch_first=True.",
                f"{rebuild} To reuse a batch-first tensor `h`, use `h.transpose(0, 1).contiguous()`.",
                label="the state is batch-first",
            )
        ]
    output_like = (g_batch == batch and g_hidden == hidden and g_states > 8 and g_states != 2 * n_states) or (
        g_states == batch and g_hidden == hidden and g_batch not in (n_states, batch) and batch != n_states
    )  # (seq, batch, hidden) or (batch, seq, hidden): every step of an output sequence
    if output_like:
        last = "`out[-1].unsqueeze(0)`" if g_batch == batch else "`out[:, -1].unsqueeze(0)`"
        return [
            Cause(
                "encoder_output",
                f"Your state {fmt_shape(got)} looks like a whole output sequence (every time step of {batch} "
                "texts), not a state: an encoder's output passed where its final state h_n belongs.",
                f"Pass the encoder's final states: `_, (h_n, c_n) = encoder(x)` then `decoder(y, (h_n, c_n))`; for "
                f"one vector per text take {last} -> (1, {batch}, {hidden}).",
                label="an output was passed as the state",
            )
        ]
    if g_batch != batch:
        causes += _batch_causes(batch, g_batch, name, rebuild, ctx)
    if g_states != n_states:
        causes.append(_layers_cause(n_states, g_states, name, ctx, b_code, hidden))
    if g_hidden != hidden:
        causes.append(_hidden_cause(hidden, g_hidden, name))
    return causes


def _batch_causes(batch: int, g_batch: int, name: str, rebuild: str, ctx: Ctx) -> list[Cause]:
    shape, bf = ctx.shape, ctx.params.get("batch_first")
    mixup_fix = (
        "Set batch_first=True for (batch, seq, features) inputs (the state stays (num_layers × num_directions, "
        "batch, hidden_size) either way)."
    )
    if shape is not None and len(shape) == 3 and bf is False and shape[0] == g_batch and shape[1] == batch:
        return [
            Cause(
                "axes_mixup",
                f"Your input {fmt_shape(shape)} is (batch, seq, features), but with batch_first=False the {name} "
                f"reads (seq, batch, features): it sees a batch of {batch} (your sequence length).",
                mixup_fix,
            )
        ]
    mixup = Cause(
        "axes_mixup",
        f"The axes may be read the other way round: without batch_first=True the {name} reads (seq, batch, "
        f"features), so {batch} would be your sequence length and {g_batch} your batch.",
        mixup_fix,
        label="the axes are mixed up",
    )
    if batch == 1:
        decoder = Cause(
            "decoder_unsqueeze",
            f"The {name} sees a batch of 1 — its input holds ONE sequence — while your state is for {g_batch} texts. "
            f"A single decoder step x of shape ({g_batch}, features) unsqueezed on the wrong dim does this: with "
            f"batch_first=True, `x.unsqueeze(0)` gives (1, {g_batch}, features), one sequence of {g_batch} steps.",
            f"Give every text a sequence of length 1: `x.unsqueeze(1)` -> ({g_batch}, 1, features) with "
            f"batch_first=True, or `x.unsqueeze(0)` -> (1, {g_batch}, features) without.",
            label="a decoder step was unsqueezed on the wrong dim",
        )
    if batch < g_batch:
        last = Cause(
            "last_batch",
            f"Only the batch differs: the input has {batch} sequence{'s' if batch != 1 else ''}, the state was built "
            f"for {g_batch}. This is "
            f"the last, smaller batch of an epoch (a dataset that does not divide into batches of {g_batch}) "
            "meeting a state built with a fixed batch size.",
            f"{rebuild} Do not hard-code `torch.zeros(..., {batch}, ...)` either: that fits the last batch and "
            f"breaks every full batch of {g_batch}. (`drop_last=True` in the DataLoader hides the problem by "
            "dropping the last texts.)",
            label="it is the last, smaller batch",
        )
        return [decoder, last, mixup] if batch == 1 else [last, mixup]
    carried = Cause(
        "state_for_other_batch",
        f"The state was built for {g_batch} text{'s' if g_batch != 1 else ''}, the input has {batch}: "
        + (
            "an `init_hidden(1)` written for single-text inference"
            if g_batch == 1
            else "a state carried over from a previous, smaller batch (stateful training), or a hard-coded size"
        )
        + ".",
        rebuild,
        label="the state was built for another batch",
    )
    return [carried, mixup] if g_batch == 1 else [mixup, carried]


def _layers_cause(n_states: int, g_states: int, name: str, ctx: Ctx, b_code: str, hidden: int) -> Cause:
    layers, bi = ctx.params.get("num_layers"), ctx.params.get("bidirectional")
    formula = f"num_layers × num_directions = {n_states}"
    if layers is not None or bi is not None:
        formula = f"num_layers={layers or 1} × num_directions={2 if bi else 1} = {n_states}"
    because = f"Dim 0 must be {formula}; your state has {g_states}."
    fix = f"Build it with {n_states} entries first: `torch.zeros({n_states}, {b_code}, {hidden})`."
    if n_states == 2 * g_states:
        because += (
            f" The {name} is bidirectional (or has twice the layers) and the state was built for one direction "
            "(or one layer): each direction of each layer has its own initial state."
        )
    elif g_states == 2 * n_states:
        because += (
            " A bidirectional (or two-layer) encoder's h_n handed to a decoder with one direction (or one layer) "
            "looks like this."
        )
        fix += (
            " To start a one-direction decoder from a bidirectional encoder, combine the directions: "
            "`h_n.view(-1, 2, h_n.size(1), h_n.size(2)).sum(1)`, or give both the same num_layers and directions."
        )
    return Cause("layers_directions", because, fix, "num_layers × num_directions differs")


def _hidden_cause(hidden: int, g_hidden: int, name: str) -> Cause:
    if g_hidden == 2 * hidden:
        because = (
            f"{g_hidden} = 2 × {hidden}: a bidirectional encoder's features (its output, or "
            f"`torch.cat([h_n[-2], h_n[-1]], dim=1)`) passed as the state of a {name} with hidden_size={hidden}."
        )
    else:
        because = (
            f"The state has {g_hidden} features but hidden_size={hidden}: it comes from another module — an "
            "encoder with another hidden size, or a pooled sentence vector."
        )
    because += " (With proj_size, h0 has proj_size features and c0 hidden_size.)"
    fix = f"Project it first: `nn.Linear({g_hidden}, {hidden})`, or build the {name} with hidden_size={g_hidden}."
    return Cause("hidden_size", because, fix, "the features differ")


def rnn_hidden(m: re.Match[str], ctx: Ctx) -> Result:
    """``Expected hidden[0] size (1, 8, 300), got [1, 32, 300]`` (and the GRU, c0 and libtorch wordings)."""
    want, got = ints(m["want"]), ints(m["got"])
    state = _STATE.get(m["which"], "h0/c0")
    name = layer_name(ctx, "LSTM/GRU")
    causes = state_causes(want, got, ctx)
    expl = (
        f"The initial state {state} you passed is {fmt_shape(got)}; this {name} needs {fmt_shape(want)} = "
        "(num_layers × num_directions, batch, hidden_size) for this input — NOT batch-first, even with "
        "batch_first=True."
    )
    if causes:
        expl += " " + join_because(causes)
        fix = join_fixes(causes)
    else:
        fix = "Build it with that shape from the input (`x.size(0)` for the batch), or leave it out (zeros)."
    numbers: dict[str, Any] = {
        "expected_hidden_shape": want,
        "got_hidden_shape": got,
        "state": state.split()[0],
        "causes": [c.code for c in causes],
    }
    return expl, fix, numbers


def cell_batch(m: re.Match[str], ctx: Ctx) -> Result:
    """LSTMCell / GRUCell: ``Input batch size 32 doesn't match hidden0 batch size 8``."""
    batch, g_batch, idx = num(m["batch"]), num(m["hbatch"]), m["idx"]
    state = "h" if idx == "0" else "c"
    expl = (
        f"An LSTMCell/GRUCell state is (batch, hidden_size); your input has {batch} rows, the state {state} {g_batch}."
    )
    if batch < g_batch:
        expl += " The last, smaller batch of an epoch meeting a state built with a fixed batch size does this."
    else:
        expl += " A state built for another batch (a hard-coded size, or carried over from a smaller batch) does this."
    fix = (
        "Create the state from the input at the start of each sequence: `h = torch.zeros(x.size(0), hidden_size, "
        "device=x.device)` (and `c = torch.zeros_like(h)`), or leave it out."
    )
    return expl, fix, {"batch": batch, "state_batch": g_batch, "state": state}


def cell_hidden(m: re.Match[str], ctx: Ctx) -> Result:
    """LSTMCell / GRUCell: ``hidden0 has inconsistent hidden_size: got 200, expected 300``."""
    got, want = num(m["got"]), num(m["want"])
    cause = _hidden_cause(want, got, "cell")
    expl = f"The cell was built with hidden_size={want}, its state has {got} features. " + cause.because
    return expl, cause.fix, {"expected_hidden_size": want, "got_hidden_size": got}


def state_rank(m: re.Match[str], ctx: Ctx) -> Result:
    """``For batched 3-D input, hx and cx should also be 3-D but got (2-D, 2-D) tensors``."""
    expl = (
        "Your input is batched (3-D), so h0 (and c0) must be 3-D too: (num_layers × num_directions, batch, "
        f"hidden_size). torch got {m['dims'].strip()}: a (batch, hidden) matrix such as a pooled sentence vector "
        "or a projected encoder state, without the layers·directions axis."
    )
    fix = (
        "Add that axis: `h0 = v.unsqueeze(0)` -> (1, batch, hidden); for num_layers × num_directions > 1, "
        "`v.unsqueeze(0).repeat(num_layers * num_directions, 1, 1)`; c0 likewise, e.g. `torch.zeros_like(h0)`."
    )
    return expl, fix, {}


def rnn_hidden_unbatched(m: re.Match[str], ctx: Ctx) -> Result:
    expl = (
        "Your input is 2-D, which the LSTM/GRU treats as ONE unbatched (seq, features) sequence; then h0/c0 "
        "must be 2-D (num_layers * num_directions, hidden_size) too, but you passed 3-D ones."
    )
    fix = (
        "Add the batch axis to the input (`x.unsqueeze(0)`, or `x.unsqueeze(1)` for pooled (batch, hidden) "
        "vectors) so it is 3-D, or drop the batch axis of h0/c0."
    )
    return expl, fix, {}
