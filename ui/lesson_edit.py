"""Lessons page, editing a lesson in place: a student's own text or shape, a teacher's changed steps. The changed
pipeline goes into the URL (``&spec=…``), so the page address is the link to it; ui/lessons.py then answers the
same questions from the changed spec's trace.
"""

from __future__ import annotations

import json
import re
from typing import Any

import streamlit as st

from core.errors import SpecError
from core.export.share import PARAM, encode_spec
from core.spec import Spec
from core.teaching.lessons import Lesson
from ui.safe_text import markdown


def _steps_text(spec: Spec) -> str:
    steps = spec.to_dict().get("steps", [])
    return "\n".join(s if isinstance(s, str) else json.dumps(s, ensure_ascii=False) for s in steps)


def parse_steps_text(text: str) -> list[Any]:
    """One step per line: a PyTorch expression, or a layer as JSON (``{"lstm": {"hidden_size": 64}}``).
    Blank lines are skipped. Raises SpecError naming the line when a JSON line does not parse."""
    steps: list[Any] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                steps.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise SpecError(f"line {n} starts with '{{' but is not a JSON layer step: {e.msg}") from None
        else:
            steps.append(line)
    return steps


def _apply_edit(lesson: Lesson) -> None:
    ss = st.session_state
    base = lesson.spec.to_dict()
    try:
        if lesson.spec.uses_model:
            texts = [t.strip() for t in str(ss.get("edit_texts", "")).splitlines() if t.strip()]
            if not texts:
                raise SpecError("type at least one text (one per line)")
            base["texts"] = texts
        else:
            dims = [p for p in re.split(r"[\s,x×*()\[\]]+", str(ss.get("edit_shape", ""))) if p]
            if not dims or not all(d.isascii() and d.isdigit() for d in dims):
                raise SpecError("the shape is whole numbers separated by commas, e.g. 16, 64, 256")
            base["shape"] = [int(d) for d in dims]
        base["steps"] = parse_steps_text(str(ss.get("edit_steps", "")))
        spec = Spec.from_dict(base)
    except SpecError as e:
        ss["edit_error"] = str(e)
        return
    ss.pop("edit_error", None)
    st.query_params[PARAM] = encode_spec(spec)


def _undo_edit() -> None:
    if PARAM in st.query_params:
        del st.query_params[PARAM]
    for k in ("edit_texts", "edit_shape", "edit_steps", "edit_error", "edit_for"):
        st.session_state.pop(k, None)


def edit_panel(version: Any) -> None:
    """Change the lesson's input (texts or shape) and steps in place; the quiz is then answered for it."""
    lesson, spec = version.lesson, version.spec
    ss = st.session_state
    if ss.get("edit_for") != version.quiz_key:  # fill the boxes from the version shown
        ss["edit_for"] = version.quiz_key
        ss["edit_texts"] = "\n".join(spec.texts or ())
        ss["edit_shape"] = ", ".join(str(d) for d in spec.shape or ())
        ss["edit_steps"] = _steps_text(spec)
        ss.pop("edit_error", None)
    title = "Change this lesson: your own text or shape, other steps"
    with st.container(key="ctl-edit"), st.expander(title, icon=":material/edit_note:", expanded=version.changed):
        if spec.uses_model:
            st.text_area("Texts (one per line)", key="edit_texts", height=90)
        else:
            st.text_input("Shape of x (torch.randn)", key="edit_shape", help="e.g. 16, 64, 256")
        st.text_area(
            "Steps (one per line: a PyTorch expression, or a layer as JSON)",
            key="edit_steps",
            height=110,
            help='e.g. x.permute(0, 2, 1) — or {"conv1d": {"out_channels": 64, "kernel_size": 3}}',
        )
        with st.container(horizontal=True, gap="small"):
            st.button(
                "Run my version", type="primary", icon=":material/play_arrow:", on_click=_apply_edit, args=(lesson,)
            )
            st.button(
                "Back to the lesson as written",
                icon=":material/undo:",
                on_click=_undo_edit,
                disabled=not version.changed,
            )
        if ss.get("edit_error"):
            st.warning(markdown(ss["edit_error"]), icon=":material/edit:")
        st.caption(
            "The questions below are then answered for your version (your answers to it stay on this screen). "
            "The page address is the link to your version."
        )
