"""Lessons page, Streamlit side: the lesson list (sidebar), the lesson panel, the quiz, editing a lesson in
place, and the room link.

State: the URL holds the open lesson (``?lesson=NAME``) and, for a changed lesson, its pipeline
(``&spec=…``, a share-link value), so the address bar is always the link to share. Quiz answers live in
``st.session_state["quiz"][quiz_key][stage] = {"answer", "correct", "message"}``; an answer is locked once
checked, so the score counts first tries. Answers to a lesson as written also go to the room's store
(anonymously); answers to a changed lesson stay in the session. The answers to every question show only to
the teacher (a session that typed the teacher key), never in presenter mode.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from core.errors import CheckpointError, ExpressionRefused, SpecError
from core.export.share import PARAM, decode_spec, encode_spec, spec_to_query
from core.spec import Spec
from core.teaching import quiz
from core.teaching.lessons import Lesson, LessonKind, LessonPage, get_lesson, lessons_by_article, list_lessons
from ui import room
from ui.safe_text import code, markdown

QUIZ_KEY = "quiz"
KIND_BADGE = {
    LessonKind.EXAMPLE: ("Example", "blue", ":material/menu_book:"),
    LessonKind.FIND_THE_BUG: ("Find the bug", "red", ":material/bug_report:"),
}


@dataclass(frozen=True)
class Version:
    """The lesson as shown: its own spec, or a changed one (from the URL or the edit panel)."""

    lesson: Lesson
    spec: Spec
    changed: bool
    problem: str | None = None  # why a changed spec from the link was not used

    @property
    def quiz_key(self) -> str:
        if not self.changed:
            return self.lesson.name
        digest = hashlib.sha256(self.spec.to_json().encode()).hexdigest()[:10]
        return f"{self.lesson.name}~{digest}"


# ---------------------------------------------------------------------------------------------- URL state


def selected_lesson() -> tuple[Lesson, str | None]:
    """The lesson named by ``?lesson=``, else the first; plus a message when the name is unknown."""
    name = st.query_params.get("lesson")
    if name:
        try:
            return get_lesson(name), None
        except SpecError as e:
            return list_lessons()[0], str(e)
    return list_lessons()[0], None


def selected_version(lesson: Lesson) -> Version:
    """The lesson with the pipeline of ``&spec=`` when the link carries one (the lesson's checkpoint kept)."""
    raw = st.query_params.get(PARAM)
    if not raw:
        return Version(lesson, lesson.spec, False)
    try:
        spec = decode_spec(raw)
    except SpecError as e:
        return Version(lesson, lesson.spec, False, f"the changed pipeline in this link cannot be read: {e}")
    spec = spec.replace(
        checkpoint=lesson.spec.checkpoint, **({"title": lesson.spec.title} if lesson.spec.title else {})
    )
    return Version(lesson, spec, spec != lesson.spec)


def _open(name: str) -> None:
    st.query_params.clear()
    st.query_params["lesson"] = name


def lesson_query(name: str, spec: Spec | None = None) -> str:
    """``lesson=NAME`` (+ ``&spec=…`` for a changed pipeline)."""
    return urlencode({"lesson": name, **({PARAM: encode_spec(spec)} if spec is not None else {})})


def page_url(page: str, spec: Spec) -> str:
    """Relative link that opens ``spec`` on another page (resolves next to /lessons, base path kept)."""
    return f"{page}?{urlencode(spec_to_query(spec))}"


# ---------------------------------------------------------------------------------------------- quiz state


def answers(key: str) -> dict[int, dict[str, Any]]:
    return st.session_state.setdefault(QUIZ_KEY, {}).setdefault(key, {})


def workshop_score() -> quiz.Score:
    """All answers of this session, across lessons."""
    results = {
        (lesson, stage): a["correct"]
        for lesson, per in st.session_state.get(QUIZ_KEY, {}).items()
        for stage, a in per.items()
    }
    return quiz.Score(sum(results.values()), len(results), len(results))


def _reset(key: str) -> None:
    st.session_state.setdefault(QUIZ_KEY, {})[key] = {}
    for k in [k for k in st.session_state if str(k).startswith(f"ans_{key}_")]:
        del st.session_state[k]


def _submit(version: Version, question: quiz.Question) -> None:
    key = version.quiz_key
    text = st.session_state.get(f"ans_{key}_{question.stage}", "")
    try:
        verdict = quiz.check(question, text)
    except quiz.AnswerError as e:
        st.session_state[f"ans_err_{key}"] = (question.stage, str(e))
        return
    st.session_state.pop(f"ans_err_{key}", None)
    answers(key)[question.stage] = {"answer": text.strip(), "correct": verdict.correct, "message": verdict.message}
    if not version.changed:
        room.record_answer(version.lesson.name, question.stage, quiz.format_answer(verdict.given), verdict.correct)


# ---------------------------------------------------------------------------------------------- list


def _pick() -> None:
    _open(st.session_state["lesson_pick"])


def lesson_list(current: Lesson) -> None:
    """In the sidebar: lessons grouped by article (titled by its idea), the open one highlighted. In presenter
    mode (no sidebar) a picker at the top of the page instead."""
    if room.presenting():
        names = [x.name for x in list_lessons()]
        st.session_state["lesson_pick"] = current.name
        st.selectbox(
            "Lesson",
            names,
            key="lesson_pick",
            format_func=lambda n: f"{get_lesson(n).article} — {get_lesson(n).title}",
            on_change=_pick,
            label_visibility="collapsed",
        )
        return
    with st.sidebar:
        st.markdown("#### Lessons")
        score = workshop_score()
        if score.answered:
            st.caption(f"Your score: **{score.correct}/{score.answered}** predictions right")
        for _, lessons in lessons_by_article().items():
            st.caption(f"**{lessons[0].article}**")
            for lesson in lessons:
                _, _, icon = KIND_BADGE[lesson.kind]
                n_q = len(quiz.questions(lesson))
                mark = " ✓" if n_q and len(answers(lesson.name)) >= n_q else ""
                st.button(
                    f"{lesson.title}{mark}",
                    key=f"open_{lesson.name}",
                    icon=icon,
                    type="primary" if lesson.name == current.name else "tertiary",
                    on_click=_open,
                    args=(lesson.name,),
                    help=f"{KIND_BADGE[lesson.kind][0]} · {lesson.where}",
                )


# ---------------------------------------------------------------------------------------------- lesson


def header(version: Version) -> None:
    lesson = version.lesson
    label, color, _ = KIND_BADGE[lesson.kind]
    badges = [f":{color}-badge[{label}]", f":gray-badge[{lesson.where}]"]
    if lesson.framework != "PyTorch":
        badges.append(f":orange-badge[{lesson.framework} in the article → PyTorch here]")
    if lesson.spec.uses_model and lesson.spec.checkpoint.startswith("random:"):
        badges.append(f":violet-badge[{lesson.spec.checkpoint}: random weights, shapes only]")
    if version.changed:
        badges.append(":green-badge[changed input]")
    st.markdown(f"### {lesson.title}")
    st.markdown(" ".join(badges))


def actions(version: Version) -> bool:
    """Open-in buttons (new tab: the lesson stays open here); for a teacher, the show-answers switch.
    Returns whether the answers are shown."""
    lesson, spec = version.lesson, version.spec
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.link_button(
        f"Open in {lesson.page.label}",
        page_url(lesson.page.value, spec),
        icon=":material/open_in_new:",
        type="primary",
        help="Opens this exact pipeline in a new tab",
    )
    if lesson.page is not LessonPage.PIPELINE:
        row.link_button(
            "Pipeline Explorer",
            page_url(LessonPage.PIPELINE.value, spec),
            icon=":material/open_in_new:",
            help="The same pipeline in the Pipeline Explorer (every stage, strides, live outputs), in a new tab",
        )
    if lesson.fixed_spec is not None and not version.changed:
        row.link_button(
            "Open the fixed version",
            page_url(lesson.page.value, lesson.fixed_spec),
            icon=":material/build:",
            help="The corrected pipeline, in a new tab",
        )
    if not room.teacher_visible():
        return False
    with row.container(key="ctl-show-answers", width="content"):
        return st.toggle(
            "Show the answers",
            key="lesson_show_answers",
            help="Teacher only (never in presenter mode): every answer, the explanation and the full trace",
        )


def spec_block(version: Version) -> None:
    lesson = version.lesson
    with st.container(key="ctl-spec"), st.expander("The pipeline as a spec (JSON)", icon=":material/data_object:"):
        st.code(json.dumps(version.spec.to_dict(), indent=2, ensure_ascii=False), language="json")
        if lesson.fixed_spec is not None and not version.changed:
            st.caption("The fixed version")
            st.code(json.dumps(lesson.fixed_spec.to_dict(), indent=2, ensure_ascii=False), language="json")


@st.cache_resource(show_spinner=False, max_entries=32)
def lesson_trace(name: str) -> Any:
    """The lesson's trace (deterministic: fixed spec, fixed seed), once per process."""
    return _run(get_lesson(name).spec)


@st.cache_resource(show_spinner=False, max_entries=64)
def changed_trace(spec_json: str) -> Any:
    """The trace of a changed lesson (cached by its spec, shared by the room: everyone opens the same link)."""
    return _run(Spec.from_json(spec_json))


def _run(spec: Spec) -> Any:
    from core.trace import run_spec
    from ui.common import get_checkpoint

    ckpt = get_checkpoint(spec.checkpoint, "auto") if spec.uses_model else None
    return run_spec(spec, checkpoint=ckpt)


def run_trace(version: Version) -> Any:
    try:
        with st.spinner("Running the lesson's pipeline…"):
            if version.changed:
                return changed_trace(version.spec.to_json())
            return lesson_trace(version.lesson.name)
    except (CheckpointError, SpecError, ExpressionRefused) as e:
        st.error(f"**This pipeline cannot run here:** {markdown(e)}")
        return None


def questions_of(version: Version, trace: Any) -> list[quiz.Question]:
    """The lesson's own questions, or, for a changed lesson, the same questions answered by its trace."""
    if not version.changed:
        return quiz.questions(version.lesson)
    if trace is None:
        return []
    return quiz.questions_for(version.spec, quiz.stages_from_trace(trace))


def _reveal(question: quiz.Question, trace: Any) -> None:
    """What really happened at the question's stage: shape and axes, the tokens, or torch's error."""
    from core.diagnosis.titles import finding_title

    if trace is None:
        return
    if question.stage < len(trace.stages):
        stage = trace.stages[question.stage]
        axes = " × ".join(f"{d} {a}" for d, a in zip(stage.shape, stage.axis_labels))
        st.caption(f"Actual: `{tuple(stage.shape)}` — {axes}")
        if stage.kind == "source" and trace.encoding is not None:
            enc = trace.encoding
            for toks, n in zip(enc.tokens, enc.lengths):
                pad = len(toks) - n
                st.caption(f"{n} tokens: {code(' '.join(toks[:n]))}" + (f" + {pad} × `[PAD]`" if pad else ""))
        for w in stage.warnings:
            if w.severity == "note":
                st.caption(f":material/info: {w.message}")
            else:
                st.warning(f"**{finding_title(w.code)}:** {w.message}", icon=":material/warning:")
    elif trace.error is not None:
        err = trace.error
        st.caption(f"Actual: the step fails — {code(err.message)}")
        if err.explanation:
            st.info(f"**Cause:** {markdown(err.explanation)}", icon=":material/lightbulb:")


def quiz_panel(version: Version, trace: Any, show_answers: bool) -> quiz.Score:
    """Predict each stage's shape; one question open at a time, answers locked once checked."""
    key = version.quiz_key
    questions = questions_of(version, trace)
    done = answers(key)
    st.markdown("#### Predict the shapes")
    st.caption(
        "Type the shape after each step — `32, 16, 6144`, `(32,16,6144)`, `32x16x6144` or `[32 16 6144]` — "
        "or `error` if the step cannot run. Each answer is revealed when you check it."
    )
    if version.spec.uses_model and trace is not None and trace.encoding is not None:
        st.caption("The input text" + ("s" if len(trace.encoding.texts) > 1 else ""))
        for text in trace.encoding.texts:
            st.text(text)
    error = st.session_state.get(f"ans_err_{key}")
    opened = False
    for q in questions:
        with st.container(border=True):
            st.markdown(f"**Stage {q.stage}** · {code(q.label)}")
            if q.hint:
                st.caption(q.hint)
            if q.stage in done:
                a = done[q.stage]
                (st.success if a["correct"] else st.error)(
                    f"You said {code(a['answer'])} — {markdown(a['message'])}",
                    icon=":material/check_circle:" if a["correct"] else ":material/cancel:",
                )
                _reveal(q, trace)
            elif not opened or show_answers:
                opened = True
                with st.form(f"form_{key}_{q.stage}", border=False, enter_to_submit=True):
                    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
                    c1.text_input(
                        "Your prediction",
                        key=f"ans_{key}_{q.stage}",
                        placeholder="e.g. 32, 16, 6144 — or error",
                        max_chars=quiz.MAX_ANSWER_CHARS,
                    )
                    c2.form_submit_button("Check", on_click=_submit, args=(version, q), type="primary", width="stretch")
                if error and error[0] == q.stage:
                    st.warning(markdown(error[1]), icon=":material/edit:")
            else:
                st.caption(":material/lock: Answer the stage above first.")
            if show_answers:
                st.caption(f":material/school: Answer: `{quiz.format_answer(q.expected)}`")
    score = quiz.score({s: a["correct"] for s, a in done.items()}, len(questions))
    cols = st.columns([3, 1], vertical_alignment="center")
    if score.done:
        cols[0].markdown(f"**Score: {score.correct} / {score.total}** — read the explanation below.")
    elif score.answered:
        cols[0].markdown(f"**Score so far: {score.correct} / {score.answered}** ({score.total - score.answered} to go)")
    if score.answered:
        cols[1].button("Start again", key=f"reset_{key}", on_click=_reset, args=(key,), icon=":material/replay:")
    return score


# ---------------------------------------------------------------------------------------------- explanation


def explanation(version: Version, expanded: bool) -> None:
    lesson = version.lesson
    if not lesson.explanation:
        return
    title = "The bug and the fix" if lesson.kind is LessonKind.FIND_THE_BUG else "What this teaches"
    if version.changed:
        title += " (of the lesson as written)"
    elif not expanded:
        title += " — read it after the quiz"
    with st.expander(title, expanded=expanded, icon=":material/school:"):
        st.markdown(_demote(lesson.explanation))


def _demote(markdown: str) -> str:
    """Lesson headings (``## ``) as small headings inside the expander."""
    return re.sub(r"^## ", "##### ", markdown, flags=re.M)


def trace_panel(trace: Any, expanded: bool) -> None:
    from core.diagnosis.titles import finding_title

    if trace is None:
        return
    with st.expander("What the pipeline really does (every stage)", expanded=expanded, icon=":material/timeline:"):
        rows = [
            {
                "stage": s.index,
                "step": s.source,
                "shape": str(tuple(s.shape)),
                "axes": " × ".join(s.axis_labels),
                "contiguous": s.contiguous,
                "strides": str(tuple(s.strides)),
                "warnings": "; ".join(f"{finding_title(w.code)}: {w.message}" for w in s.warnings),
            }
            for s in trace.stages
        ]
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            width="stretch",
            column_config={
                "stage": st.column_config.NumberColumn(width="small"),
                "step": st.column_config.TextColumn(width="medium"),
                "contiguous": st.column_config.CheckboxColumn(width="small"),
            },
        )
        for w in trace.findings:
            st.info(f"**{finding_title(w.code)}:** {w.message}", icon=":material/info:")
        if trace.error is not None:
            err = trace.error
            st.error(f"**Step {(err.step_index or 0) + 1} fails:** {code(err.message)}", icon=":material/error:")
            if err.explanation:
                st.markdown(f"**Cause:** {markdown(err.explanation)}")
            if err.fix is not None:
                st.markdown(f"**Fix:** {markdown(err.fix.description)}")


def share_panel(version: Version) -> None:
    """The room link to this lesson (or to this changed version) with its QR code. Never a teacher link."""
    st.markdown("#### Share with the room")
    query = lesson_query(version.lesson.name, version.spec if version.changed else None)
    what = "your changed version of this lesson" if version.changed else "this lesson"
    cols = st.columns([3, 2], vertical_alignment="top", gap="large")
    with cols[0]:
        room.room_link_block(f"lessons?{query}", with_qr=False, label=f"Everyone who opens this link gets {what}.")
    with cols[1]:
        link = room.room_link(f"lessons?{query}")
        if link is not None:
            room.qr_image(link, width=360 if room.presenting() else 200)
