"""The teacher's per-question results from stored answers: counts, share right, most common wrong answers with
their meaning; unknown lessons and unparseable stored text handled."""

from __future__ import annotations

import pytest

from core.room.results import lesson_results, room_results
from core.room.store import Answer, RoomStore
from core.teaching import quiz
from core.teaching.lessons import get_lesson, lesson_names


def a(student, lesson, stage, answer, correct):
    return Answer(1, student, lesson, stage, answer, correct, 0.0)


def test_counts_share_and_wrong_answers_ranked():
    name = "permute-for-conv1d"
    rows = [
        a("s1", name, 1, "(32, 768, 128)", True),
        a("s2", name, 1, "(32, 128, 768)", False),
        a("s3", name, 1, "(32, 128, 768)", False),
        a("s4", name, 1, "(32, 512, 126)", False),
        a("s1", name, 2, "(32, 512, 126)", True),
        a("s9", "other-lesson", 1, "(1,)", True),
    ]
    q1, q2 = lesson_results(name, rows)
    assert (q1.stage, q1.answered, q1.right, q1.expected) == (1, 4, 1, "(32, 768, 128)")
    assert q1.share_right == pytest.approx(0.25)
    assert [(w.answer, w.count) for w in q1.wrong] == [("(32, 128, 768)", 2), ("(32, 512, 126)", 1)]
    assert q1.wrong[0].meaning.startswith("forgot the permute")
    assert q1.wrong[1].meaning.startswith("jumped ahead")
    assert (q2.answered, q2.right, q2.wrong) == (1, 1, ())


def test_unanswered_questions_are_listed_with_zero():
    name = "pad-then-reshape"
    results = lesson_results(name, [])
    assert [r.stage for r in results] == [q.stage for q in quiz.questions(get_lesson(name))]
    assert all(r.answered == 0 and r.share_right == 0.0 for r in results)


def test_only_the_top_wrong_answers():
    name = "reshape-16-steps-tf"
    rows = [a(f"s{i}", name, 1, f"({i}, 1)", False) for i in range(10)]
    (q,) = lesson_results(name, rows, top=3)
    assert q.answered == 10 and len(q.wrong) == 3


def test_stored_text_that_is_not_a_shape_is_kept_and_labelled():
    name = "reshape-16-steps-tf"
    hostile = "<script>alert(1)</script>"
    (q,) = lesson_results(name, [a("s1", name, 1, hostile, False)])
    assert q.wrong[0].answer == hostile and q.wrong[0].meaning == "not a shape"


def test_room_results_in_teaching_order_unknown_lessons_left_out(tmp_path):
    store = RoomStore(tmp_path / "r.sqlite3")
    names = lesson_names()
    store.record("s1", names[3], 1, "(1,)", False)
    store.record("s1", names[0], 1, "(1,)", False)
    store.record("s1", "no-such-lesson", 1, "(1,)", False)
    store.record("s1", "'; DROP TABLE answers; --", 1, "(1,)", False)
    out = room_results(store.answers())
    assert list(out) == [names[0], names[3]]
