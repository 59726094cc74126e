"""core.analysis.scores: separation scores checked against independent references on constructed data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from core.analysis.scores import (
    FEW_PER_LABEL,
    SCORES_HELP,
    StrategyScore,
    best_strategy,
    chance_level,
    cosine_similarity_matrix,
    fewest_per_label,
    majority_baseline,
    probe,
    probe_accuracy,
    score_table,
    silhouette,
    top_strategies,
)


def two_blobs(n_per: int = 30, dim: int = 50, gap: float = 4.0, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Two Gaussian blobs in ``dim``-D, centred at +-gap/2 along a random direction; (2n, dim), labels."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    offset = rng.normal(size=dim) * 3  # move both blobs off the origin, as real embeddings are
    a = rng.normal(size=(n_per, dim)) + offset + gap / 2 * direction * np.sqrt(dim)
    b = rng.normal(size=(n_per, dim)) + offset - gap / 2 * direction * np.sqrt(dim)
    return np.vstack([a, b]), ["a"] * n_per + ["b"] * n_per


def shuffled(labels: list[str], seed: int = 1) -> list[str]:
    return list(np.random.default_rng(seed).permutation(labels))


def test_cosine_matches_numpy_reference():
    X = np.random.default_rng(0).normal(size=(12, 7))
    ref = np.array([[x @ y / np.linalg.norm(x) / np.linalg.norm(y) for y in X] for x in X])
    S = cosine_similarity_matrix(X)
    assert S.shape == (12, 12)
    np.testing.assert_allclose(S, ref, atol=1e-12)
    np.testing.assert_allclose(np.diag(S), 1.0)
    np.testing.assert_allclose(S, S.T)


def test_cosine_zero_row_is_zero_not_nan():
    X = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 0.0]])
    S = cosine_similarity_matrix(X)
    assert np.isfinite(S).all()
    assert S[1].tolist() == [0.0, 0.0, 0.0]
    assert S[0, 2] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_silhouette_matches_sklearn(seed):
    X, labels = two_blobs(seed=seed)
    for lab in (labels, shuffled(labels, seed)):
        ref = silhouette_score(X, lab, metric="cosine")
        assert silhouette(X, lab) == pytest.approx(ref, abs=1e-9)


def test_silhouette_matches_sklearn_with_four_uneven_labels():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(23, 9))
    labels = list("aaaabbbbbbbcccddddddddd")
    assert silhouette(X, labels) == pytest.approx(silhouette_score(X, labels, metric="cosine"), abs=1e-9)


def test_separated_blobs_score_clearly_above_shuffled_labels():
    X, labels = two_blobs()
    wrong = shuffled(labels)
    assert silhouette(X, labels) >= 0.5
    assert silhouette(X, wrong) <= 0.05
    assert probe_accuracy(X, labels) >= 0.9
    assert probe_accuracy(X, wrong) <= 0.75


@pytest.mark.parametrize(
    ("labels", "why"),
    [
        (None, "no labels"),
        (["a", "a", "a", "a"], "one label"),
        (["a", "a", "a", "b"], "a label with one member"),
        (["a", "b"], "two texts"),
    ],
)
def test_scores_are_none_when_impossible(labels, why):
    n = 4 if labels is None else len(labels)
    X = np.random.default_rng(0).normal(size=(n, 5))
    assert silhouette(X, labels) is None, why
    assert probe_accuracy(X, labels) is None, why


def test_probe_uses_fewer_folds_for_small_classes():
    X, labels = two_blobs(n_per=3)  # 3 per class -> 3 folds, still works
    assert probe_accuracy(X, labels, folds=5) >= 0.8


def test_probe_is_deterministic_for_a_seed():
    X, labels = two_blobs(gap=0.5)
    assert probe_accuracy(X, labels, seed=4) == probe_accuracy(X, labels, seed=4)


def test_label_count_mismatch_names_both_sizes():
    with pytest.raises(ValueError, match=r"\(4, 3\) but 3 labels"):
        silhouette(np.ones((4, 3)), ["a", "b", "a"])


def test_score_table_and_best_strategy():
    X, labels = two_blobs()
    noise = np.random.default_rng(9).normal(size=(len(labels), 20))
    table = score_table({"noise": noise, "blobs": X}, labels)
    assert [row.strategy for row in table] == ["noise", "blobs"]
    assert [row.dim for row in table] == [20, 50]
    assert all(0.0 <= row.explained_variance_2d <= 1.0 for row in table)
    assert table[1].explained_variance_2d > table[0].explained_variance_2d
    assert best_strategy(table) == "blobs"


def test_score_table_without_labels_has_no_scores():
    table = score_table({"cls": np.random.default_rng(0).normal(size=(6, 4))}, None)
    assert table[0].silhouette is None and table[0].probe_accuracy is None
    assert best_strategy(table) is None


def test_score_table_rejects_wrong_row_count():
    with pytest.raises(ValueError, match=r"strategy 'mean'.*5 labels"):
        score_table({"mean": np.zeros((4, 3))}, list("aabbb"))


def test_best_strategy_breaks_ties_by_silhouette():
    rows = [
        StrategyScore("cls", 8, 0.1, 0.9, 0.5),
        StrategyScore("mean", 8, 0.3, 0.9, 0.5),
        StrategyScore("max", 8, None, None, 0.5),
        StrategyScore("pooler", 8, 0.9, 0.8, 0.5),
    ]
    assert best_strategy(rows) == "mean"
    assert best_strategy([]) is None


def test_no_best_when_strategies_tie_on_both_scores():
    """Ties on probe and silhouette give no best: the order strategies were listed in is no reason to pick one."""
    rows = [
        StrategyScore("cls", 8, 0.25, 0.5, 0.5),
        StrategyScore("mean", 8, 0.25 + 1e-15, 0.5, 0.5),  # float sums of the same geometry
        StrategyScore("max", 8, 0.25, 0.5, 0.5),
        StrategyScore("pooler", 8, 0.9, 0.25, 0.5),
    ]
    assert top_strategies(rows) == ["cls", "mean", "max"]
    assert best_strategy(rows) is None
    assert top_strategies(rows[:1]) == ["cls"] and best_strategy(rows[:1]) == "cls"
    assert top_strategies([StrategyScore("cls", 8, None, None, 0.5)]) == []


def test_duplicate_texts_with_two_labels_tie_every_strategy():
    """The newcomer's set: "Same text." as pos, neg, pos and "Other text." as neg. Whatever the embedding, the
    probe and silhouette (sklearn's silhouette_score as the reference) come out the same: no best strategy."""
    labels = ["pos", "neg", "pos", "neg"]
    rng = np.random.default_rng(3)
    embeddings = {}
    for name in ("cls", "mean", "max"):
        same, other = rng.normal(size=16), rng.normal(size=16)
        embeddings[name] = np.stack([same, same, same, other])
    table = score_table(embeddings, labels)
    for row in table:
        reference = silhouette_score(embeddings[row.strategy], labels, metric="cosine")
        assert row.silhouette == pytest.approx(reference) == pytest.approx(0.25)
    assert len({row.probe_accuracy for row in table}) == 1
    assert best_strategy(table) is None and top_strategies(table) == ["cls", "mean", "max"]


def test_chance_level_and_help_text():
    assert chance_level(["a", "b", "c", "a"]) == pytest.approx(1 / 3)
    assert chance_level(None) is None
    for word in ("Silhouette", "Probe accuracy", "majority-class baseline", "1 / number of labels", "folds"):
        assert word in SCORES_HELP
    assert f"fewer than {FEW_PER_LABEL} texts per label" in SCORES_HELP


@pytest.mark.parametrize(
    "labels",
    [
        ["pos", "pos", "pos", "neg", "neg"],  # the five pasted lines: 0.60, not 0.50
        ["a", "b"] * 10,
        ["a"] * 7 + ["b"] * 2 + ["c"],
        ["x"] * 4,
    ],
)
def test_majority_baseline_equals_sklearn_dummy_classifier(labels):
    from sklearn.dummy import DummyClassifier

    X = np.zeros((len(labels), 1))
    dummy = DummyClassifier(strategy="most_frequent").fit(X, labels)
    assert majority_baseline(labels) == pytest.approx(dummy.score(X, labels))
    assert majority_baseline(labels) >= chance_level(labels)


def test_majority_baseline_and_fewest_without_labels():
    assert majority_baseline(None) is None and majority_baseline([]) is None
    assert fewest_per_label(None) is None
    assert fewest_per_label(["b", "a", "b", "c", "a"]) == ("c", 1)
    assert fewest_per_label(["b", "a", "b", "a"]) == ("a", 2)  # ties: sorted order


def test_probe_reports_folds_and_spread_like_cross_val_score():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, labels = two_blobs(n_per=7)
    result = probe(X, labels)
    assert result.folds == 5
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    ref = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), X, labels, cv=cv)
    assert result.accuracy == pytest.approx(ref.mean()) and result.std == pytest.approx(ref.std())
    rows = [0, 1, 2, 7, 8, 9]  # three texts per label: three folds
    assert probe(X[rows], [labels[i] for i in rows]).folds == 3


def test_score_table_carries_folds_and_spread():
    X, labels = two_blobs(n_per=4)
    (row,) = score_table({"mean": X}, labels)
    assert row.folds == 4 and row.probe_std is not None and 0 <= row.probe_std <= 0.5
    (row,) = score_table({"mean": X}, None)
    assert row.folds is None and row.probe_std is None
