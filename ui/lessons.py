"""Lessons page, Streamlit side: the lesson list, the lesson panel, the quiz and the teacher view.

State: the URL holds the open lesson (``?lesson=NAME``) and the teacher view (``&teacher=1``), so the
address bar is always the link to share with the room. Quiz answers live in
``st.session_state["quiz"][lesson][stage] = {"answer": str, "correct": bool}``; an answer is locked once
checked, so the score counts first tries.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from core.errors import CheckpointError, SpecError
from core.export.share import spec_to_query
from core.spec import Spec
from core.teaching import quiz
from core.teaching.lessons import ARTICLES, Lesson, LessonKind, LessonPage, get_lesson, lessons_by_article, list_lessons
from ui.safe_text import code, markdown

QUIZ_KEY = "quiz"
TEACHER_VALUES = ("1", "true", "yes", "on")
KIND_BADGE = {
    LessonKind.EXAMPLE: ("Example", "blue", ":material/menu_book:"),
    LessonKind.FIND_THE_BUG: ("Find the bug", "red", ":material/bug_report:"),
}


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


def teacher_mode() -> bool:
    return str(st.query_params.get("teacher", "")).lower() in TEACHER_VALUES


def _open(name: str) -> None:
    st.query_params["lesson"] = name


def _toggle_teacher() -> None:
    if st.session_state.get("lesson_teacher"):
        st.query_params["teacher"] = "1"
    elif "teacher" in st.query_params:
        del st.query_params["teacher"]


def lesson_url(name: str, teacher: bool = False) -> str:
    """Absolute link to a lesson when the browser's URL is known (this page's URL), else a relative one."""
    query = urlencode({"lesson": name, **({"teacher": "1"} if teacher else {})})
    base = (getattr(st.context, "url", None) or "").split("?")[0].split("#")[0]
    return f"{base or 'lessons'}?{query}"


def page_url(page: str, spec: Spec) -> str:
    """Relative link that opens ``spec`` on another page (resolves next to /lessons, base path kept)."""
    return f"{page}?{urlencode(spec_to_query(spec))}"


# ---------------------------------------------------------------------------------------------- quiz state


def answers(name: str) -> dict[int, dict[str, Any]]:
    return st.session_state.setdefault(QUIZ_KEY, {}).setdefault(name, {})


def workshop_score() -> quiz.Score:
    """All answers of this session, across lessons."""
    results = {
        (lesson, stage): a["correct"]
        for lesson, per in st.session_state.get(QUIZ_KEY, {}).items()
        for stage, a in per.items()
    }
    return quiz.Score(sum(results.values()), len(results), len(results))


def _reset(name: str) -> None:
    st.session_state.setdefault(QUIZ_KEY, {})[name] = {}
    for key in [k for k in st.session_state if str(k).startswith(f"ans_{name}_")]:
        del st.session_state[key]


def _submit(name: str, question: quiz.Question) -> None:
    text = st.session_state.get(f"ans_{name}_{question.stage}", "")
    try:
        verdict = quiz.check(question, text)
    except quiz.AnswerError as e:
        st.session_state[f"ans_err_{name}"] = (question.stage, str(e))
        return
    st.session_state.pop(f"ans_err_{name}", None)
    answers(name)[question.stage] = {"answer": text.strip(), "correct": verdict.correct, "message": verdict.message}


# ---------------------------------------------------------------------------------------------- list


def lesson_list(current: Lesson) -> None:
    """Lessons grouped by seed article; the open one highlighted."""
    score = workshop_score()
    if score.answered:
        st.caption(f"Your workshop score: **{score.correct}/{score.answered}** predictions right")
    groups = lessons_by_article()
    for seed, lessons in groups.items():
        st.markdown(f"**{seed} · {ARTICLES.get(seed, '')}**")
        for lesson in lessons:
            _, _, icon = KIND_BADGE[lesson.kind]
            done = answers(lesson.name)
            n_q = len(quiz.questions(lesson))
            mark = " ✓" if n_q and len(done) >= n_q else ""
            st.button(
                f"{lesson.title}{mark}",
                key=f"open_{lesson.name}",
                icon=icon,
                type="primary" if lesson.name == current.name else "tertiary",
                on_click=_open,
                args=(lesson.name,),
                help=f"{KIND_BADGE[lesson.kind][0]} · {lesson.where}",
                width="content",
            )


# ---------------------------------------------------------------------------------------------- lesson


def header(lesson: Lesson) -> None:
    label, color, _ = KIND_BADGE[lesson.kind]
    badges = [f":{color}-badge[{label}]", f":gray-badge[{lesson.where}]"]
    if lesson.framework != "PyTorch":
        badges.append(f":orange-badge[{lesson.framework} in the article → PyTorch here]")
    if lesson.spec.uses_model and lesson.spec.checkpoint.startswith("random:"):
        badges.append(f":violet-badge[{lesson.spec.checkpoint}: random weights, shapes only]")
    st.markdown(f"### {lesson.title}")
    st.markdown(" ".join(badges))


def actions(lesson: Lesson, teacher: bool) -> None:
    """Open-in buttons (new tab: the lesson stays open here), the teacher toggle."""
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.link_button(
        f"Open in {lesson.page.label}",
        page_url(lesson.page.value, lesson.spec),
        icon=":material/open_in_new:",
        type="primary",
        help="Opens this exact pipeline in a new tab",
    )
    if lesson.page is not LessonPage.PIPELINE:
        row.link_button(
            "Pipeline Explorer",
            page_url(LessonPage.PIPELINE.value, lesson.spec),
            icon=":material/open_in_new:",
            help="The same pipeline in the Pipeline Explorer (every stage, strides, live outputs), in a new tab",
        )
    if lesson.fixed_spec is not None:
        row.link_button(
            "Open the fixed version",
            page_url(lesson.page.value, lesson.fixed_spec),
            icon=":material/build:",
            help="The corrected pipeline, in a new tab",
        )
    st.session_state["lesson_teacher"] = teacher
    row.toggle(
        "Teacher view",
        key="lesson_teacher",
        on_change=_toggle_teacher,
        help="Shows every answer, the explanation and the full trace; the URL gets &teacher=1",
    )


def spec_block(lesson: Lesson) -> None:
    with st.expander("The pipeline as a spec (JSON)", icon=":material/data_object:"):
        st.code(json.dumps(lesson.spec.to_dict(), indent=2, ensure_ascii=False), language="json")
        if lesson.fixed_spec is not None:
            st.caption("The fixed version")
            st.code(json.dumps(lesson.fixed_spec.to_dict(), indent=2, ensure_ascii=False), language="json")


@st.cache_resource(show_spinner=False, max_entries=32)
def lesson_trace(name: str) -> Any:
    """The lesson's trace (deterministic: fixed spec, fixed seed), once per process."""
    from core.trace import run_spec
    from ui.common import get_checkpoint

    lesson = get_lesson(name)
    ckpt = get_checkpoint(lesson.spec.checkpoint, "auto") if lesson.spec.uses_model else None
    return run_spec(lesson.spec, checkpoint=ckpt)


