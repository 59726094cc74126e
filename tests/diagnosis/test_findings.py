"""Semantic warnings and explained failures: pinned wording, and every offered fix applied and re-run."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from seed_examples import CORRECT, CORRECT_MODEL, TEXTS

from core.diagnosis.findings import spec_findings
from core.fixes import apply_fix
from core.spec import Spec
from core.trace import run_spec

TINY = "random:bert-tiny"


def run(data: dict, ckpt=None):
    return run_spec(Spec.from_dict(data), ckpt, device="cpu")


def warnings_of(trace, severity: str = "warning") -> list:
    return [w for w in trace.warnings if w.severity == severity]


# (id, spec, finding code, pinned wording fragments, fix edit op, needs the tiny checkpoint)
WARNINGS = [
    (
        "004-view-as-permute",
        {
            "shape": [32, 128, 768],
            "steps": ["x.view(32, 768, 128)", {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}],
        },
        "view_as_permute",
        ["the same shape as `x.permute(0, 2, 1)`, but not the same data", "scrambled"],
        ("replace", "x.permute(0, 2, 1)"),
        False,
    ),
    (
        "000-reshape-cuts-tokens",
        {"shape": [32, 125, 768], "steps": ["x.reshape(32, 16, 6000)"]},
        "reshape_cuts_axis",
        ["cut through tokens: 6,000 = 7.8125 × 768", "Pad tokens to a multiple of 16", "8 × 768 = 6,144"],
        ("replace", "F.pad(x, (0, 0, 0, 3)).reshape(32, 16, 6144)"),
        False,
    ),
    (
        "lstm-batch-first-false",
        {"shape": [4, 10, 16], "steps": [{"lstm": {"hidden_size": 8}}]},
        "batch_first",
        ["stepped through the 4 batch entries as if they were time", "Set batch_first=True"],
        ("set_param", None),
        False,
    ),
    (
        "001-cls-without-unsqueeze",
        {"shape": [4, 10, 16], "steps": ["x[:, 0, :]", {"lstm": {"hidden_size": 8, "batch_first": True}}]},
        "unbatched_sequence",
        ["silently read it as ONE unbatched sequence of 4 time steps", "`x.unsqueeze(1)` -> (4, 1, 16)"],
        ("insert", "x.unsqueeze(1)"),
        False,
    ),
    (
        "gru-pooled-batch-first-false",
        {"shape": [4, 16], "steps": [{"gru": {"hidden_size": 8}}]},
        "unbatched_sequence",
        ["nn.GRU got a 2-D (batch (B), hidden (H)) tensor"],
        ("insert", "x.unsqueeze(0)"),
        False,
    ),
    (
        "conv-over-hidden-inferred",
        {"shape": [4, 10, 16], "steps": [{"conv1d": {"out_channels": 8, "kernel_size": 3}}]},
        "conv_over_hidden",
        ["its 10 channels are your tokens (L) and it slides along hidden (H)", "`x.permute(0, 2, 1)`"],
        ("insert", "x.permute(0, 2, 1)"),
        False,
    ),
    (
        "conv-over-hidden-in-channels-equal-L",
        {"shape": [4, 10, 16], "steps": [{"conv1d": {"in_channels": 10, "out_channels": 8, "kernel_size": 3}}]},
        "conv_over_hidden",
        ["It only ran because in_channels equals the number of tokens"],
        ("set", None),
        False,
    ),
    (
        "padded-last-step-after-lstm",
        {
            "texts": TEXTS,
            "checkpoint": TINY,
            "steps": [{"lstm": {"hidden_size": 8, "batch_first": True}}, "x[:, -1, :]"],
        },
        "padded_last_step",
        [
            "the batch is padded: 2 of 3 texts are shorter",
            "LSTM output after reading [PAD] tokens",
            "`x[torch.arange(x.shape[0]), lengths - 1]`",
            "nn.utils.rnn.pack_padded_sequence",
            "h_n[-1]",
        ],
        ("replace", "x[torch.arange(x.shape[0]), lengths - 1]"),
        True,
    ),
    (
        "padded-last-position-of-bert",
        {"texts": TEXTS, "checkpoint": TINY, "steps": ["x[:, -1, :]"]},
        "padded_last_step",
        ["a [PAD] token ([SEP] is last only for the longest text)"],
        ("replace", "x[torch.arange(x.shape[0]), lengths - 1]"),
        True,
    ),
    (
        "padded-h_n",
        {"texts": TEXTS, "checkpoint": TINY, "steps": [{"gru": {"hidden_size": 8, "batch_first": True}}, "h_n[-1]"]},
        "padded_last_step",
        ["the state after reading [PAD] tokens — the same value as `x[:, -1, :]`"],
        ("replace", "x[torch.arange(x.shape[0]), lengths - 1]"),
        True,
    ),
]


@pytest.mark.parametrize("sid,data,code,fragments,edit,model", WARNINGS, ids=[w[0] for w in WARNINGS])
def test_warning_wording_and_fix(sid, data, code, fragments, edit, model, tiny_ckpt):
    ckpt = tiny_ckpt if model else None
    trace = run(data, ckpt)
    assert trace.ok, str(trace.error)
    found = [w for w in trace.warnings if w.code == code]
    assert len(found) == 1, [w.code for w in trace.warnings]
    w = found[0]
    assert w.severity == "warning" and w.step_index is not None
    for fragment in fragments:
        assert fragment in w.message, (fragment, w.message)
    assert w.fix is not None
    op, step = edit
    assert w.fix.op == op
    if step is not None:
        assert w.fix.step == step
    d = w.to_dict()
    assert d["fix"] == w.fix.description and d["fix_edit"]["op"] == op
    fixed = run(apply_fix(data, w.fix), ckpt)
    assert fixed.ok, str(fixed.error)
    assert not [x for x in fixed.warnings if x.code == code]
    assert not warnings_of(fixed)


def test_batch_first_fix_sets_the_parameter():
    trace = run({"shape": [4, 10, 16], "steps": [{"lstm": {"hidden_size": 8}}]})
    fix = warnings_of(trace)[0].fix
    assert (fix.param, fix.value, fix.index) == ("batch_first", True, 0)


def test_conv_fix_with_explicit_in_channels_also_sets_them():
    data = {"shape": [4, 10, 16], "steps": [{"conv1d": {"in_channels": 10, "out_channels": 8, "kernel_size": 3}}]}
    fix = warnings_of(run(data))[0].fix
    assert fix.key == "steps"
    assert fix.value == ["x.permute(0, 2, 1)", {"conv1d": {"in_channels": 16, "out_channels": 8, "kernel_size": 3}}]


def test_gather_fix_picks_each_texts_last_real_token(tiny_ckpt):
    data = {
        "texts": TEXTS,
        "checkpoint": TINY,
        "steps": [{"lstm": {"hidden_size": 8, "batch_first": True}}, "x[:, -1, :]"],
    }
    trace = run(data, tiny_ckpt)
    fixed = run(apply_fix(data, warnings_of(trace)[0].fix), tiny_ckpt)
    lstm_out, lengths = fixed.tensors[1], fixed.encoding.lengths
    expected = torch.stack([lstm_out[b, n - 1] for b, n in enumerate(lengths)])
    torch.testing.assert_close(fixed.tensors[2], expected)
    # and the warned-about value really differs for the padded texts
    assert not torch.allclose(trace.tensors[2], expected)


def test_h_n_equals_last_output_step_so_the_warning_is_honest(tiny_ckpt):
    data = {"texts": TEXTS, "checkpoint": TINY, "steps": [{"gru": {"hidden_size": 8, "batch_first": True}}, "h_n[-1]"]}
    trace = run(data, tiny_ckpt)
    torch.testing.assert_close(trace.tensors[2], trace.tensors[1][:, -1, :])


def test_not_padded_batch_gives_no_last_step_warning(tiny_ckpt):
    trace = run(
        {
            "texts": ["one text only"],
            "checkpoint": TINY,
            "steps": [{"lstm": {"hidden_size": 8, "batch_first": True}}, "x[:, -1, :]"],
        },
        tiny_ckpt,
    )
    assert not warnings_of(trace)
    notes = [w for w in trace.warnings if w.code == "axis_dropped"]
    assert notes and "drops tokens (L): took the last position" in notes[0].message


def test_cls_index_note(tiny_ckpt):
    trace = run({"texts": TEXTS, "checkpoint": TINY, "steps": ["x[:, 0, :]"]}, tiny_ckpt)
    assert not warnings_of(trace)
    (note,) = [w for w in trace.warnings if w.code == "axis_dropped"]
    assert note.severity == "note" and "drops tokens (L): took [CLS]" in note.message


# ------------------------------------------------------------------------------------- spec-level notes


def _info(**kw):
    base = dict(id="x", real_weights=True, pooler_trained=True, trained_pooling=None)
    return SimpleNamespace(**{**base, **kw})


def test_pooling_notes_are_notes_with_a_fix():
    cls = Spec.from_dict({"texts": ["a"], "pooling": "cls"})
    (note,) = spec_findings(cls, _info(trained_pooling="mean"), None)
    assert note.code == "cls_on_mean_model" and note.severity == "note"
    assert "was trained for mean pooling" in note.message
    assert (note.fix.op, note.fix.key, note.fix.value) == ("set", "pooling", "mean")
    pooler = Spec.from_dict({"texts": ["a"], "pooling": "pooler"})
    (note,) = spec_findings(pooler, _info(pooler_trained=False), None)
    assert note.code == "pooler_untrained" and "did not train" in note.message
    assert apply_fix(pooler.to_dict(), note.fix)["pooling"] == "mean"
    assert spec_findings(Spec.from_dict({"texts": ["a"], "pooling": "mean"}), _info(trained_pooling="mean"), None) == []
    (rnd,) = spec_findings(Spec.from_dict({"texts": ["a"]}), _info(real_weights=False, id="random:bert-base"), None)
    assert rnd.code == "random_weights" and "values are meaningless" in rnd.message and rnd.fix is None


def test_pooler_note_through_the_engine(tiny_ckpt):
    data = {"texts": TEXTS, "checkpoint": TINY, "pooling": "pooler"}
    trace = run(data, tiny_ckpt)
    codes = {w.code for w in trace.warnings}
    assert {"random_weights", "pooler_untrained"} <= codes and not warnings_of(trace)
    note = next(w for w in trace.warnings if w.code == "pooler_untrained")
    fixed = run(apply_fix(data, note.fix), tiny_ckpt)
    assert fixed.ok and "pooler_untrained" not in {w.code for w in fixed.warnings}


@pytest.mark.slow
def test_cls_on_the_bundled_mean_model_is_noted(real_ckpt):
    data = {"texts": ["This movie was absolutely amazing!"], "pooling": "cls"}
    trace = run(data, real_ckpt)
    (note,) = [w for w in trace.warnings if w.code == "cls_on_mean_model"]
    fixed = run(apply_fix(data, note.fix), real_ckpt)
    assert fixed.ok and not fixed.warnings


# ------------------------------------------------------------------------------------------- failures

# (id, spec, pinned explanation fragments, fix op, fix fragment)
ERRORS = [
    (
        "000-pad-then-reshape-as-written",
        {"shape": [32, 125, 768], "steps": ["F.pad(x, (0, 0, 0, 3))", "x.reshape(32, 16, (125 * 768) // 16)"]},
        ["3,145,728", "32 × 16 × 6000 = 3,072,000", "= 6144", "tokens (L+3) is 128 here"],
        "replace",
        "x.reshape(32, 16, 6144)",
    ),
    (
        "003-return-sequences",
        {
            "shape": [32, 10, 128],
            "steps": [{"lstm": {"input_size": 128, "hidden_size": 64, "batch_first": True, "return_sequences": False}}],
        },
        ["return_sequences is a Keras argument", "(output, (h_n, c_n))", "output[:, -1, :]"],
        "delete_param",
        "add a step `x[:, -1, :]`",
    ),
    (
        "keras-units",
        {"shape": [4, 10, 16], "steps": [{"lstm": {"hidden_size": 8, "units": 8, "batch_first": True}}]},
        ["units is Keras' output size"],
        "delete_param",
        "remove units",
    ),
    (
        "004-conv-on-bert-layout",
        {"shape": [32, 128, 768], "steps": [{"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}]},
        ["takes the channels from dim 1", "The 768 is at dim 2 (hidden)"],
        "insert",
        "insert `x.permute(0, 2, 1)` before step 1",
    ),
    (
        "linear-on-3d-expects-flattened",
        {"shape": [32, 128, 768], "steps": [{"linear": {"in_features": 98304, "out_features": 2}}]},
        ["4096x768 @ 98304x2", "in_features=98304"],
        "insert",
        "insert `x.flatten(1)`",
    ),
    (
        "linear-after-flatten",
        {"shape": [32, 128, 768], "steps": ["x.flatten(1)", {"linear": {"in_features": 768, "out_features": 2}}]},
        ["32x98304 @ 768x2"],
        "set_param",
        "set in_features=98304",
    ),
    (
        "view-after-permute",
        {"shape": [32, 128, 768], "steps": ["x.permute(0, 2, 1)", "x.view(32, -1)"]},
        [".view() never copies", "non-contiguous"],
        "replace",
        "`x.reshape(32, -1)`",
    ),
    (
        "lstm-input-size",
        {"shape": [32, 128, 768], "steps": [{"lstm": {"input_size": 512, "hidden_size": 64, "batch_first": True}}]},
        ["built with input_size=512, but the last dim of your input is 768"],
        "set_param",
        "set input_size=768",
    ),
    (
        "lstm-after-conv",
        {
            "shape": [32, 128, 768],
            "steps": [
                "x.permute(0, 2, 1)",
                {"conv1d": {"out_channels": 256, "kernel_size": 3}},
                {"lstm": {"input_size": 256, "hidden_size": 64, "batch_first": True}},
            ],
        },
        ["The 256 is at dim 1 (channels)"],
        "insert",
        "moves channels (C_out) = 256 last",
    ),
    (
        "kernel-longer-than-sequence",
        {"shape": [2, 5, 8], "steps": ["x.permute(0, 2, 1)", {"conv1d": {"out_channels": 4, "kernel_size": 7}}]},
        ["a window of 7 cannot fit in 5 positions"],
        "set_param",
        "padding='same'",
    ),
]


@pytest.mark.parametrize("sid,data,fragments,op,fix_fragment", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_explanation_and_fix_makes_it_run(sid, data, fragments, op, fix_fragment):
    trace = run(data)
    err = trace.error
    assert err is not None
    for fragment in fragments:
        assert fragment in err.explanation, (fragment, err.explanation)
    assert err.fix is not None and err.fix.op == op
    assert fix_fragment in err.fix.description or fix_fragment == err.fix.step, err.fix
    d = trace.to_dict()["error"]
    assert d["explanation"] == err.explanation and d["fix"] == err.fix.description and d["fix_edit"]["op"] == op
    fixed = run(apply_fix(data, err.fix))
    assert fixed.ok, str(fixed.error)


def test_unfixable_error_still_explained_without_a_fix():
    trace = run({"shape": [2, 3, 4], "steps": ["x.permute(0, 1)"]})
    assert trace.error is not None and trace.error.explanation and trace.error.fix is None


def test_error_keeps_its_message_step_and_input_axes():
    trace = run(
        {"shape": [32, 128, 768], "steps": [{"conv1d": {"in_channels": 768, "out_channels": 8, "kernel_size": 3}}]}
    )
    d = trace.to_dict()["error"]
    assert d["input_axes"] == ["batch (B)", "tokens (L)", "hidden (H)"]
    assert "expected input[32, 128, 768] to have 768 channels" in d["message"] and d["step"] == 0


# ------------------------------------------------------------------------ the seeds' correct examples


@pytest.mark.parametrize("sid,data", CORRECT, ids=[c[0] for c in CORRECT])
def test_seed_correct_examples_have_no_warnings(sid, data):
    trace = run(data)
    assert trace.ok, str(trace.error)
    assert not warnings_of(trace), [w.message for w in warnings_of(trace)]
    assert not any(a.role == "mixed" for s in trace.stages for a in s.axes)


TINY_OK = [c for c in CORRECT_MODEL if c[1].get("pooling") != "last4_concat"]  # bert-tiny has 2 layers


@pytest.mark.parametrize("sid,data", TINY_OK, ids=[c[0] for c in TINY_OK])
def test_seed_correct_model_examples_have_no_warnings(sid, data, tiny_ckpt):
    trace = run({**data, "checkpoint": TINY}, tiny_ckpt)
    assert trace.ok, str(trace.error)
    assert not warnings_of(trace), [w.message for w in warnings_of(trace)]


@pytest.mark.slow
@pytest.mark.parametrize("sid,data", CORRECT_MODEL, ids=[c[0] for c in CORRECT_MODEL])
def test_seed_correct_examples_on_the_bundled_model(sid, data, real_ckpt):
    trace = run(data, real_ckpt)
    assert trace.ok, str(trace.error)
    assert not warnings_of(trace), [w.message for w in warnings_of(trace)]


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_trace_json_carries_warnings_and_errors(tmp_path, capsys):
    from core.cli import main

    path = tmp_path / "spec.json"
    path.write_text(json.dumps(WARNINGS[0][1]))
    assert main(["trace", "--spec", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    (w,) = [w for w in out["stages"][1]["warnings"] if w["code"] == "view_as_permute"]
    assert w["fix_edit"] == {"op": "replace", "index": 0, "step": "x.permute(0, 2, 1)"} and w["fix"]
    assert out["warnings"][0]["code"] == "view_as_permute"
    assert [d["role"] for d in out["stages"][1]["axis_details"]] == ["batch", "mixed", "mixed"]

    path.write_text(json.dumps(ERRORS[0][1]))
    assert main(["trace", "--spec", str(path)]) == 1
    err = json.loads(capsys.readouterr().out)["error"]
    assert "32 × 16 × 6000 = 3,072,000" in err["explanation"]
    assert err["fix_edit"] == {"op": "replace", "index": 1, "step": "x.reshape(32, 16, 6144)"}
