"""core.teaching.quiz: answer parsing (tables + round trip), verdicts, questions built from lessons, scoring."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.teaching.lessons import ERROR, get_lesson, list_lessons
from core.teaching.quiz import (
    MAX_ANSWER_CHARS,
    AnswerError,
    Question,
    Score,
    check,
    format_answer,
    parse_answer,
    questions,
    score,
)


@pytest.mark.parametrize(
    "text",
    [
        "32, 16, 6144",
        "(32,16,6144)",
        "32x16x6144",
        "32 x 16 x 6144",
        "32X16X6144",
        "32×16×6144",
        "[32 16 6144]",
        "[32, 16, 6144]",
        "  (32, 16, 6144)  ",
        "torch.Size([32, 16, 6144])",
        "Size([32, 16, 6144])",
        "32 * 16 * 6144",
        "(32, 16, 6144,)",
        "32,16,6144",
    ],
)
def test_accepted_shape_spellings(text):
    assert parse_answer(text) == (32, 16, 6144)


@pytest.mark.parametrize("text", ["error", "Error", "ERROR", " error ", "fails", "crash", "RuntimeError", "error."])
def test_error_spellings(text):
    assert parse_answer(text) == ERROR


@pytest.mark.parametrize(("text", "shape"), [("(32,)", (32,)), ("2", (2,)), ("()", ()), ("1, 2", (1, 2))])
def test_short_shapes(text, shape):
    assert parse_answer(text) == shape


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "type a shape"),
        ("   ", "type a shape"),
        ("32, -1, 6144", "'-1' is not a size"),
        ("32, 16.5", "'16.5' is not a size"),
        ("b, l, h", "'b' is not a size"),
        ("__import__('os')", "is not a size"),
        ("1, 2, 3, 4, 5, 6, 7, 8, 9", "9 dimensions"),
        ("1" * 20, "far larger"),
        ("3" * (MAX_ANSWER_CHARS + 1), "longer than"),
        ("٣٢, 16", "is not a size"),  # non-ASCII digits are not sizes
    ],
)
def test_rejected_answers_say_what_is_expected(text, fragment):
    with pytest.raises(AnswerError, match=None) as info:
        parse_answer(text)
    assert fragment in str(info.value)


@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=8))
def test_format_then_parse_round_trips(dims):
    shape = tuple(dims)
    assert parse_answer(format_answer(shape)) == shape
    assert parse_answer("x".join(map(str, shape))) == shape


@given(st.text(max_size=60))
def test_parse_never_crashes_otherwise(text):
    try:
        out = parse_answer(text)
    except AnswerError:
        return
    assert out == ERROR or (isinstance(out, tuple) and all(isinstance(d, int) for d in out))


def test_format_answer():
    assert format_answer((32, 16, 6144)) == "(32, 16, 6144)"
    assert format_answer((5,)) == "(5,)"
    assert format_answer(ERROR) == "error"


Q = Question(2, "x.reshape(32, 16, -1)", (32, 16, 6144))
QE = Question(2, "x.reshape(32, 16, 6000)", ERROR)


@pytest.mark.parametrize(
    ("question", "text", "correct", "fragment"),
    [
        (Q, "32x16x6144", True, "Right: (32, 16, 6144)"),
        (Q, "32, 16, 6000", False, "— dim 2 differs."),
        (Q, "32, 6144, 16", False, "dim 1, 2 differ."),
        (Q, "32, 98304", False, "2 dims instead of 3"),
        (Q, "error", False, "this step runs and gives (32, 16, 6144)"),
        (QE, "error", True, "Right: this step fails"),
        (QE, "32, 16, 6000", False, "cannot run"),
    ],
)
def test_verdicts(question, text, correct, fragment):
    verdict = check(question, text)
    assert verdict.correct is correct
    assert fragment in verdict.message


def test_check_raises_on_unparseable_answer():
    with pytest.raises(AnswerError):
        check(Q, "thirty-two")


def test_questions_of_a_synthetic_lesson_skip_the_given_source():
    lesson = get_lesson("pad-then-reshape")
    qs = questions(lesson)
    assert [q.stage for q in qs] == [1, 2]
    assert qs[0].label == "F.pad(x, (0, 0, 0, 3))"
    assert qs[0].expected == (32, 128, 768)
    assert qs[1].expected == ERROR


def test_questions_of_a_text_lesson_ask_the_token_count_and_pooling():
    lesson = get_lesson("last-four-layers")
    qs = questions(lesson)
    assert [q.stage for q in qs] == [0, 1]
    assert "BERT output" in qs[0].label and "[CLS]" in qs[0].hint
    assert qs[1].label == "pooling: last4_concat"
    assert qs[1].expected == (1, 3072)


def test_questions_stop_at_the_failing_step():
    lesson = get_lesson("lstm-return-sequences")
    qs = questions(lesson)
    assert len(qs) == 1 and qs[0].expected == ERROR
    assert "return_sequences" in qs[0].label


@pytest.mark.parametrize("lesson", list_lessons(), ids=lambda x: x.name)
def test_every_lesson_has_questions_whose_right_answers_score_full(lesson):
    qs = questions(lesson)
    assert qs, lesson.name
    results = {q.stage: check(q, format_answer(q.expected)).correct for q in qs}
    s = score(results, len(qs))
    assert s.done and s.correct == s.total == len(qs) and s.percent == 100


def test_score():
    s = score({1: True, 2: False}, 3)
    assert (s.correct, s.answered, s.total, s.done, s.percent) == (1, 2, 3, False, 50)
    assert str(s) == "1/2 right (1 to go)"
    assert score({}, 2) == Score(0, 0, 2) and score({}, 2).percent == 0
    assert str(score({1: True}, 1)) == "1/1 right"
