"""Class results page, Streamlit side: the teacher-key gate, new room / clear room, the live results tables.

Everything a student typed is shown in a code span it cannot break out of (never rendered as Markdown or
HTML); our own sentences are Markdown-escaped.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pandas as pd
import streamlit as st

from core.room.results import room_results
from core.teaching.lessons import get_lesson
from ui import room
from ui.pipeline import code_span
from ui.safe_text import text

REFRESH_S = 3


def gate() -> bool:
    """True for a teacher's session; otherwise the key form (or why the page is closed) and False."""
    if room.presenting():
        st.info(
            "Class results are never shown in presenter mode. Turn presenter mode off on your own screen to see them.",
            icon=":material/visibility_off:",
        )
        return False
    given = st.query_params.get("key")
    if given is not None:
        del st.query_params["key"]  # the key leaves the address bar at once
        if not room.unlock(given):
            st.error("That is not this server's teacher key.", icon=":material/key_off:")
    if room.is_teacher():
        return True
    st.caption(
        "For the teacher: the room's answers per question. The teacher key was printed in the terminal where "
        "the server started (`make run`)."
    )
    with st.form("teacher_key_form", border=True, enter_to_submit=True):
        st.text_input("Teacher key", type="password", key="teacher_key_input", max_chars=80)
        st.form_submit_button("Open the class results", type="primary", on_click=_try_key)
    if st.session_state.pop("teacher_key_wrong", False):
        st.error("That is not this server's teacher key.", icon=":material/key_off:")
    return False


def _try_key() -> None:
    if not room.unlock(st.session_state.get("teacher_key_input", "")):
        st.session_state["teacher_key_wrong"] = True
    st.session_state["teacher_key_input"] = ""  # never kept in the session


def _new_room() -> None:
    store = room.answers_store()
    if store is not None:
        n = store.new_room()
        st.session_state["teacher_flash"] = f"Room {n} started: it is empty; answers from now on count here."


def _clear_room() -> None:
    store = room.answers_store()
    if store is not None and st.session_state.get("teacher_confirm_clear"):
        n = store.clear_room()
        st.session_state["teacher_flash"] = f"Cleared: {n} answer(s) deleted from this room."
    st.session_state["teacher_confirm_clear"] = False


def room_controls() -> None:
    store = room.answers_store()
    if store is None:
        st.error(
            "The answers store cannot be opened, so answers are not recorded. See the server's terminal.",
            icon=":material/database_off:",
        )
        return
    link = room.room_link("lessons")
    if link:
        st.caption(f"Students join at `{room.room_link()}` (QR code on the Overview page).")
    flash = st.session_state.pop("teacher_flash", None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key="teacher_controls"):
        st.button(
            "Start a new room",
            icon=":material/add_circle:",
            on_click=_new_room,
            help="A new, empty room for the next class. The answers of earlier rooms stay in the file.",
        )
        st.checkbox("Yes, delete this room's answers", key="teacher_confirm_clear")
        st.button(
            "Clear this room",
            icon=":material/delete:",
            on_click=_clear_room,
            disabled=not st.session_state.get("teacher_confirm_clear"),
            help="Deletes every answer of the current room (tick the box first).",
        )


@st.fragment(run_every=REFRESH_S)
def live_results() -> None:
    """The current room's results, refreshed every few seconds while the page is open."""
    store = room.answers_store()
    if store is None:
        return
    try:
        current = store.current_room()
        answers = store.answers(current)
        info = next((r for r in store.rooms() if r.id == current), None)
    except sqlite3.Error as e:
        st.error(f"Cannot read the answers: {e}")
        return
    started = datetime.fromtimestamp(info.started).strftime("%H:%M") if info else "?"
    students = len({a.student for a in answers})
    st.markdown(
        f"**Room {current}** · started {started} · **{students}** student(s) · **{len(answers)}** answer(s) "
        f"· updated {datetime.now().strftime('%H:%M:%S')}"
    )
    results = room_results(answers)
    if not results:
        st.info("No answers yet. They appear here as students check their predictions.", icon=":material/hourglass:")
        return
    for name, questions in results.items():
        lesson = get_lesson(name)
        st.markdown(f"#### {text(lesson.title)}")
        st.caption(text(lesson.where))
        st.table(
            pd.DataFrame(
                [
                    {
                        "question": f"Stage {q.stage} · {code_span(q.label)}",
                        "right answer": code_span(q.expected),
                        "answered": q.answered,
                        "share right": f"{q.share_right:.0%}" if q.answered else "—",
                    }
                    for q in questions
                ]
            ),
            hide_index=True,
        )
        wrong = [
            {
                "question": f"Stage {q.stage}",
                "wrong answer": code_span(w.answer),
                "students": w.count,
                "what it means": text(w.meaning),
            }
            for q in questions
            for w in q.wrong
        ]
        if wrong:
            st.caption("Most common wrong answers")
            st.table(pd.DataFrame(wrong), hide_index=True)
