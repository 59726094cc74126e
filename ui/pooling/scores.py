"""Pooling page: the run summary and the separation scores, measured against the majority-class baseline.

A score is only as good as the number of texts behind it: the table shows the folds and the spread
over them, and below ``FEW_PER_LABEL`` texts for some label the verdict becomes a caution.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.analysis.cells import plural
from core.analysis.comparison import Comparison
from core.analysis.scores import FEW_PER_LABEL, SCORES_HELP, best_strategy, top_strategies
from core.model.pooling import DESCRIPTIONS
from core.spec import Pooling
from ui.pipeline.outputs import code_span  # user labels as code spans: shown as text, never as Markdown
from ui.pipeline.tables import html_cell, html_table


def summary(c: Comparison, shown: Sequence[str]) -> None:
    """One caption line: texts, labels, baseline, checkpoint, layer, passes and timings; truncation and skips."""
    if c.labels:
        fewest = f" (fewest: {c.fewest[1]} × {code_span(c.fewest[0])})" if c.fewest else ""
        labels = f"{plural(len(set(c.labels)), 'label')}{fewest} · majority baseline {c.baseline:.2f}"
    else:
        labels = "no labels"
    st.caption(
        f"{plural(c.n_texts, 'text')} · {labels} · {code_span(c.checkpoint)}, {c.layer_name} · "
        f"max_length {c.max_length} · {plural(len(c.strategies), 'strategy', 'strategies')} from "
        f"{plural(c.forward_passes, 'forward pass', 'forward passes')} "
        f"(length-sorted batches) in {c.seconds_encode:.1f} s; "
        f"PCA and scores {c.seconds_total - c.seconds_encode:.1f} s"
    )
    if c.truncated:
        st.warning(
            f"{plural(c.truncated, 'text')} {'is' if c.truncated == 1 else 'are'} longer than max_length = "
            f"{c.max_length} tokens and {'was' if c.truncated == 1 else 'were'} truncated.",
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


MISSING = "—"  # a score that cannot be computed (no labels, too few texts): the reason is in a note below
COLUMNS = (  # (title, css class, hover help) of the score table, after the strategy's name
    ("best", "", "highest probe accuracy, ties broken by silhouette; none when they still tie"),
    ("probe accuracy", "num", "cross-validated logistic-regression accuracy (mean over the folds)"),
    ("± (folds)", "num", "spread (standard deviation) of the accuracy over the folds"),
    ("silhouette", "num", "cosine silhouette from -1 to 1: how well the labels form separate groups"),
    ("PCA 2-D variance", "num", "share of the variance the 2-D PCA map shows"),
    ("dim", "num", "embedding width"),
    ("what it is", "", ""),
)
SCORE_STYLE = "<style>.pl-table tr.po-best td {background: #e3f4e6; font-weight: 600;}</style>"


def score_rows(c: Comparison, shown: Sequence[str]) -> list[dict[str, str]]:
    """The score table as the page shows it: one row of display strings per shown strategy.

    Keys: ``strategy`` and the titles in ``COLUMNS``; a score that cannot be computed reads ``MISSING``; ``best``
    is ``"★ best"`` on the single best shown strategy (``best_strategy``: none on a tie), else ``""``.
    """
    scores = [c.score(s) for s in c.strategies if s in shown]
    best = best_strategy(scores)
    return [
        {
            "strategy": s.strategy,
            "best": "★ best" if s.strategy == best else "",
            "probe accuracy": MISSING if s.probe_accuracy is None else f"{s.probe_accuracy:.2f}",
            "± (folds)": MISSING if s.probe_std is None else f"± {s.probe_std:.2f}",
            "silhouette": MISSING if s.silhouette is None else f"{s.silhouette:+.3f}",
            "PCA 2-D variance": f"{s.explained_variance_2d:.0%}",
            "dim": f"{s.dim:,}",
            "what it is": DESCRIPTIONS[Pooling(s.strategy)],
        }
        for s in scores
    ]


def score_table_html(rows: list[dict[str, str]], labelled: bool) -> str:
    """Light HTML (as the Pipeline page's tables): long descriptions wrap instead of being cut at the right.
    Without labels, the score columns are left out (a note says why)."""
    columns = [col for col in COLUMNS if labelled or col[0] in ("PCA 2-D variance", "dim", "what it is")]
    head = [("strategy", "", "pooling strategy"), *columns]
    body = []
    for r in rows:
        cells = [html_cell(r["strategy"], "name")]
        for title, cls, _ in columns:
            cells.append(html_cell(r[title], "prose" if title == "what it is" else cls))
        body.append(f"<tr{' class=po-best' if r['best'] else ''}>{''.join(cells)}</tr>")
    return SCORE_STYLE + html_table(head, body)


def score_section(c: Comparison, shown: Sequence[str]) -> None:
    rows = score_rows(c, shown)
    if not rows:
        return
    st.html(score_table_html(rows, labelled=c.labels is not None))
    if c.labels is None:
        st.info(
            "No labels, so no separation scores: give each line a label (`label<TAB>text`) or a CSV "
            "`label` column to see how well each strategy separates them.",
            icon=":material/label_off:",
        )
        return
    scores = [c.score(r["strategy"]) for r in rows]
    top = top_strategies(scores)
    for note in c.notes:
        st.info(note, icon=":material/info:")
    if not top and c.notes:
        return
    if not top:
        st.info(
            "Scores need at least 2 labels with 2 or more texts each; add more labelled texts.",
            icon=":material/info:",
        )
        return
    best = top[0]
    best_shown = next(r for r in rows if r["strategy"] == best)
    score = c.score(best)
    assert c.baseline is not None and c.fewest is not None
    few = c.fewest[1] < FEW_PER_LABEL
    st.caption(
        f"Probe: logistic regression, stratified {score.folds}-fold cross-validation over {plural(c.n_texts, 'text')} "
        f"(± = spread over the {score.folds} folds). Majority-class baseline {c.baseline:.2f}: always answering "
        f"{code_span(majority_label(c))}."
    )
    if few:
        st.warning(
            f"**Too few texts to rank the strategies.** {code_span(c.fewest[0])} has only "
            f"{plural(c.fewest[1], 'text')}; below about {FEW_PER_LABEL} texts per label one text more or "
            "less moves a fold's accuracy by several points, so the differences in this table are mostly noise. "
            "Add more labelled texts (a sample set has 10–20 per label) before choosing a strategy.",
            icon=":material/warning:",
        )
    sil, accuracy = score.silhouette, score.probe_accuracy
    assert accuracy is not None and score.probe_std is not None
    overlap = " (the groups overlap in plain cosine geometry)" if sil is not None and sil < 0.1 else ""
    sil_text = f"{best_shown['silhouette']}{overlap}"
    if len(top) > 1:
        st.markdown(
            f"**No single best:** {', '.join(f'**{s}**' for s in top)} tie at probe accuracy **{accuracy:.2f}** "
            f"and silhouette {sil_text}, against a majority-class baseline of **{c.baseline:.2f}**: "
            f"{verdict(accuracy, c.baseline, few)}. These texts cannot tell the strategies apart."
        )
    else:
        st.markdown(
            f"**Best: {best}** — probe accuracy **{accuracy:.2f}** (± {score.probe_std:.2f} over "
            f"{score.folds} folds) against a majority-class baseline of **{c.baseline:.2f}**: "
            f"{verdict(accuracy, c.baseline, few)}. Its silhouette is {sil_text}."
        )
    with st.expander("What do these numbers mean?"):
        st.markdown(SCORES_HELP)
