"""Issue 12 §1 through the trace: loss and initial-state errors reproduced by a Spec, explained with the real cause
and fixed with the right numbers; the fix applied and re-run must remove the error and create no warning."""

from __future__ import annotations

import pytest

from core.fixes import apply_fix
from core.spec import Spec
from core.trace import run_spec

TINY = "random:bert-tiny"
TWO = ["a b", "one two three four five six seven eight nine ten eleven"]
LIN = {"linear": {"out_features": 4}}


def run(data: dict, ckpt=None):
    return run_spec(Spec.from_dict(data), ckpt, device="cpu")


def loss(kind: str, target=None, **params) -> dict:
    step: dict = {"loss": {"kind": kind, **params}}
    if target is not None:
        step["target"] = target
    return step


def synth(shape, dtype="long", high=None) -> dict:
    return {"shape": list(shape), "dtype": dtype, **({"high": high} if high else {})}


# (id, spec, error kind, explanation fragments, fix fragments, needs tiny)
ERRORS = [
    # ---- BCE: label columns against the head's outputs
    (
        "bce-16x3-vs-16x4",
        {"shape": [16, 32], "steps": [LIN, loss("BCEWithLogitsLoss", synth((16, 3), "float", 2))]},
        "loss_target_size",
        ["your logits are [16, 4], your targets [16, 3]", "out_features=3"],
        ["set out_features=3 on step 1"],
        False,
    ),
    (
        "bce-texts-5-label-columns",
        {
            "texts": TWO,
            "checkpoint": TINY,
            "pooling": "mean",
            "labels": [[0.0, 1, 0, 0, 1], [1.0, 0, 0, 1, 0]],
            "steps": [{"linear": {"out_features": 2}}, loss("BCEWithLogitsLoss")],
        },
        "loss_target_size",
        ["your logits are [2, 2], your targets [2, 5]"],
        ["set out_features=5 on step 1"],
        True,
    ),
    (
        "bce-after-dropout-free-head-6-vs-10",
        {
            "shape": [4, 12, 16],
            "steps": [
                "x[:, 0]",
                {"linear": {"out_features": 10}},
                loss("BCEWithLogitsLoss", synth((4, 6), "float", 2)),
            ],
        },
        "loss_target_size",
        ["[4, 10]", "[4, 6]"],
        ["set out_features=6 on step 2"],
        False,
    ),
    # ---- class ids into BCEWithLogitsLoss
    (
        "bce-class-ids-vs-2-logits",
        {
            "shape": [16, 32],
            "steps": [{"linear": {"out_features": 2}}, loss("BCEWithLogitsLoss", synth((16,), "float", 2))],
        },
        "loss_target_size",
        ["class ids", "CrossEntropyLoss"],
        ["use nn.CrossEntropyLoss in step 2", "class ids (16,)", "against 2 logits"],
        False,
    ),
    (
        "bce-text-labels-3-classes",
        {
            "texts": ["x y", "a b c", "d"],
            "checkpoint": TINY,
            "pooling": "cls",
            "labels": [2, 0, 1],
            "steps": [{"linear": {"out_features": 3}}, loss("BCEWithLogitsLoss")],
        },
        "loss_target_size",
        ["class ids"],
        ["use nn.CrossEntropyLoss in step 2", "against 3 logits"],
        True,
    ),
    (
        "bce-one-output-not-squeezed",
        {
            "shape": [8, 32],
            "labels": [0.0, 1, 1, 0, 1, 0, 0, 1],
            "steps": [{"linear": {"out_features": 1}}, loss("BCEWithLogitsLoss")],
        },
        "loss_target_size",
        ["[8, 1]", "[8]"],
        ["insert `x.squeeze(-1)` before step 2"],
        False,
    ),
    # ---- rows into CrossEntropyLoss
    (
        "ce-one-hot-rows",
        {
            "shape": [3, 16],
            "labels": [[0, 1, 0], [1, 0, 0], [0, 0, 1]],
            "steps": [{"linear": {"out_features": 3}}, loss("CrossEntropyLoss")],
        },
        "multi_target",
        ["one-hot", "argmax"],
        ["target `labels.argmax(dim=1)`"],
        False,
    ),
    (
        "ce-multi-hot-rows",
        {
            "shape": [3, 16],
            "labels": [[0, 1, 1], [1, 0, 0], [1, 1, 1]],
            "steps": [{"linear": {"out_features": 3}}, loss("CrossEntropyLoss")],
        },
        "multi_target",
        ["multi-hot", "BCEWithLogitsLoss"],
        ["use nn.BCEWithLogitsLoss in step 2", "multi-hot rows (3, 3)"],
        False,
    ),
    (
        "ce-multi-hot-synthetic",
        {
            "shape": [6, 16],
            "steps": [{"linear": {"out_features": 4}}, loss("CrossEntropyLoss", synth((6, 4), "long", 2))],
        },
        "multi_target",
        ["multi-hot"],
        ["use nn.BCEWithLogitsLoss in step 2"],
        False,
    ),
    # ---- labels per token against logits per text: 512 = 8 × 64
    (
        "ce-8-vs-512-per-token",
        {
            "shape": [8, 64, 32],
            "steps": [{"linear": {"out_features": 5}}, "x[:, 0]", loss("CrossEntropyLoss", synth((512,), "long", 5))],
        },
        "loss_batch",
        ["512 = 8 × 64", "one per token"],
        [
            "remove step 2 (it dropped the tokens)",
            "insert `x.view(-1, 5)` before the loss",
            "(512, 5) against 512 labels",
        ],
        False,
    ),
    (
        "ce-pooled-vs-token-labels",
        {
            "texts": ["a b c d", "e f g h"],
            "checkpoint": TINY,
            "pooling": "mean",
            "labels": [[0, 1, 2, 1, 0, 0], [0, 2, 2, 1, 1, 0]],
            "steps": [{"linear": {"out_features": 3}}, loss("CrossEntropyLoss", "labels.view(-1)")],
        },
        "loss_batch",
        ["12 = 2 × 6"],
        ["set pooling to none (keep the tokens)", "insert `x.view(-1, 3)` before the loss"],
        True,
    ),
    (
        "ce-one-hot-flattened",
        {
            "shape": [4, 16],
            "labels": [[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]],
            "steps": [{"linear": {"out_features": 3}}, loss("CrossEntropyLoss", "labels.view(-1)")],
        },
        "loss_batch",
        ["12 = 4 × 3"],
        ["target `labels.argmax(dim=1)` (4,)"],
        False,
    ),
    (
        "ce-bidirectional-h_n-folded-into-batch",
        {
            "shape": [4, 10, 16],
            "labels": [0, 1, 1, 0],
            "steps": [
                {"lstm": {"hidden_size": 8, "batch_first": True, "bidirectional": True}},
                "h_n.reshape(-1, 8)",
                {"linear": {"out_features": 2}},
                loss("CrossEntropyLoss"),
            ],
        },
        "loss_batch",
        ["8 = 2 × 4", "folds its 2 layer/direction entries into the batch"],
        ["torch.cat([h_n[-2], h_n[-1]], dim=1)"],
        False,
    ),
    # ---- per-token logits with the classes last
    (
        "ce-per-token-logits-classes-last",
        {
            "shape": [8, 64, 32],
            "steps": [{"linear": {"out_features": 5}}, loss("CrossEntropyLoss", synth((8, 64), "long", 5))],
        },
        "loss_class_dim",
        ["[8, 64]"],
        ["insert `x.view(-1, 5)` before step 2", "`target.view(-1)`"],
        False,
    ),
    (
        "ce-per-token-texts-ragged-labels",
        {
            "texts": ["a b c d", "e f"],
            "checkpoint": TINY,
            "labels": [[0, 1, 2, 1, 0, 0], [0, 2, 1, 0]],
            "steps": [{"linear": {"out_features": 3}}, loss("CrossEntropyLoss")],
        },
        "loss_class_dim",
        ["[2, 6]"],
        ["insert `x.view(-1, 3)` before step 2", "`labels.view(-1)`"],
        True,
    ),
    # ---- initial states
    (
        "h0-last-smaller-batch",
        {
            "shape": [8, 10, 32],
            "steps": [
                {
                    "lstm": {"hidden_size": 300, "batch_first": True},
                    "h0": "torch.zeros(1, 32, 300)",
                    "c0": "torch.zeros(1, 32, 300)",
                }
            ],
        },
        "rnn_hidden",
        ["the last, smaller batch", "[1, 8, 300]"],
        ["h0 = `torch.zeros(1, x.size(0), 300)`", "c0 = `torch.zeros(1, x.size(0), 300)`"],
        False,
    ),
    (
        "h0-one-direction-for-bidirectional",
        {
            "shape": [8, 10, 32],
            "steps": [
                {
                    "lstm": {"hidden_size": 30, "batch_first": True, "bidirectional": True},
                    "h0": "torch.zeros(1, x.size(0), 30)",
                    "c0": "torch.zeros(1, x.size(0), 30)",
                }
            ],
        },
        "rnn_hidden",
        ["num_layers=1 × num_directions=2 = 2"],
        ["h0 = `torch.zeros(2, x.size(0), 30)`"],
        False,
    ),
    (
        "h0-gru-seq-first-2-layers",
        {
            "shape": [6, 10, 32],
            "steps": [
                "x.transpose(0, 1)",
                {"gru": {"hidden_size": 12, "num_layers": 2}, "h0": "torch.zeros(1, 4, 12)"},
            ],
        },
        "rnn_hidden",
        ["[2, 6, 12]"],
        ["h0 = `torch.zeros(2, x.size(1), 12)`"],
        False,
    ),
]


