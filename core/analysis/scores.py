"""How well each pooling strategy separates labelled texts: cosine similarity, silhouette, linear probe.

Pure numpy / scikit-learn; embeddings are plain ``(n_texts, dim)`` arrays, labels plain strings.

Example::

    table = score_table({"cls": cls_vecs, "mean": mean_vecs}, labels)  # each (N, D), N labels
    best_strategy(table)  # -> "mean" (highest probe accuracy, ties by silhouette; None when they still tie)
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core.analysis.projection import pca

# Above this many distinct labels the probe is not trained: each label has too few texts to learn from, and a
# K-way logistic regression per strategy and fold grew to minutes (250 labels x 2 texts: ~15 s per strategy).
MAX_PROBE_LABELS = 50
# below this many texts for the rarest label, scores are shown with a caution: one text moves a fold's accuracy a lot
FEW_PER_LABEL = 20
SCORES_HELP = (
    "**Silhouette** (from -1 to 1) asks, for every text: is it closer, by cosine distance, to the texts "
    "with its own label than to the texts of the nearest other label? Near 1 means tight, well-separated "
    "groups; near 0 means the groups overlap; below 0 means texts sit closer to another label than to "
    "their own. **Probe accuracy** is the share of texts a simple linear classifier (logistic regression "
    "on standardised embeddings) labels correctly when it is tested on texts it was not trained on "
    "(stratified k-fold cross-validation; ± is the spread over the folds). Compare it with the "
    "**majority-class baseline**: the accuracy of always answering the most common label (0.60 when 3 of 5 "
    "texts are positive; 1 / number of labels only when the labels are balanced). A probe near the baseline "
    "has learnt nothing a constant answer would not get. Silhouette measures the raw geometry the plots show; "
    "probe accuracy measures whether the information is there at all, even if it is not the dominant "
    f"direction. With fewer than {FEW_PER_LABEL} texts per label both numbers are noisy (one text moves a "
    "fold's accuracy by several points): treat differences of a few points as ties."
)


@dataclass(frozen=True)
class StrategyScore:
    """Scores of one pooling strategy's embeddings.

    Attributes:
        strategy: the pooling strategy's name, e.g. ``"mean"``.
        dim: embedding width D of the ``(N, D)`` array.
        silhouette: cosine silhouette in [-1, 1], or None when it cannot be computed.
        probe_accuracy: cross-validated linear-probe accuracy in [0, 1] (mean over the folds), or None.
        explained_variance_2d: share of variance the 2-D PCA plot shows, in [0, 1].
        probe_std: standard deviation of the per-fold accuracies, or None.
        folds: the number of cross-validation folds used, or None when there is no probe.
    """

    strategy: str
    dim: int
    silhouette: float | None
    probe_accuracy: float | None
    explained_variance_2d: float
    probe_std: float | None = None
    folds: int | None = None


@dataclass(frozen=True)
class ProbeResult:
    """A cross-validated probe: the mean accuracy, its spread over the folds, and how many folds."""

    accuracy: float
    std: float
    folds: int


def cosine_similarity_matrix(X: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity: ``(N, D) -> (N, N)``, values in [-1, 1], diagonal 1.

    A zero row has similarity 0 to everything (itself included).
    """
    X = _as_matrix(X)
    norms = np.linalg.norm(X, axis=1)  # (N,)
    unit = X / np.where(norms > 0, norms, 1.0)[:, None]  # (N, D), zero rows stay zero
    S = np.clip(unit @ unit.T, -1.0, 1.0)  # (N, D) @ (D, N) -> (N, N)
    np.fill_diagonal(S, (norms > 0).astype(np.float64))
    return S


def chance_level(labels: Sequence[str] | None) -> float | None:
    """1 / number of distinct labels (uniform guessing), or None without labels.

    Not the bar to beat when labels are unbalanced: see ``majority_baseline``.
    """
    if labels is None or len(set(labels)) == 0:
        return None
    return 1.0 / len(set(labels))


def majority_baseline(labels: Sequence[str] | None) -> float | None:
    """Accuracy of always answering the most common label: ``max count / N`` (scikit-learn's
    ``DummyClassifier(strategy="most_frequent")``), or None without labels.

    ``["pos", "pos", "pos", "neg", "neg"] -> 0.6``; equals ``chance_level`` only for balanced labels.
    """
    if not labels:
        return None
    return max(Counter(labels).values()) / len(labels)


def fewest_per_label(labels: Sequence[str] | None) -> tuple[str, int] | None:
    """The rarest label and its number of texts (ties: the first in sorted order), or None without labels."""
    if not labels:
        return None
    counts = Counter(labels)
    name = min(sorted(counts), key=lambda k: counts[k])
    return name, counts[name]


def silhouette(X: np.ndarray, labels: Sequence[str] | None) -> float | None:
    """Mean silhouette coefficient with cosine distance (1 - cosine similarity).

    None when there are no labels, fewer than 3 texts, fewer than 2 labels, or a label with 1 text.
    """
    X = _as_matrix(X)
    if not _scorable(X, labels):
        return None
    assert labels is not None
    names, y = np.unique(np.asarray(labels), return_inverse=True)
    onehot = np.eye(len(names))[y]  # (N, K)
    D = np.clip(1.0 - cosine_similarity_matrix(X), 0.0, 2.0)  # (N, N) cosine distance
    np.fill_diagonal(D, 0.0)
    sums = D @ onehot  # (N, N) @ (N, K) -> (N, K): total distance from each text to each label
    counts = onehot.sum(axis=0)  # (K,)
    own = np.arange(len(y)), y
    a = sums[own] / (counts[y] - 1)  # mean distance to the rest of its own label
    means = sums / counts  # (N, K)
    means[own] = np.inf
    b = means.min(axis=1)  # mean distance to the nearest other label
    denom = np.maximum(a, b)
    s = np.where(denom > 0, (b - a) / np.where(denom > 0, denom, 1.0), 0.0)
    return float(s.mean())