def run_trace(lesson: Lesson) -> Any:
    try:
        with st.spinner("Running the lesson's pipeline…"):
            return lesson_trace(lesson.name)
    except (CheckpointError, SpecError) as e:
        st.error(f"**This lesson's pipeline cannot run here:** {markdown(e)}")
        return None


def _reveal(question: quiz.Question, trace: Any) -> None:
    """What really happened at the question's stage: shape and axes, the tokens, or torch's error."""
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
                st.caption(
                    f"{n} tokens: `{' '.join(toks[:n])}`" + (f" + {pad} × `[PAD]`" if pad else ""),
                )
        for w in stage.warnings:
            if w.severity == "note":
                st.caption(f":material/info: {w.message}")
            else:
                st.warning(f"**{w.code}**: {w.message}", icon=":material/warning:")
    elif trace.error is not None:
        err = trace.error
        st.caption(f"Actual: the step fails — {code(err.message)}")
        if err.explanation:
            st.info(f"**Cause:** {markdown(err.explanation)}", icon=":material/lightbulb:")


def quiz_panel(lesson: Lesson, trace: Any, teacher: bool) -> quiz.Score:
    """Predict each stage's shape; one question open at a time, answers locked once checked."""
    questions = quiz.questions(lesson)
    done = answers(lesson.name)
    st.markdown("#### Predict the shapes")
    st.caption(
        "Type the shape after each step — `32, 16, 6144`, `(32,16,6144)`, `32x16x6144` or `[32 16 6144]` — "
        "or `error` if the step cannot run. Each answer is revealed when you check it."
    )
    if lesson.spec.uses_model and trace is not None and trace.encoding is not None:
        st.caption("The input text" + ("s" if len(trace.encoding.texts) > 1 else ""))
        for text in trace.encoding.texts:
            st.markdown(f"> {text}")
    error = st.session_state.get(f"ans_err_{lesson.name}")
    opened = False
    for q in questions:
        with st.container(border=True):
            st.markdown(f"**Stage {q.stage}** · `{q.label}`")
            if q.hint:
                st.caption(q.hint)
            if q.stage in done:
                a = done[q.stage]
                (st.success if a["correct"] else st.error)(
                    f"You said {code(a['answer'])} — {markdown(a['message'])}",
                    icon=":material/check_circle:" if a["correct"] else ":material/cancel:",
                )
                _reveal(q, trace)
            elif not opened or teacher:
                opened = True
                with st.form(f"form_{lesson.name}_{q.stage}", border=False, enter_to_submit=True):
                    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
                    c1.text_input(
                        "Your prediction",
                        key=f"ans_{lesson.name}_{q.stage}",
                        placeholder="e.g. 32, 16, 6144 — or error",
                    )
                    c2.form_submit_button(
                        "Check", on_click=_submit, args=(lesson.name, q), type="primary", width="stretch"
                    )
                if error and error[0] == q.stage:
                    st.warning(markdown(error[1]), icon=":material/edit:")
            else:
                st.caption(":material/lock: Answer the stage above first.")
            if teacher:
                st.caption(f":material/school: Answer: `{quiz.format_answer(q.expected)}`")
    score = quiz.score({s: a["correct"] for s, a in done.items()}, len(questions))
    cols = st.columns([3, 1], vertical_alignment="center")
    if score.done:
        cols[0].markdown(f"**Score: {score.correct} / {score.total}** — read the explanation below.")
    elif score.answered:
        cols[0].markdown(f"**Score so far: {score.correct} / {score.answered}** ({score.total - score.answered} to go)")
    if score.answered:
        cols[1].button(
            "Start again", key=f"reset_{lesson.name}", on_click=_reset, args=(lesson.name,), icon=":material/replay:"
        )
    return score


