"""Projections of embeddings to 2-D or 3-D for plotting: PCA (instant, linear) and t-SNE (slow, on demand).

Example::

    >>> proj = pca(np.random.default_rng(0).normal(size=(40, 384)), n_components=2)
    >>> proj.coords.shape, len(proj.explained_variance_ratio)
    ((40, 2), 2)
    >>> tsne(np.random.default_rng(0).normal(size=(40, 384)), 2).coords.shape         # doctest: +SKIP
    (40, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

# below these, an axis's variance is floating-point noise (float64 rounding of float32 embeddings is ~1e-16
# relative; the batching of float32 encodes moves a vector by ~1e-7 relative, 1e-14 in squares): drawn flat at 0
NOISE_RATIO = 1e-9  # share of the total variance
NOISE_SCALE = 1e-12  # variance relative to the data's own (uncentred) sum of squares


@dataclass(frozen=True, eq=False)
class Projection:
    """A PCA projection.

    Attributes:
        coords: ``(n_points, k)`` float64, read-only; k = 2 or 3. Columns past what the data supports
            (fewer than k+1 points, constant data, or an axis whose variance is rounding noise, e.g. when the
            texts are duplicates) are zeros.
        explained_variance_ratio: k floats in [0, 1], the share of total variance on each axis
            (0.0 for padded axes; all 0.0 for t-SNE, whose axes carry no variance share).
        method: ``"pca"`` or ``"tsne"``; perplexity: the t-SNE perplexity used, else None.
    """

    coords: np.ndarray
    explained_variance_ratio: tuple[float, ...]
    method: str = "pca"
    perplexity: float | None = None

    @property
    def n_components(self) -> int:
        return int(self.coords.shape[1])

    def axis_titles(self) -> tuple[str, ...]:
        """``("PC1 (41.2%)", "PC2 (13.0%)", ...)``; for t-SNE ``("t-SNE 1", "t-SNE 2", ...)``."""
        if self.method == "tsne":
            return tuple(f"t-SNE {i + 1}" for i in range(self.n_components))
        return tuple(f"PC{i + 1} ({r * 100:.1f}%)" for i, r in enumerate(self.explained_variance_ratio))


def pca(X: np.ndarray, n_components: int = 2) -> Projection:
    """Project ``X`` of shape ``(n_points, dim)`` onto its first ``n_components`` (2 or 3) principal axes.

    ``(N, D) -> (N, k)``. Works for any N >= 0: with fewer than k+1 points, or constant data, the
    unsupported axes are zero columns with a variance ratio of 0. So is an axis that carries only
    floating-point noise: a share of the total variance below ``NOISE_RATIO``, or a variance below
    ``NOISE_SCALE`` times the data's own sum of squares (duplicate texts: scikit-learn would return
    coordinates like 1.7e-16 that a plot stretches over its whole height, drawing identical texts far apart).
    Every other axis is scikit-learn's ``PCA(svd_solver="full")`` unchanged.
    """
    if n_components not in (2, 3):
        raise ValueError(f"n_components must be 2 or 3, got {n_components!r}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"pca expects a 2-D array (n_points, dim); got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"pca got non-finite values (nan or inf) in an array of shape {X.shape}")
    n, d = X.shape
    coords = np.zeros((n, n_components))
    ratios = [0.0] * n_components

    fit_k = min(n_components, n - 1, d)  # n points span at most n-1 directions after centring
    centred = X - X.mean(axis=0) if n else X
    total = float((centred**2).sum())
    scale = float((X**2).sum()) if n else 0.0
    if fit_k >= 1 and total > NOISE_SCALE * max(scale, 1e-300):
        model = PCA(n_components=fit_k, svd_solver="full")
        coords[:, :fit_k] = model.fit_transform(X)  # (N, D) -> (N, fit_k)
        for j, r in enumerate(model.explained_variance_ratio_):
            axis_total = float((coords[:, j] ** 2).sum())  # the variance along axis j, times N
            if r < NOISE_RATIO or axis_total <= NOISE_SCALE * scale:
                coords[:, j] = 0.0  # rounding noise, not a direction the texts differ in: drawn flat
            else:
                ratios[j] = float(r)
    coords.setflags(write=False)
    return Projection(coords=coords, explained_variance_ratio=tuple(ratios))


TSNE_MIN_POINTS = 5
TSNE_PERPLEXITY = 30.0  # scikit-learn's default, used whenever there are enough points


def tsne_perplexity(n_points: int) -> float:
    """The perplexity used for ``n_points``: scikit-learn's 30, lowered to ``(n - 1) / 3`` for small sets.

    t-SNE needs perplexity < n (scikit-learn refuses otherwise); van der Maaten's guidance is roughly
    ``3 * perplexity < n - 1``, which the lowered value keeps. Raises ValueError below ``TSNE_MIN_POINTS``.
    """
    if n_points < TSNE_MIN_POINTS:
        raise ValueError(f"t-SNE needs at least {TSNE_MIN_POINTS} texts to place; there are {n_points}")
    return float(min(TSNE_PERPLEXITY, max(1.0, (n_points - 1) / 3)))


def tsne(X: np.ndarray, n_components: int = 2, seed: int = 0, perplexity: float | None = None) -> Projection:
    """t-SNE of ``X`` ``(n_points, dim)`` -> ``(n_points, k)`` with scikit-learn's ``TSNE`` (k = 2 or 3).

    Deterministic: PCA initialisation and ``random_state=seed``. ``perplexity`` defaults to
    ``tsne_perplexity(n)``; a given one must be below n. Distances are cosine, as in the similarity
    heatmaps and the nearest-neighbour list. Takes seconds for hundreds of points: call it on demand.
    Raises ValueError for fewer than ``TSNE_MIN_POINTS`` points, a bad perplexity or non-finite values.
    """
    if n_components not in (2, 3):
        raise ValueError(f"n_components must be 2 or 3, got {n_components!r}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"tsne expects a 2-D array (n_points, dim); got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"tsne got non-finite values (nan or inf) in an array of shape {X.shape}")
    n = X.shape[0]
    chosen = tsne_perplexity(n) if perplexity is None else float(perplexity)
    if not 0 < chosen < n:
        raise ValueError(f"t-SNE perplexity must be above 0 and below the number of texts ({n}); got {chosen:g}")
    from sklearn.manifold import TSNE  # imported here: the page loads without it until t-SNE is asked for

    model = TSNE(
        n_components=n_components,
        perplexity=chosen,
        metric="cosine",
        init="pca",
        random_state=seed,
    )
    coords = model.fit_transform(X)  # (N, D) -> (N, k)
    coords = np.asarray(coords, dtype=np.float64)
    coords.setflags(write=False)
    return Projection(coords, (0.0,) * n_components, method="tsne", perplexity=chosen)
