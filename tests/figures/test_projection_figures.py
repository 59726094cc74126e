"""core.analysis.projection and core.figures.pooling: PCA against an SVD reference; figures' structure."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from core.analysis.projection import Projection, pca
from core.figures.pooling import (
    PALETTE,
    group_order,
    label_colors,
    pca_scatter,
    similarity_heatmap,
    token_pca_figure,
)


def svd_ratios(X: np.ndarray, k: int) -> np.ndarray:
    centred = X - X.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return (s**2 / (s**2).sum())[:k]


@pytest.mark.parametrize(("n", "d", "k"), [(40, 50, 2), (40, 50, 3), (200, 8, 2), (10, 384, 3)])
def test_pca_ratios_match_svd(n, d, k):
    rng = np.random.default_rng(n + d + k)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 3.0, size=d)  # anisotropic
    proj = pca(X, k)
    assert proj.coords.shape == (n, k)
    np.testing.assert_allclose(proj.explained_variance_ratio, svd_ratios(X, k), rtol=1e-8, atol=1e-12)
    # coordinates are centred projections: their variances follow the same ratios
    var = proj.coords.var(axis=0) / (X - X.mean(axis=0)).var(axis=0).sum()
    np.testing.assert_allclose(var, svd_ratios(X, k), rtol=1e-8)


@pytest.mark.parametrize(("n", "k", "nonzero"), [(0, 2, 0), (1, 2, 0), (2, 2, 1), (2, 3, 1), (3, 3, 2)])
def test_pca_tiny_n_pads_with_zeros(n, k, nonzero):
    X = np.random.default_rng(0).normal(size=(n, 6))
    proj = pca(X, k)
    assert proj.coords.shape == (n, k)
    assert np.isfinite(proj.coords).all()
    assert len(proj.explained_variance_ratio) == k
    assert all(r == 0.0 for r in proj.explained_variance_ratio[nonzero:])
    assert np.all(proj.coords[:, nonzero:] == 0.0)
    if nonzero:
        assert sum(proj.explained_variance_ratio) == pytest.approx(1.0)


def test_pca_constant_data_is_all_zero():
    proj = pca(np.full((5, 4), 3.7), 2)
    assert np.all(proj.coords == 0.0)
    assert proj.explained_variance_ratio == (0.0, 0.0)


def duplicate_rows(seed: int = 0, dim: int = 384) -> np.ndarray:
    """The newcomer's case: "Same text." three times and "Other text." once, as float32 embeddings would be."""
    rng = np.random.default_rng(seed)
    same, other = rng.normal(size=dim).astype(np.float32), rng.normal(size=dim).astype(np.float32)
    return np.stack([same, same, same, other])


@pytest.mark.parametrize("k", [2, 3])
def test_pca_of_duplicates_draws_the_noise_axes_flat(k):
    """4 rows, 2 distinct: one real direction. scikit-learn puts rounding noise (~1e-16) on the other axes,
    which a plot stretches over its height; ours are exactly 0 with a 0 share, and PC1 is scikit-learn's."""
    from sklearn.decomposition import PCA

    X = duplicate_rows()
    reference = PCA(n_components=k, svd_solver="full").fit(X.astype(np.float64))
    assert np.abs(reference.transform(X.astype(np.float64))[:, 1:]).max() > 0, "the noise this test is about"
    proj = pca(X, k)
    assert np.all(proj.coords[:, 1:] == 0.0)
    assert proj.explained_variance_ratio[1:] == (0.0,) * (k - 1)
    np.testing.assert_allclose(proj.coords[:, 0], reference.transform(X.astype(np.float64))[:, 0], rtol=1e-12)
    assert proj.explained_variance_ratio[0] == pytest.approx(1.0)
    assert proj.axis_titles()[1] == "PC2 (0.0%)"
    spread = np.ptp(proj.coords[:3, 0]) / np.ptp(proj.coords[:, 0])
    assert spread < 1e-12, "the three identical texts share one point (to rounding, invisible on PC1's scale)"


def test_pca_of_float32_jitter_is_flat_but_real_small_spread_is_kept():
    """Identical texts encoded in different batches differ by float32 rounding (~1e-7 relative): noise, flat.
    A spread of 1e-3 relative is a real (small) difference and keeps its axis."""
    rng = np.random.default_rng(1)
    base = rng.normal(size=(2, 64))
    X = np.repeat(base, 3, axis=0)  # two texts, three copies each
    jitter = pca(X + rng.normal(scale=1e-7, size=X.shape), 2)
    assert np.all(jitter.coords[:, 1] == 0.0) and jitter.explained_variance_ratio[1] == 0.0
    real = pca(X + rng.normal(scale=1e-3, size=X.shape), 2)
    assert np.abs(real.coords[:, 1]).max() > 1e-4 and real.explained_variance_ratio[1] > 0


