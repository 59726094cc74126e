"""Pooling page: the map of every strategy (PCA or t-SNE, 2-D or 3-D) and the picked text's nearest neighbours.

Embedding Projector habits: click a point (or pick a text) to see its text, label and k nearest neighbours
by cosine similarity under a chosen strategy; the picked text is ringed in every strategy's map and its
neighbours get thin rings. t-SNE is computed only when asked for, with progress, then cached.

The whole section is one ``st.fragment``: switching 2-D / 3-D, PCA / t-SNE, or picking a text reruns this
section alone (the figures come from ``ui.pooling.cache``), never the encoder or the rest of the page.
"""

from __future__ import annotations

import html
from functools import partial
from typing import Any

import streamlit as st

from core.analysis.projection import TSNE_MIN_POINTS, tsne_perplexity
from ui.pooling.cache import PCA, TSNE, Source, chart_config, comparison, compute_tsne, scatter_figure, tsne_missing

DEFAULT_K = 5
MAX_K = 20
PER_ROW_2D = 3


def _point_index(point: dict[str, Any]) -> int | None:
    """The text row a clicked point stands for (its ``customdata``), or None."""
    data = point.get("customdata")
    if isinstance(data, list):
        data = data[0] if data else None
    try:
        return int(data) if data is not None else None
    except (TypeError, ValueError):
        return None


def _on_click(chart_key: str, pick_key: str) -> None:
    """A click in any map picks that text for every map and for the neighbour list."""
    event = st.session_state.get(chart_key)
    points = event["selection"]["points"] if event else []
    for point in points:
        index = _point_index(point)
        if index is not None:
            st.session_state[pick_key] = index
            return


def text_label(c: Any, i: int, limit: int = 90) -> str:
    tag = f"[{c.labels[i]}] " if c.labels else ""
    text = c.texts[i]
    return f"#{i + 1} {tag}{text[:limit]}{'…' if len(text) > limit else ''}"


def too_few_texts(n_texts: int) -> bool:
    """With fewer than 2 texts there is nothing to place or compare: one message instead of empty maps, a
    neighbour list with no neighbours and 1×1 heatmaps. True when it was shown."""
    if n_texts >= 2:
        return False
    st.info(
        "Only one text: the maps place texts relative to each other, and nearest neighbours and similarities need "
        "a second text. Add at least one more text (a sample set has 40) to see them.",
        icon=":material/info:",
    )
    return True


@st.fragment
def map_section(src: Source, shown: list[str]) -> None:
    """Controls, the grid of maps and the neighbour list; reruns alone when its own widgets change."""
    c = comparison(src)
    if too_few_texts(c.n_texts):
        return
    shown = [s for s in shown if s in c.strategies]
    pick_key = f"po_pick_{src.digest}"  # per text set: a new set never shows the old pick
    if st.session_state.get(pick_key) is not None and not 0 <= st.session_state[pick_key] < c.n_texts:
        del st.session_state[pick_key]
    if st.session_state.get("po_method") not in (PCA, TSNE):
        st.session_state["po_method"] = PCA
    controls = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    method = controls.segmented_control(
        "Projection",
        [PCA, TSNE],
        key="po_method",
        required=True,
        help="PCA: instant and linear, axes carry a share of the variance. t-SNE: a non-linear map that keeps "
        "neighbourhoods (scikit-learn, fixed seed), computed when you ask for it; distances between groups "
        "mean little.",
    )
    three_d = controls.toggle("3-D", key="po_3d", help="Rotate with the mouse; switching does not encode again.")
    dims = 3 if three_d else 2
    picked: int | None = st.session_state.get(pick_key)
    near_under = _neighbour_strategy(c, shown)
    k = min(int(st.session_state.get("po_k", DEFAULT_K)), max(c.n_texts - 1, 0))
    neighbours = tuple(n.index for n in c.neighbours(near_under, picked, k)) if picked is not None else ()

    if method == TSNE and not _tsne_ready(src, shown, dims):
        return _neighbour_panel(c, src, shown, pick_key)
    if dims == 3:
        _one_3d_map(src, shown, method, picked, neighbours)
    else:
        st.caption(
            "Each dot is one text, coloured by its label; hover to read it, **click it** to see its nearest "
            "neighbours below. Every strategy gets its own axes, so compare how the groups separate, not the "
            "coordinates."
            + (
                " Axis titles give the share of variance each axis shows."
                if method == PCA
                else f" t-SNE: cosine distances, perplexity {tsne_perplexity(len(src.texts)):g}, seed 0; it keeps "
                "neighbourhoods, so distances between groups mean little."
            )
        )
        for start in range(0, len(shown), PER_ROW_2D):
            cols = st.columns(PER_ROW_2D)
            for col, s in zip(cols, shown[start : start + PER_ROW_2D]):
                chart_key = f"po_map_{s}"
                fig = scatter_figure(src, s, method, dims, picked, neighbours)
                col.plotly_chart(
                    fig,
                    key=chart_key,
                    on_select=partial(_on_click, chart_key, pick_key),
                    selection_mode="points",
                    config=chart_config(f"pooling_{method.lower().replace('-', '')}{dims}d_{s}"),
                )
    _neighbour_panel(c, src, shown, pick_key)


