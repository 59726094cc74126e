"""Lessons & workshop: every worked example of the articles one click away, their mistakes as exercises, shape
quizzes whose answers count for the room, lessons you can change in place.

Thin page: the lesson comes from the URL (``?lesson=NAME``, ``&spec=…`` for a changed version), the content
from core.teaching.lessons, the quiz logic from core.teaching.quiz; ui/lessons.py renders.
"""

from __future__ import annotations

import streamlit as st

from ui import lesson_edit
from ui import lessons as ui
from ui.common import ensure_app_navigation
from ui.safe_text import markdown

ensure_app_navigation()

lesson, unknown = ui.selected_lesson()
version = ui.selected_version(lesson)

st.title("Lessons & workshop")
ui.lesson_list(lesson)
st.caption(
    "The worked examples of five articles on BERT, LSTM and Conv1d shapes, runnable — and the articles' own "
    "mistakes as find-the-bug exercises. Predict each shape before it is revealed."
)
if unknown:
    st.warning(markdown(unknown), icon=":material/link_off:")
if version.problem:
    st.warning(f"{markdown(version.problem)}. Showing the lesson as written.", icon=":material/link_off:")

ui.header(version)
st.markdown(lesson.scenario)
show_answers = ui.actions(version)
lesson_edit.edit_panel(version)
ui.spec_block(version)
trace = ui.run_trace(version)
score = ui.quiz_panel(version, trace, show_answers)
ui.explanation(version, expanded=show_answers or score.done)
ui.trace_panel(trace, expanded=show_answers)
ui.share_panel(version)
