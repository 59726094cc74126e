"""core.analysis.neighbours: the k nearest texts by cosine similarity, against scikit-learn's NearestNeighbors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from core.analysis.neighbours import nearest
from core.analysis.scores import cosine_similarity_matrix


@pytest.mark.parametrize(("n", "dim", "k", "seed"), [(12, 5, 3, 0), (40, 384, 5, 1), (7, 2, 6, 2), (30, 16, 10, 3)])
def test_nearest_matches_sklearn_cosine_neighbours(n, dim, k, seed):
    X = np.random.default_rng(seed).normal(size=(n, dim))
    S = cosine_similarity_matrix(X)
    ref = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(X)
    distances, indices = ref.kneighbors(X)
    for i in range(n):
        got = nearest(S, i, k)
        assert [g.index for g in got] == [j for j in indices[i] if j != i][:k]
        expected = 1 - distances[i][indices[i] != i][:k]
        np.testing.assert_allclose([g.similarity for g in got], expected, atol=1e-9)
        assert [g.rank for g in got] == list(range(1, k + 1))


def test_nearest_leaves_out_the_text_itself_even_with_duplicates():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    got = nearest(cosine_similarity_matrix(X), 0, k=3)
    assert [g.index for g in got] == [1, 3, 2]  # the duplicate first (similarity 1), never 0 itself
    assert got[0].similarity == pytest.approx(1.0)


def test_fewer_texts_than_k():
    S = cosine_similarity_matrix(np.eye(3))
    assert [g.index for g in nearest(S, 1, k=10)] == [0, 2]
    assert nearest(S, 1, k=0) == []


@pytest.mark.parametrize(
    ("matrix", "index", "k", "message"),
    [
        (np.zeros((3, 2)), 0, 1, "expected an (N, N) similarity matrix, got shape (3, 2)"),
        (np.eye(3), 3, 1, "text 3 does not exist; there are 3 texts (0..2)"),
        (np.eye(3), -1, 1, "text -1 does not exist"),
        (np.eye(3), 0, -2, "k must be 0 or more, got -2"),
    ],
)
def test_nearest_refuses_bad_arguments_with_a_clear_message(matrix, index, k, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        nearest(matrix, index, k)
