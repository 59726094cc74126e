"""An initial state with the batch written as a number, bound by its own step (``h0 = torch.zeros(1, 32, 300)``,
then a layer step with ``"h0": "h0"``, ``"c0": "c0"`` or the reuse ``"c0": "h0"``) gets the same
``state_fixed_batch`` warning as the inline form, and a fix that edits the step that binds it, in the user's name
(breaker report, item 3). When the batch differs, torch raises and the failure carries the same fix.

Every fix is checked for real: the fixed spec runs (torch's own nn.LSTM / nn.GRU) at the batch of the case, at a
smaller one and at a larger one, with no warning left.
"""

from __future__ import annotations

import pytest

from core.fixes import apply_fix
from core.spec import Spec
from core.trace import run_spec


def run(data: dict):
    return run_spec(Spec.from_dict(data), None, device="cpu")


def lstm(params: dict, **more) -> dict:
    return {"lstm": {"batch_first": True, **params}, **more}


# (id, spec, fragments of the warning, the steps the fixed spec must hold)
WARNED = [
    (
        "breaker-h0-c0-own-steps",
        {
            "shape": [32, 12, 300],
            "steps": [
                "h0 = torch.zeros(1, 32, 300)",
                "c0 = torch.zeros(1, 32, 300)",
                lstm({"hidden_size": 300}, h0="h0", c0="c0"),
            ],
        },
        ["`h0 = torch.zeros(1, 32, 300)` (step 1, read as h0 by step 3)", "the number 32", "x.size(0)"],
        ["h0 = torch.zeros(1, x.size(0), 300)", "c0 = torch.zeros(1, x.size(0), 300)"],
    ),
    (
        "c0-reuses-h0",
        {"shape": [2, 5, 16], "steps": ["h0 = torch.zeros(1, 2, 32)", lstm({"hidden_size": 32}, h0="h0", c0="h0")]},
        ["(step 1, read as h0 and c0 by step 2)", "the number 2"],
        ["h0 = torch.zeros(1, x.size(0), 32)"],
    ),
    (
        "user-names-two-layers-bidirectional",
        {
            "shape": [4, 6, 16],
            "steps": [
                "state = torch.ones(4, 4, 8)",
                lstm(
                    {"hidden_size": 8, "num_layers": 2, "bidirectional": True}, h0="state", c0="torch.zeros_like(state)"
                ),
            ],
        },
        ["`state = torch.ones(4, 4, 8)` (step 1, read as h0 by step 2)", "the number 4"],
        ["state = torch.ones(4, x.size(0), 8)"],
    ),
    (
        "seq-first-gru-after-transpose",
        {
            "shape": [5, 7, 16],
            "steps": ["x.transpose(0, 1)", "h = torch.zeros((1, 5, 8))", {"gru": {"hidden_size": 8}, "h0": "h"}],
        },
        ["`h = torch.zeros((1, 5, 8))` (step 2", "x.size(1)"],
        ["h = torch.zeros((1, x.size(1), 8))"],
    ),
    (
        # the layer's input is bound after the state: the state cannot read it there, so the layer step gets it
        "input-bound-after-the-state",
        {
            "shape": [4, 5, 16],
            "steps": [
                "h0 = torch.zeros(1, 4, 8)",
                "emb = x * 2",
                {"gru": {"hidden_size": 8, "batch_first": True}, "input": "emb", "h0": "h0"},
            ],
        },
        ["the number 4", "emb.size(0)"],
        [{"gru": {"hidden_size": 8, "batch_first": True}, "input": "emb", "h0": "torch.zeros(1, emb.size(0), 8)"}],
    ),
]


def _other_batches(data: dict) -> list[dict]:
    """The spec at its own batch, a smaller and a larger one (the batch is dim 0 of the source either way)."""
    b, rest = data["shape"][0], data["shape"][1:]
    return [{**data, "shape": [n, *rest]} for n in (b, 1, b + 3)]


@pytest.mark.parametrize(("data", "fragments", "fixed_steps"), [w[1:] for w in WARNED], ids=[w[0] for w in WARNED])
def test_state_bound_by_its_own_step_is_warned_and_fixed_there(data, fragments, fixed_steps):
    trace = run(data)
    assert trace.ok, str(trace.error)
    (w,) = [w for w in trace.warnings if w.code == "state_fixed_batch"]
    for fragment in fragments:
        assert fragment in w.message, (fragment, w.message)
    assert w.fix is not None
    fixed = apply_fix(data, w.fix)
    for step in fixed_steps:
        assert step in fixed["steps"], (step, fixed["steps"])
    for other in _other_batches(fixed):
        again = run(other)
        assert again.ok, (other["shape"], str(again.error))
        assert not [x for x in again.warnings if x.severity == "warning"], [x.to_dict() for x in again.warnings]
    # and before the fix, torch raises on a smaller batch: the failure carries the same edit
    smaller = run({**data, "shape": [1, *data["shape"][1:]]})
    assert not smaller.ok and smaller.error.kind == "rnn_hidden"
    assert smaller.error.fix is not None and apply_fix(data, smaller.error.fix) == fixed


def test_breaker_batch_7_failure_fix_edits_the_state_steps():
    """The report's paste: batch 7 against states built for 32: torch's error, explained, and the fix."""
    data = {
        "shape": [7, 12, 300],
        "steps": [
            "h0 = torch.zeros(1, 32, 300)",
            "c0 = torch.zeros(1, 32, 300)",
            lstm({"input_size": 300, "hidden_size": 300}, h0="h0", c0="c0"),
        ],
    }
    trace = run(data)
    assert trace.error.kind == "rnn_hidden" and "Expected hidden[0] size (1, 7, 300), got [1, 32, 300]" in str(
        trace.error.message
    )
    assert trace.error.fix.description == (
        "build the initial state from the input: step 1: `h0 = torch.zeros(1, x.size(0), 300)` and step 2: "
        "`c0 = torch.zeros(1, x.size(0), 300)`"
    )
    assert all(run(d).ok for d in _other_batches(apply_fix(data, trace.error.fix)))


@pytest.mark.parametrize(
    "steps",
    [
        ["h0 = torch.zeros(1, x.size(0), 8)", lstm({"hidden_size": 8}, h0="h0", c0="h0")],
        ["h0 = torch.zeros(1, x.shape[0], 8)", "c0 = torch.zeros_like(h0)", lstm({"hidden_size": 8}, h0="h0", c0="c0")],
        [lstm({"hidden_size": 8}, output="out, (h, c)"), lstm({"hidden_size": 8}, input="out", h0="h", c0="c")],
    ],
    ids=["from-the-input", "zeros-like", "states-of-a-previous-layer"],
)
def test_states_that_follow_the_batch_are_not_warned(steps):
    trace = run({"shape": [4, 6, 8], "steps": steps})
    assert trace.ok, str(trace.error)
    assert not [w for w in trace.warnings if w.code == "state_fixed_batch"]
