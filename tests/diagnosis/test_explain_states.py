"""explain() on LSTM/GRU initial states (issue 12): one message, several causes, told apart by the numbers.

``Expected hidden[0] size (1, 8, 300), got [1, 32, 300]`` on the last batch of an epoch is not fixed by
``torch.zeros(1, 8, 300)``. Each row raises the error with the installed torch, checks the cause the explanation
names (``numbers["causes"]``, most likely first) and the fix, and then runs the fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from core.diagnosis.explain import explain


def _message(fn: Callable[[], object]) -> str:
    try:
        fn()
    except Exception as exc:  # whatever torch raises
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError("expected the call to raise")


def _check(e, fragments: list[str], causes: list[str] | None = None) -> None:
    assert e.recognized and e.kind == "rnn_hidden", (e.kind, e.explanation)
    text = e.explanation + "\n" + e.fix
    for frag in fragments:
        assert frag in text, (frag, text)
    if causes is not None:
        assert e.numbers["causes"] == causes, e.numbers


def _zeros(*shape: int) -> torch.Tensor:
    return torch.zeros(*shape)


# -------------------------------------------------------------------------------------------- the batch


@pytest.mark.parametrize(
    ("cls", "full", "last", "hidden"),
    [(nn.LSTM, 32, 8, 300), (nn.GRU, 16, 5, 24), (nn.LSTM, 64, 1, 50)],
)
def test_last_smaller_batch_with_a_hard_coded_state(cls, full, last, hidden):
    rnn = cls(12, hidden, batch_first=True)
    state = _zeros(1, full, hidden)
    h0 = (state, state) if cls is nn.LSTM else state
    x_last = torch.randn(last, 6, 12)
    e = explain(_message(lambda: rnn(x_last, h0)))
    fragments = [f"[1, {full}, {hidden}]", f"[1, {last}, {hidden}]", f"torch.zeros(1, x.size(0), {hidden}"]
    if last > 1:
        fragments += ["last, smaller batch", f"breaks every full batch of {full}"]
    _check(
        e, fragments, ["decoder_unsqueeze", "last_batch", "axes_mixup"] if last == 1 else ["last_batch", "axes_mixup"]
    )
    assert f"`torch.zeros(1, {last}, {hidden})`" not in e.fix

    def forward(x):  # the fix: the state is built from x on every call
        h = torch.zeros(1, x.size(0), hidden)
        return rnn(x, (h, torch.zeros_like(h)) if cls is nn.LSTM else h)[0]

    assert forward(x_last).shape == (last, 6, hidden)
    assert forward(torch.randn(full, 6, 12)).shape == (full, 6, hidden)


@pytest.mark.parametrize(("batch", "seq_len"), [(4, 10), (32, 50)])
def test_batch_and_seq_mixed_up(batch, seq_len):
    """(batch, seq, features) data into a layer with batch_first=False: the layer's batch is the sequence length."""
    rnn = nn.LSTM(16, 24)
    x = torch.randn(batch, seq_len, 16)
    h0 = (_zeros(1, batch, 24), _zeros(1, batch, 24))
    msg = _message(lambda: rnn(x, h0))
    _check(explain(msg), [f"{seq_len} would be your sequence length"], ["axes_mixup", "state_for_other_batch"])
    ctx = {"input_shape": tuple(x.shape), "layer": {"kind": "lstm", "params": {"batch_first": False}}}
    e = explain(msg, ctx)
    _check(e, [f"Your input [{batch}, {seq_len}, 16] is (batch, seq, features)", "batch_first=True"], ["axes_mixup"])
    assert nn.LSTM(16, 24, batch_first=True)(x, h0)[0].shape == (batch, seq_len, 24)  # the fix


@pytest.mark.parametrize(("batch", "hidden"), [(4, 24), (9, 7)])
def test_decoder_step_unsqueezed_on_the_wrong_dim(batch, hidden):
    decoder = nn.GRU(16, hidden, batch_first=True)
    step = torch.randn(batch, 16)  # one decoder input per text
    h = _zeros(1, batch, hidden)
    e = explain(_message(lambda: decoder(step.unsqueeze(0), h)))
    causes = ["decoder_unsqueeze", "last_batch", "axes_mixup"]
    _check(e, ["batch of 1", f"`x.unsqueeze(1)` -> ({batch}, 1, features)"], causes)
    assert decoder(step.unsqueeze(1), h)[0].shape == (batch, 1, hidden)  # the fix