def explanation(lesson: Lesson, expanded: bool) -> None:
    if not lesson.explanation:
        return
    title = "The bug and the fix" if lesson.kind is LessonKind.FIND_THE_BUG else "What this teaches"
    if not expanded:
        title += " — read it after the quiz"
    with st.expander(title, expanded=expanded, icon=":material/school:"):
        st.markdown(_demote(lesson.explanation))


def _demote(markdown: str) -> str:
    """Lesson headings (``## ``) as small headings inside the expander."""
    return re.sub(r"^## ", "##### ", markdown, flags=re.M)


def trace_panel(trace: Any, expanded: bool) -> None:
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
                "warnings": "; ".join(w.message for w in s.warnings),
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
            st.info(w.message, icon=":material/info:")
        if trace.error is not None:
            err = trace.error
            st.error(f"**Step {(err.step_index or 0) + 1} fails:** {code(err.message)}", icon=":material/error:")
            if err.explanation:
                st.markdown(f"**Cause:** {markdown(err.explanation)}")
            if err.fix is not None:
                st.markdown(f"**Fix:** {markdown(err.fix.description)}")


def share_panel(lesson: Lesson) -> None:
    st.markdown("#### Share with the room")
    c1, c2 = st.columns(2)
    with c1:
        st.caption("Lesson link — everyone opens this exact scenario")
        st.code(lesson_url(lesson.name), language=None, wrap_lines=True)
    with c2:
        st.caption("Teacher link — the same lesson with the answers shown")
        st.code(lesson_url(lesson.name, teacher=True), language=None, wrap_lines=True)