@pytest.mark.parametrize("sid,data,kind,expl,fix_parts,model", ERRORS, ids=[e[0] for e in ERRORS])
def test_loss_and_state_errors_are_explained_and_fixed(sid, data, kind, expl, fix_parts, model, tiny_ckpt):
    ckpt = tiny_ckpt if model else None
    trace = run(data, ckpt)
    err = trace.error
    assert err is not None and err.kind == kind, (err.kind if err else None, err and err.message)
    for fragment in expl:
        assert fragment in err.explanation, (fragment, err.explanation)
    assert err.fix is not None, err.explanation
    for fragment in fix_parts:
        assert fragment in err.fix.description or fragment in str(err.fix.to_dict()), (fragment, err.fix)
    fixed = run(apply_fix(data, err.fix), ckpt)
    assert fixed.ok, (fixed.error.message, fixed.error.explanation)
    assert not [w for w in fixed.warnings if w.severity == "warning"], [w.to_dict() for w in fixed.warnings]


# (id, spec, warning code, message fragments, fix fragments)
WARNINGS = [
    (
        "h0-fixed-batch-32",
        {
            "shape": [32, 10, 32],
            "steps": [
                {
                    "lstm": {"hidden_size": 300, "batch_first": True},
                    "h0": "torch.zeros(1, 32, 300)",
                    "c0": "torch.zeros(1, 32, 300)",
                }
            ],
        },
        "state_fixed_batch",
        ["the number 32", "the last batch of an epoch is usually smaller", "x.size(0)"],
        ["h0 = `torch.zeros(1, x.size(0), 300)`"],
    ),
    (
        "h0-fixed-batch-seq-first-gru",
        {
            "shape": [5, 7, 16],
            "steps": ["x.transpose(0, 1)", {"gru": {"hidden_size": 8}, "h0": "torch.zeros(1, 5, 8)"}],
        },
        "state_fixed_batch",
        ["the number 5", "x.size(1)"],
        ["h0 = `torch.zeros(1, x.size(1), 8)`"],
    ),
    (
        "h0-fixed-batch-tuple-sizes",
        {
            "shape": [4, 6, 16],
            "steps": [
                {
                    "lstm": {"hidden_size": 8, "num_layers": 2, "batch_first": True},
                    "h0": "torch.zeros((2, 4, 8))",
                    "c0": "torch.ones((2, 4, 8))",
                }
            ],
        },
        "state_fixed_batch",
        ["the number 4"],
        ["torch.zeros((2, x.size(0), 8))", "torch.ones((2, x.size(0), 8))"],
    ),
    (
        "mse-n1-vs-n",
        {"shape": [8, 32], "steps": [{"linear": {"out_features": 1}}, loss("MSELoss", synth((8,), "float"))]},
        "loss_broadcast",
        ["broadcast them to (8, 8)", "8 × 8 pairs instead of 8"],
        ["insert `x.squeeze(-1)` before step 2"],
    ),
    (
        "mse-target-n1-vs-n",
        {
            "shape": [6, 4],
            "labels": [[0.5], [1.0], [2.0], [0.0], [1.5], [3.0]],
            "steps": ["x.mean(dim=-1)", loss("MSELoss")],
        },
        "loss_broadcast",
        ["(6,) with targets (6, 1)", "(6, 6)"],
        ["labels.squeeze(-1)"],
    ),
    (
        "nll-on-raw-logits",
        {
            "shape": [8, 32],
            "labels": [0, 1, 2, 0, 1, 2, 0, 1],
            "steps": [{"linear": {"out_features": 3}}, loss("NLLLoss")],
        },
        "nll_raw_logits",
        ["log-probabilities", "raw logits"],
        ["use nn.CrossEntropyLoss in step 2"],
    ),
    (
        "softmax-then-cross-entropy",
        {
            "shape": [8, 32],
            "labels": [0, 1, 2, 0, 1, 2, 0, 1],
            "steps": [{"linear": {"out_features": 3}}, "x.softmax(dim=-1)", loss("CrossEntropyLoss")],
        },
        "softmax_before_loss",
        ["softmax twice"],
        ["remove step 2"],
    ),
]