def test_state_built_for_one_text():
    rnn = nn.LSTM(8, 6, batch_first=True)
    e = explain(_message(lambda: rnn(torch.randn(5, 3, 8), (_zeros(1, 1, 6), _zeros(1, 1, 6)))))
    _check(e, ["built for 1 text", "init_hidden(1)", "torch.zeros(1, x.size(0), 6"])
    assert e.numbers["causes"][0] == "state_for_other_batch"


# -------------------------------------------------------------------------------- layers and directions


@pytest.mark.parametrize(
    ("kwargs", "states", "built", "fragment"),
    [
        ({"bidirectional": True}, 2, 1, "bidirectional (or has twice the layers)"),
        ({"num_layers": 2, "bidirectional": True}, 4, 2, "bidirectional (or has twice the layers)"),
        ({"num_layers": 3}, 3, 1, "num_layers × num_directions = 3"),
    ],
)
def test_state_for_one_direction_or_layer(kwargs, states, built, fragment):
    rnn = nn.LSTM(16, 24, batch_first=True, **kwargs)
    x = torch.randn(4, 7, 16)
    e = explain(_message(lambda: rnn(x, (_zeros(built, 4, 24), _zeros(built, 4, 24)))))
    _check(e, [fragment, f"torch.zeros({states}, x.size(0), 24)"], ["layers_directions"])
    ctx = {"input_shape": (4, 7, 16), "layer": {"kind": "lstm", "params": {"batch_first": True, **kwargs}}}
    layers, directions = kwargs.get("num_layers", 1), 2 if kwargs.get("bidirectional") else 1
    _check(
        explain(_message(lambda: rnn(x, (_zeros(built, 4, 24),) * 2)), ctx),
        [f"num_layers={layers} × num_directions={directions} = {states}"],
    )
    h = torch.zeros(states, x.size(0), 24)
    assert rnn(x, (h, torch.zeros_like(h)))[0].shape == (4, 7, 24 * directions)  # the fix


def test_bidirectional_encoder_state_into_a_one_direction_decoder():
    encoder = nn.GRU(16, 24, batch_first=True, bidirectional=True)
    decoder = nn.GRU(16, 24, batch_first=True)
    _, h_n = encoder(torch.randn(3, 9, 16))  # (2, 3, 24)
    y = torch.randn(3, 1, 16)
    e = explain(_message(lambda: decoder(y, h_n)))
    _check(e, ["bidirectional (or two-layer) encoder", "h_n.view(-1, 2, h_n.size(1), h_n.size(2)).sum(1)"])
    combined = h_n.view(-1, 2, h_n.size(1), h_n.size(2)).sum(1)  # the fix
    assert decoder(y, combined)[0].shape == (3, 1, 24)


# ------------------------------------------------------------------------------- states from other modules


@pytest.mark.parametrize("batch_first", [True, False])
def test_encoder_output_passed_as_the_state(batch_first):
    encoder = nn.LSTM(16, 24, batch_first=batch_first)
    decoder = nn.LSTM(16, 24, batch_first=True)
    src = torch.randn(4, 10, 16) if batch_first else torch.randn(10, 4, 16)
    out, (h_n, c_n) = encoder(src)
    y = torch.randn(4, 1, 16)
    e = explain(_message(lambda: decoder(y, (out, out))))
    last = "out[:, -1].unsqueeze(0)" if batch_first else "out[-1].unsqueeze(0)"
    _check(e, ["whole output sequence", "_, (h_n, c_n) = encoder(x)", last], ["encoder_output"])
    assert decoder(y, (h_n, c_n))[0].shape == (4, 1, 24)  # the fix


@pytest.mark.parametrize(("hidden", "given"), [(24, 48), (300, 768)])
def test_state_with_another_feature_size(hidden, given):
    decoder = nn.LSTM(16, hidden, batch_first=True)
    v = torch.randn(1, 4, given)  # a bidirectional encoder's features, or a pooled BERT vector
    e = explain(_message(lambda: decoder(torch.randn(4, 1, 16), (v, v))))
    _check(e, [f"nn.Linear({given}, {hidden})", f"hidden_size={given}"], ["hidden_size"])
    if given == 2 * hidden:
        assert f"{given} = 2 × {hidden}: a bidirectional encoder" in e.explanation
    h0 = nn.Linear(given, hidden)(v)  # the fix
    assert decoder(torch.randn(4, 1, 16), (h0, torch.zeros_like(h0)))[0].shape == (4, 1, hidden)


