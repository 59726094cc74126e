"""core.figures.attention: bertviz's model view tiled into one heatmap; ticks marking special tokens."""

from __future__ import annotations

import numpy as np
import plotly.io as pio
import pytest
import torch

from core.figures.attention import MAX_CELLS, attention_model_view, model_view_cells, token_ticks

TOKENS = ["[CLS]", "the", "cat", "sat", "[SEP]", "[PAD]", "[PAD]"]


def weights(layers: int = 3, heads: int = 4, length: int = 7, seed: int = 0) -> torch.Tensor:
    logits = torch.randn(layers, heads, length, length, generator=torch.Generator().manual_seed(seed))
    return logits.softmax(-1)  # rows sum to 1, like real attention


def test_every_tile_holds_its_layer_and_head():
    w = weights()
    fig = attention_model_view(w, TOKENS, length=5)
    grid = np.asarray(fig.data[0].z, dtype=float)
    L, step = 7, 7 + 2
    for layer in range(3):
        for head in range(4):
            tile = grid[layer * step : layer * step + L, head * step : head * step + L]
            np.testing.assert_allclose(tile, w[layer, head].numpy(), atol=1e-6)
    gaps = grid[L : L + 2]  # the rows between layer 1 and layer 2 are empty
    assert np.isnan(gaps).all()
    assert fig.layout.meta["layers"] == 3 and fig.layout.meta["heads"] == 4 and fig.layout.meta["length"] == 5
    pio.to_json(fig)


def test_padding_is_shaded_and_special_tokens_marked():
    fig = attention_model_view(weights(), TOKENS, length=5)
    by_name = {t.name: t for t in fig.data}
    shade = np.asarray(by_name["padding"].z, dtype=float)
    assert np.nansum(shade[:7, :7]) == 7 * 7 - 5 * 5  # padding rows and columns of the first tile
    assert np.isnan(shade[:5, :5]).all()
    marks = by_name["[CLS] / [SEP]"]
    assert sorted(marks.x[:2]) == [0, 4]  # [CLS] and [SEP] columns of head 0
    assert len(marks.x) == 2 * 4
    no_pad = attention_model_view(weights(length=5), TOKENS[:5])
    assert "padding" not in {t.name for t in no_pad.data}


def test_tiles_are_clickable_and_name_layer_and_head():
    fig = attention_model_view(weights(), TOKENS, length=5)
    tiles = next(t for t in fig.data if t.name == "tiles")
    assert [list(c) for c in tiles.customdata][:5] == [[1, 0], [1, 1], [1, 2], [1, 3], [2, 0]]
    assert fig.layout.clickmode == "event+select"
    assert "click to enlarge" in tiles.hovertemplate


@pytest.mark.parametrize(
    ("w", "tokens", "length", "message"),
    [
        (np.zeros((2, 2, 3)), TOKENS[:3], None, "expected (layers, heads, L, L) weights, got shape (2, 2, 3)"),
        (np.zeros((1, 1, 3, 3)), TOKENS[:4], None, "4 tokens for attention over 3 positions"),
        (np.zeros((1, 1, 3, 3)), TOKENS[:3], 4, "length 4 outside 1..3"),
        (np.zeros((24, 16, 80, 80)), ["t"] * 80, None, "too many to draw at once"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(w, tokens, length, message):
    with pytest.raises(ValueError) as info:
        attention_model_view(w, tokens, length)
    assert message in str(info.value)


def test_cell_budget_and_ticks():
    assert model_view_cells(6, 12, 10) == 7200
    assert model_view_cells(24, 16, 80) > MAX_CELLS
    ticks = token_ticks(TOKENS, 5)
    assert "color:#e8590c" in ticks[0] and "<b>" in ticks[0] and "[CLS]" in ticks[0]
    assert ticks[1] == "the"
    assert "<i>" in ticks[5] and "[PAD]" in ticks[5]
    assert token_ticks(["<b>x</b>"]) == ["&lt;b&gt;x&lt;/b&gt;"]  # token text is escaped
