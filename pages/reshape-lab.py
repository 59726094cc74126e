"""Reshape Lab: see where every element goes (view vs permute, contiguity, einops) and explain errors."""

import streamlit as st

from ui import lab as lab
from ui.common import ensure_app_navigation

ensure_app_navigation()

st.title("Reshape Lab")
st.caption(
    "Same shape, different data? Every cell is coloured by the element it came from: see what permute, view, "
    "reshape and einops do to a tensor, and why a view can have the right shape and the wrong data."
)

lab.load_link()
lab.init_state()
mode = st.segmented_control(
    "Mode", lab.MODES, key="lab_mode", required=True, format_func=lab.mode_label, label_visibility="collapsed"
)

lab.link_note()
if mode == "Explain an error":
    lab.explain_mode()
else:
    src = lab.source_section()
    if src is not None:
        if src.description:
            st.caption(src.description)
        if mode == "Lineage":
            lab.lineage_mode(src)
        else:
            lab.compare_mode(src)