def test_state_built_batch_first():
    rnn = nn.LSTM(16, 24, num_layers=2, batch_first=True)
    x = torch.randn(4, 7, 16)
    e = explain(_message(lambda: rnn(x, (_zeros(4, 2, 24), _zeros(4, 2, 24)))))
    _check(e, ["built batch-first", "torch.zeros(2, x.size(0), 24", "h.transpose(0, 1).contiguous()"])
    assert e.numbers["causes"] == ["batch_first_state"]


def test_pooled_vector_as_a_2d_state():
    rnn = nn.GRU(16, 24, batch_first=True)
    v = torch.randn(4, 24)  # (batch, hidden): no layers axis
    msg = _message(lambda: rnn(torch.randn(4, 7, 16), v))
    assert msg.startswith("RuntimeError: For batched 3-D input, hx should also be 3-D")
    _check(explain(msg), ["2-D tensor", "v.unsqueeze(0)", "repeat(num_layers * num_directions, 1, 1)"])
    lstm = nn.LSTM(16, 24, batch_first=True)
    msg = _message(lambda: lstm(torch.randn(4, 7, 16), (v.unsqueeze(0), v)))
    _check(explain(msg), ["(3-D, 2-D)", "torch.zeros_like(h0)"])
    assert rnn(torch.randn(4, 7, 16), v.unsqueeze(0))[0].shape == (4, 7, 24)  # the fix


# --------------------------------------------------------------------------------------------- cells


@pytest.mark.parametrize(("cls", "batch", "state_batch"), [(nn.LSTMCell, 32, 8), (nn.GRUCell, 5, 16)])
def test_cell_batch(cls, batch, state_batch):
    cell = cls(12, 20)
    h = _zeros(state_batch, 20)
    e = explain(_message(lambda: cell(torch.randn(batch, 12), (h, h) if cls is nn.LSTMCell else h)))
    _check(e, [f"input has {batch} rows", "torch.zeros(x.size(0), hidden_size"])
    assert ("last, smaller batch" in e.explanation) == (batch < state_batch)


def test_cell_hidden_size():
    cell = nn.LSTMCell(12, 300)
    h = _zeros(4, 600)
    e = explain(_message(lambda: cell(torch.randn(4, 12), (h, _zeros(4, 300)))))
    _check(e, ["hidden_size=300", "600 = 2 × 300", "nn.Linear(600, 300)"])


# ------------------------------------------------------------------------------------------- wordings


def test_two_states_for_a_batch_of_two_is_not_an_output():
    e = explain("RuntimeError: Expected hidden[0] size (1, 2, 24), got [2, 2, 24]")
    _check(e, ["bidirectional (or two-layer) encoder"], ["layers_directions"])


@pytest.mark.parametrize(
    ("message", "state"),
    [
        ("RuntimeError: Expected hidden[1] size (2, 16, 64), got [1, 16, 64]", "c0"),
        ("RuntimeError: Expected hidden size (2, 16, 64), got [1, 16, 64]", "h0"),
        ("RuntimeError: Expected cell size [2, 16, 64], got [1, 16, 64]", "c0"),  # libtorch prints lists
        ("RuntimeError: Expected hidden size (2, 16, 64), got (1, 16, 64)", "h0"),  # older Python wording
    ],
)
def test_state_wordings(message, state):
    e = explain(message)
    _check(e, ["torch.zeros(2, x.size(0), 64)"], ["layers_directions"])
    assert e.numbers["state"] == state


# ------------------------------------------------------------------------------------------------ the CLI


@pytest.mark.parametrize(
    ("message", "code", "kind"),
    [
        ("RuntimeError: Expected hidden[0] size (1, 8, 300), got [1, 32, 300]", 0, "rnn_hidden"),
        ("ValueError: Expected input batch_size (8) to match target batch_size (512).", 0, "loss_batch"),
        ("RuntimeError: 0D or 1D target tensor expected, multi-target not supported", 0, "multi_target"),
        ("RuntimeError: Expected hidden[0] of the coffee machine", 1, "unrecognized"),
    ],
)
def test_cli_exit_codes(message, code, kind):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    r = subprocess.run(
        [sys.executable, "-m", "core", "explain", message], cwd=root, env=env, capture_output=True, text=True
    )
    assert r.returncode == code, r.stderr
    assert json.loads(r.stdout)["kind"] == kind
