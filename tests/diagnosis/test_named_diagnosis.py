"""Diagnosis over named steps, as pasted code writes them: ``out, (h_n, c_n) = self.lstm(x)``,
``last = out[:, -1, :]``, ``pooled = hidden.mean(dim=1)``, ``logits = self.fc(h)``.

Each row: a spec in that style, the finding (warning code or error kind), wording it must contain, and the exact
step the fix writes (keeping the user's target and names). The fix is applied and the spec re-run: it must run
with no warning at all. Then the two leftovers of issue 12: the LSTM wording for a padded last step a few steps
after the LSTM, and a failure's input being the tensor the step reads. (Correct named pipelines and the lessons in
named form: ``test_named_no_false_alarms``.)
"""

from __future__ import annotations

import pytest
from named_forms import BI, THREE, TINY, UNI, fix_steps, lstm, run, warnings_of

from core.fixes import apply_fix

SHORT_LONG = ["a b", "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"]


# (id, spec, code, wording fragments, the step the fix writes — a string, or a list of steps it must contain)
PASTED = [
    (
        "bilstm-last-step",
        {
            "shape": [4, 10, 32],
            "steps": [
                lstm(BI),
                "last = out[:, -1, :]",
                {"linear": {"out_features": 2}, "input": "last", "output": "logits"},
            ],
        },
        "bidirectional_last_step",
        ["`last = out[:, -1, :]` takes the last position (9) of a bidirectional LSTM's output", "2 × 16"],
        "last = torch.cat([h_n[-2], h_n[-1]], dim=1)",
        False,
    ),
    (
        "bilstm-last-step-own-state-names",
        {"shape": [4, 10, 32], "steps": [lstm(BI, "out, (hidden, cell)"), "last = out[:, -1, :]"]},
        "bidirectional_last_step",
        ["both are in hidden: `torch.cat([hidden[-2], hidden[-1]], dim=1)`"],
        "last = torch.cat([hidden[-2], hidden[-1]], dim=1)",
        False,
    ),
    (
        "bilstm-h-backward-only",
        {"shape": [4, 10, 32], "steps": [lstm(BI, "out, (h, c)"), "final = h[-1]"]},
        "bidirectional_last_step",
        ["is the last entry of h", "the backward direction of the last layer only"],
        "final = torch.cat([h[-2], h[-1]], dim=1)",
        False,
    ),
    (
        "bigru-seq-first-named-input",
        {
            "shape": [6, 7, 16],
            "steps": [
                "seq = x.transpose(0, 1)",
                {"gru": {"hidden_size": 8, "bidirectional": True}, "input": "seq", "output": "out, h"},
                "last = out[-1]",
            ],
        },
        "bidirectional_last_step",
        ["bidirectional GRU's output"],
        "last = torch.cat([h[-2], h[-1]], dim=1)",
        False,
    ),
    (
        "padded-lstm-last-step",
        {"texts": THREE, "checkpoint": TINY, "steps": [lstm(UNI), "last = out[:, -1, :]"]},
        "padded_last_step",
        ["the LSTM output after reading [PAD] tokens", "without packing, `h_n[-1]` is this same padded last step"],
        "last = out[torch.arange(out.shape[0]), lengths - 1]",
        True,
    ),
    (
        "padded-bilstm-last-step",
        {"texts": THREE, "checkpoint": TINY, "steps": [lstm({**BI, "hidden_size": 8}), "last = out[:, -1, :]"]},
        "padded_last_step",
        ["forward 8 then backward 8 features"],
        "last = torch.cat([out[torch.arange(out.shape[0]), lengths - 1, :8], out[:, 0, 8:]], dim=1)",
        True,
    ),
    (
        "padded-h-of-a-gru",
        {"texts": THREE, "checkpoint": TINY, "steps": [{"gru": UNI, "output": "out, h"}, "final = h[-1]"]},
        "padded_last_step",
        ["the same value as `out[:, -1, :]` of the output"],
        "final = out[torch.arange(out.shape[0]), lengths - 1]",
        True,
    ),
    (
        "mean-over-hidden",
        {
            "texts": SHORT_LONG,
            "checkpoint": TINY,
            "steps": [
                "hidden = x",
                "pooled = hidden.mean(dim=1)",
                {"linear": {"out_features": 2}, "input": "pooled", "output": "logits"},
            ],
        },
        "unmasked_reduction",
        ["`pooled = hidden.mean(dim=1)` takes the mean over all 18 positions", "pooling 'mean'"],
        "pooled = (hidden * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True)",
        True,
    ),
    (
        "mean-over-lstm-output",
        {"texts": THREE, "checkpoint": TINY, "steps": [lstm(UNI), "pooled = out.mean(dim=1)"]},
        "unmasked_reduction",
        ["the LSTM's outputs at [PAD] positions are averaged in"],
        "pooled = (out * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True)",
        True,
    ),
    (
        "max-unpacked-values-indices",
        {"texts": THREE, "checkpoint": TINY, "steps": ["values, indices = x.max(dim=1)"]},
        "unmasked_reduction",
        ["compete for every feature's maximum"],
        'values, indices = x.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).max(dim=1)',
        True,
    ),
    (
        "sum-seq-first-function-form",
        {"texts": THREE, "checkpoint": TINY, "steps": ["seq = x.transpose(0, 1)", "total = torch.sum(seq, dim=0)"]},
        "unmasked_reduction",
        ["are added in"],
        "total = torch.sum((seq * mask.T.unsqueeze(-1)), dim=0)",
        True,
    ),
    (
        "h_n-view-into-rows",
        {"shape": [4, 10, 32], "steps": [lstm(BI), "flat = h_n.view(4, -1)"]},
        "batch_axis_mixed",
        ["mixing the batch axis with layers·directions"],
        "flat = h_n.permute(1, 0, 2).reshape(4, -1)",
        False,
    ),
    (
        "h-batch-first-assumed",
        {"shape": [4, 10, 32], "steps": [lstm(BI, "out, (h, c)"), "pick = h[:, -2, :]"]},
        "batch_axis_dropped",
        ["indexes dim 1 of h", "h is (num_layers·num_directions, batch, hidden) even with batch_first=True"],
        "pick = torch.cat([h[-2], h[-1]], dim=1)",
        False,
    ),
    (
        "view-as-transpose-into-conv",
        {
            "shape": [100, 12, 6],
            "steps": [
                "emb = x.view(100, 6, 12)",
                {"conv1d": {"in_channels": 6, "out_channels": 4, "kernel_size": 3}, "input": "emb", "output": "feats"},
            ],
        },
        "view_as_permute",
        ["the same shape as `x.permute(0, 2, 1)`, but not the same data"],
        "emb = x.permute(0, 2, 1)",
        False,
    ),
    (
        "conv-over-hidden-on-emb",
        {
            "shape": [2, 8, 64],
            "steps": [
                "emb = x * 1.0",
                {"conv1d": {"in_channels": 8, "out_channels": 4, "kernel_size": 3}, "input": "emb", "output": "feats"},
            ],
        },
        "conv_over_hidden",
        ["Put hidden on dim 1 first: `emb.permute(0, 2, 1)`"],
        ["emb = emb.permute(0, 2, 1)"],
        False,
    ),
    (
        "pooled-into-lstm-unbatched",
        {
            "shape": [4, 10, 32],
            "steps": ["pooled = x[:, 0, :]", lstm(UNI, input="pooled")],
        },
        "unbatched_sequence",
        ["`pooled.unsqueeze(1)`"],
        "pooled = pooled.unsqueeze(1)",
        False,
    ),
    (
        "batch-first-missing-on-emb",
        {"shape": [4, 10, 32], "steps": ["emb = x * 1.0", lstm({"hidden_size": 8}, input="emb")]},
        "batch_first",
        ["but `emb` is (batch (B), tokens (L), hidden (H))"],
        None,
        False,
    ),
    (
        "h0-batch-as-a-number-on-emb",
        {
            "shape": [4, 10, 32],
            "steps": [
                "emb = x * 1.0",
                lstm(UNI, input="emb", h0="torch.zeros(1, 4, 8)", c0="torch.zeros(1, 4, 8)"),
            ],
        },
        "state_fixed_batch",
        ["`emb.size(0)`"],
        None,
        False,
    ),
    (
        "softmax-into-cross-entropy",
        {
            "shape": [8, 32],
            "labels": [0, 1, 2, 0, 1, 2, 0, 1],
            "steps": [
                {"linear": {"out_features": 3}, "output": "logits"},
                "probs = torch.softmax(logits, dim=-1)",
                {"loss": {"kind": "CrossEntropyLoss"}, "input": "probs"},
            ],
        },
        "softmax_before_loss",
        ["Give CrossEntropyLoss the raw logits (`logits`)"],
        None,
        False,
    ),
    (
        "softmax-rebinds-logits",
        {
            "shape": [8, 32],
            "labels": [0, 1, 2, 0, 1, 2, 0, 1],
            "steps": [
                {"linear": {"out_features": 3}, "output": "logits"},
                "logits = logits.softmax(-1)",
                {"loss": {"kind": "CrossEntropyLoss"}, "input": "logits"},
            ],
        },
        "softmax_before_loss",
        ["Step 2 `logits = logits.softmax(-1)`"],
        None,
        False,
    ),
    (
        "mse-pred-not-squeezed",
        {
            "shape": [8, 32],
            "steps": [
                {"linear": {"out_features": 1}, "output": "pred"},
                {"loss": {"kind": "MSELoss"}, "input": "pred", "target": {"shape": [8], "dtype": "float"}},
            ],
        },
        "loss_broadcast",
        ["`pred.squeeze(-1)`"],
        "pred = pred.squeeze(-1)",
        False,
    ),
]


