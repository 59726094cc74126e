"""The seeds' scenarios as a table, run through the real engine; plus trace records and failures."""

from __future__ import annotations

import pytest
import torch

from core.errors import ExpressionRefused, ShapeError, SpecError
from core.spec import Spec
from core.trace import run_spec

# (id, spec, expected final shape) — synthetic tensors with the seeds' own sizes
SYNTHETIC = [
    ("000-reshape-16-steps", {"shape": [32, 128, 768], "steps": ["x.reshape(x.shape[0], 16, -1)"]}, (32, 16, 6144)),
    ("000-torch-reshape", {"shape": [32, 128, 768], "steps": ["x.reshape(32, 16, (128 * 768) // 16)"]}, (32, 16, 6144)),
    (
        "000-pad-then-reshape",
        {"shape": [32, 125, 768], "steps": ["F.pad(x, (0, 0, 0, 3))", "x.reshape(32, 16, 6144)"]},
        (32, 16, 6144),
    ),
    (
        "004-transpose-conv",
        {
            "shape": [32, 128, 768],
            "steps": [
                "torch.transpose(x, 1, 2)",
                {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}},
            ],
        },
        (32, 512, 126),
    ),
    (
        "004-permute-conv",
        {
            "shape": [32, 128, 768],
            "steps": ["x.permute(0, 2, 1)", {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}],
        },
        (32, 512, 126),
    ),
    (
        "004-view-conv (runs; scrambled)",
        {
            "shape": [32, 128, 768],
            "steps": ["x.view(32, 768, 128)", {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}],
        },
        (32, 512, 126),
    ),
    (
        "003-lstm-last-step",
        {
            "shape": [32, 10, 128],
            "steps": [{"lstm": {"input_size": 128, "hidden_size": 64, "batch_first": True}}, "x[:, -1, :]"],
        },
        (32, 64),
    ),
    ("003-flatten", {"shape": [32, 10, 64], "steps": ["x.reshape(32, 10 * 64)"]}, (32, 640)),
    (
        "003-permute-for-conv",
        {
            "shape": [32, 10, 64],
            "steps": [
                "x.permute(0, 2, 1)",
                "x.reshape(32, 64, 10)",
                {"conv1d": {"in_channels": 64, "out_channels": 1, "kernel_size": 3, "padding": 1}},
            ],
        },
        (32, 1, 10),
    ),
    (
        "seq-bidirectional",
        {"shape": [4, 9, 16], "steps": [{"lstm": {"hidden_size": 8, "bidirectional": True, "batch_first": True}}]},
        (4, 9, 16),
    ),
    (
        "gru-then-linear",
        {
            "shape": [4, 9, 16],
            "steps": [
                {"gru": {"hidden_size": 8, "batch_first": True}},
                "x.mean(dim=1)",
                {"linear": {"out_features": 3}},
            ],
        },
        (4, 3),
    ),
]


@pytest.mark.parametrize("sid,data,expected", SYNTHETIC, ids=[s[0] for s in SYNTHETIC])
def test_synthetic_seed_scenarios(sid, data, expected):
    trace = run_spec(Spec.from_dict(data))
    assert trace.error is None, trace.error and str(trace.error)
    assert trace.final.shape == expected
    assert len(trace.stages) == 1 + len(data["steps"])
    assert tuple(trace.tensors[-1].shape) == expected