def _tsne_ready(src: Source, shown: list[str], dims: int) -> bool:
    """True when every shown strategy has its t-SNE map; otherwise offers to compute them, with progress."""
    n = len(src.texts)
    if n < TSNE_MIN_POINTS:
        st.info(f"t-SNE needs at least {TSNE_MIN_POINTS} texts; there are {n}. Use PCA.", icon=":material/info:")
        return False
    missing = tsne_missing(src, shown, dims)
    if not missing:
        return True
    holder = st.empty()  # the offer and the progress bar vanish once the maps are there
    with holder.container():
        st.info(
            f"t-SNE is not computed yet for {len(missing)} strateg{'y' if len(missing) == 1 else 'ies'} "
            f"({', '.join(missing)}) in {dims}-D. It takes about a second per strategy for a hundred texts, more "
            "for more; the result is kept, so switching back and forth is instant.",
            icon=":material/hourglass_empty:",
        )
        if not st.button(f"Compute t-SNE ({len(missing)} × {n} texts)", key="po_tsne_go", icon=":material/play_arrow:"):
            return False
        bar = st.progress(0.0, text="t-SNE…")
        compute_tsne(src, missing, dims, lambda f, m: bar.progress(f, m))
    holder.empty()
    return True


def _one_3d_map(src: Source, shown: list[str], method: str, picked: int | None, neighbours: tuple[int, ...]) -> None:
    """3-D: one large, rotatable map at a time (seven WebGL scenes at once would each cost the browser seconds)."""
    if st.session_state.get("po_3d_strategy") not in shown:
        st.session_state["po_3d_strategy"] = shown[0]
    s = st.segmented_control(
        "Strategy in 3-D",
        shown,
        key="po_3d_strategy",
        required=True,
        help="One strategy at a time in 3-D; the 2-D view shows them side by side.",
    )
    st.caption(
        "Drag to rotate, scroll to zoom. The ringed dot is the picked text; pick another one below "
        "(clicking a point works in the 2-D maps)."
    )
    fig = scatter_figure(src, s, method, 3, picked, neighbours)
    st.plotly_chart(fig, key="po_map3d", config=chart_config(f"pooling_{method.lower().replace('-', '')}3d_{s}"))


def _neighbour_strategy(c: Any, shown: list[str]) -> str:
    """The strategy the neighbours are computed under: the user's choice if still shown, else the best one."""
    current = st.session_state.get("po_nn_strategy")
    if current in shown:
        return current
    fallback = c.best if c.best in shown else shown[0]
    st.session_state["po_nn_strategy"] = fallback
    return fallback


def _neighbour_panel(c: Any, src: Source, shown: list[str], pick_key: str) -> None:
    st.markdown("##### Nearest neighbours")
    cols = st.columns([4, 2, 1], vertical_alignment="bottom")
    picked = cols[0].selectbox(
        "Text",
        list(range(c.n_texts)),
        index=None,
        format_func=lambda i: text_label(c, i),
        placeholder="Click a dot in a 2-D map, or pick a text here",
        key=pick_key,
    )
    under = cols[1].selectbox(
        "by cosine similarity under",
        shown,
        key="po_nn_strategy",
        help="Neighbours differ between strategies: that is the point of comparing them.",
    )
    if c.n_texts < 2:
        return
    top = min(MAX_K, c.n_texts - 1)
    if int(st.session_state.setdefault("po_k", min(DEFAULT_K, top))) > top:
        st.session_state["po_k"] = top
    k = cols[2].number_input("k", min_value=1, max_value=top, key="po_k")
    if picked is None:
        st.caption("Pick a text to list its nearest neighbours; it is ringed in every map.")
        return
    label = f" <span class='po-label'>[{html.escape(c.labels[picked])}]</span>" if c.labels else ""
    st.html(
        "<div style='border-left:4px solid #111;padding:4px 10px;margin:2px 0 6px 0'>"
        f"<b>#{picked + 1}</b>{label} {html.escape(c.texts[picked])}</div>"
    )
    rows = [
        {
            "rank": n.rank,
            "cosine": n.similarity,
            "label": c.labels[n.index] if c.labels else "",
            "same label": (c.labels[n.index] == c.labels[picked]) if c.labels else None,
            "text": f"#{n.index + 1} {c.texts[n.index]}",
        }
        for n in c.neighbours(under, picked, int(k))
    ]
    order = ["rank", "cosine", "label", "same label", "text"] if c.labels else ["rank", "cosine", "text"]
    st.dataframe(
        rows,
        hide_index=True,
        column_order=order,
        width="stretch",
        column_config={
            "rank": st.column_config.NumberColumn("rank", width=50),
            "cosine": st.column_config.NumberColumn("cosine", format="%.3f", width=70),
            "label": st.column_config.TextColumn("label", width=110),
            "same label": st.column_config.CheckboxColumn("same label", width=90),
            "text": st.column_config.TextColumn("text", width="large"),
        },
        key=f"po_nn_table_{src.digest}",
    )
    if c.labels:
        same = sum(bool(r["same label"]) for r in rows)
        st.caption(f"{same} of {len(rows)} nearest texts under **{under}** share the label of the picked text.")
