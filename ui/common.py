"""Streamlit-side helpers shared by the pages: the cached checkpoint, the sidebar model picker."""

from __future__ import annotations

import streamlit as st

from core.errors import CheckpointError
from core.model.checkpoints import CHECKPOINT_CHOICES, Checkpoint, load_checkpoint, resolve_device
from core.spec import DEFAULT_CHECKPOINT

OTHER = "other (Hugging Face id or local folder)…"


def ensure_app_navigation() -> None:
    """Make every run go through app.py's st.navigation, even a fresh server's first deep link.

    A ``pages/`` folder beside app.py starts Streamlit in its legacy multipage mode, which lasts until
    st.navigation has run once in the process: until then a first request for /lessons runs that page
    file alone (narrow layout, every helper module listed as a page). We leave that mode and rerun the
    same page: the rerun executes app.py, whose navigation resolves it by the same url path (page file
    names equal their url paths, so both modes agree). Uses Streamlit internals (streamlit is pinned);
    without them only the looks suffer.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.runtime.scriptrunner_utils.exceptions import RerunException
        from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
    except ImportError:  # pragma: no cover - internals moved
        return
    if not PagesManager.uses_pages_directory:
        return
    PagesManager.uses_pages_directory = False
    ctx = get_script_run_ctx()
    if ctx is None:  # pragma: no cover - bare mode
        return
    pm = ctx.pages_manager
    raise RerunException(
        RerunData(
            query_string=ctx.query_string,
            page_script_hash=pm.intended_page_script_hash or ctx.page_script_hash or "",
            page_name=pm.intended_page_name or "",
            context_info=ctx.context_info,
        )
    )


@st.cache_resource(show_spinner="Loading the model (first time only)…", max_entries=4)
def get_checkpoint(name: str, device: str = "auto", half: bool = False) -> Checkpoint:
    """One model per (checkpoint, device, precision) for the whole process."""
    return load_checkpoint(name, device, half)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def model_sidebar(key: str = "model") -> tuple[str, str, bool]:
    """Checkpoint + device widgets in the sidebar; returns (checkpoint, device, half)."""
    with st.sidebar:
        st.markdown("#### Model")
        current = st.session_state.get(f"{key}_checkpoint", DEFAULT_CHECKPOINT)
        options = [*CHECKPOINT_CHOICES, OTHER]
        index = options.index(current) if current in options else len(options) - 1
        choice = st.selectbox(
            "Checkpoint",
            options,
            index=index,
            key=f"{key}_choice",
            help="The bundled model has real weights (all-MiniLM-L6-v2, 6 layers, hidden 384). "
            "random:bert-* build Google's BERT sizes with random weights: real shapes, meaningless values.",
        )
        if choice == OTHER:
            name = st.text_input(
                "Hugging Face id or local folder",
                value=current if current not in options else "",
                key=f"{key}_custom",
                placeholder="bert-base-uncased or /path/to/model",
            ).strip()
            name = name or DEFAULT_CHECKPOINT
        else:
            name = choice
        st.session_state[f"{key}_checkpoint"] = name
        devices = ["auto", "cpu", "cuda"] if cuda_available() else ["auto", "cpu"]
        device = st.radio("Device", devices, horizontal=True, key=f"{key}_device")
        half = False
        if cuda_available():
            half = st.toggle("Half precision (fp16)", key=f"{key}_half")
        try:
            in_use = resolve_device(device)
        except CheckpointError as e:
            st.error(str(e))
            in_use = "cpu"
        st.caption(f"Running on **{in_use.upper()}**" + (" · fp16" if half else ""))
    return name, device, half


def load_or_stop(name: str, device: str, half: bool) -> Checkpoint:
    """The cached checkpoint, or a clear message and st.stop() when it cannot load."""
    try:
        return get_checkpoint(name, device, half)
    except CheckpointError as e:
        st.error(f"**Cannot load this checkpoint.** {e}")
        st.stop()
        raise
