"""Many labels (issue 16, item 14: 250 labels x 2 texts took 78 s on the pooling page with no progress).

Profiled: ~56 s per similarity heatmap went to plotly's add_vline / add_hline (each call re-validates every
shape: quadratic in the number of labels), and 10-25 s per strategy to a 250-way logistic-regression probe.
The heatmap now sets its block lines once; the probe is bounded by MAX_PROBE_LABELS, with a note saying why.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.analysis.comparison import compare_pooling
from core.analysis.scores import MAX_PROBE_LABELS, probe_accuracy, probe_note, score_table, silhouette
from core.figures.pooling import similarity_heatmap


def _labels(n: int, k: int) -> list[str]:
    return [f"label{i * k // n:03d}" for i in range(n)]


@pytest.mark.parametrize("k", [2, 7, 250])
def test_block_lines_sit_between_label_groups(k):
    n = 500
    labels = _labels(n, k)
    S = np.random.default_rng(0).uniform(-1, 1, (n, n))
    fig = similarity_heatmap(S, labels, title="mean")
    shapes = fig.layout.shapes
    assert len(shapes) == 2 * (k - 1)
    ordered = [labels[i] for i in fig.layout.meta["order"]]
    boundaries = [p - 0.5 for p in range(1, n) if ordered[p] != ordered[p - 1]]
    assert sorted(s.x0 for s in shapes if s.xref == "x") == boundaries
    assert sorted(s.y0 for s in shapes if s.yref == "y") == boundaries


def _build_seconds(k: int) -> float:
    n = 500
    S = np.random.default_rng(1).uniform(-1, 1, (n, n))
    labels = _labels(n, k)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        similarity_heatmap(S, labels, title="x", texts=[f"text {i}" for i in range(n)])
        best = min(best, time.perf_counter() - start)
    return best


def test_a_heatmap_of_250_labels_costs_about_as_much_as_one_of_2(monkeypatch):
    """A ratio in one run, not a timing: before, 250 labels cost ~300x more than 2 (56 s against 0.2 s)."""
    import plotly.graph_objects as go

    for name in ("add_vline", "add_hline", "add_shape"):  # one call per line re-validates all: quadratic
        monkeypatch.setattr(go.Figure, name, lambda *a, **k: pytest.fail("shapes are set once"))
    assert _build_seconds(250) < 20 * _build_seconds(2)


def test_the_probe_is_bounded_by_the_number_of_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2 * (MAX_PROBE_LABELS + 1), 16))
    many = _labels(len(X), MAX_PROBE_LABELS + 1)
    assert probe_accuracy(X, many) is None
    assert silhouette(X, many) is not None, "silhouette is cheap: still computed"
    note = probe_note(many)
    assert note.startswith(f"Probe accuracy is computed for up to {MAX_PROBE_LABELS} labels; these texts have 51")
    assert "2.0 texts per label on average" in note
    just = _labels(2 * MAX_PROBE_LABELS, MAX_PROBE_LABELS)
    assert probe_note(just) is None and probe_accuracy(X[: len(just)], just) is not None
    row = score_table({"mean": X}, many)[0]
    assert row.probe_accuracy is None and row.silhouette is not None


def test_compare_says_why_there_is_no_probe(tiny_ckpt):
    texts = [f"sentence {i} on topic {i // 2}" for i in range(120)]
    labels = _labels(120, 60)
    steps: list[str] = []
    c = compare_pooling(tiny_ckpt, texts, labels, ["mean", "cls"], progress=lambda f, m: steps.append(m))
    assert c.best is None and all(s.probe_accuracy is None for s in c.scores)
    assert len(c.notes) == 1 and "these texts have 60" in c.notes[0]
    assert steps[0].startswith("Encoding 120 texts") and steps[-1] == "Done", "progress from start to end"
    assert compare_pooling(tiny_ckpt, texts[:8], _labels(8, 2), ["mean"]).notes == ()
