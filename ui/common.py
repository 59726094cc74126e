"""Streamlit-side helpers shared by the pages: the cached checkpoint, the sidebar model picker.

A checkpoint name in session state may come from a share link (a stranger's text): the picker loads it
only when the server pre-approves it (bundled, random presets, the operator's allow-list) or when the
visitor confirms it in the sidebar, after seeing what it is and, online, how large a download it means.
"""

from __future__ import annotations

import streamlit as st

from core.errors import CheckpointError, SpecError
from core.limits import fmt_bytes
from core.model.checkpoint_access import CheckpointPolicy, HubSize, hub_size, review, server_policy
from core.model.checkpoints import CHECKPOINT_CHOICES, Checkpoint, load_checkpoint, resolve_device
from core.spec import DEFAULT_CHECKPOINT
from ui.safe_text import code, text

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
    """One model per (checkpoint, device, precision) for the whole process, under the server's policy."""
    return load_checkpoint(name, device, half, policy=policy())


def policy() -> CheckpointPolicy:
    """The operator's checkpoint policy; a broken server config shows as a load error, not a traceback."""
    try:
        return server_policy()
    except SpecError as e:
        raise CheckpointError(str(e)) from None


@st.cache_data(ttl=600, show_spinner="Asking the hub how large it is…", max_entries=64)
def _hub_size(name: str) -> HubSize | None:
    return hub_size(name)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def model_sidebar(key: str = "model") -> tuple[str, str, bool]:
    """Checkpoint + device widgets in the sidebar; returns (checkpoint to use now, device, half).

    A name the server does not pre-approve is shown with a "Load" button and the bundled model is used
    until the visitor presses it; a refused name gets the one refusal message (see checkpoint_access).
    """
    ss = st.session_state
    try:
        rules = policy()
    except CheckpointError as e:
        st.error(str(e))
        st.stop()
        raise
    with st.sidebar:
        st.markdown("#### Model")
        current = ss.get(f"{key}_checkpoint", DEFAULT_CHECKPOINT)
        options = [*CHECKPOINT_CHOICES, *(a for a in rules.allow if a not in CHECKPOINT_CHOICES), OTHER]
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
        ss[f"{key}_checkpoint"] = name
        use, status = _decide(key, name, rules)
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
    if status == "ask":
        st.info(
            f"This page asks for checkpoint {code(name)}, which this server loads only when you confirm it in "
            f"the sidebar. Showing {code(use)} meanwhile.",
            icon=":material/help:",
        )
    elif status == "refused":
        st.warning(
            f"This page asks for checkpoint {code(name)}, which is not available on this server. "
            f"Showing {code(use)} instead.",
            icon=":material/block:",
        )
    return use, device, half


def _decide(key: str, name: str, rules: CheckpointPolicy) -> tuple[str, str]:
    """(checkpoint to use now, status): ``name`` and "ok" when allowed or confirmed; else the bundled model
    and "ask" (a Load button is shown) or "refused" (the refusal is shown)."""
    ss = st.session_state
    request = review(name, rules)
    if request.refusal:
        st.error(text(request.refusal), icon=":material/block:")
        return DEFAULT_CHECKPOINT, "refused"
    if request.preapproved or name in ss.get(f"{key}_approved", ()):
        return name, "ok"
    with st.container(border=True):
        st.markdown(f"**Not loaded yet:** {code(name)}")
        if request.kind == "local":
            st.caption("A model folder on this server, not on its list of checkpoints.")
            label = "Load it"
        else:
            size = _hub_size(name)
            if size is not None:
                params = f", {size.parameters:,} parameters" if size.parameters else ""
                st.caption(f"A Hugging Face model: a {fmt_bytes(size.download_bytes)} download{params}.")
                label = f"Download and load ({fmt_bytes(size.download_bytes)})"
            else:
                st.caption(
                    "A Hugging Face model. The hub did not answer (offline?), so its size is unknown: it loads "
                    "only if it is already in this server's cache."
                )
                label = "Load it"
        st.button(label, key=f"{key}_approve", on_click=_approve, args=(key, name), width="stretch")
    return DEFAULT_CHECKPOINT, "ask"


def _approve(key: str, name: str) -> None:
    approved = st.session_state.setdefault(f"{key}_approved", [])
    if name not in approved:
        approved.append(name)


def load_or_stop(name: str, device: str, half: bool) -> Checkpoint:
    """The cached checkpoint, or a clear message and st.stop() when it cannot load."""
    try:
        return get_checkpoint(name, device, half)
    except CheckpointError as e:
        st.error(f"**Cannot load this checkpoint.** {text(e)}")
        st.stop()
        raise
