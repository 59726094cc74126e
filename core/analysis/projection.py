"""PCA projection of embeddings to 2-D or 3-D for plotting.

Example::

    >>> proj = pca(np.random.default_rng(0).normal(size=(40, 384)), n_components=2)
    >>> proj.coords.shape, len(proj.explained_variance_ratio)
    ((40, 2), 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA


@dataclass(frozen=True, eq=False)
class Projection:
    """A PCA projection.

    Attributes:
        coords: ``(n_points, k)`` float64, read-only; k = 2 or 3. Columns past what the data supports
            (fewer than k+1 points, or constant data) are zeros.
        explained_variance_ratio: k floats in [0, 1], the share of total variance on each axis
            (0.0 for padded axes).
    """

    coords: np.ndarray
    explained_variance_ratio: tuple[float, ...]

    @property
    def n_components(self) -> int:
        return int(self.coords.shape[1])

    def axis_titles(self) -> tuple[str, ...]:
        """``("PC1 (41.2%)", "PC2 (13.0%)", ...)``."""
        return tuple(f"PC{i + 1} ({r * 100:.1f}%)" for i, r in enumerate(self.explained_variance_ratio))


def pca(X: np.ndarray, n_components: int = 2) -> Projection:
    """Project ``X`` of shape ``(n_points, dim)`` onto its first ``n_components`` (2 or 3) principal axes.

    ``(N, D) -> (N, k)``. Works for any N >= 0: with fewer than k+1 points, or constant data, the
    unsupported axes are zero columns with a variance ratio of 0.
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
    if fit_k >= 1 and total > 1e-12 * max(scale, 1e-300):
        model = PCA(n_components=fit_k, svd_solver="full")
        coords[:, :fit_k] = model.fit_transform(X)  # (N, D) -> (N, fit_k)
        ratios[:fit_k] = [float(r) for r in model.explained_variance_ratio_]
    coords.setflags(write=False)
    return Projection(coords=coords, explained_variance_ratio=tuple(ratios))
