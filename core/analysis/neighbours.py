"""Nearest neighbours of one text by cosine similarity, the Embedding Projector's "nearest points" list.

Works on the ``(N, N)`` cosine-similarity matrix the comparison already holds, so picking a point costs
one row sort, not a new pass over the embeddings.

Example::

    >>> S = cosine_similarity_matrix(X)                    # (N, D) -> (N, N)          # doctest: +SKIP
    >>> [(n.index, round(n.similarity, 2)) for n in nearest(S, 0, k=2)]                # doctest: +SKIP
    [(7, 0.91), (3, 0.88)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Neighbour:
    """One neighbour: row ``index`` in the text list, cosine ``similarity`` in [-1, 1], ``rank`` (1 = nearest)."""

    index: int
    similarity: float
    rank: int


def nearest(similarity: np.ndarray, index: int, k: int = 5) -> list[Neighbour]:
    """The ``k`` rows most similar to row ``index`` of an ``(N, N)`` similarity matrix, itself left out.

    Ordered by similarity, highest first; ties by row order (stable). Fewer than ``k`` when N - 1 < k.
    Raises ``ValueError`` for a non-square matrix, an index outside ``0..N-1`` or a negative ``k``.
    """
    S = np.asarray(similarity)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"nearest: expected an (N, N) similarity matrix, got shape {S.shape}")
    n = S.shape[0]
    if not 0 <= index < n:
        raise ValueError(f"nearest: text {index} does not exist; there are {n} texts (0..{n - 1})")
    if k < 0:
        raise ValueError(f"nearest: k must be 0 or more, got {k}")
    row = S[index].astype(np.float64)  # (N,)
    others = np.delete(np.arange(n), index)  # (N-1,)
    order = others[np.argsort(-row[others], kind="stable")][:k]
    return [Neighbour(int(j), float(row[j]), rank) for rank, j in enumerate(order, start=1)]


__all__ = ["Neighbour", "nearest"]
