"""Steps that bind names (``w = ...``, tuple unpacking, layer ``input`` / ``output`` / ``h0`` / ``c0``), packed
sequences, and the masked mean written by hand against ``pooling: mean``: traces against plain torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.engine.layers import layer_seed
from core.spec import Spec
from core.trace import run_spec

SHAPE = [2, 5, 8]


def source(spec: dict) -> torch.Tensor:
    return torch.randn(spec["shape"], generator=torch.Generator().manual_seed(spec.get("seed", 0)))


def lstm(i: int, input_size: int, hidden: int, seed: int = 0, **kw) -> nn.LSTM:
    torch.manual_seed(layer_seed(seed, i))
    return nn.LSTM(input_size=input_size, hidden_size=hidden, **kw).eval()


def test_attention_over_lstm_outputs_matches_plain_torch() -> None:
    spec = {
        "shape": SHAPE,
        "steps": [
            {"lstm": {"hidden_size": 6, "batch_first": True}, "output": "out, (h_n, c_n)"},
            "w = torch.bmm(out, h_n[-1].unsqueeze(2))",
            "w = torch.softmax(w, 1)",
            "torch.bmm(out.transpose(1, 2), w).squeeze(-1)",
        ],
    }
    trace = run_spec(Spec.from_dict(spec))
    assert trace.ok, trace.error
    with torch.inference_mode():
        out, (h_n, _) = lstm(0, 8, 6, batch_first=True)(source(spec))
        w = torch.softmax(torch.bmm(out, h_n[-1].unsqueeze(2)), 1)
        ref = torch.bmm(out.transpose(1, 2), w).squeeze(-1)
    assert [s.shape for s in trace.stages] == [(2, 5, 8), (2, 5, 6), (2, 5, 1), (2, 5, 1), (2, 6)]
    assert torch.allclose(trace.tensors[-1], ref, atol=1e-6)
    assert [s.extra("binds") for s in trace.stages[1:]] == [("out", "h_n", "c_n"), ("w",), ("w",), None]
    assert trace.stages[1].source == "out, (h_n, c_n) = nn.LSTM(hidden_size=6, batch_first=True)(x)"
    assert trace.stages[2].axes[0].label == "batch (B)"
    assert trace.to_dict()["stages"][2]["extras"]["binds"] == ["w"]


@pytest.mark.parametrize(
    ("steps", "shapes", "binds"),
    [
        (["values, indices = x.max(dim=1)", "indices.float() + values"], [(2, 8), (2, 8)], [("values", "indices")]),
        (["_, indices = x.max(dim=1)", "indices"], [(2, 8), (2, 8)], [("indices",)]),
        (["q, k = x.chunk(2, dim=-1)", "q @ k.mT"], [(2, 5, 4), (2, 5, 5)], [("q", "k")]),
        (["first, second = x", "first - second"], [(5, 8), (5, 8)], [("first", "second")]),
        (["w = x.mean(1)", "x.shape[1] * w"], [(2, 8), (2, 8)], [("w",)]),
        (["w = x.mean(1)", "x"], [(2, 8), (2, 5, 8)], [("w",)]),
        (["x = x.transpose(1, 2)", "x"], [(2, 8, 5), (2, 8, 5)], [("x",)]),
        (["a, b = x.unbind(0)", "torch.stack([b, a])"], [(5, 8), (2, 5, 8)], [("a", "b")]),
    ],
)
def test_tuple_unpacking_and_names(steps, shapes, binds) -> None:
    """Named results bind without touching x; the stage's tensor is the first bound one; plain torch agrees."""
    spec = {"shape": SHAPE, "steps": steps}
    trace = run_spec(Spec.from_dict(spec))
    assert trace.ok, trace.error
    assert [s.shape for s in trace.stages[1:]] == shapes
    assert [s.extra("binds") for s in trace.stages[1 : 1 + len(binds)]] == binds


