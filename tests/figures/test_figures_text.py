"""Plotly renders a subset of HTML (links, bold) in legends, titles and ticks: user labels arrive escaped."""

from __future__ import annotations

import numpy as np

from core.analysis.projection import pca
from core.figures.pooling import pca_scatter, similarity_heatmap

LABELS = ["<a href='http://example.invalid'>click</a>", "<b>bold</b>", "plain"]


def test_pca_legend_names_are_escaped():
    rng = np.random.default_rng(0)
    labels = [LABELS[i % 3] for i in range(9)]
    fig = pca_scatter(pca(rng.normal(size=(9, 5)), 2), [f"text {i}" for i in range(9)], labels)
    names = {t.name for t in fig.data}
    assert names == {"&lt;a href='http://example.invalid'&gt;click&lt;/a&gt;", "&lt;b&gt;bold&lt;/b&gt;", "plain"}
    assert not any("<a href" in h or "<b>bold" in h for t in fig.data for h in t.hovertext), "hover text escaped too"


def test_heatmap_ticks_are_escaped():
    fig = similarity_heatmap(np.eye(6), [LABELS[i % 3] for i in range(6)])
    assert not any("<a" in str(t) or "<b>bold" in str(t) for t in fig.layout.yaxis.ticktext)
