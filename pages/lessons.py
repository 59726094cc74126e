"""Lessons & workshop: every seed scenario one click away, its mistakes as exercises, shape quizzes.

Thin page: the lesson comes from the URL (``?lesson=NAME``, ``&teacher=1``), the content from
core.teaching.lessons, the quiz logic from core.teaching.quiz; pages/_lesson_widgets.py renders.
"""

from __future__ import annotations

import streamlit as st

from ui import lessons as ui
from ui.common import ensure_app_navigation
from ui.safe_text import markdown

ensure_app_navigation()

lesson, unknown = ui.selected_lesson()
teacher = ui.teacher_mode()

st.title("Lessons & workshop")
st.caption(
    "Every worked example of the five seed articles, runnable — and the articles' own mistakes as "
    "find-the-bug exercises. Predict each shape before it is revealed; share a lesson link so the whole "
    "room opens the same scenario."
)
if unknown:
    st.warning(markdown(unknown), icon=":material/link_off:")

nav, main = st.columns([1, 2.9], gap="large")
with nav, st.container(border=True):
    ui.lesson_list(lesson)

with main:
    ui.header(lesson)
    st.markdown(lesson.scenario)
    ui.actions(lesson, teacher)
    ui.spec_block(lesson)
    trace = ui.run_trace(lesson)
    score = ui.quiz_panel(lesson, trace, teacher)
    ui.explanation(lesson, expanded=teacher or score.done)
    ui.trace_panel(trace, expanded=teacher)
    ui.share_panel(lesson)