# the real bundled model (hidden 384) and random:bert-base (hidden 768, the seeds' size)
MODEL = [
    (
        "001-bert-lstm-linear",
        {
            "texts": ["This is an example sentence."],
            "steps": [
                {"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}},
                "x[:, -1, :]",
                {"linear": {"out_features": 2}},
            ],
        },
        (1, 2),
    ),
    (
        "001-bert-lstm-sequence",
        {
            "texts": ["This is another example sequence of words."],
            "steps": [{"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}}],
        },
        (1, 10, 128),
    ),
    (
        "001-cls-unsqueeze-lstm",
        {
            "texts": ["This is a single sentence for the CLS example"],
            "steps": [
                "x[:, 0, :]",
                "x.unsqueeze(1)",
                {"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}},
                "x[:, -1, :]",
                {"linear": {"out_features": 2}},
            ],
        },
        (1, 2),
    ),
    ("002-cls", {"texts": ["This movie was absolutely amazing!"], "pooling": "cls"}, (1, 384)),
    ("002-mean", {"texts": ["The acting was very poor and the plot was confusing."], "pooling": "mean"}, (1, 384)),
    (
        "002-last4-concat",
        {"texts": ["I found the book to be quite interesting."], "pooling": "last4_concat"},
        (1, 4 * 384),
    ),
    (
        "002-last4-concat-bert-base",
        {
            "texts": ["I found the book to be quite interesting."],
            "checkpoint": "random:bert-base",
            "pooling": "last4_concat",
        },
        (1, 3072),
    ),
    (
        "002-cls-bert-base",
        {"texts": ["This movie was absolutely amazing!"], "checkpoint": "random:bert-base", "pooling": "cls"},
        (1, 768),
    ),
    (
        "004-bert-permute-conv",
        {
            "texts": ["a b c d e f"],
            "checkpoint": "random:bert-base",
            "steps": ["x.permute(0, 2, 1)", {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}],
        },
        (1, 512, 6),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("sid,data,expected", MODEL, ids=[s[0] for s in MODEL])
def test_model_seed_scenarios(sid, data, expected):
    trace = run_spec(Spec.from_dict(data), device="cpu")
    assert trace.error is None, trace.error and str(trace.error)
    assert trace.final.shape == expected
    assert trace.stages[0].shape[0] == len(data["texts"])


def test_stage_records_are_plain_and_truthful():
    trace = run_spec(Spec.from_dict({"shape": [2, 3, 4], "steps": ["x.permute(0, 2, 1)", "x.contiguous()"]}))
    s0, s1, s2 = trace.stages
    assert s0.strides == (12, 4, 1) and s0.contiguous
    assert s1.shape == (2, 4, 3) and s1.strides == (12, 1, 4) and not s1.contiguous
    assert s2.strides == (12, 3, 1) and s2.contiguous
    assert s1.numel == 24 and s1.bytes == 24 * 4 and s1.dtype == "float32" and s1.device == "cpu"
    # the tensor beside the record is exactly the permuted source
    torch.testing.assert_close(trace.tensors[1], trace.tensors[0].permute(0, 2, 1))
    d = trace.to_dict()
    assert d["error"] is None and [st["shape"] for st in d["stages"]] == [[2, 3, 4], [2, 4, 3], [2, 4, 3]]


def test_lstm_stage_records_state_shapes():
    trace = run_spec(
        Spec.from_dict(
            {
                "shape": [4, 7, 16],
                "steps": [{"lstm": {"hidden_size": 8, "num_layers": 2, "bidirectional": True, "batch_first": True}}],
            }
        )
    )
    st = trace.final
    assert st.shape == (4, 7, 16)
    assert st.extra("h_n") == (4, 4, 8) and st.extra("c_n") == (4, 4, 8)
    assert tuple(trace.side[-1]["h_n"].shape) == (4, 4, 8)


def test_layers_are_deterministic_from_seed():
    spec = {
        "shape": [2, 5, 8],
        "steps": [{"lstm": {"hidden_size": 4, "batch_first": True}}, {"linear": {"out_features": 3}}],
    }
    a = run_spec(Spec.from_dict(spec)).tensors[-1]
    b = run_spec(Spec.from_dict(spec)).tensors[-1]
    c = run_spec(Spec.from_dict({**spec, "seed": 1})).tensors[-1]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_failing_step_keeps_stages_before_and_torch_message():
    trace = run_spec(
        Spec.from_dict(
            {
                "shape": [32, 128, 768],
                "steps": [
                    "x.reshape(32, 128, 768)",
                    {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}},
                ],
            }
        )
    )
    assert trace.error is not None and len(trace.stages) == 2
    err = trace.error
    assert "expected input[32, 128, 768] to have 768 channels, but got 128 channels instead" in err.message
    assert err.step_index == 1 and err.input_shape == (32, 128, 768)
    d = trace.to_dict()["error"]
    assert d["step"] == 1 and d["stages_before"] == 2 and d["message"] == err.message


def test_seed_000_third_example_as_written_fails():
    trace = run_spec(
        Spec.from_dict(
            {"shape": [32, 125, 768], "steps": ["F.pad(x, (0, 0, 0, 3))", "x.reshape(32, 16, (125 * 768) // 16)"]}
        )
    )
    assert trace.error is not None
    assert "shape '[32, 16, 6000]' is invalid for input of size 3145728" in trace.error.message


def test_keras_argument_fails_like_torch():
    trace = run_spec(
        Spec.from_dict(
            {
                "shape": [32, 10, 128],
                "steps": [
                    {"lstm": {"input_size": 128, "hidden_size": 64, "batch_first": True, "return_sequences": False}}
                ],
            }
        )
    )
    assert trace.error is not None
    assert "unexpected keyword argument 'return_sequences'" in trace.error.message


def test_refused_first_step_runs_nothing(monkeypatch):
    import core.model.encoding

    monkeypatch.setattr(core.model.encoding, "encode", lambda *a, **k: pytest.fail("BERT must not run"))
    with pytest.raises(ExpressionRefused, match="step 1"):
        run_spec(Spec.from_dict({"texts": ["hi"], "steps": ["__import__('os')", "x.mean(1)"]}))


def test_a_later_refused_step_keeps_the_steps_before_it():
    """Issue 11: a refused step 2 no longer hides step 1, the tokens and the stages."""
    trace = run_spec(Spec.from_dict({"shape": [2, 5, 8], "steps": ["x.mean(1)", "__import__('os')", "x.T"]}))
    assert [s.shape for s in trace.stages] == [(2, 5, 8), (2, 8)]
    err = trace.error
    assert err is not None and err.kind == "refused" and err.step_index == 1
    assert "name `__import__` is not allowed" in err.message and err.input_shape == (2, 8)
    d = trace.to_dict()["error"]
    assert d["refused"] is True and d["step"] == 1 and d["kind"] == "refused"


def test_a_refusal_names_the_supported_spelling_as_a_fix():
    trace = run_spec(Spec.from_dict({"shape": [2, 5, 8], "steps": ["x.mean(1)", "x.masked_fill_(x > 0, 0.0)"]}))
    err = trace.error
    assert err.kind == "refused" and "in-place `.masked_fill_` is not allowed" in err.message
    assert err.fix is not None and err.fix.step == "x.masked_fill(x > 0, 0.0)"
    from core.fixes import apply_fix

    fixed = run_spec(Spec.from_dict(apply_fix(trace.spec.to_dict(), err.fix)))
    assert fixed.ok and fixed.final.shape == (2, 8)


def test_over_budget_at_a_later_step_is_a_refusal_after_the_earlier_steps():
    trace = run_spec(Spec.from_dict({"shape": [32, 128, 768], "steps": ["x.mean(1)", "x.repeat(1000, 1000)"]}))
    assert [s.shape for s in trace.stages] == [(32, 128, 768), (32, 768)]
    assert trace.error.kind == "refused" and "the limit is" in trace.error.message


def test_over_budget_is_refused_before_running():
    with pytest.raises(ExpressionRefused, match="limit"):
        run_spec(Spec.from_dict({"shape": [32, 128, 768], "steps": ["x.repeat(1000, 1000, 1)"]}))
    with pytest.raises(ExpressionRefused, match="limit"):
        run_spec(Spec.from_dict({"shape": [32, 128, 768], "steps": [{"linear": {"out_features": 1_000_000}}]}))


def test_synthetic_pooling_only_simple():
    assert run_spec(Spec.from_dict({"shape": [2, 5, 8], "pooling": "mean"})).final.shape == (2, 8)
    with pytest.raises(SpecError, match="only cls, mean or max"):
        run_spec(Spec.from_dict({"shape": [2, 5, 8], "pooling": "pooler"}))


def test_shape_error_is_the_only_failure_type():
    for step in [
        "x.view(-1, -1)",
        "x.permute(0, 1)",
        "x[5]",
        "x.squeeze(7)",
        "x.reshape(7, 7)",
        "x.chunk(2, dim=9)[0]",
        "x.unflatten(1, (2, 2))",
    ]:
        trace = run_spec(Spec.from_dict({"shape": [2, 3, 4], "steps": [step]}))
        assert isinstance(trace.error, ShapeError), step
        assert trace.error.message, step
