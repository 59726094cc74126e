"""AppTest of the Lessons & workshop page: smoke, open a lesson, quiz right and wrong, teacher view,
lesson links (``?lesson=NAME``) and the open-in-page links."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from core.export.share import spec_from_query
from core.room.store import RoomStore
from core.teaching.lessons import get_lesson, list_lessons
from tests.markdown_text import shown

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120


def open_page(teacher: bool | str = False, **params: str) -> AppTest:
    """The Lessons page with ``params`` in the URL; ``teacher=True`` for a session that typed the key
    (a string is put in the URL as the old ``&teacher=`` flag)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if isinstance(teacher, str):
        params["teacher"] = teacher
    elif teacher:
        at.session_state["room_teacher"] = True
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page("pages/lessons.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in (*at.success, *at.error, *at.warning, *at.info)] + [c.value for c in at.code]
    return "\n".join(str(p) for p in parts)


def answer(at: AppTest, lesson: str, stage: int, text: str) -> None:
    at.text_input(key=f"ans_{lesson}_{stage}").input(text)
    submit = next(b for b in at.button if b.label == "Check")
    submit.click().run()
    assert not at.exception, [e.value for e in at.exception]


def link_urls(at: AppTest) -> dict[str, str]:
    return {el.proto.label: el.proto.url for el in at.get("link_button")}


def test_smoke_defaults_to_the_first_lesson_and_lists_them_all():
    at = open_page()
    assert at.title[0].value.endswith("Lessons & workshop")
    labels = [b.label for b in at.button if b.key and b.key.startswith("open_")]
    assert len(labels) == len(list_lessons())
    first = list_lessons()[0]
    assert f"### {first.title}" in texts(at)
    for badge in ("Example", "Find the bug"):
        assert badge in " ".join(str(b.help) for b in at.button)


def test_clicking_a_lesson_opens_it_and_puts_it_in_the_url():
    at = open_page()
    at.button(key="open_view-is-not-transpose").click().run()
    assert not at.exception
    assert at.query_params["lesson"] in ("view-is-not-transpose", ["view-is-not-transpose"])
    assert "### view(32, 768, 128) is not a transpose" in texts(at)


def test_quiz_right_then_wrong_scores_and_reveals():
    name = "pad-then-reshape"
    at = open_page(lesson=name)
    body = texts(at)
    assert "Predict the shapes" in body and "F.pad(x, (0, 0, 0, 3))" in body
    answer(at, name, 1, "(32,128,768)")
    assert any("Right: (32, 128, 768)" in shown(s.value) for s in at.success)
    assert "Actual: `(32, 128, 768)`" in texts(at)
    answer(at, name, 2, "32x16x6000")
    assert any("Not quite" in shown(e.value) and "cannot run" in shown(e.value) for e in at.error)
    body = texts(at)
    assert "Score: 1 / 2" in body
    assert "invalid for input of size 3145728" in body  # the real torch message revealed
    # the quiz is done: the explanation opens and the score shows in the lesson list
    assert any("The bug and the fix" in e.label and e.proto.expanded for e in at.expander)
    assert "1/2" in texts(at)
    # start again clears the answers
    at.button(key=f"reset_{name}").click().run()
    assert at.text_input(key=f"ans_{name}_1").value == ""
    assert "Score" not in " ".join(m.value for m in at.markdown)


def test_unparseable_answer_is_explained_not_scored():
    name = "reshape-16-steps-tf"
    at = open_page(lesson=name)
    answer(at, name, 1, "thirty-two")
    assert any("is not a size" in shown(w.value) for w in at.warning)
    assert not at.success and "Score" not in texts(at)
    answer(at, name, 1, "error")
    assert any("this step runs and gives (32, 16, 6144)" in shown(e.value) for e in at.error)


def test_a_teacher_sees_every_answer_a_student_never_does():
    name = "view-is-not-transpose"
    student = open_page(lesson=name, teacher="1")  # the old &teacher=1 link grants nothing
    body = texts(student)
    assert "Answer: `" not in body and not [t for t in student.toggle if t.key == "lesson_show_answers"]
    assert "teacher" not in body.lower()
    at = open_page(lesson=name, teacher=True)
    at.toggle(key="lesson_show_answers").set_value(True).run()
    body = texts(at)
    assert "Answer: `(32, 768, 128)`" in body and "Answer: `(32, 512, 126)`" in body
    assert any(e.proto.expanded for e in at.expander if "The bug and the fix" in e.label)
    assert "key=" not in body  # no teacher link to copy, ever
    at.toggle(key="lesson_show_answers").set_value(False).run()
    assert "Answer: `" not in texts(at)


def test_presenter_mode_hides_the_teachers_answers():
    at = open_page(lesson="view-is-not-transpose", teacher=True, present="1")
    assert not [t for t in at.toggle if t.key == "lesson_show_answers"]
    assert "Answer: `" not in texts(at)


def test_answers_to_the_lesson_go_to_the_room_not_those_to_a_changed_version():
    name = "permute-for-conv1d"
    store = RoomStore()
    before = len(store.answers(lesson=name))
    at = open_page(lesson=name)
    answer(at, name, 1, "32x128x768")  # wrong: forgot the permute
    rows = store.answers(lesson=name)
    assert len(rows) == before + 1 and rows[-1].answer == "(32, 128, 768)" and not rows[-1].correct
    answer(at, name, 2, "32, 512, 126")
    assert [(r.stage, r.correct) for r in store.answers(lesson=name)[-2:]] == [(1, False), (2, True)]


def test_change_the_shape_in_place_and_the_questions_follow():
    name = "permute-for-conv1d"
    store = RoomStore()
    before = len(store.answers())
    at = open_page(lesson=name)
    at.text_input(key="edit_shape").input("4, 10, 768")
    next(b for b in at.button if b.label == "Run my version").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "spec" in at.query_params and at.query_params["lesson"] in (name, [name])
    body = texts(at)
    assert "changed input" in body
    key = next(k.key for k in at.text_input if k.key and k.key.startswith(f"ans_{name}~"))
    quiz_key = key.rsplit("_", 1)[0].removeprefix("ans_")
    answer(at, quiz_key, 1, "4, 768, 10")
    assert any("Right: (4, 768, 10)" in shown(s.value) for s in at.success)
    answer(at, quiz_key, 2, "4, 512, 8")
    assert "Score: 2 / 2" in texts(at)
    assert len(store.answers()) == before  # a changed version is not the room's question
    link = " ".join(c.value for c in at.code)
    assert "lessons?lesson=permute-for-conv1d&spec=" in link
    # back to the lesson as written
    next(b for b in at.button if b.label == "Back to the lesson as written").click().run()
    assert "spec" not in at.query_params and "changed input" not in texts(at)


def test_change_the_steps_and_a_step_that_now_fails_is_asked_as_error():
    name = "permute-for-conv1d"
    at = open_page(lesson=name)
    at.text_area(key="edit_steps").input(
        'x.view(32, 768, 128)\n{"conv1d": {"in_channels": 128, "out_channels": 8, "kernel_size": 3}}'
    )
    next(b for b in at.button if b.label == "Run my version").click().run()
    assert not at.exception
    key = next(k.key for k in at.text_input if k.key and k.key.startswith(f"ans_{name}~"))
    quiz_key = key.rsplit("_", 1)[0].removeprefix("ans_")
    answer(at, quiz_key, 1, "32, 768, 128")
    answer(at, quiz_key, 2, "error")
    assert any("Right: this step fails." in shown(s.value) for s in at.success)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("edit_shape", "32, many, 768", "whole numbers"),
        ("edit_steps", '{"lstm": ', "not a JSON layer step"),
        ("edit_steps", "__import__('os').system('x')", "refused"),
    ],
)
def test_a_bad_change_is_explained_and_the_lesson_stays(field, value, fragment):
    name = "permute-for-conv1d"
    at = open_page(lesson=name)
    (at.text_input if field == "edit_shape" else at.text_area)(key=field).input(value)
    next(b for b in at.button if b.label == "Run my version").click().run()
    assert not at.exception
    body = texts(at)
    assert fragment in body, body[-600:]


