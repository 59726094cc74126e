"""Faults the newcomer's report found unexplained or unflagged (item 10), each as a kind:

- a class id ≥ the number of classes (``Target 3 is out of bounds.``, CrossEntropyLoss / NLLLoss, any rank) and its
  CUDA forms (``device-side assert triggered``, the kernel's ``t >= 0 && t < n_classes``): explained in ``explain``;
  in a trace with labels, the fix sets out_features of the Linear that made the logits to max label + 1;
- an unmasked sum over the tokens written as ``torch.einsum`` on a padded batch: flagged like ``x.sum(1)``;
- a sigmoid before BCEWithLogitsLoss: ``sigmoid_before_loss``, like a softmax before CrossEntropyLoss.

References are plain torch: the messages are torch's own, the fixed loss is ``F.cross_entropy`` of the trace's
logits, the fixed einsum equals the masked sum over each text's real tokens.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from core.diagnosis.explain import explain
from core.fixes import apply_fix
from core.spec import Spec
from core.trace import run_spec


def _message(fn) -> str:
    try:
        fn()
    except Exception as exc:  # whatever torch raises
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError("expected the call to raise")


@pytest.fixture(scope="module")
def tiny():
    from core.model.checkpoints import load_checkpoint

    return load_checkpoint("random:bert-tiny", "cpu")


def warnings_of(trace) -> list:
    return [w for w in trace.warnings if w.severity == "warning"]


# ------------------------------------------------------------------------------------------ class id out of range

# (id, torch call that raises, context shape, fragments)
TARGETS = [
    ("ce-2d", lambda: F.cross_entropy(torch.randn(2, 3), torch.tensor([2, 3])), (2, 3),
     ["class id 3", "at least 4 classes", "Your logits [2, 3] have 3 classes", "0..2", "counted from 1",
      "out_features = max label + 1"]),
    ("nll-2d", lambda: F.nll_loss(torch.randn(4, 5).log_softmax(-1), torch.tensor([0, 9, 1, 2])), (4, 5),
     ["class id 9", "at least 10 classes", "have 5 classes"]),
    ("ce-per-token", lambda: F.cross_entropy(torch.randn(2, 3, 4), torch.tensor([[0, 1, 2, 5]] * 2)), (2, 3, 4),
     ["class id 5", "have 3 classes"]),
    ("ce-negative", lambda: F.cross_entropy(torch.randn(2, 3), torch.tensor([2, -5])), (2, 3),
     ["A target is -5", "ignore_index, -100", "`ignore_index=-5`"]),
    ("ce-no-context", lambda: F.cross_entropy(torch.randn(2, 3), torch.tensor([2, 3])), None,
     ["class id 3", "the out_features of the last Linear"]),
]  # fmt: skip


@pytest.mark.parametrize(("trigger", "shape", "fragments"), [t[1:] for t in TARGETS], ids=[t[0] for t in TARGETS])
def test_target_out_of_bounds_is_explained(trigger, shape, fragments):
    msg = _message(trigger)
    assert "out of bounds" in msg  # torch's own wording
    e = explain(msg, {"input_shape": shape} if shape else None)
    assert e.recognized and e.kind == "target_range", msg
    for fragment in fragments:
        assert fragment in e.explanation + " " + e.fix, (fragment, e.explanation, e.fix)


CUDA_TRACE = """Traceback (most recent call last):
  File "train.py", line 41, in <module>
    loss = criterion(logits, labels)
