"""Overview page, Streamlit side: what the app is for, the four tools, the room link and its QR code."""

from __future__ import annotations

import streamlit as st

from ui import room

TOOLS = (
    (
        "pages/pipeline.py",
        "Pipeline Explorer",
        ":material/account_tree:",
        "Text → a real BERT → pooling → your reshape / permute / LSTM / Conv1d steps. Every stage's shape and "
        "axes; a wrong step gets PyTorch's own error, a plain explanation and a one-click fix.",
    ),
    (
        "pages/pooling.py",
        "Pooling comparison",
        ":material/scatter_plot:",
        "[CLS], mean, max, pooler and multi-layer strategies on the same texts, from one forward pass: PCA, "
        "similarity, separation scores.",
    ),
    (
        "pages/reshape-lab.py",
        "Reshape Lab",
        ":material/grid_on:",
        "Same shape, different data? See where every element goes through view, permute, reshape and einops; "
        "paste an error to have it explained.",
    ),
    (
        "pages/lessons.py",
        "Lessons & workshop",
        ":material/school:",
        "The articles' worked examples and their mistakes as lessons: predict each shape, then see it run.",
    ),
)


def forward_old_links() -> None:
    """A share link from before the Overview existed (``/?spec=…``, when the Explorer was the root page) opens
    the Pipeline Explorer with the same query."""
    from core.export.share import PARAM

    if PARAM in st.query_params:
        st.switch_page("pages/pipeline.py", query_params=st.query_params.to_dict())


def intro() -> None:
    st.title("Shape Explorer")
    st.markdown(
        "See and fix tensor shapes in NLP pipelines, live: text → BERT → pooling → reshape, permute, LSTM, "
        "Conv1d and Linear — the real model runs, and every stage shows its shape and what each axis means."
    )


def tools() -> None:
    with st.container(horizontal=True, gap="medium", key="home_tools"):
        for path, title, icon, text in TOOLS:
            with st.container(border=True, width=300):
                st.page_link(path, label=title, icon=icon)
                st.caption(text)


def room_panel() -> None:
    """The room link and QR code (large in presenter mode); for a teacher, the way to the class results."""
    st.subheader("Join the room", anchor="room")
    link = room.room_link()
    if link is None:
        note = room.room_address().note
        st.info(
            f'Students cannot reach this server yet: {note}. The README\'s "Running a workshop" section shows how.',
            icon=":material/wifi_off:",
        )
        return
    presenting = room.presenting()
    cols = st.columns([1, 1] if presenting else [1, 2], vertical_alignment="center", gap="large")
    with cols[0]:
        room.qr_image(link, width=420 if presenting else 220)
    with cols[1]:
        st.markdown("Scan the code, or type this address on a laptop in the room:")
        if presenting:  # the back row reads it off the wall
            st.subheader(link, anchor=False)
        else:
            st.code(link, language=None, wrap_lines=True)
        st.caption(
            "Then open **Lessons & workshop** and answer the quizzes; your answers count for the class, anonymously."
        )
    if room.teacher_visible():
        st.page_link("pages/teacher.py", label="Class results (teacher)", icon=":material/groups:")
