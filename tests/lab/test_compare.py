"""Compare verdicts (seed 004: transpose vs permute vs view) and differing cells of drawn stages."""

from __future__ import annotations

import time

import pytest

from core.lab.compare import compare_chains, differing_cells
from core.lab.lineage import trace_lineage

SHAPE = (2, 4, 6)


def test_seed_004_transpose_vs_view_same_shape_different_data():
    v = compare_chains((32, 128, 768), ["x.transpose(1, 2)"], ["x.view(32, 768, 128)"], ("A", "C"))
    assert v.kind == "same_shape_different_data"
    assert v.headline == "same shape, different data"
    assert v.shape_a == v.shape_b == (32, 768, 128)
    assert v.first_diff == (0, 0, 1)
    assert (v.source_a, v.source_b) == ("x[0, 1, 0]", "x[0, 0, 1]")
    assert 0 < v.n_diff < v.numel == 32 * 128 * 768
    assert "not contiguous" in v.memory and v.on_shape == (32, 128, 768)


def test_seed_004_transpose_vs_permute_identical():
    v = compare_chains((32, 128, 768), ["x.transpose(1, 2)"], ["x.permute(0, 2, 1)"])
    assert v.kind == "identical" and v.headline.startswith("identical")
    assert v.same_data


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        (["x.flatten(1)"], ["x.view(2, 4, 6)"], "same_order_different_shape"),
        (["x.flatten(1)"], ["x.transpose(1, 2)"], "different_shape"),
        (["x.transpose(1, 2)"], ["x.transpose(1, 2).contiguous()"], "identical"),
        (["x.mean(dim=1)"], ["x.sum(dim=1)"], "same_shape_different_data"),
        (["x.mean(dim=1)"], ['reduce(x, "b l h -> b h", "mean")'], "identical"),
        (["F.pad(x, (0, 1))"], ["F.pad(x, (0, 1), value=1.0)"], "same_shape_different_data"),
        (["x.view(5, -1)"], ["x"], "failed"),
    ],
)
def test_verdict_kinds(a, b, kind):
    assert compare_chains(SHAPE, a, b).kind == kind


def test_verdict_on_the_seed_pair_is_fast_enough_for_a_page():
    start = time.perf_counter()
    compare_chains((32, 128, 768), ["x.transpose(1, 2)"], ["x.view(32, 768, 128)"])
    assert time.perf_counter() - start < 10


def test_differing_cells_on_drawn_stages():
    a = trace_lineage(SHAPE, ["x.transpose(1, 2)"]).final
    b = trace_lineage(SHAPE, ["x.view(2, 6, 4)"]).final
    cells = differing_cells(a, b)
    assert cells[0] == (0, 0, 1) and len(cells) == 44
    assert differing_cells(a, a) == ()