/pytorch/aten/src/ATen/native/cuda/Loss.cu:240: nll_loss_forward_reduce_cuda_kernel_2d: block: [0,0,0], \
thread: [1,0,0] Assertion `t >= 0 && t < n_classes` failed.
RuntimeError: CUDA error: device-side assert triggered
CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.
For debugging consider passing CUDA_LAUNCH_BLOCKING=1
Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.
"""


@pytest.mark.parametrize(
    ("message", "kind", "fragments"),
    [
        ("RuntimeError: CUDA error: device-side assert triggered", "device_assert",
         ["Run the same batch on CPU", "class id ≥ the number of classes", "vocabulary size",
          "CUDA_LAUNCH_BLOCKING=1"]),
        (CUDA_TRACE, "device_assert", ["Run the same batch on CPU", "reports it late"]),
        ("Loss.cu:240: block: [0,0,0], thread: [1,0,0] Assertion `t >= 0 && t < n_classes` failed.", "target_range",
         ["outside 0..num_classes-1", "out_features = max label + 1"]),
    ],
)  # fmt: skip
def test_cuda_asserts_are_explained(message, kind, fragments):
    e = explain(message)
    assert e.recognized and e.kind == kind
    for fragment in fragments:
        assert fragment in e.explanation + " " + e.fix, (fragment, e.explanation, e.fix)


CE = {"loss": {"kind": "CrossEntropyLoss"}, "target": "labels"}
# (id, spec, the fix's out_features, the step it sets)
OUT_OF_RANGE = [
    ("breaker-labels-2-3", {"texts": ["good", "bad"], "checkpoint": "random:bert-tiny", "pooling": "mean",
                            "labels": [2, 3], "steps": [{"linear": {"out_features": 3}}, CE]}, 4, 0),
    ("named-logits", {"shape": [4, 8], "labels": [0, 1, 5, 2],
                      "steps": [{"linear": {"out_features": 3}, "output": "logits"}, {**CE, "input": "logits"}]}, 6, 0),
    ("nll-after-log-softmax", {"shape": [4, 8], "labels": [0, 1, 5, 2],
                               "steps": [{"linear": {"out_features": 16}}, {"linear": {"out_features": 3}},
                                         "x.log_softmax(-1)", {"loss": {"kind": "NLLLoss"}, "target": "labels"}]},
     6, 1),
]  # fmt: skip


@pytest.mark.parametrize(("data", "width", "head"), [o[1:] for o in OUT_OF_RANGE], ids=[o[0] for o in OUT_OF_RANGE])
def test_target_out_of_bounds_in_a_trace_gets_the_head_fix(data, width, head, tiny):
    trace = run_spec(Spec.from_dict(data), tiny, device="cpu")
    err = trace.error
    assert err is not None and err.kind == "target_range"
    top = max(data["labels"])
    assert f"class id {top}" in err.explanation and "have 3 classes" in err.explanation
    assert err.fix is not None and err.fix.to_dict()["edit"]["param"] == "out_features"
    assert err.fix.to_dict()["edit"]["value"] == width and err.fix.to_dict()["edit"]["index"] == head
    fixed = run_spec(Spec.from_dict(apply_fix(data, err.fix)), tiny, device="cpu")
    assert fixed.ok and not warnings_of(fixed)
    logits, labels = fixed.tensors[-2], torch.tensor(data["labels"])
    expected = F.nll_loss(logits, labels) if "NLLLoss" in str(data["steps"][-1]) else F.cross_entropy(logits, labels)
    assert fixed.stages[-1].extra("value") == pytest.approx(float(expected), rel=1e-6)


def test_negative_class_id_is_explained_without_a_head_fix():
    data = {"shape": [4, 8], "labels": [0, 1, -3, 2], "steps": [{"linear": {"out_features": 3}}, CE]}
    err = run_spec(Spec.from_dict(data), None, device="cpu").error
    assert err.kind == "target_range" and "A target is -3" in err.explanation and err.fix is None


# ------------------------------------------------------------------------------------------ einsum over the tokens

TEXTS = ["a b", "one two three four five six seven eight nine"]
# (id, steps, warned)
EINSUMS = [
    ("bld-bd", ["torch.einsum('bld->bd', x)"], True),
    ("bound", ["pooled = torch.einsum('bld->bd', x)"], True),
    ("seq-first", ["torch.einsum('lbd->bd', x.transpose(0, 1))"], True),
    ("unmasked-weights", ["w = x.mean(-1).softmax(-1)", "torch.einsum('bl,bld->bd', w, x)"], True),
    ("with-the-mask", ["torch.einsum('bld,bl->bd', x, mask.float())"], False),
    ("masked-weights", ["w = x.mean(-1).masked_fill(mask == 0, -1e9).softmax(-1)", "torch.einsum('bl,bld->bd', w, x)"],
     False),
    ("masked-before", ["y = x * mask.unsqueeze(-1)", "torch.einsum('bld->bd', y)"], False),
    ("sum-over-hidden", ["torch.einsum('bld->bl', x)"], False),
]  # fmt: skip


@pytest.mark.parametrize(("steps", "warned"), [e[1:] for e in EINSUMS], ids=[e[0] for e in EINSUMS])
def test_einsum_over_the_tokens_of_a_padded_batch(steps, warned, tiny):
    data = {"texts": TEXTS, "checkpoint": "random:bert-tiny", "steps": steps}
    trace = run_spec(Spec.from_dict(data), tiny, device="cpu")
    assert trace.ok, str(trace.error)
    codes = [w.code for w in warnings_of(trace)]
    assert codes == (["unmasked_reduction"] if warned else []), codes
    if not warned:
        return
    (w,) = warnings_of(trace)
    assert "takes the sum over all" in w.message and "are added in" in w.message
    fixed = run_spec(Spec.from_dict(apply_fix(data, w.fix)), tiny, device="cpu")
    assert fixed.ok and not warnings_of(fixed)
    if len(steps) == 1:  # torch: the masked sum over each text's real tokens
        x, lengths = trace.tensors[0], list(trace.encoding.lengths)
        own = torch.stack([x[j, :n].sum(0) for j, n in enumerate(lengths)])
        assert torch.allclose(fixed.tensors[-1], own, atol=1e-5)


# ------------------------------------------------------------------------------------- sigmoid before BCEWithLogits

BCE = {"loss": {"kind": "BCEWithLogitsLoss"}, "target": "labels"}
MULTI = [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]] * 4
# (id, steps, fix description fragment)
SIGMOIDS = [
    ("torch-sigmoid", [{"linear": {"out_features": 3}}, "torch.sigmoid(x)", BCE], "remove step 2"),
    ("method", [{"linear": {"out_features": 3}}, "x.sigmoid()", BCE], "remove step 2"),
    ("functional", [{"linear": {"out_features": 3}}, "F.sigmoid(x)", BCE], "remove step 2"),
    ("named-probs", [{"linear": {"out_features": 3}, "output": "logits"}, "probs = logits.sigmoid()",
                     {**BCE, "input": "probs"}], "give step 3 the logits `logits` instead of `probs`"),
]  # fmt: skip


@pytest.mark.parametrize(("steps", "fix_text"), [s[1:] for s in SIGMOIDS], ids=[s[0] for s in SIGMOIDS])
def test_sigmoid_before_bce_with_logits(steps, fix_text):
    data = {"shape": [8, 32], "labels": MULTI, "steps": steps}
    trace = run_spec(Spec.from_dict(data), None, device="cpu")
    assert trace.ok, str(trace.error)
    (w,) = warnings_of(trace)
    assert w.code == "sigmoid_before_loss"
    assert "applies the sigmoid again" in w.message and "between 0.5 and 0.73" in w.message
    assert fix_text in w.fix.description
    fixed = run_spec(Spec.from_dict(apply_fix(data, w.fix)), None, device="cpu")
    assert fixed.ok and not warnings_of(fixed)
    # torch: the fixed loss is BCEWithLogits of the raw logits, which the sigmoid step had squashed
    name = fixed.spec.steps[-1].input
    k = max(j for j, st in enumerate(fixed.stages[:-1]) if name in (st.extra("binds") or ("x",)))
    logits = fixed.tensors[k]
    want = F.binary_cross_entropy_with_logits(logits, torch.tensor(MULTI))
    assert fixed.stages[-1].extra("value") == pytest.approx(float(want), rel=1e-6)
    assert bool((torch.sigmoid(torch.sigmoid(logits)) > 0.5).all())  # why the double sigmoid is a bug


@pytest.mark.parametrize(
    "steps",
    [
        [{"linear": {"out_features": 3}}, BCE],
        [{"linear": {"out_features": 3}, "output": "logits"}, "probs = logits.sigmoid()", {**BCE, "input": "logits"}],
        [{"linear": {"out_features": 3}}, "torch.sigmoid(x)", {"loss": {"kind": "MSELoss"}, "target": "labels"}],
    ],
    ids=["raw-logits", "probs-for-display-only", "mse-on-probabilities"],
)
def test_no_sigmoid_warning_where_the_loss_gets_logits(steps):
    trace = run_spec(Spec.from_dict({"shape": [8, 32], "labels": MULTI, "steps": steps}), None, device="cpu")
    assert trace.ok and not [w for w in trace.warnings if w.code == "sigmoid_before_loss"]
