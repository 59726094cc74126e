"""Pipeline Explorer: the loss step's widgets (kind, reduction, the logits' name, the target: an expression over the
sidebar's labels or a synthetic shape) and the defaults of a new loss step.

Widget keys: ``pl_l{id}_<field>`` (``ui.pipeline.state`` reads them back into the step's JSON).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.errors import SpecError
from core.loss_step import LOSS_PARAMS, REDUCTIONS, LossKind
from ui.pipeline.state import DEFAULT_SHAPE, SOURCE_SYNTH, TARGET_LABELS, TARGET_SYNTH, parse_shape

MAX_INT = 1_000_000


def new_loss(default: dict[str, Any]) -> dict[str, Any]:
    """A CrossEntropyLoss against the sidebar's labels; when there are none: 0/1 labels are added for texts (and
    said so), a synthetic target of class ids for a synthetic source."""
    ss = st.session_state
    if str(ss.get("pl_labels", "")).strip():
        return default
    if ss.get("pl_source") == SOURCE_SYNTH:
        try:
            batch = parse_shape(ss.get("pl_shape", DEFAULT_SHAPE))[0]
        except SpecError:
            batch = 1
        return {"loss": {"kind": "CrossEntropyLoss"}, "target": {"shape": [batch], "dtype": "long", "high": 2}}
    texts = [t for t in str(ss.get("pl_texts", "")).splitlines() if t.strip()]
    ss["pl_labels"] = "\n".join(str(n % 2) for n in range(max(len(texts), 1)))
    ss["pl_flash"] = ("info", "Labels 0 / 1 were added in the sidebar, one per text: edit them to your classes.")
    return default


def loss_widgets(sid: int) -> None:
    """Kind, reduction, the logits' name; the target: an expression over labels, or a synthetic shape."""
    ss = st.session_state
    cols = st.columns([2.2, 1.2, 1], vertical_alignment="bottom")
    cols[0].selectbox("loss", [k.value for k in LossKind], key=f"pl_l{sid}_kind", help="the torch.nn loss class")
    cols[1].selectbox("reduction", list(REDUCTIONS), key=f"pl_l{sid}_reduction")
    cols[2].text_input("logits", key=f"pl_l{sid}_input", help="the name holding the logits (default x)")
    st.segmented_control(
        "target",
        [TARGET_LABELS, TARGET_SYNTH],
        key=f"pl_l{sid}_target_mode",
        required=True,
        help="labels: the sidebar's labels (one per text), through an expression such as labels.view(-1); "
        "synthetic: a random target of a shape you choose",
    )
    if ss.get(f"pl_l{sid}_target_mode") == TARGET_SYNTH:
        cols = st.columns([2, 1, 1], vertical_alignment="bottom")
        cols[0].text_input("target shape", key=f"pl_l{sid}_tshape", placeholder="e.g. 16, 3")
        cols[1].selectbox(
            "dtype", ["long", "float"], key=f"pl_l{sid}_tdtype", help="long: class ids; float: 0/1 or values"
        )
        cols[2].number_input(
            "high",
            min_value=1,
            max_value=MAX_INT,
            value=None,
            step=1,
            key=f"pl_l{sid}_thigh",
            help="long: class ids in [0, high); float: 0/1 with high=2, else values in [0, 1)",
        )
    else:
        st.text_input(
            "target expression",
            key=f"pl_l{sid}_target",
            help="an expression over labels (the sidebar's labels as a tensor), e.g. labels, labels.view(-1), "
            "labels.float(), labels.argmax(dim=1)",
        )


def loss_more(sid: int) -> None:
    kind = LossKind(st.session_state.get(f"pl_l{sid}_kind", LossKind.CROSS_ENTROPY.value))
    allowed = LOSS_PARAMS[kind]
    if "ignore_index" in allowed:
        st.number_input("ignore_index", min_value=-MAX_INT, max_value=MAX_INT, step=1, key=f"pl_l{sid}_ignore_index")
    if "label_smoothing" in allowed:
        st.number_input("label_smoothing", 0.0, 1.0, step=0.05, key=f"pl_l{sid}_label_smoothing", format="%.2f")
    for key in ("weight", "pos_weight"):
        if key in allowed:
            st.text_input(key, key=f"pl_l{sid}_{key}", placeholder="one number per class, e.g. 1, 2.5",
                          help="a rescaling weight per class (empty: none)")  # fmt: skip
    if not any(k in allowed for k in ("ignore_index", "label_smoothing", "weight", "pos_weight")):
        st.caption(f"nn.{kind.value} has only `reduction`.")