def probe_accuracy(X: np.ndarray, labels: Sequence[str] | None, folds: int = 5, seed: int = 0) -> float | None:
    """Mean stratified k-fold accuracy of StandardScaler + LogisticRegression on ``X`` ``(N, D)``.

    Uses ``min(folds, smallest label count)`` folds; None when that is below 2, when there are < 2 labels,
    or more than ``MAX_PROBE_LABELS`` (see ``probe_note``).
    """
    result = probe(X, labels, folds, seed)
    return result.accuracy if result is not None else None


def probe(X: np.ndarray, labels: Sequence[str] | None, folds: int = 5, seed: int = 0) -> ProbeResult | None:
    """``probe_accuracy`` with the per-fold spread and the number of folds actually used."""
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    X = _as_matrix(X)
    if not _scorable(X, labels):
        return None
    assert labels is not None
    if probe_note(labels) is not None:
        return None
    y = np.asarray(labels)
    n_splits = min(folds, min(Counter(labels).values()))
    model = Pipeline([("scale", StandardScaler()), ("probe", LogisticRegression(max_iter=1000))])
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(model, X, y, cv=cv, scoring="accuracy")
    return ProbeResult(float(np.mean(scores)), float(np.std(scores)), n_splits)


def probe_note(labels: Sequence[str] | None) -> str | None:
    """Why the probe is not trained on these labels (too many of them), or None when it is."""
    if labels is None:
        return None
    k = len(set(labels))
    if k <= MAX_PROBE_LABELS:
        return None
    return (
        f"Probe accuracy is computed for up to {MAX_PROBE_LABELS} labels; these texts have {k} "
        f"({len(labels) / k:.1f} texts per label on average), too few examples per label for a classifier to "
        "learn from. Silhouette is still computed; group the texts into fewer labels to get a probe score."
    )


def score_table(embeddings: Mapping[str, np.ndarray], labels: Sequence[str] | None) -> list[StrategyScore]:
    """Score every strategy's ``(N, D)`` embeddings against the same N labels, in the mapping's order."""
    rows = []
    for strategy, X in embeddings.items():
        X = _as_matrix(X, name=strategy)
        if labels is not None and len(labels) != X.shape[0]:
            raise ValueError(
                f"strategy {strategy!r}: embeddings of shape {X.shape} but {len(labels)} labels; pass one label per row"
            )
        result = probe(X, labels)
        rows.append(
            StrategyScore(
                strategy=strategy,
                dim=int(X.shape[1]),
                silhouette=silhouette(X, labels),
                probe_accuracy=result.accuracy if result else None,
                explained_variance_2d=float(sum(pca(X, 2).explained_variance_ratio)),
                probe_std=result.std if result else None,
                folds=result.folds if result else None,
            )
        )
    return rows


# scores closer than this are a tie: the probe's accuracies are fractions k / N, silhouettes float sums
TIE_TOLERANCE = 1e-9


def top_strategies(scores: Sequence[StrategyScore]) -> list[str]:
    """Every strategy sharing the top score: the highest probe accuracy, ties broken by silhouette.

    More than one name when they tie on both (to ``TIE_TOLERANCE``), e.g. duplicate texts with two labels
    give every strategy the same 0.50 and the same silhouette. Empty when no strategy has a probe accuracy.
    """
    ranked = [s for s in scores if s.probe_accuracy is not None]
    if not ranked:
        return []

    def key(s: StrategyScore) -> tuple[float, float]:
        assert s.probe_accuracy is not None
        return s.probe_accuracy, s.silhouette if s.silhouette is not None else -np.inf

    top = max(key(s) for s in ranked)
    return [
        s.strategy
        for s in ranked
        if abs(key(s)[0] - top[0]) <= TIE_TOLERANCE
        and (key(s)[1] == top[1] or abs(key(s)[1] - top[1]) <= TIE_TOLERANCE)
    ]


def best_strategy(scores: Sequence[StrategyScore]) -> str | None:
    """The strategy with the highest probe accuracy, ties broken by silhouette (``top_strategies``).

    None when no strategy has a probe accuracy, or when several tie on both: the order they were given in is
    no reason to call one of them the best.
    """
    top = top_strategies(scores)
    return top[0] if len(top) == 1 else None


def _as_matrix(X: np.ndarray, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name}: expected embeddings of shape (n_texts, dim); got shape {X.shape}")
    return X


def _scorable(X: np.ndarray, labels: Sequence[str] | None) -> bool:
    if labels is None:
        return False
    if len(labels) != X.shape[0]:
        raise ValueError(f"embeddings of shape {X.shape} but {len(labels)} labels; pass one label per row")
    counts = Counter(labels)
    return X.shape[0] >= 3 and len(counts) >= 2 and min(counts.values()) >= 2
