"""Lessons: every lesson file parses, its Spec runs through trace to the shapes it states, the seed
mistakes are detected by the diagnosis as the lessons say, share links round-trip, and the CLI lists
and runs lessons (exit 0 / 1 / 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.errors import SpecError
from core.export.share import spec_from_query, spec_to_query
from core.teaching.lessons import (
    ARTICLES,
    ERROR,
    LESSON_DIR,
    LessonKind,
    LessonPage,
    get_lesson,
    lesson_names,
    lessons_by_article,
    list_lessons,
    parse_lesson,
)
from core.trace import run_spec

ROOT = Path(__file__).resolve().parents[2]
LESSONS = list_lessons()
SYNTHETIC = [x for x in LESSONS if not x.spec.uses_model]
TEXT = [x for x in LESSONS if x.spec.uses_model]
# the seed examples that are wrong as written (issue 7) and the ones found on top
SEED_BUGS = {("000", 3): "pad-then-reshape", ("003", 1): "lstm-return-sequences", ("004", 3): "view-is-not-transpose"}


@pytest.fixture(scope="module")
def bert_base():
    """random:bert-base (hidden 768, random weights): the seeds' sizes; loads in seconds, offline."""
    from core.model.checkpoints import load_checkpoint

    return load_checkpoint("random:bert-base", "cpu")


def trace_of(lesson, bert_base=None):
    ckpt = bert_base if lesson.spec.uses_model and lesson.spec.checkpoint == "random:bert-base" else None
    return run_spec(lesson.spec, checkpoint=ckpt, device="cpu")


def ran_shapes(trace) -> list:
    return [tuple(s.shape) for s in trace.stages] + ([ERROR] if trace.error is not None else [])


# ------------------------------------------------------------------------------------------ the catalogue


def test_every_worked_example_of_the_five_seeds_is_a_lesson():
    seeds = sorted(p.name[:3] for p in (ROOT.parent / "shared" / "seeds").glob("*.txt")) or list(ARTICLES)
    covered = {(x.seed, x.example) for x in LESSONS if not x.extra}
    assert covered == {(s, n) for s in seeds for n in (1, 2, 3)}
    assert len([x for x in LESSONS if not x.extra]) == 15


def test_the_seed_mistakes_are_find_the_bug_lessons():
    for (seed, example), name in SEED_BUGS.items():
        lesson = get_lesson(name)
        assert (lesson.seed, lesson.example, lesson.kind) == (seed, example, LessonKind.FIND_THE_BUG)
    extras = [x for x in LESSONS if x.extra]
    assert extras and all(x.kind is LessonKind.FIND_THE_BUG and x.where_in_seed for x in extras)


def test_names_unique_order_stable_and_grouped_by_article():
    names = lesson_names()
    assert len(names) == len(set(names))
    assert names == [x.name for x in list_lessons()]  # stable
    assert list(lessons_by_article()) == list(ARTICLES)
    order = [(list(ARTICLES).index(x.seed), x.order) for x in LESSONS]
    assert order == sorted(order)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.name)
def test_lesson_file_is_complete(lesson):
    assert lesson.title and len(lesson.title) <= 60
    assert lesson.scenario and lesson.explanation.startswith("## ")
    assert "```json" not in lesson.markdown  # spec blocks are taken out of the text
    assert lesson.kind in LessonKind and lesson.page in LessonPage
    assert lesson.spec.title == lesson.title
    if lesson.kind is LessonKind.FIND_THE_BUG:
        assert lesson.fixed_spec is not None or lesson.expected_error, "a bug lesson shows the fix"
    if lesson.framework != "PyTorch":
        assert "PyTorch" in lesson.scenario  # says that the seed's TensorFlow is reproduced in PyTorch
    if lesson.spec.uses_model and lesson.spec.checkpoint.startswith("random:"):
        assert "random" in lesson.markdown.lower()  # says the weights are random (shapes only)
    if lesson.page is LessonPage.RESHAPE_LAB:
        assert lesson.spec.shape is not None and all(isinstance(s, str) for s in lesson.spec.steps)


# ------------------------------------------------------------------------------------------ specs run


@pytest.mark.parametrize("lesson", SYNTHETIC, ids=lambda x: x.name)
def test_synthetic_lesson_runs_to_its_stated_shapes(lesson):
    trace = trace_of(lesson)
    assert ran_shapes(trace) == list(lesson.stages)
    assert tuple(trace.final.shape) == lesson.expected_shape
    assert (trace.error is not None) == lesson.fails


