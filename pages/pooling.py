"""Pooling comparison: every strategy from one forward pass, PCA side by side, similarity and separation scores.

Thin page: read the widgets (pages/_pooling_widgets.py), call core.analysis.comparison.compare_pooling once (cached by
checkpoint, texts, labels, layer and max_length: switching strategies or 2-D/3-D never re-encodes), render.
"""

from __future__ import annotations

import streamlit as st

from core.errors import SpecError
from ui import pooling as ui
from ui.common import ensure_app_navigation, load_or_stop, model_sidebar
from ui.safe_text import code, markdown

ensure_app_navigation()  # a fresh server's first deep link would otherwise run this file without app.py

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
strategies, layer, max_length, three_d = ui.settings_panel(ckpt.info.num_layers)
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

try:
    c = ui.comparison(name, device, half, data.texts, data.labels, layer, max_length)
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
st.subheader(f"PCA of each strategy ({'3' if three_d else '2'}-D)", anchor="pca")
ui.pca_grid(c, shown, three_d)
st.subheader("Cosine similarity", anchor="similarity")
ui.similarity_section(c, shown)
st.subheader("Token vectors across layers", anchor="tokens")
ui.token_section(c, name, device, half)
st.subheader("Export", anchor="export")
ui.export_section(c)
