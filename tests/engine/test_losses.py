"""The loss step: targets built as torch builds them, prediction on meta tensors agreeing with the real run, the
loss value through the trace equal to plain torch, and the Spec contract (parse errors pinned, round trips)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from core.engine.losses import labels_tensor, predict_loss, run_loss, synthetic_target
from core.errors import SpecError
from core.loss_step import LossKind, SyntheticTarget
from core.spec import LossStep, Spec
from core.trace import run_spec

# (kind, logits shape, target shape, target dtype) -> torch decides; the prediction must agree with the real run
PAIRS = [
    (LossKind.CROSS_ENTROPY, (8, 4), (8,), torch.int64),
    (LossKind.CROSS_ENTROPY, (8, 4), (512,), torch.int64),
    (LossKind.CROSS_ENTROPY, (8, 4), (8, 4), torch.int64),
    (LossKind.CROSS_ENTROPY, (8, 4), (8, 4), torch.float32),
    (LossKind.CROSS_ENTROPY, (8, 64, 5), (8, 64), torch.int64),
    (LossKind.CROSS_ENTROPY, (8, 5, 64), (8, 64), torch.int64),
    (LossKind.BCE_WITH_LOGITS, (16, 4), (16, 3), torch.float32),
    (LossKind.BCE_WITH_LOGITS, (16, 4), (16, 4), torch.float32),
    (LossKind.BCE_WITH_LOGITS, (16, 2), (16,), torch.float32),
    (LossKind.MSE, (8, 1), (8,), torch.float32),
    (LossKind.MSE, (8,), (8,), torch.float32),
    (LossKind.NLL, (8, 3), (8,), torch.int64),
    (LossKind.NLL, (8, 3), (8, 3), torch.int64),
]


def _real(kind, logits_shape, target_shape, dtype):
    x = torch.randn(logits_shape)
    t = torch.randint(0, 2, target_shape).to(dtype)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tuple(getattr(nn, kind.value)()(x, t).shape)
    except (RuntimeError, ValueError):
        return None


@pytest.mark.parametrize("kind,ls,ts,dtype", PAIRS, ids=[f"{p[0].value}-{p[1]}-{p[2]}-{p[3]}" for p in PAIRS])
def test_prediction_agrees_with_the_real_run(kind, ls, ts, dtype):
    assert predict_loss(kind, {}, ls, "float32", ts, str(dtype)) == _real(kind, ls, ts, dtype)


def test_labels_tensor_is_what_torch_tensor_builds():
    assert labels_tensor((1, 0, 2)).dtype == torch.tensor([1, 0, 2]).dtype == torch.int64
    assert labels_tensor(((0, 1, 1), (1, 0, 0))).shape == (2, 3)
    assert labels_tensor((0.5, 2)).dtype == torch.float32
    assert labels_tensor(((1, 2, 0), (1,))).tolist() == [[1, 2, 0], [1, -100, -100]]  # per-token, ragged


def test_synthetic_targets_are_seeded_and_shaped():
    long = synthetic_target(SyntheticTarget((16,), "long", 3), seed=0, step_index=2)
    assert long.dtype == torch.int64 and long.shape == (16,) and int(long.min()) >= 0 and int(long.max()) < 3
    assert torch.equal(long, synthetic_target(SyntheticTarget((16,), "long", 3), seed=0, step_index=2))
    hot = synthetic_target(SyntheticTarget((16, 3), "float", 2), seed=0, step_index=2)
    assert hot.dtype == torch.float32 and set(hot.unique().tolist()) <= {0.0, 1.0}
    soft = synthetic_target(SyntheticTarget((4,), "float"), seed=1, step_index=0)
    assert bool(((soft >= 0) & (soft < 1)).all())


def test_run_loss_keeps_torch_warnings():
    value, warned = run_loss(nn.MSELoss(), torch.randn(8, 1), torch.randn(8))
    assert value.shape == () and any("target size" in w for w in warned)


@pytest.mark.parametrize(
    "kind,logits,labels,reference",
    [
        ("CrossEntropyLoss", 3, [2, 0, 1], lambda x, y: nn.functional.cross_entropy(x, y)),
        (
            "BCEWithLogitsLoss",
            3,
            [[0, 1, 1], [1, 0, 0], [0.0, 0, 1]],
            lambda x, y: nn.functional.binary_cross_entropy_with_logits(x, y),
        ),
        ("MSELoss", 2, [[0.5, 1.5], [2.0, 0.0], [1, 1.25]], lambda x, y: nn.functional.mse_loss(x, y)),
        ("NLLLoss", 4, [3, 3, 0], lambda x, y: nn.functional.nll_loss(x, y)),
    ],
)
def test_loss_value_through_the_trace_equals_plain_torch(kind, logits, labels, reference):
    data = {
        "shape": [3, 16],
        "labels": labels,
        "steps": [{"linear": {"out_features": logits}}, {"loss": {"kind": kind}}],
    }
    if kind == "NLLLoss":
        data["steps"].insert(1, "x.log_softmax(dim=-1)")
    trace = run_spec(Spec.from_dict(data))
    assert trace.ok, trace.error
    stage = trace.stages[-1]
    assert stage.kind == "loss" and stage.shape == () and stage.extra("loss_kind") == kind
    target = labels_tensor(tuple(tuple(r) if isinstance(r, list) else r for r in labels))
    expected = float(reference(trace.tensors[-2], target))
    assert stage.extra("value") == pytest.approx(expected, rel=1e-6)
    assert stage.extra("logits") == (3, logits) and stage.extra("target") == tuple(target.shape)
    # x is left as it was: a step after the loss still reads the logits
    after = run_spec(Spec.from_dict({**data, "steps": [*data["steps"], "x.argmax(dim=-1)"]}))
    assert after.ok and after.final.shape == (3,)


def test_reduction_none_gives_one_loss_per_sample_labelled_by_batch():
    data = {
        "shape": [5, 8],
        "labels": [0, 1, 0, 1, 1],
        "steps": [{"linear": {"out_features": 2}}, {"loss": {"kind": "CrossEntropyLoss", "reduction": "none"}}],
    }
    trace = run_spec(Spec.from_dict(data))
    stage = trace.stages[-1]
    assert stage.shape == (5,) and [a.role for a in stage.axes] == ["batch"]
    torch.testing.assert_close(trace.side[-1]["per_sample"], trace.tensors[-1])


def test_a_synthetic_target_reproduces_a_shape_error():
    data = {
        "shape": [16, 32],
        "steps": [
            {"linear": {"out_features": 4}},
            {"loss": {"kind": "BCEWithLogitsLoss"}, "target": {"shape": [16, 3], "dtype": "float", "high": 2}},
        ],
    }
    trace = run_spec(Spec.from_dict(data))
    assert trace.error is not None
    assert (
        "Target size (torch.Size([16, 3])) must be the same as input size (torch.Size([16, 4]))" in trace.error.message
    )


# ------------------------------------------------------------------------------------- the Spec contract


def test_loss_step_round_trips():
    data = {
        "texts": ["a", "b"],
        "labels": [[1, 0], [0, 1]],
        "steps": [
            {"linear": {"out_features": 2}},
            {"loss": {"kind": "BCEWithLogitsLoss", "pos_weight": [1, 2]}, "input": "x", "target": "labels.float()"},
        ],
    }
    spec = Spec.from_dict(data)
    step = spec.steps[-1]
    assert (
        isinstance(step, LossStep)
        and step.kind is LossKind.BCE_WITH_LOGITS
        and step.params == {"pos_weight": [1.0, 2.0]}
    )
    assert Spec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["labels"] == [[1, 0], [0, 1]]
    synthetic = Spec.from_dict(
        {
            "shape": [4, 8],
            "pooling": "none",
            "steps": [{"loss": "MSELoss", "target": {"shape": [4, 8], "dtype": "float"}}],
        }
    )
    assert Spec.from_dict(synthetic.to_dict()) == synthetic


def test_a_synthetic_source_keeps_its_pooling_in_to_dict():
    spec = Spec.from_dict({"shape": [2, 5, 8], "pooling": "mean"})
    assert Spec.from_dict(spec.to_dict()).pooling.value == "mean"


@pytest.mark.parametrize(
    "data,fragment",
    [
        ({"steps": [{"loss": {"kind": "HingeLoss"}}]}, "unknown loss 'HingeLoss'; choose one of: CrossEntropyLoss"),
        ({"steps": [{"loss": {"kind": "MSELoss", "ignore_index": 1}}]}, "MSELoss has no parameter 'ignore_index'"),
        ({"steps": [{"loss": {"kind": "MSELoss", "reduction": "avg"}}]}, "reduction must be one of mean, sum, none"),
        ({"steps": [{"loss": {"kind": "CrossEntropyLoss"}, "targets": "labels"}]}, "unknown: targets"),
        ({"steps": [{"loss": {"kind": "CrossEntropyLoss"}, "input": "1x"}]}, "'input' must be a name"),
        ({"steps": [{"loss": {"kind": "CrossEntropyLoss"}}]}, "the loss reads `labels`, but the spec has none"),
        ({"steps": [{"loss": "MSELoss", "target": {"shape": [0]}}]}, "list of 0 to 6 positive integers"),
        ({"steps": [{"loss": "MSELoss", "target": {"shape": [4], "dtype": "int"}}]}, "'dtype' is 'long'"),
        ({"labels": [1, 2, 3], "steps": []}, "'labels' has 3 entries but there are 2 texts"),
        ({"labels": [1, [0, 1]], "steps": []}, "mixes single labels and rows"),
        ({"labels": ["pos", "neg"], "steps": []}, "must hold numbers"),
        ({"labels": [True, 0], "steps": []}, "must hold numbers"),
    ],
)
def test_bad_loss_steps_and_labels_are_refused_with_a_clear_message(data, fragment):
    with pytest.raises(SpecError) as e:
        Spec.from_dict({"texts": ["a", "b"], **data})
    assert fragment in str(e.value)


@pytest.mark.parametrize(
    "rows,fragment", [(1, "there is 1 row of the synthetic source"), (4, "there are 4 rows of the synthetic source")]
)
def test_labels_count_names_the_synthetic_rows_in_plain_english(rows, fragment):
    with pytest.raises(SpecError) as e:
        Spec.from_dict({"shape": [rows, 3, 8], "labels": [1, 0] if rows == 1 else [1, 0, 1], "steps": []})
    assert fragment in str(e.value)


def test_the_readme_spec_example_runs_to_its_loss(tiny_ckpt):
    """The README's Spec example (with its labels and loss step) parses and runs; bert-tiny stands in for speed."""
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    data = json.loads(re.search(r"```json\n(\{.*?\})\n```", text, re.S).group(1))
    trace = run_spec(Spec.from_dict({**data, "checkpoint": "random:bert-tiny"}), tiny_ckpt, device="cpu")
    assert trace.ok and trace.final.kind == "loss" and trace.final.extra("logits") == (1, 2)
