"""Drawing plans: small sources drawn as they are, big ones as a scaled-down analogue with the same pattern."""

from __future__ import annotations

import math

import numpy as np

from core.lab.compare import compare_chains
from core.lab.drawing import MAX_DRAW_CELLS, plan_drawing
from core.lab.lineage import trace_lineage

SHAPE = (2, 4, 6)


def test_small_sources_are_drawn_as_they_are():
    p = plan_drawing(SHAPE, [["x.view(2, 6, 4)"]])
    assert not p.scaled and p.drawn_shape == SHAPE and p.ok
    assert p.full_layouts[0][-1] == ((2, 6, 4), (24, 4, 1))


def test_seed_004_is_drawn_as_a_small_analogue_with_the_same_pattern():
    chains = [["x.transpose(1, 2)"], ["x.permute(0, 2, 1)"], ["x.view(32, 768, 128)"]]
    p = plan_drawing((32, 128, 768), chains)
    assert p.scaled and p.ok and math.prod(p.drawn_shape) <= MAX_DRAW_CELLS
    assert p.drawn_shape == (2, 4, 8)  # order and divisibility kept: 32 | 128 | 768 -> 2 | 4 | 8
    assert p.drawn_sources[2] == ("x.view(2, 8, 4)",)
    assert p.full_sources[2] == ("x", "x.view(32, 768, 128)")
    assert p.full_layouts[2][-1][0] == (32, 768, 128)
    assert p.full_einops[2][1].code == 'rearrange(x, "b l (h1 h2) -> b (l h1) h2", h1=6)'
    # the pattern: at full size every row of the view holds 128 features of ONE token (768 = 6 x 128);
    # the analogue must show the same: each row of 4 features comes from a single token
    view = trace_lineage(p.drawn_shape, p.drawn_chains[2]).final
    tokens = np.array([np.unravel_index(o, p.drawn_shape)[1] for o in view.origin]).reshape(view.shape)
    assert (tokens == tokens[..., :1]).all()
    drawn = compare_chains(p.drawn_shape, p.drawn_chains[0], p.drawn_chains[2])
    assert drawn.kind == "same_shape_different_data"


def test_literals_that_split_a_size_are_scaled_with_it():
    p = plan_drawing((32, 128, 768), [["x.reshape(x.shape[0], 16, -1)", "x[:, -1]", "x.unflatten(1, (8, 768))"]])
    assert p.ok and p.drawn_sources[0] == ("x.reshape(2, 2, -1)", "x[:, -1]", "x.unflatten(1, (2, 8))")
    p = plan_drawing((32, 128, 768), [["x.reshape(32, 16, 6000)"], ["x.reshape(32, 16, -1)"]])
    assert p.ok and p.full_errors[0] == "shape '[32, 16, 6000]' is invalid for input of size 3145728"
    assert p.full_errors[1] == ""
    assert trace_lineage(p.drawn_shape, p.drawn_chains[0]).error.kind == "reshape_numel"  # fails there too


def test_no_faithful_analogue_says_what_to_do():
    p = plan_drawing((32, 128, 768), [["x[:, 100]"]])  # index 100 has no counterpart in a small tensor
    assert not p.ok and "at most 512 elements" in p.note