@pytest.mark.parametrize("lesson", TEXT, ids=lambda x: x.name)
def test_text_lesson_runs_to_its_stated_shapes(lesson, bert_base):
    trace = trace_of(lesson, bert_base)
    assert ran_shapes(trace) == list(lesson.stages)
    assert tuple(trace.final.shape) == lesson.expected_shape
    assert trace.error is None and not lesson.fails
    if lesson.spec.checkpoint == "random:bert-base":
        assert trace.checkpoint.hidden_size == 768 and not trace.checkpoint.real_weights


@pytest.mark.parametrize("lesson", [x for x in LESSONS if x.fixed_spec is not None], ids=lambda x: x.name)
def test_fixed_version_runs(lesson, bert_base):
    trace = run_spec(lesson.fixed_spec, checkpoint=bert_base if lesson.fixed_spec.uses_model else None)
    assert trace.error is None, trace.error
    if lesson.expected_warning and lesson.warning_step:
        stage = next(s for s in trace.stages if s.step_index == lesson.warning_step - 1)
        assert not _matching(stage.warnings, lesson.expected_warning)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.name)
def test_lesson_link_round_trips(lesson):
    for spec in (lesson.spec, lesson.fixed_spec):
        if spec is not None:
            assert spec_from_query(spec_to_query(spec)) == spec


# ------------------------------------------------------------------------------------------ diagnosis


def _matching(findings, fragment: str) -> list:
    f = fragment.lower()
    return [w for w in findings if f in w.code.lower() or f in w.message.lower()]


@pytest.mark.parametrize("lesson", [x for x in SYNTHETIC if x.fails], ids=lambda x: x.name)
def test_failing_lessons_fail_as_stated(lesson):
    err = trace_of(lesson).error
    assert err is not None and err.step_index == len(lesson.stages) - 2
    frag = lesson.expected_error.lower()
    assert frag in err.message.lower() or frag in (err.kind or "").lower()
    assert err.explanation, "the diagnosis explains the failure"


def test_seed_000_example_3_width_6144():
    err = trace_of(get_lesson("pad-then-reshape")).error
    assert "invalid for input of size 3145728" in err.message
    assert "6144" in err.explanation
    assert err.input_shape == (32, 128, 768)


def test_seed_000_prose_divide_is_explained_with_6144():
    err = trace_of(get_lesson("reshape-divide-width")).error
    assert "invalid for input of size 3145728" in err.message and "6144" in err.explanation


def test_seed_003_example_1_return_sequences_is_keras():
    err = trace_of(get_lesson("lstm-return-sequences")).error
    assert "return_sequences" in err.message
    assert "keras" in err.explanation.lower()


def test_seed_004_conv1d_without_transpose_explained():
    err = trace_of(get_lesson("conv1d-without-transpose")).error
    assert "to have 768 channels, but got 128 channels" in err.message
    assert "channels" in err.explanation
    cause_and_fix = err.explanation + (err.fix.description if err.fix is not None else "")
    assert "permute" in cause_and_fix or "transpose" in cause_and_fix


def test_seed_004_example_3_view_is_flagged_on_the_view_step():
    """Needs the diagnosis' semantic warnings: the view gives the transpose's shape with scrambled data."""
    lesson = get_lesson("view-is-not-transpose")
    trace = trace_of(lesson)
    assert trace.error is None
    stage = next(s for s in trace.stages if s.step_index == lesson.warning_step - 1)
    assert stage.warnings, "a warning on the view step"
    assert _matching(stage.warnings, lesson.expected_warning)


@pytest.mark.parametrize("lesson", [x for x in LESSONS if x.expected_warning], ids=lambda x: x.name)
def test_expected_warnings_appear_where_the_lesson_says(lesson, bert_base):
    trace = trace_of(lesson, bert_base)
    pool = trace.warnings
    if lesson.warning_step:
        pool = [w for s in trace.stages if s.step_index == lesson.warning_step - 1 for w in s.warnings]
    assert _matching(pool, lesson.expected_warning), [w.to_dict() for w in trace.warnings]


@pytest.mark.parametrize("lesson", [x for x in LESSONS if x.kind is LessonKind.EXAMPLE], ids=lambda x: x.name)
def test_example_lessons_raise_no_warnings(lesson, bert_base):
    """A correct seed example must not be flagged (no false alarms in a workshop); notes are fine."""
    warnings = [w for w in trace_of(lesson, bert_base).warnings if w.severity != "note"]
    assert not warnings, [w.to_dict() for w in warnings]


# ------------------------------------------------------------------------------------------ loading errors

GOOD = """---
title: T
seed: "000"
example: 1
order: 1
kind: example
page: reshape-lab
stages: [[2, 3], [3, 2]]
expected_shape: [3, 2]
---
Scenario.

## Why

Because.

```json spec
{"shape": [2, 3], "steps": ["x.transpose(0, 1)"]}
```
"""


