"""Plotly figures of element lineage, built from traced stages: panels, hover, padding / aggregate marks,
crops, colours, memory strips."""

from __future__ import annotations

import numpy as np

from core.figures.lineage import cell_color, colour_key, lineage_colorscale, memory_figure, stage_figure
from core.lab.drawing import MAX_DRAW_CELLS
from core.lab.lineage import MIXED, PAD, trace_lineage

SHAPE = (2, 4, 6)


def test_stage_figure_one_panel_per_batch_with_source_hover_and_labels():
    s = trace_lineage(SHAPE, ["x.transpose(1, 2)"]).final
    fig = stage_figure(s, token_labels=[["[CLS]", "the", "movie", "[SEP]"]] * 2)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 2
    assert np.array(heat[0].z).shape == (6, 4)
    assert heat[0].text[0][1] == "1,0"  # cell (0, 0, 1) = token 1, feature 0
    assert "from x[0, 1, 0]" in heat[0].customdata[0][1] and "'the'" in heat[0].customdata[0][1]


def test_stage_figure_marks_padding_mixed_and_highlights():
    pad = trace_lineage(SHAPE, ["F.pad(x, (1, 0))"]).final
    fig = stage_figure(pad, highlight=[(0, 0, 1)], marks=[(1, 1, 1)])
    assert fig.data[0].text[0][0] == "pad" and "padding" in fig.data[0].customdata[0][0]
    assert [t.type for t in fig.data].count("scatter") == 2
    mixed = trace_lineage(SHAPE, ["x.mean(dim=1)"]).final
    fig = stage_figure(mixed)
    assert fig.data[0].text[0][0] == "mix" and "aggregates 4 elements" in fig.data[0].customdata[0][0]


def test_big_stages_are_cropped_with_a_note():
    s = trace_lineage(SHAPE, ["x.repeat(8, 1, 1)"]).final  # (16, 4, 6): 384 cells, then crop at 100
    fig = stage_figure(s, max_cells=100)
    assert len([t for t in fig.data if t.type == "heatmap"]) == 4
    assert "showing the first 4 of 16 panels" in fig.layout.title.text
    one_d = trace_lineage((600,), []).final
    fig = stage_figure(one_d)
    assert np.array(fig.data[0].z).shape == (1, MAX_DRAW_CELLS)


def test_every_rank_draws():
    for shape, steps in [((5,), []), ((2, 3), []), ((2, 2, 2, 3), []), ((2, 1, 2, 1, 3), []), ((2, 3), ["x.sum()"])]:
        s = trace_lineage(shape, steps).final
        fig = stage_figure(s)
        cells = sum(np.array(t.z).size for t in fig.data if t.type == "heatmap")
        assert cells == max(s.numel, 1)


def test_colours_are_per_token_hue_and_feature_shade():
    scale = lineage_colorscale(SHAPE)
    positions = [p for p, _ in scale]
    assert positions[0] == 0.0 and positions[-1] == 1.0 and positions == sorted(positions)
    assert cell_color(PAD, SHAPE) != cell_color(MIXED, SHAPE)
    assert cell_color(0, SHAPE) != cell_color(6, SHAPE)  # token 0 vs token 1
    assert cell_color(0, SHAPE) != cell_color(1, SHAPE)  # feature 0 vs feature 1: another shade
    assert "hue = token" in colour_key(SHAPE) and "hue = token" in colour_key(SHAPE, short=True)


def test_memory_figure_has_the_two_strips_and_fades_unread_memory():
    contiguous = memory_figure(trace_lineage(SHAPE, ["x.view(2, 6, 4)"]).final)
    assert [t.type for t in contiguous.data] == ["heatmap", "heatmap"]
    assert "contiguous" in contiguous.layout.annotations[0].text
    sliced = memory_figure(trace_lineage(SHAPE, ["x[:, 1:3]"]).final)
    assert len(sliced.data) == 3 and "not read" in " ".join(sliced.data[0].customdata[0])
    permuted = memory_figure(trace_lineage(SHAPE, ["x.permute(0, 2, 1)"]).final)
    assert "not contiguous" in permuted.layout.annotations[0].text