def test_lesson_link_opens_the_exact_scenario():
    lesson = get_lesson("lstm-return-sequences")
    at = open_page(lesson=lesson.name)
    body = texts(at)
    assert f"### {lesson.title}" in body
    assert "lessons?lesson=lstm-return-sequences" in " ".join(c.value for c in at.code)
    urls = link_urls(at)
    opened = urlsplit(urls["Open in Pipeline Explorer"])
    assert opened.path == "pipeline"
    assert spec_from_query({k: v[-1] for k, v in parse_qs(opened.query).items()}) == lesson.spec
    fixed = urlsplit(urls["Open the fixed version"])
    assert spec_from_query({k: v[-1] for k, v in parse_qs(fixed.query).items()}) == lesson.fixed_spec


def test_reshape_lesson_opens_in_the_reshape_lab():
    at = open_page(lesson="flatten-lstm-output")
    urls = link_urls(at)
    assert list(urls) == ["Open in Reshape Lab", "Pipeline Explorer"]
    assert urlsplit(urls["Open in Reshape Lab"]).path == "reshape-lab"
    assert urlsplit(urls["Pipeline Explorer"]).path == "pipeline"
    assert urlsplit(urls["Open in Reshape Lab"]).query == urlsplit(urls["Pipeline Explorer"]).query


def test_unknown_lesson_warns_with_the_list_and_shows_the_first():
    at = open_page(lesson="no-such-lesson")
    assert any(
        "unknown lesson 'no-such-lesson'" in shown(w.value) and "pad-then-reshape" in shown(w.value) for w in at.warning
    )
    assert f"### {list_lessons()[0].title}" in texts(at)


def test_text_lesson_runs_the_model_and_asks_for_the_token_count():
    name = "cls-vector"
    at = open_page(lesson=name)
    body = texts(at)
    assert "This movie was absolutely amazing!" in body and "random weights" in body
    answer(at, name, 0, "1, 8, 768")
    assert any("Right: (1, 8, 768)" in shown(s.value) for s in at.success)
    answer(at, name, 1, "[1 768]")
    assert "Score: 2 / 2" in texts(at)


@pytest.mark.parametrize("lesson", [x.name for x in list_lessons()])
def test_every_lesson_renders(lesson):
    at = open_page(lesson=lesson, teacher=True)
    at.toggle(key="lesson_show_answers").set_value(True).run()
    assert not at.exception
    assert f"### {get_lesson(lesson).title}" in texts(at)
    assert "seed" not in texts(at).lower().replace('"seed": 0', "")