@pytest.mark.parametrize("sid,data,code,fragments,expected,model", PASTED, ids=[p[0] for p in PASTED])
def test_pasted_style_steps_are_warned_and_fixed_in_their_own_names(
    sid, data, code, fragments, expected, model, tiny_ckpt
):
    ckpt = tiny_ckpt if model else None
    trace = run(data, ckpt)
    assert trace.ok, str(trace.error)
    found = [w for w in trace.warnings if w.code == code]
    assert len(found) == 1, [w.to_dict() for w in trace.warnings]
    w = found[0]
    for fragment in fragments:
        assert fragment in w.message, (fragment, w.message)
    assert w.fix is not None, w.message
    if isinstance(expected, str):
        assert expected in fix_steps(w.fix), (expected, w.fix)
    elif expected is not None:
        assert all(e in fix_steps(w.fix) for e in expected), (expected, w.fix)
    fixed = run(apply_fix(data, w.fix), ckpt)
    assert fixed.ok, str(fixed.error)
    assert not warnings_of(fixed), [x.to_dict() for x in warnings_of(fixed)]


def test_initial_state_fix_reads_the_batch_from_the_layers_own_input():
    data = next(p[1] for p in PASTED if p[0] == "h0-batch-as-a-number-on-emb")
    (w,) = [w for w in run(data).warnings if w.code == "state_fixed_batch"]
    step = w.fix.value[1]
    assert step["h0"] == "torch.zeros(1, emb.size(0), 8)" and step["c0"] == "torch.zeros(1, emb.size(0), 8)"
    assert step["input"] == "emb" and step["output"] == "out, (h_n, c_n)"


