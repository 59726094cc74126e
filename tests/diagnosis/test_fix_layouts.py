"""Issue 12 §3: the product's own fixes are right in every layout — on synthetic shapes, the random presets and
the bundled model (slow). Each fix is applied and re-run; it must remove the error without creating a warning."""

from __future__ import annotations

import pytest
from named_forms import rename, twin, twin_with_names

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

CONV_CASES = [
    ({"shape": [2, 8, 384], "steps": [CONV_768]}, 384, 8),
    (
        {"shape": [4, 30, 256], "steps": [{"conv1d": {"in_channels": 512, "out_channels": 8, "kernel_size": 5}}]},
        256,
        30,
    ),
    ({"shape": [3, 12, 128], "steps": [{"lstm": {"hidden_size": 96, "batch_first": True}}, CONV_768]}, 96, 12),
]
CONV_IDS = ["bundled-sized", "mini-sized", "after-lstm"]


@pytest.mark.parametrize("data,hidden,tokens", CONV_CASES, ids=CONV_IDS)
def test_conv_in_channels_fix_names_the_real_features_on_synthetic_shapes(data, hidden, tokens):
    err, _fixed = check_error_fix(data)
    assert f"set its in_channels={hidden}" in err.fix.description and "x.permute(0, 2, 1)" in err.fix.description
    assert f"in_channels={tokens}" not in err.fix.description
    assert f"in_channels={hidden}" in err.explanation and "convolve across" in err.explanation
    assert f"Setting in_channels={tokens}" in err.explanation  # named as the wrong answer, never offered


@pytest.mark.parametrize("data,hidden,tokens", CONV_CASES, ids=[i + ":named" for i in CONV_IDS])
def test_conv_in_channels_fix_named_twin(data, hidden, tokens):
    """The same, written with names (``out1, (hn1, cn1) = lstm(x)``, the Conv1d reading ``out1``): the input is the
    name the Conv1d reads, and the permute is written over it."""
    named, seen = twin_with_names(data)
    err, fixed = check_error_fix(named)
    j = err.step_index
    permute = rename("x.permute(0, 2, 1)", seen[j])
    assert f"set its in_channels={hidden}" in err.fix.description and permute in err.fix.description
    assert f"in_channels={tokens}" not in err.fix.description
    assert f"Setting in_channels={tokens}" in err.explanation
    assert fixed.final.shape[1] == 8


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


LINEAR_CASES = [
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
]
LINEAR_IDS = ["forward-half-only-no-error", "bilstm-h_n", "bigru-seq-first"]


@pytest.mark.parametrize(
    "steps,width,half,named",
    [(*c, False) for c in LINEAR_CASES] + [(*c, True) for c in LINEAR_CASES],
    ids=LINEAR_IDS + [i + ":named" for i in LINEAR_IDS],
)
def test_linear_after_a_bidirectional_layer_names_two_times_hidden(steps, width, half, named):
    data = {"shape": [4, 10, 32], "steps": steps}
    data = twin(data) if named else data
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


def test_conv_on_a_named_input_judges_that_name_not_the_previous_stage():
    """The Conv1d reads ``emb`` (2, 8, 384) while the previous stage is ``pooled`` (2, 384): the error's input, its
    explanation and its fix are about ``emb``; emb is read by no later step, so the fix permutes it in place."""
    conv = {"conv1d": {"in_channels": 768, "out_channels": 8, "kernel_size": 3}, "input": "emb", "output": "feats"}
    data = {"shape": [2, 8, 384], "steps": ["emb = x * 1.0", "pooled = emb.mean(dim=1)", conv]}
    err, fixed = check_error_fix(data)
    assert err.input_shape == (2, 8, 384) and err.input_axes[2] == "hidden (H)"
    assert err.fix.description.startswith(
        "insert `emb = emb.permute(0, 2, 1)` before step 3 and set its in_channels=384"
    )
    assert fixed.final.shape == (2, 8, 6) and fixed.stages[-1].extra("binds") == ("feats",)


def test_conv_fix_binds_a_new_name_when_a_later_step_still_reads_the_old_one():
    """``emb`` is read again after the Conv1d (a residual mean): permuting it in place would change that step, so
    the fix binds ``emb_t`` and feeds it to the Conv1d, and the later step still reads (2, 8, 384)."""
    conv = {"conv1d": {"in_channels": 8, "out_channels": 8, "kernel_size": 3}, "input": "emb", "output": "feats"}
    data = {"shape": [2, 8, 384], "steps": ["emb = x * 1.0", conv, "emb.mean(dim=1)"]}
    trace = run(data)
    (w,) = [w for w in trace.warnings if w.code == "conv_over_hidden"]
    assert "`emb.permute(0, 2, 1)`" in w.message
    assert "insert `emb_t = emb.permute(0, 2, 1)` before step 2 and set its in_channels=384" in w.fix.description
    fixed = run(apply_fix(data, w.fix))
    assert fixed.ok and not [x for x in fixed.warnings if x.severity == "warning"]
    assert fixed.spec.steps[2].input == "emb_t" and fixed.final.shape == (2, 384)
