"""Pooling comparison: every strategy from one forward pass, maps side by side, neighbours, similarity and scores.

Thin page: read the widgets (ui/pooling/), get the cached comparison (keyed by checkpoint, texts, labels,
layer and max_length: switching strategies, 2-D/3-D, PCA/t-SNE or the picked text never re-encodes), render.
The heavy views (similarity heatmaps, token vectors) are tabs built only when opened.
"""

from __future__ import annotations

import streamlit as st

from core.errors import SpecError
from ui import pooling as ui
from ui.common import ensure_app_navigation, load_or_stop, model_sidebar
from ui.safe_text import code, markdown

ensure_app_navigation()  # a fresh server's first deep link would otherwise run this file without app.py
# widget values that must survive runs in which their tab is closed
for key in ("po_method", "po_3d", "po_3d_strategy", "po_nn_strategy", "po_k", "po_heatmap_strategy"):
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]

st.title("Pooling comparison")
st.caption(
    "How should BERT's token vectors become one vector per text? Compare [CLS], mean, max, the pooler and "
    "multi-layer strategies on the same texts — all computed from ONE forward pass with hidden states."
)
name, device, half = model_sidebar()
ckpt = load_or_stop(name, device, half)
if not ckpt.info.real_weights:
    st.warning(
        f"{code(ckpt.info.id)} has RANDOM weights: the shapes are real, the geometry and scores are meaningless.",
        icon=":material/casino:",
    )

data = ui.input_panel()
strategies, layer, max_length = ui.settings_panel(ckpt.info.num_layers)
if data is None:
    st.info(
        "Load a sample set above, or paste / upload your own texts, to compare the strategies.",
        icon=":material/arrow_upward:",
    )
    st.stop()
shown = ui.strategy_names(strategies)
if not shown:
    st.warning("Pick at least one pooling strategy above.", icon=":material/touch_app:")
    st.stop()

src = ui.Source(name, device, half, data.texts, data.labels, layer, max_length)
try:
    c = ui.comparison(src)
except SpecError as e:
    st.error(f"**Cannot compare:** {markdown(e)}")
    st.stop()
shown = [s for s in shown if s in c.strategies]
ui.summary(c, ui.strategy_names(strategies))
if not shown:
    st.warning("None of the picked strategies is available on this checkpoint; pick another one.")
    st.stop()

st.subheader("Separation scores", anchor="scores")
ui.score_section(c, shown)
st.subheader("Maps, neighbours, similarity", anchor="maps")
views = ["Map & nearest neighbours", "Cosine similarity", "Token vectors across layers"]
tabs = dict(zip(views, st.tabs(views, key="po_views", on_change="rerun")))
for view, tab in tabs.items():
    if tab.open is False:  # lazy: only the open tab is built and sent
        continue
    with tab:
        if view == views[0]:
            ui.map_section(src, shown)
        elif view == views[1]:
            ui.similarity_section(src, shown)
        else:
            ui.token_section(src)
st.subheader("Export", anchor="export")
ui.export_section(c)
