"""Issue 12 §3: the product's own fixes are right in every layout — on synthetic shapes, the random presets and
the bundled model (slow). Each fix is applied and re-run; it must remove the error without creating a warning."""

from __future__ import annotations

import pytest

from core.fixes import apply_fix
from core.spec import Spec
from core.trace import run_spec

TEXTS = ["a b c d e f", "another short text"]


def run(data: dict, ckpt=None):
    return run_spec(Spec.from_dict(data), ckpt, device="cpu")


def check_error_fix(data: dict, ckpt=None):
    trace = run(data, ckpt)
    err = trace.error
    assert err is not None and err.fix is not None, err
    fixed = run(apply_fix(data, err.fix), ckpt)
    assert fixed.ok, str(fixed.error)
    assert not [w for w in fixed.warnings if w.severity == "warning"], [w.to_dict() for w in fixed.warnings]
    return err, fixed


CONV_768 = {"conv1d": {"in_channels": 768, "out_channels": 8, "kernel_size": 3}}


@pytest.mark.parametrize(
    "data,hidden,tokens",
    [
        ({"shape": [2, 8, 384], "steps": [CONV_768]}, 384, 8),
        (
            {"shape": [4, 30, 256], "steps": [{"conv1d": {"in_channels": 512, "out_channels": 8, "kernel_size": 5}}]},
            256,
            30,
        ),
        ({"shape": [3, 12, 128], "steps": [{"lstm": {"hidden_size": 96, "batch_first": True}}, CONV_768]}, 96, 12),
    ],
    ids=["bundled-sized", "mini-sized", "after-lstm"],
)
def test_conv_in_channels_fix_names_the_real_features_on_synthetic_shapes(data, hidden, tokens):
    err, _fixed = check_error_fix(data)
    assert f"set its in_channels={hidden}" in err.fix.description and "x.permute(0, 2, 1)" in err.fix.description
    assert f"in_channels={tokens}" not in err.fix.description
    assert f"in_channels={hidden}" in err.explanation and "convolve across" in err.explanation
    assert f"Setting in_channels={tokens}" in err.explanation  # named as the wrong answer, never offered


@pytest.mark.parametrize("preset,hidden", [("random:bert-tiny", 128), ("random:bert-mini", 256)])
def test_conv_in_channels_fix_on_the_random_presets(preset, hidden):
    from core.model.checkpoints import load_checkpoint

    ckpt = load_checkpoint(preset, "cpu")
    data = {"texts": TEXTS, "checkpoint": preset, "steps": [CONV_768]}
    err, fixed = check_error_fix(data, ckpt)
    assert f"{preset} has hidden size {hidden}" in err.explanation
    assert fixed.stages[-1].shape[1] == 8 and fixed.stages[-2].shape[1] == hidden


@pytest.mark.slow
def test_conv_in_channels_768_on_the_bundled_model(real_ckpt):
    """Issue 12 §3: never "set in_channels=8 (tokens L = 8)"; permute, then in_channels = 384."""
    data = {"texts": ["a b c d e f"], "steps": [CONV_768]}
    err, _fixed = check_error_fix(data, real_ckpt)
    assert "set its in_channels=384" in err.fix.description and "in_channels=8 " not in err.fix.description
    assert "bundled:all-MiniLM-L6-v2 has hidden size 384" in err.explanation
    # new texts of another length still run with the fixed pipeline
    again = run({**apply_fix(data, err.fix), "texts": ["a much longer text than before, with more tokens"]}, real_ckpt)
    assert again.ok and not [w for w in again.warnings if w.severity == "warning"]


@pytest.mark.parametrize(
    "steps,width,half",
    [
        ([{"lstm": {"hidden_size": 64, "batch_first": True, "bidirectional": True}}, "x[:, -1, :64]"], None, None),
        (
            [
                {"lstm": {"hidden_size": 64, "batch_first": True, "bidirectional": True}},
                "torch.cat([h_n[-2], h_n[-1]], dim=1)",
                {"linear": {"in_features": 64, "out_features": 2}},
            ],
            128,
            64,
        ),
        (
            [
                "x.transpose(0, 1)",
                {"gru": {"hidden_size": 40, "num_layers": 2, "bidirectional": True}},
                "torch.cat([h_n[-2], h_n[-1]], dim=1)",
                {"linear": {"in_features": 40, "out_features": 3}},
            ],
            80,
            40,
        ),
    ],
    ids=["forward-half-only-no-error", "bilstm-h_n", "bigru-seq-first"],
)
def test_linear_after_a_bidirectional_layer_names_two_times_hidden(steps, width, half):
    data = {"shape": [4, 10, 32], "steps": steps}
    trace = run(data)
    if width is None:
        assert trace.ok
        return
    err = trace.error
    assert err is not None and err.kind == "linear_mat"
    assert err.explanation.startswith(f"The input's last dim is hidden_out (2·hidden_size) = 2 × {half} = {width}")
    assert f"built for in_features={half}, one direction's size" in err.explanation
    assert "was flattened" not in err.explanation
    assert err.fix is not None and err.fix.value == width
    fixed = run(apply_fix(data, err.fix))
    assert fixed.ok and not [w for w in fixed.warnings if w.severity == "warning"], fixed.to_dict()
