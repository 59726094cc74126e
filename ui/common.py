"""Streamlit-side helpers shared by the pages: the cached checkpoint, the sidebar model picker.

A checkpoint name in session state may come from a share link (a stranger's text): the picker loads it
only when the server pre-approves it (bundled, random presets, the operator's allow-list) or when the
visitor confirms it in the sidebar, after seeing what it is and, online, how large a download it means.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class ModelChoice:
    """What the sidebar's model widgets hold, read from session state before they are drawn.

    ``name`` is the checkpoint asked for (picker, typed id or a link); ``use`` the one to load now (``name``
    when allowed or confirmed, else the bundled model); ``status`` "ok", "ask" (a Load button is shown) or
    "refused" (with ``refusal``); ``device`` "auto" / "cpu" / "cuda"; ``half`` fp16 (CUDA only); ``options``
    the picker's list under the server's policy.
    """

    name: str
    use: str
    status: str
    device: str
    half: bool
    options: tuple[str, ...]
    refusal: str | None = None
    local: bool = False


def _checkpoint_options(rules: CheckpointPolicy) -> tuple[str, ...]:
    return (*CHECKPOINT_CHOICES, *(a for a in rules.allow if a not in CHECKPOINT_CHOICES), OTHER)


def _devices() -> list[str]:
    return ["auto", "cpu", "cuda"] if cuda_available() else ["auto", "cpu"]


def model_choice(key: str = "model") -> ModelChoice:
    """The model the widgets ask for, without drawing them (a page may draw the sidebar after its results).

    A widget's new value is in session state before the script runs, so this equals what the widgets
    return when drawn. Stops the page with the message when the server's checkpoint policy is broken.
    """
    ss = st.session_state
    try:
        rules = policy()
    except CheckpointError as e:
        st.error(str(e))
        st.stop()
        raise
    current = ss.get(f"{key}_checkpoint", DEFAULT_CHECKPOINT)
    options = _checkpoint_options(rules)
    choice = ss.get(f"{key}_choice")
    if choice not in options:
        choice = current if current in options else OTHER
        ss[f"{key}_choice"] = choice
    if choice == OTHER:
        custom = ss.setdefault(f"{key}_custom", current if current not in options else "")
        name = str(custom).strip() or DEFAULT_CHECKPOINT
    else:
        name = choice
    ss[f"{key}_checkpoint"] = name
    device = ss.get(f"{key}_device")
    if device not in _devices():
        device = ss[f"{key}_device"] = "auto"
    half = bool(ss.get(f"{key}_half")) and cuda_available()
    request = review(name, rules)
    if request.refusal:
        return ModelChoice(name, DEFAULT_CHECKPOINT, "refused", device, half, options, refusal=request.refusal)
    if request.preapproved or name in ss.get(f"{key}_approved", ()):
        return ModelChoice(name, name, "ok", device, half, options)
    return ModelChoice(name, DEFAULT_CHECKPOINT, "ask", device, half, options, local=request.kind == "local")


def model_notice(choice: ModelChoice) -> None:
    """In the main area: the link's checkpoint is waiting for a confirmation, or is not available here."""
    if choice.status == "ask":
        st.info(
            f"This page asks for checkpoint {code(choice.name)}, which this server loads only when you confirm it "
            f"in the sidebar. Showing {code(choice.use)} meanwhile.",
            icon=":material/help:",
        )
    elif choice.status == "refused":
        st.warning(
            f"This page asks for checkpoint {code(choice.name)}, which is not available on this server. "
            f"Showing {code(choice.use)} instead.",
            icon=":material/block:",
        )


def checkpoint_label(name: str) -> str:
    """The checkpoint button's label: ``Checkpoint: <name>``, the name wrapped only after a ``/``, never at its
    hyphens (``bundled:all-`` / ``MiniLM-L6-v2`` in a narrow sidebar): non-breaking hyphens (U+2011) and a
    zero-width space (U+200B) after each ``/``."""
    shown = text(name.replace("-", "\u2011")).replace("/", "/\u200b")  # text(): the name's Markdown escaped
    return f"Checkpoint: {shown}"


def model_widgets(key: str, choice: ModelChoice) -> None:
    """The sidebar's Model section: checkpoint picker (a list, or a typed id, in a popover), the confirmation or
    refusal, device."""
    ss = st.session_state
    with st.sidebar:
        st.markdown("#### Model")
        # a button that opens the list (not a dropdown: its script is the largest a first view would fetch;
        # benchmarks/bench_app.py, warm page). The list stays drawn while closed, so its value is always there.
        with st.popover(
            checkpoint_label(choice.name),
            icon=":material/model_training:",
            width="stretch",
            help="The bundled model has real weights (all-MiniLM-L6-v2, 6 layers, hidden 384). "
            "random:bert-* build Google's BERT sizes with random weights: real shapes, meaningless values.",
        ):
            st.radio("Checkpoint", choice.options, key=f"{key}_choice")
            if ss[f"{key}_choice"] == OTHER:
                st.text_input(
                    "Hugging Face id or local folder",
                    key=f"{key}_custom",
                    placeholder="bert-base-uncased or /path/to/model",
                )
        if choice.status == "refused":
            st.error(text(choice.refusal or ""), icon=":material/block:")
        elif choice.status == "ask":
            _confirm_box(key, choice)
        st.segmented_control("Device", _devices(), key=f"{key}_device", required=True)
        if cuda_available():
            st.toggle("Half precision (fp16)", key=f"{key}_half")
        try:
            in_use = resolve_device(choice.device)
        except CheckpointError as e:
            st.error(str(e))
            in_use = "cpu"
        st.caption(f"Running on **{in_use.upper()}**" + (" · fp16" if choice.half else ""))


def model_sidebar(key: str = "model") -> tuple[str, str, bool]:
    """Checkpoint + device widgets in the sidebar, drawn now; returns (checkpoint to use now, device, half).

    A name the server does not pre-approve is shown with a "Load" button and the bundled model is used
    until the visitor presses it; a refused name gets the one refusal message (see checkpoint_access).
    """
    choice = model_choice(key)
    model_widgets(key, choice)
    model_notice(choice)
    return choice.use, choice.device, choice.half


def _confirm_box(key: str, choice: ModelChoice) -> None:
    """The not-yet-loaded checkpoint: what it is (online: its download size) and its Load button."""
    name = choice.name
    with st.container(border=True):
        st.markdown(f"**Not loaded yet:** {code(name)}")
        if choice.local:
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


def _approve(key: str, name: str) -> None:
    approved = st.session_state.setdefault(f"{key}_approved", [])
    if name not in approved:
        approved.append(name)


def load_or_stop(name: str, device: str, half: bool, before_stop: Callable[[], None] | None = None) -> Checkpoint:
    """The cached checkpoint, or a clear message and st.stop() when it cannot load (``before_stop`` runs
    first: a page that draws its sidebar last draws it there, so another checkpoint can be picked)."""
    try:
        return get_checkpoint(name, device, half)
    except CheckpointError as e:
        st.error(f"**Cannot load this checkpoint.** {text(e)}")
        if before_stop is not None:
            before_stop()
        st.stop()
        raise