def test_parse_a_minimal_lesson():
    lesson = parse_lesson("t", GOOD)
    assert lesson.stages == ((2, 3), (3, 2)) and lesson.expected_shape == (3, 2)
    assert lesson.scenario == "Scenario." and lesson.explanation.startswith("## Why")
    assert lesson.spec.steps == ("x.transpose(0, 1)",) and lesson.fixed_spec is None
    assert lesson.where == "Reshaping BERT output for an LSTM — example 1" and not lesson.fails
    assert "seed" not in lesson.where and "000" not in lesson.where


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("Bad Name", GOOD, "lower-case"),
        ("t", GOOD.replace("---\ntitle", "title", 1), "front-matter block"),
        ("t", GOOD.replace("title: T\n", ""), "misses title"),
        ("t", GOOD.replace("order: 1\n", "order: 1\ncolour: red\n"), "unknown front-matter key"),
        ("t", GOOD.replace("kind: example", "kind: demo"), "'demo' is not a valid LessonKind"),
        ("t", GOOD.replace("page: reshape-lab", "page: home"), "'home' is not a valid LessonPage"),
        ("t", GOOD.replace("expected_shape: [3, 2]", "expected_shape: [3, 3]"), "differs from the last stage"),
        ("t", GOOD.replace("[[2, 3], [3, 2]]", "[[2, 3], [3, 2], [3, 2]]"), "the spec has 2 stages"),
        (
            "t",
            GOOD.replace("[[2, 3], [3, 2]]", '[[2, 3], "error"]').replace(": [3, 2]\n", ": [2, 3]\n"),
            "needs expected_error",
        ),
        ("t", GOOD.replace("[[2, 3], [3, 2]]", '["error"]'), "start with the source shape"),
        ("t", GOOD.replace('"steps"', '"stepz"'), "not a valid spec"),
        ("t", GOOD.replace("```json spec", "```json"), "no ```json spec block"),
        ("t", GOOD + '\n```json spec\n{"shape": [1]}\n```\n', "more than one"),
        ("t", GOOD.replace("order: 1", "order: first"), "order is an integer"),
        ("t", GOOD.replace("stages: [[2, 3], [3, 2]]", "stages: [[2, -3], [3, 2]]"), "non-negative integers"),
        ("t", GOOD.replace("title: T", "title T"), "is not 'key: value'"),
    ],
)
def test_broken_lesson_files_fail_with_the_lesson_name(name, text, fragment):
    with pytest.raises(SpecError) as info:
        parse_lesson(name, text)
    assert f"lesson {name!r}" in str(info.value) and fragment in str(info.value)


def test_unknown_lesson_lists_the_valid_names():
    with pytest.raises(SpecError) as info:
        get_lesson("no-such-lesson")
    msg = str(info.value)
    assert "unknown lesson 'no-such-lesson'" in msg
    assert all(name in msg for name in lesson_names())


def test_lesson_files_are_the_lessons():
    assert sorted(p.stem for p in LESSON_DIR.glob("*.md")) == sorted(lesson_names())


# ------------------------------------------------------------------------------------------ CLI


def test_cli_lessons_lists_name_tab_title(capsys):
    assert main(["lessons"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == lesson_names()
    assert all(line.count("\t") == 1 and line.split("\t")[1] == get_lesson(line.split("\t")[0]).title for line in lines)


@pytest.mark.parametrize(
    ("name", "code"), [("reshape-16-steps-tf", 0), ("view-is-not-transpose", 0), ("pad-then-reshape", 1)]
)
def test_cli_trace_lesson_exit_codes(capsys, name, code):
    assert main(["trace", "--lesson", name, "--device", "cpu"]) == code
    out = json.loads(capsys.readouterr().out)
    lesson = get_lesson(name)
    assert [tuple(s["shape"]) for s in out["stages"]] == [s for s in lesson.stages if s != ERROR]
    assert (out["error"] is not None) == lesson.fails


def test_cli_trace_failing_lessons_exit_1(capsys):
    for lesson in SYNTHETIC:
        if lesson.fails:
            assert main(["trace", "--lesson", lesson.name, "--device", "cpu"]) == 1, lesson.name
            assert json.loads(capsys.readouterr().out)["error"]["message"]


def test_cli_unknown_lesson_exit_2_with_the_list(capsys):
    assert main(["trace", "--lesson", "nope"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: unknown lesson 'nope'") and "pad-then-reshape" in captured.err
    assert "Traceback" not in captured.err


def test_python_m_core_lessons_subprocess():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-m", "core", "lessons"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0].split("\t")
    assert first == [LESSONS[0].name, LESSONS[0].title]
