"""A step of several ops that fails at a later op: the explanation speaks of the tensor that op received.

``x.mean(1).view(5, -1)`` on (2, 7, 384) fails at the view, whose input is (2, 384): the explanation must not
count the step's input (2 × 7 × 384 = 5,376) as the 768 elements torch reports. The reference for the failing
op's input is plain torch running the same prefix; every "Your tensor [...] has a × b = N elements" sentence
must hold.
"""

from __future__ import annotations

import math
import re

import pytest
import torch

from core.diagnosis.explain.formatting import fmt_shape
from core.spec import Spec
from core.trace import run_spec

SHAPE = (2, 7, 384)
X = torch.zeros(SHAPE)

# (step, plain torch: the tensor the failing op receives)
CASES = [
    ("x.mean(1).view(5, -1)", lambda x: x.mean(1)),
    ("x[:, 0].reshape(5, -1)", lambda x: x[:, 0]),
    ("x.flatten(1).view(-1, 7, 5)", lambda x: x.flatten(1)),
    ("x.transpose(1, 2)[..., :3].reshape(-1, 5)", lambda x: x.transpose(1, 2)[..., :3]),
    # data-dependent: the failing op's input is known from the real run only
    ("x[x[..., 0] == x[..., 0]].view(5, -1)", lambda x: x[x[..., 0] == x[..., 0]]),
    ("x[torch.where(x[..., 0] == x[..., 0])].view(5, -1)", lambda x: x[torch.where(x[..., 0] == x[..., 0])]),
    ("x * x.sum(-1).view(5, -1)", lambda x: x.sum(-1)),  # the failing op is in the operand's chain
]


def _explained(step: str):
    spec = Spec.from_dict({"shape": list(SHAPE), "steps": [step]})
    err = run_spec(spec, None, device="cpu").error
    assert err is not None and err.step_index == 0, step
    return err


def _counts_hold(text: str) -> list[tuple[int, ...]]:
    """Every "Your tensor [a, b] has a × b = N elements" in ``text``: its product is N; returns the shapes."""
    shapes = []
    for dims, product, n in re.findall(r"Your tensor \[([\d, ]+)\] has ([\d × ]+) = ([\d,]+) elements", text):
        shape = tuple(int(d) for d in dims.split(","))
        assert math.prod(shape) == int(n.replace(",", "")), text
        assert tuple(int(v) for v in product.split("×")) == shape, text
        shapes.append(shape)
    return shapes


@pytest.mark.parametrize(("step", "ref"), CASES, ids=[c[0] for c in CASES])
def test_the_explanation_uses_the_failing_ops_input(step, ref) -> None:
    received = tuple(ref(X).shape)
    err = _explained(step)
    assert tuple(err.input_shape) == SHAPE, "the step's input stays the step's input"
    assert f"receives {fmt_shape(received)} here (the step's input is {fmt_shape(SHAPE)})" in err.explanation
    assert set(_counts_hold(err.explanation)) <= {received}
    assert "Your batch is" not in err.explanation, "no axis of the op's input is assumed to be the batch"


def test_a_one_op_step_explains_with_the_steps_input() -> None:
    err = _explained("x.view(5, -1)")
    assert "receives" not in err.explanation
    assert _counts_hold(err.explanation) == [SHAPE]
    assert "Your batch is 2, not 5" in err.explanation