def test_softmax_fixes_give_the_loss_the_logits():
    probs = next(p[1] for p in PASTED if p[0] == "softmax-into-cross-entropy")
    (w,) = [w for w in run(probs).warnings if w.code == "softmax_before_loss"]
    assert w.fix.op == "replace" and w.fix.step["input"] == "logits"
    rebound = next(p[1] for p in PASTED if p[0] == "softmax-rebinds-logits")
    (w,) = [w for w in run(rebound).warnings if w.code == "softmax_before_loss"]
    assert w.fix.op == "delete" and w.fix.index == 1


# (id, spec, error kind, explanation fragments, fix fragments, the input shape the error names)
PASTED_ERRORS = [
    (
        "conv-768-on-emb",
        {
            "shape": [2, 8, 384],
            "steps": [
                "emb = x * 1.0",
                "pooled = emb.mean(dim=1)",
                {"conv1d": {"in_channels": 768, "out_channels": 4, "kernel_size": 3}, "input": "emb", "output": "f"},
            ],
        },
        "conv_channels",
        ["the features are hidden (H) = 384 on dim 2"],
        ["insert `emb = emb.permute(0, 2, 1)` before step 3 and set its in_channels=384"],
        (2, 8, 384),
    ),
    (
        "lstm-input-size-on-transposed-emb",
        {
            "shape": [4, 10, 32],
            "steps": [
                "emb = x.transpose(1, 2)",
                {"lstm": {"input_size": 32, "hidden_size": 8, "batch_first": True}, "input": "emb"},
            ],
        },
        "rnn_input_size",
        [],
        ["insert `emb = emb.permute(0, 2, 1)` before step 2"],
        (4, 32, 10),
    ),
    (
        "linear-on-unflattened-feats",
        {
            "shape": [4, 10, 32],
            "steps": ["feats = x * 1.0", {"linear": {"in_features": 320, "out_features": 2}, "input": "feats"}],
        },
        "linear_mat",
        [],
        ["insert `feats = feats.flatten(1)` before step 2"],
        (4, 10, 32),
    ),
    (
        "reshape-size-named",
        {"shape": [4, 10, 32], "steps": ["w = x.mean(dim=1)", "grid = x.reshape(4, 10, 16, 3)"]},
        "reshape_numel",
        [],
        ["replace step 2 by `grid = x.reshape(4, 10, 16, 2)`"],
        (4, 10, 32),
    ),
    (
        "view-after-transpose-named",
        {"shape": [4, 10, 32], "steps": ["t = x.transpose(1, 2)", "flat = t.view(4, -1)"]},
        "view_stride",
        [],
        ["`flat = t.reshape(4, -1)`"],
        (4, 32, 10),
    ),
    (
        "bce-on-logits-not-the-previous-stage",
        {
            "shape": [16, 32],
            "steps": [
                {"linear": {"out_features": 4}, "output": "logits"},
                "score = logits.mean(dim=1)",
                {
                    "loss": {"kind": "BCEWithLogitsLoss"},
                    "input": "logits",
                    "target": {"shape": [16, 3], "dtype": "float", "high": 2},
                },
            ],
        },
        "loss_target_size",
        ["your logits are [16, 4], your targets [16, 3]"],
        ["set out_features=3 on step 1"],
        (16, 4),
    ),
    (
        "per-token-labels-after-a-named-pick",
        {
            "shape": [8, 64, 32],
            "steps": [
                {"linear": {"out_features": 5}, "output": "tok_logits"},
                "logits = tok_logits[:, 0]",
                {
                    "loss": {"kind": "CrossEntropyLoss"},
                    "input": "logits",
                    "target": {"shape": [512], "dtype": "long", "high": 5},
                },
            ],
        },
        "loss_batch",
        ["512 = 8 × 64"],
        ["replace step 2 by `logits = tok_logits.view(-1, 5)` (it dropped the tokens)"],
        (8, 5),
    ),
]