def test_unpacking_counts_and_unknown_names_are_step_errors() -> None:
    trace = run_spec(Spec.from_dict({"shape": SHAPE, "steps": ["x.mean(1)", "a, b = x.chunk(3, dim=-1)"]}))
    assert trace.error.message == "too many values to unpack (expected 2)" and trace.error.step_index == 1
    trace = run_spec(Spec.from_dict({"shape": SHAPE, "steps": ["x.mean(1)", "w @ x"]}))
    assert trace.error.kind == "refused" and "`w` is not defined here" in trace.error.message
    assert [s.shape for s in trace.stages] == [(2, 5, 8), (2, 8)]


def test_layer_input_and_output_names() -> None:
    spec = {
        "shape": SHAPE,
        "steps": [
            "pooled = x.mean(1)",
            {"linear": {"out_features": 3}, "input": "pooled", "output": "logits"},
            "logits.softmax(-1)",
        ],
    }
    trace = run_spec(Spec.from_dict(spec))
    assert trace.ok, trace.error
    assert [s.shape for s in trace.stages] == [(2, 5, 8), (2, 8), (2, 3), (2, 3)]
    torch.manual_seed(layer_seed(0, 1))
    head = nn.Linear(8, 3).eval()
    with torch.inference_mode():
        ref = head(source(spec).mean(1)).softmax(-1)
    assert torch.allclose(trace.tensors[-1], ref, atol=1e-6)
    assert trace.stages[2].extra("binds") == ("logits",)


def test_initial_states_h0_c0() -> None:
    base = {"lstm": {"hidden_size": 4, "batch_first": True}}
    zeros = {**base, "h0": "torch.zeros(1, x.size(0), 4)", "c0": "torch.zeros(1, x.size(0), 4)"}
    a = run_spec(Spec.from_dict({"shape": SHAPE, "steps": [base]}))
    b = run_spec(Spec.from_dict({"shape": SHAPE, "steps": [zeros]}))
    assert torch.equal(a.tensors[-1], b.tensors[-1]), "zero initial states are the default"
    ones = {**base, "h0": "torch.ones(1, x.size(0), 4)", "c0": "torch.zeros(1, x.size(0), 4)"}
    c = run_spec(Spec.from_dict({"shape": SHAPE, "steps": [ones]}))
    with torch.inference_mode():
        out, _ = lstm(0, 8, 4, batch_first=True)(source({"shape": SHAPE}), (torch.ones(1, 2, 4), torch.zeros(1, 2, 4)))
    assert torch.allclose(c.tensors[-1], out, atol=1e-6)
    gru = {"gru": {"hidden_size": 4, "num_layers": 2}, "h0": "torch.zeros(2, x.size(0), 4)", "input": "x"}
    wrong = run_spec(Spec.from_dict({"shape": SHAPE, "steps": [gru]}))
    assert wrong.error is not None and "Expected hidden size (2, 5, 4), got [2, 2, 4]" in wrong.error.message


def test_packed_sequence_through_an_lstm_matches_plain_torch() -> None:
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    spec = {
        "shape": [3, 6, 8],
        "steps": [
            "lengths = torch.tensor([6, 2, 4])",
            "x = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)",
            {"lstm": {"hidden_size": 5, "batch_first": True}},
            "out, out_lengths = torch.nn.utils.rnn.pad_packed_sequence(x, batch_first=True)",
        ],
    }
    trace = run_spec(Spec.from_dict(spec))
    assert trace.ok, trace.error
    packed, layer, padded = trace.stages[2], trace.stages[3], trace.stages[4]
    assert packed.shape == (12, 8) and packed.extra("packed") and packed.extra("batch_sizes") == (3, 3, 2, 2, 1, 1)
    assert [a.label for a in layer.axes] == ["packed tokens (ΣL)", "hidden_out (hidden_size)"]
    assert layer.shape == (12, 5) and layer.extra("h_n") == (1, 3, 5)
    with torch.inference_mode():
        p = pack_padded_sequence(source(spec), torch.tensor([6, 2, 4]), batch_first=True, enforce_sorted=False)
        ref, _ = pad_packed_sequence(lstm(2, 8, 5, batch_first=True)(p)[0], batch_first=True)
    assert padded.shape == (3, 6, 5) and torch.allclose(trace.tensors[-1], ref, atol=1e-6)
    assert padded.extra("binds") == ("out", "out_lengths")