@pytest.mark.parametrize(("n", "d", "k"), [(40, 384, 2), (40, 384, 3), (7, 5, 3)])
def test_pca_of_normal_data_is_scikit_learns(n, d, k):
    from sklearn.decomposition import PCA

    X = np.random.default_rng(n * d).normal(size=(n, d))
    reference = PCA(n_components=k, svd_solver="full").fit(X)
    proj = pca(X, k)
    np.testing.assert_allclose(proj.coords, reference.transform(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(proj.explained_variance_ratio, reference.explained_variance_ratio_, rtol=1e-12)


@pytest.mark.parametrize(
    ("X", "k", "fragment"),
    [
        (np.zeros((3, 2)), 4, "2 or 3"),
        (np.zeros(5), 2, "2-D array"),
        (np.full((3, 2), np.nan), 2, "non-finite"),
    ],
)
def test_pca_rejects_bad_input(X, k, fragment):
    with pytest.raises(ValueError, match=fragment):
        pca(X, k)


def test_projection_is_read_only_and_titles():
    proj = Projection(coords=np.zeros((2, 2)), explained_variance_ratio=(0.412, 0.13))
    assert proj.axis_titles() == ("PC1 (41.2%)", "PC2 (13.0%)")
    assert pca(np.eye(4), 2).coords.flags.writeable is False


TEXTS = ["Loved it", "Hated it", "Great food", "Cold soup", "Fine & <dandy>", "Meh"]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"]


@pytest.mark.parametrize("k", [2, 3])
def test_scatter_one_trace_per_label_with_hover_text(k):
    X = np.random.default_rng(0).normal(size=(6, 10))
    fig = pca_scatter(pca(X, k), TEXTS, LABELS, "mean")
    assert [trace.name for trace in fig.data] == ["neg", "pos"]
    assert all(isinstance(t, go.Scatter3d if k == 3 else go.Scatter) for t in fig.data)
    hovers = [h for trace in fig.data for h in trace.hovertext]
    for text in TEXTS[:4]:
        assert any(text in h for h in hovers)
    assert any("Fine &amp; &lt;dandy&gt;" in h for h in hovers)  # escaped, not rendered as HTML
    titles = (
        [fig.layout.scene.xaxis.title.text, fig.layout.scene.zaxis.title.text]
        if k == 3
        else [fig.layout.xaxis.title.text, fig.layout.yaxis.title.text]
    )
    assert all(t.startswith("PC") and t.endswith("%)") for t in titles)
    assert fig.layout.template.layout.to_plotly_json() == pio.templates["plotly_white"].layout.to_plotly_json()
    pio.to_json(fig)  # serialisable


def test_scatter_colours_stable_across_strategies_and_unlabelled():
    rng = np.random.default_rng(1)
    a = pca_scatter(pca(rng.normal(size=(6, 4)), 2), TEXTS, LABELS, "cls")
    b = pca_scatter(pca(rng.normal(size=(6, 9)), 2), TEXTS, LABELS, "max")
    assert [t.marker.color for t in a.data] == [t.marker.color for t in b.data] == list(PALETTE[:2])
    assert len(pca_scatter(pca(rng.normal(size=(6, 4)), 2), TEXTS, None).data) == 1
    assert len(set(label_colors([str(i) for i in range(30)]).values())) == len(PALETTE)


def test_long_hover_text_is_truncated_and_wrapped():
    long = "word " * 60
    fig = pca_scatter(pca(np.eye(3), 2), [long, "b", "c"], None)
    hover = fig.data[0].hovertext[0]
    assert "…" in hover and hover.count("<br>") >= 2
    assert len(hover.replace("<br>", " ")) < 160


@pytest.mark.parametrize("k", [2, 3])
def test_scatter_points_carry_their_row_and_rings_mark_the_pick(k):
    X = np.random.default_rng(4).normal(size=(6, 10))
    fig = pca_scatter(pca(X, k), TEXTS, LABELS, "mean", picked=2, neighbours=(0, 4))
    by_name = {t.name: t for t in fig.data}
    rows = sorted(i for name in ("neg", "pos") for i in by_name[name].customdata)
    assert rows == list(range(6))  # a click names its text
    for name in ("neg", "pos"):  # each point's customdata is its own row: coordinates agree
        t = by_name[name]
        for x, row in zip(t.x, t.customdata):
            assert x == pytest.approx(pca(X, k).coords[row, 0])
    assert [t.name for t in fig.data][-2:] == ["nearest", "picked"]
    assert list(by_name["picked"].customdata) == [2] and list(by_name["nearest"].customdata) == [0, 4]
    assert by_name["picked"].x[0] == pytest.approx(pca(X, k).coords[2, 0])
    assert by_name["picked"].showlegend is False and by_name["picked"].hoverinfo == "skip"
    assert "open" in by_name["picked"].marker.symbol
    plain = pca_scatter(pca(X, k), TEXTS, LABELS, "mean")
    assert [t.name for t in plain.data] == ["neg", "pos"]


def test_scatter_refuses_a_pick_that_does_not_exist():
    with pytest.raises(ValueError, match=r"point 6 does not exist; there are 6 points \(0..5\)"):
        pca_scatter(pca(np.eye(6), 2), TEXTS, None, picked=6)
    with pytest.raises(ValueError, match="point -1 does not exist"):
        pca_scatter(pca(np.eye(6), 2), TEXTS, None, neighbours=(-1,))


def test_scatter_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"\(6, 2\) but 5 texts"):
        pca_scatter(pca(np.eye(6), 2), TEXTS[:5], None)


def test_heatmap_z_is_the_grouped_matrix():
    rng = np.random.default_rng(2)
    S = np.corrcoef(rng.normal(size=(6, 20)))
    fig = similarity_heatmap(S, LABELS, "cosine", texts=TEXTS)
    order = list(fig.layout.meta["order"])
    assert order == [0, 2, 4, 1, 3, 5] == group_order(LABELS)
    np.testing.assert_allclose(np.array(fig.data[0].z), S[np.ix_(order, order)])
    heat = fig.data[0]
    assert (heat.zmin, heat.zmax) == (-1.0, 1.0)
    assert list(fig.layout.yaxis.ticktext) == ["pos", "neg"] and fig.layout.xaxis.showticklabels is False
    assert "Loved it" in heat.x[0]
    pio.to_json(fig)


def test_heatmap_without_labels_keeps_order():
    S = np.eye(3)
    fig = similarity_heatmap(S, ["c text", "a text", "b text"])
    assert list(fig.layout.meta["order"]) == [0, 1, 2]
    np.testing.assert_allclose(np.array(fig.data[0].z), S)


def test_heatmap_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(3, 3\) but 2 row names"):
        similarity_heatmap(np.eye(3), ["a", "b"])


def test_token_figure_one_frame_per_layer_on_shared_axes():
    rng = np.random.default_rng(3)
    tokens = ["[CLS]", "the", "cat", "##s", "[SEP]"]
    layers = [rng.normal(size=(5, 16)) + i for i in range(4)]
    fig = token_pca_figure(layers, tokens)
    assert len(fig.frames) == 4
    assert [f.name for f in fig.frames] == ["layer 0", "layer 1", "layer 2", "layer 3"]
    assert len(fig.layout.sliders[0].steps) == 4
    assert all(list(f.data[0].text) == tokens for f in fig.frames)
    # one PCA fitted on all layers stacked: frame coordinates equal that projection, split by layer
    stacked = pca(np.vstack(layers), 2).coords.reshape(4, 5, 2)
    for i, frame in enumerate(fig.frames):
        np.testing.assert_allclose(np.column_stack([frame.data[0].x, frame.data[0].y]), stacked[i])
    x_lo, x_hi = fig.layout.xaxis.range
    assert x_lo <= stacked[..., 0].min() and stacked[..., 0].max() <= x_hi
    pio.to_json(fig)


@pytest.mark.parametrize(
    ("layers", "tokens", "fragment"),
    [
        ([], ["a"], "no layers"),
        ([np.zeros((2, 4)), np.zeros((3, 4))], ["a", "b"], "shape (2, hidden)"),
        ([np.zeros((3, 4))], ["a", "b"], "for 2 tokens"),
    ],
)
def test_token_figure_rejects_bad_shapes(layers, tokens, fragment):
    with pytest.raises(ValueError) as info:
        token_pca_figure(layers, tokens)
    assert fragment in str(info.value)
