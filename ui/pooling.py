"""Widgets and renderers of the pooling comparison page (pages/pooling.py stays a thin script).

State (st.session_state, prefix ``po_``): ``po_data`` the LabelledTexts in use, ``po_source`` where it
came from, ``po_error`` the last refused input, ``po_text`` the paste box.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.analysis.comparison import (
    STRATEGIES,
    Comparison,
    TokenLayers,
    compare_pooling,
    layer_name,
    read_upload,
    token_layers,
)
from core.analysis.samples import (
    MAX_CHARS_PER_TEXT,
    MAX_TEXTS,
    MAX_UPLOAD_BYTES,
    SAMPLE_SETS,
    InputError,
    LabelledTexts,
    load_sample,
    parse_labelled_text,
)
from core.analysis.scores import SCORES_HELP
from core.figures.pooling import pca_scatter, similarity_heatmap, token_pca_figure
from core.limits import deadline
from core.model.pooling import DESCRIPTIONS, LAYERED
from ui.common import get_checkpoint
from ui.safe_text import code, markdown, text

MAX_LENGTHS = (32, 64, 128, 256, 512)
DEFAULT_MAX_LENGTH = 256  # sentence-transformers' max_seq_length for the bundled model
HEATMAP_GRID_LIMIT = 150  # above this many texts, one heatmap at a time (N x N cells each)
PNG_SCALE = 2
HEATMAP_HEIGHT = 380
LIMITS = (
    f"Up to {MAX_TEXTS} texts, {MAX_CHARS_PER_TEXT:,} characters each (longer texts are cut, with a note); "
    f"files up to {MAX_UPLOAD_BYTES / 1e6:.0f} MB."
)


# --- input -----------------------------------------------------------------------------------------
def _use(data: LabelledTexts, source: str) -> None:
    st.session_state.po_data = data
    st.session_state.po_source = source
    st.session_state.po_error = None


def _refuse(where: str, error: Exception) -> None:
    st.session_state.po_data = None
    st.session_state.po_source = None
    st.session_state.po_error = f"**{where} was refused:** {markdown(error)}"


def _load_sample(name: str) -> None:
    data = load_sample(name)
    st.session_state.po_text = _as_tsv(data)
    _use(data, f"sample set {code(name)}")


def _submit_paste() -> None:
    try:
        _use(parse_labelled_text(st.session_state.get("po_text", "")), "pasted texts")
    except InputError as e:
        _refuse("The pasted text", e)


def _upload_changed() -> None:
    file = st.session_state.get("po_upload")
    if file is None:
        return
    try:
        _use(read_upload(file.name, file.getvalue()), f"file {code(file.name)}")
    except InputError as e:
        _refuse(f"The file {code(file.name)}", e)


def _as_tsv(data: LabelledTexts) -> str:
    if data.labels is None:
        return "\n".join(data.texts)
    return "\n".join(f"{label}\t{text}" for label, text in zip(data.labels, data.texts))


def input_panel() -> LabelledTexts | None:
    """Sample buttons, a paste box and an uploader; returns the texts in use (or None yet)."""
    st.session_state.setdefault("po_data", None)
    st.session_state.setdefault("po_error", None)
    st.markdown("**1 · Texts** — load a sample set with one click, or bring your own.")
    cols = st.columns(len(SAMPLE_SETS) + 1, vertical_alignment="center")
    for col, (name, about) in zip(cols, SAMPLE_SETS.items()):
        col.button(
            f"Load sample: {name}",
            key=f"po_sample_{name}",
            on_click=_load_sample,
            args=(name,),
            help=about,
            icon=":material/dataset:",
            width="stretch",
        )
    with st.expander("Your own texts: paste or upload", expanded=st.session_state.po_data is None):
        paste, upload = st.tabs(["Paste", "Upload a file"])
        with paste, st.form("po_paste_form", border=False):
            st.text_area(
                "One text per line, or `label<TAB>text` per line to get separation scores",
                key="po_text",
                height=180,
                help="Copy two columns (label, text) from a spreadsheet and paste them: the cells arrive "
                "tab-separated. In the box itself the Tab key moves to the next field instead of typing a tab.",
                placeholder="positive\tThe film was a joy from start to finish.\n"
                "negative\tI walked out after twenty minutes.",
            )
            st.form_submit_button("Compare these texts", type="primary", on_click=_submit_paste)
        with upload:
            st.file_uploader(
                "A .csv with a `text` column and an optional `label` column, or a .tsv / .txt with one "
                "`label<TAB>text` (or plain text) per line",
                type=["csv", "tsv", "txt"],
                key="po_upload",
                on_change=_upload_changed,
            )
        st.caption(LIMITS)
    if st.session_state.po_error:
        st.error(st.session_state.po_error, icon=":material/block:")
    data: LabelledTexts | None = st.session_state.po_data
    if data is not None:
        labels = (
            f"{len(data.label_set)} labels ({text(', '.join(data.label_set), 300)})" if data.labels else "no labels"
        )
        st.caption(f"Using the {st.session_state.po_source}: {len(data.texts)} texts, {labels}.")
        for note in data.notes:
            st.info(note, icon=":material/info:")
    return data


# --- settings --------------------------------------------------------------------------------------
def settings_panel(num_layers: int) -> tuple[list[str], int, int, bool]:
    """Strategy pills, layer, max_length and the 3-D toggle -> (strategies, layer, max_length, three_d)."""
    st.markdown("**2 · Strategies** — all of them come from the same forward pass; pick the ones to show.")
    chosen = st.pills(
        "Pooling strategies",
        [s.value for s in STRATEGIES],
        selection_mode="multi",
        default=[s.value for s in STRATEGIES],
        key="po_strategies",
        help="\n".join(f"- **{s.value}**: {DESCRIPTIONS[s]}" for s in STRATEGIES),
        label_visibility="collapsed",
    )
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    layers = list(range(num_layers + 1))
    if st.session_state.get("po_layers_of") != num_layers:  # another model: start again from its last layer
        st.session_state.po_layers_of = num_layers
        st.session_state.pop("po_layer", None)
    layer = c1.selectbox(
        "Layer read by " + ", ".join(s.value for s in STRATEGIES if s in LAYERED),
        layers,
        index=len(layers) - 1,
        format_func=lambda i: layer_name(i, num_layers),
        key="po_layer",
        help="hidden_states[0] is the embedding layer; the others use fixed layers (last four, first and "
        "last, the pooler). Changing the layer encodes again; switching strategies does not.",
    )
    max_length = c2.select_slider(
        "max_length (tokens)",
        MAX_LENGTHS,
        value=DEFAULT_MAX_LENGTH,
        key="po_max_length",
        help="Texts longer than this are truncated. 256 is sentence-transformers' setting for the bundled model.",
    )
    three_d = c3.toggle("3-D PCA", key="po_3d", help="Rotate with the mouse; switching does not encode again.")
    return list(chosen or []), int(layer), int(max_length), bool(three_d)


# --- cached computations -----------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def comparison(
    checkpoint: str,
    device: str,
    half: bool,
    texts: tuple[str, ...],
    labels: tuple[str, ...] | None,
    layer: int,
    max_length: int,
) -> Comparison:
    """Every strategy at once (strategies are picked for display only, so switching never re-encodes)."""
    ckpt = get_checkpoint(checkpoint, device, half)
    bar = st.progress(0.0, text=f"Encoding {len(texts)} texts…")  # created and emptied in here: replay-safe
    try:
        with deadline():  # the server's time limit, checked between batches (core.limits)
            return compare_pooling(
                ckpt, texts, labels, None, layer, max_length, progress=lambda f, m: bar.progress(f, m)
            )
    finally:
        bar.empty()


@st.cache_data(max_entries=32, show_spinner=False)
def tokens_of(checkpoint: str, device: str, half: bool, text: str, max_length: int) -> TokenLayers:
    return token_layers(get_checkpoint(checkpoint, device, half), text, max_length)


# --- results ---------------------------------------------------------------------------------------
def _config(filename: str) -> dict:
    """Plotly modebar: the camera button saves a PNG under this name at PNG_SCALE x resolution."""
    return {
        "displaylogo": False,
        "modeBarButtonsToRemove": ["zoomIn2d", "zoomOut2d", "autoScale2d", "select2d", "lasso2d"],
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": PNG_SCALE},
    }


def _under_modebar(fig: go.Figure) -> go.Figure:
    """Move the title below the modebar row: in a third of a wide page they would overlap."""
    fig.update_layout(
        margin={"t": 64},
        title={"yref": "container", "y": 1.0, "yanchor": "top", "pad": {"t": 30}},
    )
    return fig


def summary(c: Comparison, shown: Sequence[str]) -> None:
    labels = f"{len(set(c.labels))} labels" if c.labels else "no labels"
    chance = f" · chance level {c.chance:.2f}" if c.chance else ""
    st.caption(
        f"{c.n_texts} texts · {labels}{chance} · {code(c.checkpoint)}, {c.layer_name} · max_length {c.max_length} · "
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


def score_section(c: Comparison, shown: Sequence[str]) -> None:
    rows = [r for r in c.table() if r["strategy"] in shown]
    if not rows:
        return
    df = pd.DataFrame(rows).set_index("strategy")
    if c.labels is None:
        df = df.drop(columns=["probe accuracy", "silhouette", "best"])
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
    df = df[["best", "probe accuracy", "silhouette", "PCA 2-D variance", "dim", "what it is"]]

    def highlight(row: pd.Series) -> list[str]:
        style = "background-color: #e3f4e6; font-weight: 600" if row.name == best else ""
        return [style] * len(row)

    styled = df.style.apply(highlight, axis=1).format(
        {
            "probe accuracy": lambda v: "n/a" if pd.isna(v) else f"{v:.2f}",
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
    margin = best_shown["probe accuracy"] - (c.chance or 0)
    verdict = (
        "well above chance: the labels can be read off these embeddings with a straight line"
        if margin >= 0.2
        else "only a little above chance: the labels are hard to read off any of these embeddings"
        if margin > 0.05
        else "at chance: none of the strategies makes the labels linearly readable here"
    )
    sil = best_shown["silhouette"]
    st.markdown(
        f"**Best: {best}** — probe accuracy **{best_shown['probe accuracy']:.2f}** against a chance level of "
        f"**{c.chance:.2f}** (1 / {len(set(c.labels))} labels), {verdict}. Its silhouette is "
        f"{sil:+.3f}" + (" (the groups overlap in plain cosine geometry)." if sil is not None and sil < 0.1 else ".")
    )
    with st.expander("What do these numbers mean?"):
        st.markdown(SCORES_HELP)


def pca_grid(c: Comparison, shown: Sequence[str], three_d: bool) -> None:
    dims = 3 if three_d else 2
    per_row = 2  # three per row left each plot ~210 px at 1024×768: titles were cut
    st.caption(
        "Each dot is one text, coloured by its label; hover to read it. Every strategy gets its own principal "
        "axes, so compare how the groups separate, not the coordinates. Axis titles give the share of variance "
        "each axis shows."
    )
    for start in range(0, len(shown), per_row):
        cols = st.columns(per_row)
        for col, s in zip(cols, shown[start : start + per_row]):
            proj = c.projection(s, dims)
            share = sum(proj.explained_variance_ratio)
            dim = c.embeddings[s].shape[1]
            fig = pca_scatter(proj, c.texts, c.labels, title=f"{s} · {dim}-d · {dims}-D PCA shows {share:.0%}")
            if three_d:  # step the camera back so the axis titles fit in half a page
                fig.update_layout(height=480, scene={"camera": {"eye": {"x": 1.7, "y": 1.7, "z": 1.0}}})
            col.plotly_chart(_under_modebar(fig), key=f"po_pca_{s}_{dims}", config=_config(f"pooling_pca{dims}d_{s}"))


def similarity_section(c: Comparison, shown: Sequence[str]) -> None:
    st.caption(
        "Cosine similarity of every pair of texts (red = similar, blue = opposite). With labels, rows are "
        "grouped by label: a strategy that separates them shows bright blocks on the diagonal."
    )
    names = list(c.labels) if c.labels else list(c.texts)
    if c.n_texts > HEATMAP_GRID_LIMIT:
        s = st.selectbox("Strategy", list(shown), key="po_heatmap_strategy")
        picked = [s] if s else []
        per_row = 1
    else:
        picked, per_row = list(shown), 2
    for start in range(0, len(picked), per_row):
        cols = st.columns(per_row)
        for col, s in zip(cols, picked[start : start + per_row]):
            fig = similarity_heatmap(c.similarity[s], names, title=s, texts=list(c.texts))
            fig.update_layout(height=HEATMAP_HEIGHT)  # the matrix is square: less height, less white space
            col.plotly_chart(_under_modebar(fig), key=f"po_sim_{s}", config=_config(f"pooling_cosine_{s}"))


def token_section(c: Comparison, checkpoint: str, device: str, half: bool) -> None:
    def label(i: int) -> str:
        tag = f"[{c.labels[i]}] " if c.labels else ""
        text = c.texts[i]
        return f"#{i + 1} {tag}{text[:90]}{'…' if len(text) > 90 else ''}"

    left, right = st.columns([5, 2])
    with right:
        i = st.selectbox("Text", range(c.n_texts), format_func=label, key="po_token_text")
        st.caption(
            "Its word pieces in a 2-D PCA fitted on all layers at once, so positions are comparable across "
            "layers. Press ▶ or drag the slider to watch them move from the embedding layer to the last one; "
            "mean pooling averages the dots of a layer, cls keeps the [CLS] dot."
        )
    layers = tokens_of(checkpoint, device, half, c.texts[i], c.max_length)
    fig = token_pca_figure(layers.vectors, layers.tokens, layers.names, title=f"{len(layers.tokens)} tokens")
    fig.update_layout(sliders=[{"x": 0.12, "len": 0.88}])  # leave room for the ▶ / ❚❚ buttons on the left
    left.plotly_chart(fig, key="po_tokens", config=_config(f"pooling_tokens_{i + 1}"))
    if layers.truncated:
        right.caption(f"This text was cut to max_length = {c.max_length} tokens ({layers.truncated} dropped).")


def export_section(c: Comparison) -> None:
    from core.analysis.comparison import export_csv, export_zip

    stem = f"pooling_{c.checkpoint.split(':')[-1].replace('/', '_')}_{c.n_texts}texts"
    col1, col2 = st.columns(2)
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
    st.caption(
        "The zip holds every strategy's (texts × dim) float32 array, `texts.tsv` (row, label, text) and "
        "`info.json` (settings and scores). Figures: the camera icon in each chart's toolbar saves a PNG."
    )


def strategy_names(values: Sequence[str]) -> list[str]:
    """Picked pills in STRATEGIES order."""
    picked = set(values)
    return [s.value for s in STRATEGIES if s.value in picked]
