"""A pasted error may describe any size; the lab never allocates it (issue 16, item 8: a 10,000,001-channel
conv message took 6.5 GB and 30 s, 99,999,999 channels tried to allocate 3.2 TB and crashed)."""

from __future__ import annotations

import math
import resource
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.diagnosis.error_lab import build_error_lab
from core.engine.parse import parse_expr
from core.lab.drawing import MAX_DRAW_CELLS, plan_drawing
from core.lab.lineage import trace_lineage

ROOT = Path(__file__).resolve().parents[2]


def conv(channels: int, batch: int = 1) -> str:
    return (
        f"RuntimeError: Given groups=1, weight of size [512, 768, 3], expected input[{batch}, {channels}, 768] to have "
        f"768 channels, but got {channels} channels instead"
    )


HUGE = [
    conv(10_000_001),  # the issue: 6.5 GB, 30 s
    conv(99_999_999, batch=32),  # the issue: tried 3.2 TB and crashed
    conv(2**40),
    "RuntimeError: input.size(-1) must be equal to input_size. Expected 768, got 123456789",
    "RuntimeError: shape '[32, 16, 99999999999]' is invalid for input of size 99999999999999",
    "RuntimeError: mat1 and mat2 shapes cannot be multiplied (32x99999999999 and 768x2)",
]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("message", HUGE, ids=range(len(HUGE)))
def test_huge_pasted_sizes_are_drawn_small_or_not_at_all(message):
    before = _peak_mb()
    lab = build_error_lab(message)
    assert lab.explanation.recognized
    for chain in lab.chains:
        for step in chain.steps:
            parse_expr(step)  # every chain is in the safe language (raises otherwise)
    if lab.chains:
        plan = plan_drawing(lab.shape, [c.steps for c in lab.chains])
        assert plan.ok and plan.scaled and math.prod(plan.drawn_shape) <= MAX_DRAW_CELLS
        for chain in plan.drawn_chains:
            trace_lineage(plan.drawn_shape, chain)
    else:
        assert "too large to draw" in lab.note or lab.shape is None
    assert _peak_mb() - before < 200, "nothing near the pasted size was allocated"


def test_big_sizes_use_size_expressions_small_ones_stay_literal():
    big = build_error_lab(conv(10_000_001))
    assert big.chains[1].steps == ("x.view(x.size(0), x.size(2), x.size(1))",)
    small = build_error_lab(conv(128))
    assert small.chains[1].steps == ("x.view(1, 768, 128)",)


def test_the_view_chain_still_shows_the_real_shape():
    lab = build_error_lab(conv(10_000_001))
    plan = plan_drawing(lab.shape, [c.steps for c in lab.chains])
    assert plan.full_layouts[1][-1][0] == (1, 768, 10_000_001), "real sizes, by pure arithmetic"


@pytest.mark.parametrize("message", HUGE[:2] + HUGE[4:5], ids=["10M", "100M", "reshape"])
def test_reshape_lab_explains_huge_messages_without_allocating(message):
    """The page itself (Reshape Lab, "Explain an error"): a clean answer, no exception."""
    before = _peak_mb()
    at = AppTest.from_file(str(ROOT / "pages" / "reshape-lab.py"), default_timeout=120)
    at.session_state["lab_mode"] = "Explain an error"
    at.session_state["lab_error"] = message
    at.run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert any("Recognized" in str(s.value) for s in at.success)
    assert _peak_mb() - before < 300


def test_a_refused_step_on_a_big_shape_is_not_drawn_at_full_size():
    """A step the language refuses left the plan at the real shape, which the lab then allocated."""
    before = _peak_mb()
    plan = plan_drawing((64, 1024, 1024), [["x.permute(0, 2, 1)", "__import__('os')"]])
    assert not plan.ok and plan.scaled and "is refused" in plan.note
    assert _peak_mb() - before < 100
    small = plan_drawing((2, 3), [["__import__('os')"]])  # small: drawn, and the lineage says it is refused
    assert small.ok and trace_lineage(small.drawn_shape, small.drawn_chains[0]).error.refused
