"""core.analysis.projection.tsne: deterministic, perplexity below n, and faithful to neighbourhoods.

(PCA is tested in tests/figures/test_projection_figures.py, next to the scatter it feeds.)
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.manifold import trustworthiness

from core.analysis.projection import TSNE_MIN_POINTS, TSNE_PERPLEXITY, tsne, tsne_perplexity


def blobs(n_per: int, dim: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dim)) * 6
    X = np.vstack([c + rng.normal(size=(n_per, dim)) for c in centres])
    return X, np.repeat(np.arange(3), n_per)


@pytest.mark.parametrize(("n", "expected"), [(5, 4 / 3), (10, 3.0), (40, 13.0), (91, 30.0), (500, TSNE_PERPLEXITY)])
def test_perplexity_rule_stays_below_n(n, expected):
    assert tsne_perplexity(n) == pytest.approx(expected)
    assert tsne_perplexity(n) < n


@pytest.mark.parametrize("k", [2, 3])
def test_tsne_is_deterministic_and_shaped(k):
    X, _ = blobs(8)
    a, b = tsne(X, k, seed=0), tsne(X, k, seed=0)
    assert a.coords.shape == (24, k) and a.method == "tsne" and a.perplexity == pytest.approx(23 / 3)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert a.axis_titles() == tuple(f"t-SNE {i + 1}" for i in range(k))
    assert not a.coords.flags.writeable


def test_tsne_keeps_neighbourhoods():
    """Three well-separated blobs: neighbourhoods survive (trustworthiness) and each point's nearest
    neighbour in the map has its blob's label."""
    X, y = blobs(15)
    proj = tsne(X, 2)
    assert trustworthiness(X, proj.coords, n_neighbors=5, metric="cosine") > 0.9
    d = np.linalg.norm(proj.coords[:, None] - proj.coords[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert (y[d.argmin(axis=1)] == y).mean() == 1.0


@pytest.mark.parametrize(
    ("X", "kwargs", "message"),
    [
        (np.zeros((TSNE_MIN_POINTS - 1, 3)), {}, f"t-SNE needs at least {TSNE_MIN_POINTS} texts to place; there are 4"),
        (np.ones((8, 3)), {"perplexity": 8}, "perplexity must be above 0 and below the number of texts (8); got 8"),
        (np.ones((8, 3)), {"perplexity": 0}, "got 0"),
        (np.ones((8, 3)), {"n_components": 4}, "n_components must be 2 or 3, got 4"),
        (np.ones(8), {}, "expects a 2-D array (n_points, dim); got shape (8,)"),
        (np.full((8, 3), np.nan), {}, "non-finite values"),
    ],
)
def test_tsne_refuses_with_a_clear_message(X, kwargs, message):
    with pytest.raises(ValueError) as info:
        tsne(X, **kwargs)
    assert message in str(info.value)