@pytest.mark.parametrize("sid,data,kind,expl,fix_parts,shape", PASTED_ERRORS, ids=[p[0] for p in PASTED_ERRORS])
def test_pasted_style_failures_name_the_tensor_the_step_reads(sid, data, kind, expl, fix_parts, shape):
    trace = run(data)
    err = trace.error
    assert err is not None and err.kind == kind, (err and err.kind, err and err.message)
    assert tuple(err.input_shape) == shape, (err.input_shape, shape)
    assert trace.to_dict()["error"]["input_shape"] == list(shape)
    for fragment in expl:
        assert fragment in err.explanation, (fragment, err.explanation)
    assert err.fix is not None, err.explanation
    for fragment in fix_parts:
        assert fragment in err.fix.description, (fragment, err.fix.description)
    fixed = run(apply_fix(data, err.fix))
    assert fixed.ok, (fixed.error.message, fixed.error.explanation)
    assert not warnings_of(fixed), [w.to_dict() for w in warnings_of(fixed)]


# ------------------------------------------------------------------------------------------- leftovers


@pytest.mark.parametrize(
    "steps,wording,fixed_step",
    [
        (  # a per-token Linear between the LSTM and the pick: still the LSTM's [PAD] outputs, projected
            [{"lstm": UNI}, {"linear": {"out_features": 4}}, "x[:, -1, :]"],
            "computed from the LSTM output after reading [PAD] tokens",
            "x[torch.arange(x.shape[0]), lengths - 1]",
        ),
        (  # a layout-keeping step in between: the LSTM's own output
            [{"lstm": UNI}, "x.contiguous()", "x[:, -1, :]"],
            "the LSTM output after reading [PAD] tokens",
            "x[torch.arange(x.shape[0]), lengths - 1]",
        ),
        (
            [lstm(UNI), "scores = out * 2.0", "last = scores[:, -1, :]"],
            "the LSTM output after reading [PAD] tokens",
            "last = scores[torch.arange(scores.shape[0]), lengths - 1]",
        ),
        (
            [
                {"gru": UNI, "output": "out, h"},
                {"linear": {"out_features": 4}, "input": "out", "output": "proj"},
                "w = proj.sum(dim=-1)",
                "last = proj[:, -1, :]",
            ],
            "computed from the GRU output after reading [PAD] tokens",
            "last = proj[torch.arange(proj.shape[0]), lengths - 1]",
        ),
    ],
    ids=["linear-between", "contiguous-between", "named-scaled", "named-gru-two-steps-on"],
)
def test_padded_last_step_a_few_steps_after_the_lstm_gets_the_lstm_wording(steps, wording, fixed_step, tiny_ckpt):
    data = {"texts": THREE, "checkpoint": TINY, "steps": steps}
    trace = run(data, tiny_ckpt)
    (w,) = [w for w in trace.warnings if w.code == "padded_last_step"]
    assert wording in w.message and "[SEP] is last only for the longest text" not in w.message, w.message
    assert "pack the batch" in w.message
    assert w.fix.step == fixed_step
    fixed = run(apply_fix(data, w.fix), tiny_ckpt)
    assert fixed.ok and not warnings_of(fixed), [x.to_dict() for x in warnings_of(fixed)]


def test_a_pick_on_the_encoder_output_beside_an_lstm_keeps_the_bert_wording(tiny_ckpt):
    """The LSTM ran on another branch: ``x`` is still the encoder output, whose last position is [PAD]."""
    data = {"texts": THREE, "checkpoint": TINY, "steps": [lstm(UNI), "cls = x[:, -1, :]"]}
    (w,) = [w for w in run(data, tiny_ckpt).warnings if w.code == "padded_last_step"]
    assert "a [PAD] token ([SEP] is last only for the longest text)" in w.message and "LSTM" not in w.message
    assert w.fix.step == "cls = x[torch.arange(x.shape[0]), lengths - 1]"


def test_the_loss_failure_names_the_shape_of_the_name_it_reads():
    """The previous stage is (16,) (``score``); the loss reads ``logits`` (16, 4): the error says (16, 4)."""
    data = next(p[1] for p in PASTED_ERRORS if p[0] == "bce-on-logits-not-the-previous-stage")
    trace = run(data)
    assert trace.stages[-1].shape == (16,)
    err = trace.to_dict()["error"]
    assert err["input_shape"] == [16, 4] and err["input_axes"] == ["batch (B)", "out_features (F_out)"]
    assert "(16,)" not in trace.error.explanation
