"""Reshape Lab: what x is (a synthetic tensor or a slice of a real BERT output), the widgets' session state,
and a lesson or share link opened in the lab.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from core.errors import SpecError
from core.export.share import PARAM, spec_from_query
from core.lab.shape_text import parse_shape_text
from ui.safe_text import code, markdown

MODES = ("Lineage", "Compare chains", "Explain an error")
MODE_ICONS = {
    "Lineage": ":material/grid_on:",
    "Compare chains": ":material/compare:",
    "Explain an error": ":material/bug_report:",
}
LABELS = "ABC"
DEFAULT_CHAINS = ("x.transpose(1, 2)", "x.permute(0, 2, 1)", "x.view(x.size(0), x.size(2), x.size(1))")


@dataclass(frozen=True)
class LabSource:
    """What x is: its shape, axis names, token labels and real values (BERT) or None (synthetic)."""

    shape: tuple[int, ...]
    names: tuple[str, ...] | None = None
    token_labels: tuple[tuple[str, ...], ...] | None = None
    values: np.ndarray | None = None
    description: str = ""


DEFAULTS: dict[str, object] = {
    "lab_mode": MODES[0],
    "lab_shape": "2, 4, 6",
    "lab_texts": "The movie was great\nI did not like it",
    "lab_tokens": 6,
    "lab_features": 8,
    "lab_steps": "x.permute(0, 2, 1)",
    "lab_memory": True,
    "lab_n": 3,
    "lab_layer_size": 768,
    **{f"lab_chain_{k}": v for k, v in zip(LABELS, DEFAULT_CHAINS)},
}


def mode_label(mode: str) -> str:
    return f"{MODE_ICONS.get(mode, '')} {mode}"


def init_state() -> None:
    """Widget defaults live in session state (so buttons can load presets without a default clash)."""
    for k, v in DEFAULTS.items():
        st.session_state.setdefault(k, v)


def load_link() -> None:
    """A lesson or share link (``?spec=...``) opens its source and expression steps in Lineage mode, once."""
    raw = st.query_params.get(PARAM)
    if not raw or st.session_state.get("lab_link") == raw:
        return
    st.session_state["lab_link"] = raw
    try:
        spec = spec_from_query({PARAM: raw})
    except SpecError as e:
        st.session_state["lab_link_note"] = ("warning", f"The link could not be opened: {markdown(e)}")
        return
    steps: list[str] = []
    for step in spec.steps:
        if not isinstance(step, str):
            break
        steps.append(step)
    values: dict[str, object] = {"lab_mode": MODES[0], "lab_steps": "\n".join(steps) or "x", "lab_preset": "—"}
    if spec.shape is not None:
        values.update(lab_source="a synthetic tensor", lab_shape=", ".join(map(str, spec.shape)))
        what = f"x of shape {fmt(spec.shape)}"
    else:
        values.update(lab_source="a real BERT output", lab_texts="\n".join((spec.texts or ())[:3]))
        values["lab_checkpoint"] = spec.checkpoint
        what = f"{len(spec.texts or ())} text(s) through {code(spec.checkpoint)}"
    set_values(**values)
    note = f"Opened from a link: {what}, {len(steps)} expression step(s)."
    skipped = len(spec.steps) - len(steps)
    if skipped:
        note += (
            f" The lab traces expression steps only: the {skipped} step(s) from the first layer step on are left "
            "out (the Pipeline Explorer runs them)."
        )
    if spec.texts and str(spec.pooling) != "none":
        note += " Pooling is not applied here: the lab starts from the token vectors."
    st.session_state["lab_link_note"] = ("info", note)


def link_note() -> None:
    kind, text = st.session_state.get("lab_link_note", ("", ""))
    if text and st.session_state.get("lab_link") == st.query_params.get(PARAM):
        (st.warning if kind == "warning" else st.info)(text)


def set_values(**values: object) -> None:
    """Set widget values in session state (from a callback, before the widgets are drawn)."""
    for k, v in values.items():
        st.session_state[k] = v


def fmt(shape: tuple[int, ...] | None) -> str:
    """``(2, 6, 4)``; ``(5,)`` for one dim."""
    if shape is None:
        return "—"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# ------------------------------------------------------------------------------------------------ source


def source_section() -> LabSource | None:
    """The 'x' picker: a synthetic tensor of a typed shape, or a slice of a real BERT output."""
    c1, c2, c3 = st.columns([1.2, 2.2, 1.6])
    kind = c1.radio(
        "x is",
        ("a synthetic tensor", "a real BERT output"),
        key="lab_source",
        help="Synthetic: the numbers don't matter, only where each element goes. BERT: a few tokens × a few "
        "features of the last hidden state, so the grid stays readable.",
    )
    if kind == "a synthetic tensor":
        text = c2.text_input(
            "Shape of x",
            key="lab_shape",
            help="e.g. 2, 4, 6 = (batch, tokens, hidden). Shapes over 512 elements are drawn as a small "
            "analogue with the same pattern, e.g. (32, 128, 768) as (2, 4, 6).",
        )
        try:
            shape = parse_shape_text(text)
        except ValueError as e:
            c2.error(markdown(e))
            return None
        c3.caption(f"x: {math.prod(shape):,} elements; (batch, tokens, hidden) = (b, l, h) for 3 dims")
        return LabSource(shape)
    return _bert_source(c2, c3)


def _bert_source(c2: Any, c3: Any) -> LabSource | None:
    from core.model.encoding import encode
    from ui.common import load_or_stop, model_sidebar

    name, device, half = model_sidebar("lab")
    texts_raw = c2.text_area("Texts (one per line, up to 3)", key="lab_texts", height=80)
    tokens = c3.slider("Tokens", 2, 12, key="lab_tokens")
    features = c3.slider("Features", 2, 12, key="lab_features")
    texts = [t.strip() for t in (texts_raw or "").splitlines() if t.strip()][:3]
    if not texts:
        st.error("Type at least one text.")
        return None
    ckpt = load_or_stop(name, device, half)
    enc = encode(ckpt, texts, max_length=64)
    full = enc.hidden_states[-1]
    part = full[:, :tokens, :features].float().cpu().contiguous()
    labels = tuple(tuple(row[: part.shape[1]]) for row in enc.tokens)
    weights = "real weights" if ckpt.info.real_weights else "random weights: real shapes, meaningless values"
    desc = (
        f"x: the last hidden state of {code(ckpt.info.id)} ({weights}) has shape {fmt(tuple(full.shape))}; the lab "
        f"takes its first {part.shape[1]} tokens × first {part.shape[2]} features: {fmt(tuple(part.shape))}. "
        "Hover a cell for its token and value."
    )
    return LabSource(tuple(part.shape), ("b", "l", "h"), labels, part.numpy(), desc)