@pytest.mark.parametrize("sid,data,code,fragments,fix_parts", WARNINGS, ids=[w[0] for w in WARNINGS])
def test_loss_and_state_warnings_and_their_fixes(sid, data, code, fragments, fix_parts):
    trace = run(data)
    assert trace.ok, trace.error
    found = [w for w in trace.warnings if w.code == code]
    assert len(found) == 1, [w.to_dict() for w in trace.warnings]
    w = found[0]
    for fragment in fragments:
        assert fragment in w.message, (fragment, w.message)
    assert w.fix is not None
    for fragment in fix_parts:
        assert fragment in w.fix.description or fragment in str(w.fix.to_dict()), (fragment, w.fix)
    fixed = run(apply_fix(data, w.fix))
    assert fixed.ok, fixed.error
    assert not [x for x in fixed.warnings if x.severity == "warning"], [x.to_dict() for x in fixed.warnings]


def test_the_fixed_state_also_runs_the_last_smaller_batch():
    """The point of building h0 from x.size(0): the fixed step runs a full batch of 32 and the last one of 8."""
    data = {
        "shape": [32, 10, 32],
        "steps": [
            {
                "lstm": {"hidden_size": 300, "batch_first": True},
                "h0": "torch.zeros(1, 32, 300)",
                "c0": "torch.zeros(1, 32, 300)",
            }
        ],
    }
    (w,) = [w for w in run(data).warnings if w.code == "state_fixed_batch"]
    fixed = apply_fix(data, w.fix)
    assert run(fixed).ok and run({**fixed, "shape": [8, 10, 32]}).ok
    assert run({**data, "shape": [8, 10, 32]}).error.kind == "rnn_hidden"


def test_per_token_fix_gives_one_loss_over_the_real_tokens(tiny_ckpt):
    """Ragged per-token labels are padded with -100: CrossEntropyLoss ignores the padding positions."""
    import torch

    data = next(e[1] for e in ERRORS if e[0] == "ce-per-token-texts-ragged-labels")
    trace = run(data, tiny_ckpt)
    fixed = run(apply_fix(data, trace.error.fix), tiny_ckpt)
    logits = fixed.tensors[-2]  # (2·6, 3)
    labels = torch.tensor([[0, 1, 2, 1, 0, 0], [0, 2, 1, 0, -100, -100]]).view(-1)
    expected = torch.nn.functional.cross_entropy(logits, labels)
    assert fixed.stages[-1].extra("value") == pytest.approx(float(expected), rel=1e-6)
