"""What wrong answers mean: a table of lessons × typical mistakes, every rule reachable, every lesson's
questions covered, and answers to a changed lesson computed from its trace."""

from __future__ import annotations

import itertools

import pytest

from core.teaching import quiz
from core.teaching.lessons import ERROR, get_lesson, list_lessons
from core.teaching.meanings import Context, fixed_stages, lesson_context, meaning, op_name
from core.trace import run_spec

CASES = [
    # lesson, stage, given, fragment of the meaning
    ("permute-for-conv1d", 1, (32, 128, 768), "forgot the permute"),
    ("transpose-for-conv1d", 1, (32, 128, 768), "forgot the transpose"),
    ("view-is-not-transpose", 1, (32, 128, 768), "forgot the view"),
    ("permute-for-conv1d", 2, (32, 512, 128), "kernel shortens the length"),
    ("permute-for-conv1d", 2, (32, 126, 512), "right sizes, wrong order"),
    ("permute-for-conv1d", 2, (32, 768, 128), "forgot the Conv1d"),
    ("permute-for-conv1d", 1, (32, 512, 126), "jumped ahead"),
    ("permute-for-conv1d", 2, ERROR, "expected an error, but Conv1d runs here"),
    ("lstm-output-to-conv1d", 2, (32, 10, 64), "stopped early"),
    ("conv1d-without-transpose", 1, (32, 512, 126), "the fixed version's shape"),
    ("conv1d-without-transpose", 1, (32, 128, 768), "as if Conv1d did nothing"),
    ("conv1d-without-transpose", 1, (32, 768, 128), "the fixed version's shape"),
    ("conv1d-without-transpose", 1, (32, 512, 128), "thought Conv1d runs"),
    ("pad-then-reshape", 2, (32, 16, 6000), "thought reshape runs"),
    ("pad-then-reshape", 2, (32, 16, 6144), "the fixed version's shape"),
    ("reshape-16-steps-tf", 1, (32, 6144, 16), "right sizes, wrong order"),
    ("reshape-16-steps-tf", 1, (32, 8, 12288), "right number of elements (3,145,728)"),
    ("reshape-16-steps-tf", 1, (32, 16, 6144, 1), "one axis too many"),
    ("reshape-16-steps-tf", 1, (32, 16), "an axis too few"),
    ("reshape-16-steps-tf", 1, (32, 16, 6000), "dim 2 is 6144, not 6000"),
    ("cls-vector", 0, (1, 6, 768), "forgot [CLS] and [SEP]"),
    ("cls-vector", 0, (1, 5, 768), "counted words, not word pieces"),
    ("cls-vector", 0, (1, 20, 768), "too many tokens"),
    ("cls-vector", 0, ERROR, "BERT's output always exists"),
    ("cls-vector", 1, (1, 8, 768), "forgot the indexing"),
    ("masked-mean", 1, (1, 13, 768), "forgot the mean pooling"),
]


@pytest.mark.parametrize(("lesson", "stage", "given", "fragment"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_a_wrong_answer_means(lesson, stage, given, fragment):
    ctx = lesson_context(get_lesson(lesson))
    assert ctx.stages[stage] != given
    said = meaning(ctx, stage, given)
    assert fragment in said, said


def test_the_issue_example():
    ctx = lesson_context(get_lesson("permute-for-conv1d"))
    assert meaning(ctx, 1, (32, 128, 768)).startswith("forgot the permute")


@pytest.mark.parametrize("lesson", [x.name for x in list_lessons()])
def test_every_question_has_a_meaning_for_typical_wrong_answers(lesson):
    """Right answers say "right"; every other candidate (other stages, permutations, error) gets a sentence."""
    le = get_lesson(lesson)
    ctx = lesson_context(le)
    for q in quiz.questions(le):
        assert meaning(ctx, q.stage, q.expected) == "right"
        candidates = {s for s in le.stages} | {ERROR}
        if isinstance(q.expected, tuple):
            candidates |= set(itertools.islice(itertools.permutations(q.expected), 6))
            candidates.add((*q.expected, 1))
        for given in candidates - {q.expected}:
            said = meaning(ctx, q.stage, given)
            assert said and said != "right" and "stage -1" not in said


def test_fixed_stages_are_predicted_for_lessons_with_a_fixed_version():
    assert fixed_stages(get_lesson("conv1d-without-transpose")) == ((32, 128, 768), (32, 768, 128), (32, 512, 126))
    assert fixed_stages(get_lesson("permute-for-conv1d")) == ()  # no fixed version


@pytest.mark.parametrize(
    ("label", "op"),
    [
        ("x.permute(0, 2, 1)", "permute"),
        ("nn.Conv1d(in_channels=768)", "Conv1d"),
        ("torch.transpose(x, 1, 2)", "transpose"),
        ("F.pad(x, (0, 0, 0, 3))", "pad"),
        ("x[:, -1, :]", "indexing"),
        ("pooling: mean", "mean pooling"),
        ("rearrange(x, 'b l h -> b h l')", "rearrange"),
        ("h_n", "step"),
    ],
)
def test_op_name(label, op):
    assert op_name(label) == op


def test_context_of_a_changed_lesson_has_no_fixed_stages():
    le = get_lesson("conv1d-without-transpose")
    ctx = lesson_context(le, stages=((8, 16, 32), ERROR))
    assert ctx.fixed == () and ctx.stages == ((8, 16, 32), ERROR)


# ------------------------------------------------------------------------------ a changed lesson's questions


@pytest.mark.parametrize(
    ("lesson", "shape", "expected"),
    [
        ("permute-for-conv1d", [4, 10, 768], [(4, 768, 10), (4, 512, 8)]),
        ("reshape-16-steps-torch", [2, 128, 64], [(2, 16, 512)]),
        ("reshape-16-steps-tf", [2, 128, 64], [ERROR]),  # the article's hard-coded sizes fail on other shapes
        ("conv1d-without-transpose", [2, 5, 768], [ERROR]),
    ],
)
def test_a_changed_shape_gets_the_same_questions_answered_by_its_trace(lesson, shape, expected):
    le = get_lesson(lesson)
    spec = le.spec.replace(shape=shape)
    trace = run_spec(spec)
    stages = quiz.stages_from_trace(trace)
    qs = quiz.questions_for(spec, stages)
    assert [q.label for q in qs] == [q.label for q in quiz.questions(le)]
    assert [q.expected for q in qs] == expected


def test_stages_from_trace_matches_every_lessons_front_matter():
    """The trace-derived answers equal the hand-written ones for every synthetic lesson (the reference)."""
    for le in list_lessons():
        if le.spec.uses_model:
            continue
        assert quiz.stages_from_trace(run_spec(le.spec)) == le.stages, le.name


def test_context_of():
    ctx = Context.of([(2, 3)], ["torch.randn(2, 3)"])
    assert ctx.label(5) == "stage 5"
