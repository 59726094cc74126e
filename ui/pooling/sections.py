"""Pooling page: the sections drawn on demand (cosine-similarity heatmaps, token vectors across layers) and the
exports (NPY zip, CSV, Embedding Projector TSVs). Figures come from ``ui.pooling.cache``.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.analysis.comparison import Comparison
from ui.pooling.cache import Source, chart_config, comparison, heatmap_figure, token_figure, tokens_of
from ui.pooling.maps import text_label, too_few_texts

HEATMAP_GRID_LIMIT = 150  # above this many texts, one heatmap at a time (N x N cells each)


def similarity_section(src: Source, shown: Sequence[str]) -> None:
    c = comparison(src)
    if too_few_texts(c.n_texts):
        return
    st.caption(
        "Cosine similarity of every pair of texts (red = similar, blue = opposite). With labels, rows are "
        "grouped by label: a strategy that separates them shows bright blocks on the diagonal."
    )
    if c.n_texts > HEATMAP_GRID_LIMIT:
        s = st.selectbox("Strategy", list(shown), key="po_heatmap_strategy")
        picked = [s] if s else []
        per_row = 1
    else:
        picked, per_row = list(shown), 2  # three per row left each heatmap ~210 px at 1024×768
    for start in range(0, len(picked), per_row):
        cols = st.columns(per_row)
        for col, s in zip(cols, picked[start : start + per_row]):
            col.plotly_chart(heatmap_figure(src, s), key=f"po_sim_{s}", config=chart_config(f"pooling_cosine_{s}"))


def token_section(src: Source) -> None:
    c = comparison(src)
    left, right = st.columns([5, 2])
    with right:
        # the key carries the text set's digest: new texts, a fresh picker (never the old first text's label)
        i = st.selectbox(
            "Text", range(c.n_texts), format_func=lambda j: text_label(c, j), key=f"po_token_text_{src.digest}"
        )
        st.caption(
            "Its word pieces in a 2-D PCA fitted on all layers at once, so positions are comparable across "
            "layers. Press ▶ or drag the slider to watch them move from the embedding layer to the last one; "
            "mean pooling averages the dots of a layer, cls keeps the [CLS] dot."
        )
    args = (src.checkpoint, src.device, src.half, c.texts[i], c.max_length)
    left.plotly_chart(token_figure(*args), key="po_tokens", config=chart_config(f"pooling_tokens_{i + 1}"))
    cut = tokens_of(*args).truncated
    if cut:
        right.caption(f"This text was cut to max_length = {c.max_length} tokens ({cut} dropped).")


def export_section(c: Comparison) -> None:
    from core.analysis.comparison import export_csv, export_zip
    from core.analysis.projector import projector_zip

    stem = f"pooling_{c.checkpoint.split(':')[-1].replace('/', '_')}_{c.n_texts}texts"
    col1, col2, col3 = st.columns(3)
    col1.download_button(
        "Embeddings: .zip with one .npy per strategy",
        data=lambda: export_zip(c),
        file_name=f"{stem}.zip",
        mime="application/zip",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
        key="po_zip",
    )
    col2.download_button(
        "Embeddings: one .csv (a row per text)",
        data=lambda: export_csv(c),
        file_name=f"{stem}.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
        key="po_csv",
    )
    col3.download_button(
        "Embedding Projector: vectors.tsv + metadata.tsv",
        data=lambda: projector_zip(c.embeddings, c.texts, c.labels),
        file_name=f"{stem}_projector.zip",
        mime="application/zip",
        on_click="ignore",
        icon=":material/download:",
        width="stretch",
        key="po_projector",
    )
    st.caption(
        "The .zip holds every strategy's (texts × dim) float32 array, `texts.tsv` (number = the #n shown here, "
        "npy_row = its row in each array, label, text) and "
        "`info.json` (settings and scores). The Projector .zip holds one `vectors.tsv` + `metadata.tsv` pair "
        "per strategy: load them at projector.tensorflow.org (Load → step 1, step 2). In every table file a "
        "text or label starting with = + - @ gets a leading ' so a spreadsheet shows it as text. Figures: the camera "
        "icon in each chart's toolbar saves a PNG."
    )
