"""Pooling page: the run summary and the separation scores, measured against the majority-class baseline.

A score is only as good as the number of texts behind it: the table shows the folds and the spread
over them, and below ``FEW_PER_LABEL`` texts for some label the verdict becomes a caution.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from core.analysis.comparison import Comparison
from core.analysis.scores import FEW_PER_LABEL, SCORES_HELP
from ui.pipeline.outputs import code_span  # user labels as code spans: shown as text, never as Markdown


def summary(c: Comparison, shown: Sequence[str]) -> None:
    """One caption line: texts, labels, baseline, checkpoint, layer, passes and timings; truncation and skips."""
    if c.labels:
        fewest = f" (fewest: {c.fewest[1]} × {code_span(c.fewest[0])})" if c.fewest else ""
        labels = f"{len(set(c.labels))} labels{fewest} · majority baseline {c.baseline:.2f}"
    else:
        labels = "no labels"
    st.caption(
        f"{c.n_texts} texts · {labels} · {code_span(c.checkpoint)}, {c.layer_name} · max_length {c.max_length} · "
        f"{len(c.strategies)} strategies from {c.forward_passes} forward pass(es) "
        f"(length-sorted batches) in {c.seconds_encode:.1f} s; "
        f"PCA and scores {c.seconds_total - c.seconds_encode:.1f} s"
    )
    if c.truncated:
        st.warning(
            f"{c.truncated} text(s) are longer than max_length = {c.max_length} tokens and were truncated.",
            icon=":material/content_cut:",
        )
    skipped = [f"**{s}** ({why})" for s, why in c.skipped if s in shown]
    if skipped:
        st.info("Not available on this checkpoint: " + "; ".join(skipped) + ".", icon=":material/info:")


def majority_label(c: Comparison) -> str:
    """The most common label (ties: sorted order), the answer of the majority-class baseline."""
    assert c.labels is not None
    counts = {label: c.labels.count(label) for label in sorted(set(c.labels))}
    return max(counts, key=lambda k: counts[k])


def verdict(accuracy: float, baseline: float, few: bool) -> str:
    """Words for a probe accuracy against the majority-class baseline; never a strong claim on few texts."""
    margin = accuracy - baseline
    if few:
        if margin <= 0:
            return "no better than always answering the most common label"
        return "above it, but too few texts to tell a real difference from luck"
    if margin >= 0.2:
        return "well above it: the labels can be read off these embeddings with a straight line"
    if margin > 0.05:
        return "only a little above it: the labels are hard to read off any of these embeddings"
    return "at or below it: none of the strategies makes the labels linearly readable here"


def score_section(c: Comparison, shown: Sequence[str]) -> None:
    rows = [r for r in c.table() if r["strategy"] in shown]
    if not rows:
        return
    df = pd.DataFrame(rows).set_index("strategy")
    if c.labels is None:
        df = df.drop(columns=["probe accuracy", "± (folds)", "silhouette", "best"])
        st.dataframe(df.style.format({"PCA 2-D variance": "{:.0%}"}), width="stretch")
        st.info(
            "No labels, so no separation scores: give each line a label (`label<TAB>text`) or a CSV "
            "`label` column to see how well each strategy separates them.",
            icon=":material/label_off:",
        )
        return
    best_shown = max(
        (r for r in rows if r["probe accuracy"] is not None),
        key=lambda r: (r["probe accuracy"], r["silhouette"] if r["silhouette"] is not None else -2.0),
        default=None,
    )
    best = best_shown["strategy"] if best_shown else None
    df["best"] = ["★ best" if s == best else "" for s in df.index]
    df = df[["best", "probe accuracy", "± (folds)", "silhouette", "PCA 2-D variance", "dim", "what it is"]]

    def highlight(row: pd.Series) -> list[str]:
        style = "background-color: #e3f4e6; font-weight: 600" if row.name == best else ""
        return [style] * len(row)

    styled = df.style.apply(highlight, axis=1).format(
        {
            "probe accuracy": lambda v: "n/a" if pd.isna(v) else f"{v:.2f}",
            "± (folds)": lambda v: "" if pd.isna(v) else f"± {v:.2f}",
            "silhouette": lambda v: "n/a" if pd.isna(v) else f"{v:+.3f}",
            "PCA 2-D variance": "{:.0%}",
        }
    )
    st.dataframe(styled, width="stretch")
    for note in c.notes:
        st.info(note, icon=":material/info:")
    if best_shown is None and c.notes:
        return
    if best_shown is None:
        st.info(
            "Scores need at least 2 labels with 2 or more texts each; add more labelled texts.",
            icon=":material/info:",
        )
        return
    score = c.score(best)
    assert c.baseline is not None and c.fewest is not None
    few = c.fewest[1] < FEW_PER_LABEL
    st.caption(
        f"Probe: logistic regression, stratified {score.folds}-fold cross-validation over {c.n_texts} texts "
        f"(± = spread over the {score.folds} folds). Majority-class baseline {c.baseline:.2f}: always answering "
        f"{code_span(majority_label(c))}."
    )
    if few:
        st.warning(
            f"**Too few texts to rank the strategies.** {code_span(c.fewest[0])} has only {c.fewest[1]} text(s); below "
            f"about {FEW_PER_LABEL} texts per label one text more or less moves a fold's accuracy by several "
            "points, so the differences in this table are mostly noise. Add more labelled texts (a sample set "
            "has 10–20 per label) before choosing a strategy.",
            icon=":material/warning:",
        )
    sil = best_shown["silhouette"]
    st.markdown(
        f"**Best: {best}** — probe accuracy **{best_shown['probe accuracy']:.2f}** (± {score.probe_std:.2f} over "
        f"{score.folds} folds) against a majority-class baseline of **{c.baseline:.2f}**: "
        f"{verdict(best_shown['probe accuracy'], c.baseline, few)}. Its silhouette is {sil:+.3f}"
        + (" (the groups overlap in plain cosine geometry)." if sil is not None and sil < 0.1 else ".")
    )
    with st.expander("What do these numbers mean?"):
        st.markdown(SCORES_HELP)