MEAN_BY_HAND = [
    "(x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)",
    [
        "m = attention_mask.unsqueeze(-1).expand(x.size()).float()",
        "torch.sum(x * m, 1) / torch.clamp(m.sum(1), min=1e-9)",
    ],
    "torch.einsum('blh,bl->bh', x, mask.float()) / mask.sum(-1, keepdim=True)",
    "x.masked_fill(~mask.bool().unsqueeze(-1), 0.0).sum(1) / lengths.unsqueeze(-1)",
]
TEXTS = ["A short one.", "A much longer second sentence that needs padding in the first.", "Mid length here."]


def _mean_by_hand(checkpoint: str, steps) -> None:
    steps = steps if isinstance(steps, list) else [steps]
    pooled = run_spec(Spec.from_dict({"texts": TEXTS, "checkpoint": checkpoint, "pooling": "mean"}))
    by_hand = run_spec(Spec.from_dict({"texts": TEXTS, "checkpoint": checkpoint, "steps": steps}))
    assert by_hand.ok, by_hand.error
    assert by_hand.final.shape == pooled.final.shape
    assert torch.allclose(by_hand.tensors[-1], pooled.tensors[-1], atol=1e-5)


@pytest.mark.parametrize("steps", MEAN_BY_HAND, ids=[str(s)[:50] for s in MEAN_BY_HAND])
def test_masked_mean_by_hand_equals_pooling_mean_tiny_model(steps) -> None:
    _mean_by_hand("random:bert-tiny", steps)


@pytest.mark.slow
@pytest.mark.parametrize("steps", MEAN_BY_HAND[:2], ids=[str(s)[:50] for s in MEAN_BY_HAND[:2]])
def test_masked_mean_by_hand_equals_pooling_mean_bundled_model(steps) -> None:
    _mean_by_hand("bundled:all-MiniLM-L6-v2", steps)


def test_input_ids_and_mask_are_names_for_texts() -> None:
    trace = run_spec(
        Spec.from_dict({"texts": TEXTS, "checkpoint": "random:bert-tiny", "steps": ["x[input_ids == 102]"]})
    )
    assert trace.ok and trace.final.shape == (3, 128), "one [SEP] per text"
    synthetic = run_spec(Spec.from_dict({"shape": SHAPE, "steps": ["x.mean(1)", "input_ids"]}))
    assert synthetic.error.kind == "refused" and "input_ids exist for texts" in synthetic.error.message
    ones = run_spec(Spec.from_dict({"shape": SHAPE, "steps": ["mask"]}))
    assert ones.ok and torch.equal(ones.tensors[-1], torch.ones(2, 5, dtype=torch.long))


def test_diagnosis_reads_x_steps_only_where_x_is_the_previous_stage() -> None:
    """``x.view(2, 8, 5)`` after ``w = x.mean(1)`` reads x = the source, not the previous stage (2, 8): the
    view-as-permute warning still comes from the x-step, and nothing is diagnosed against the wrong input."""
    alone = run_spec(Spec.from_dict({"shape": SHAPE, "steps": ["x.view(2, 8, 5)"]}))
    assert [w.code for w in alone.warnings] == ["view_as_permute"]
    named = run_spec(Spec.from_dict({"shape": SHAPE, "steps": ["w = x.mean(1)", "x.view(2, 8, 5)"]}))
    assert named.ok and named.final.shape == (2, 8, 5)
    assert all(w.code != "view_as_permute" or w.step_index == 1 for w in named.warnings)
