"""Pooling page inputs: the texts (sample sets, paste, upload) and the settings (strategies, layer, max_length).

State (st.session_state, prefix ``po_``): ``po_data`` the LabelledTexts in use, ``po_source`` where it
came from, ``po_error`` the last refused input, ``po_text`` the paste box.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.analysis.cells import plural
from core.analysis.comparison import STRATEGIES, layer_name, read_upload
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
from core.model.pooling import DESCRIPTIONS, LAYERED
from ui.safe_text import code, markdown, text

MAX_LENGTHS = (32, 64, 128, 256, 512)
DEFAULT_MAX_LENGTH = 256  # sentence-transformers' max_seq_length for the bundled model
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
            f"{plural(len(data.label_set), 'label')} ({text(', '.join(data.label_set), 300)})"
            if data.labels
            else "no labels"
        )
        st.caption(f"Using the {st.session_state.po_source}: {plural(len(data.texts), 'text')}, {labels}.")
        for note in data.notes:
            st.info(markdown(note), icon=":material/info:")
    return data


# --- settings --------------------------------------------------------------------------------------
def settings_panel(num_layers: int) -> tuple[list[str], int, int]:
    """Strategy pills, layer and max_length -> (strategies, layer, max_length).

    (The 2-D / 3-D and PCA / t-SNE switches sit with the map they change, in its fragment.)"""
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
    c1, c2 = st.columns(2, vertical_alignment="bottom")
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
    return list(chosen or []), int(layer), int(max_length)


def strategy_names(values: Sequence[str]) -> list[str]:
    """Picked pills in STRATEGIES order."""
    picked = set(values)
    return [s.value for s in STRATEGIES if s.value in picked]
