"""Predict-the-shape quizzes: questions from a lesson, answer parsing (never eval) and scoring. Pure.

>>> parse_answer("32x16x6144"), parse_answer("(32, 16, 6144)"), parse_answer("[32 16 6144]")
((32, 16, 6144), (32, 16, 6144), (32, 16, 6144))
>>> parse_answer("Error")
'error'
>>> check(Question(1, "x.reshape(32, 16, -1)", (32, 16, 6144)), "32, 16, 6144").correct
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.spec import Spec, step_source
from core.teaching.lessons import ERROR, Lesson, StageShape

MAX_ANSWER_CHARS = 200
MAX_DIMS = 8
MAX_DIM = 10**12
# words a learner may type for "this step fails"
ERROR_WORDS = frozenset(
    {"error", "err", "fails", "fail", "failure", "crash", "crashes", "exception", "raises", "runtimeerror", "typeerror"}
)
_WRAPPER = re.compile(r"^(?:torch\.)?size\s*", re.I)
_SEPARATORS = re.compile(r"[\s,x×*]+", re.I)
_BRACKETS = "()[]{}"

Answer = tuple[int, ...] | str  # a shape, or ERROR


class AnswerError(ValueError):
    """An answer that is not a shape: the message says what was expected."""


@dataclass(frozen=True)
class Question:
    """Predict the shape after stage ``stage`` (an index into the trace's stages).

    label: what runs at that stage, e.g. ``x.permute(0, 2, 1)``; expected: the shape or ``"error"``.
    """

    stage: int
    label: str
    expected: StageShape
    hint: str = ""


@dataclass(frozen=True)
class Verdict:
    correct: bool
    given: Answer
    expected: StageShape
    message: str


@dataclass(frozen=True)
class Score:
    correct: int
    answered: int
    total: int

    @property
    def done(self) -> bool:
        return self.total > 0 and self.answered >= self.total

    @property
    def percent(self) -> int:
        return round(100 * self.correct / self.answered) if self.answered else 0

    def __str__(self) -> str:
        rest = "" if self.done else f" ({self.total - self.answered} to go)"
        return f"{self.correct}/{self.answered} right{rest}"


def parse_answer(text: str) -> Answer:
    """A typed shape -> tuple of ints, or ``"error"``. Accepts ``32, 16, 6144`` / ``(32,16,6144)`` /
    ``32x16x6144`` / ``32×16×6144`` / ``[32 16 6144]`` / ``torch.Size([32, 16, 6144])`` / ``error``.

    Raises AnswerError with a hint for anything else (never evaluates the text).
    """
    raw = str(text).strip()
    if not raw:
        raise AnswerError("type a shape such as 32, 16, 6144 — or 'error' if the step fails")
    if len(raw) > MAX_ANSWER_CHARS:
        raise AnswerError(f"that answer is longer than {MAX_ANSWER_CHARS} characters; a shape is a few numbers")
    low = raw.lower().rstrip(".!")
    if low in ERROR_WORDS:
        return ERROR
    body = _WRAPPER.sub("", raw).strip()
    while body and body[0] in _BRACKETS:
        body = body[1:].strip()
    while body and body[-1] in _BRACKETS:
        body = body[:-1].strip()
    parts = [p for p in _SEPARATORS.split(body) if p]
    if not parts:
        return ()
    bad = [p for p in parts if not p.isascii() or not p.isdigit()]
    if bad:
        raise AnswerError(
            f"{bad[0]!r} is not a size: write whole numbers separated by commas, spaces or x "
            "(e.g. 32, 16, 6144) — or 'error' if the step fails"
        )
    if len(parts) > MAX_DIMS:
        raise AnswerError(f"{len(parts)} dimensions? These tensors have at most {MAX_DIMS}")
    dims = tuple(int(p) for p in parts)
    if any(d > MAX_DIM for d in dims):
        raise AnswerError("one of those sizes is far larger than any tensor here")
    return dims


def format_answer(answer: Answer | StageShape) -> str:
    """``(32, 16, 6144)`` or ``error``."""
    if answer == ERROR or isinstance(answer, str):
        return ERROR
    return "(" + ", ".join(str(d) for d in answer) + ("," if len(answer) == 1 else "") + ")"


def check(question: Question, text: str) -> Verdict:
    """Compare a typed answer with the question's expected shape. Raises AnswerError when unparseable."""
    given = parse_answer(text)
    exp = question.expected
    if given == exp:
        msg = "Right: this step fails." if exp == ERROR else f"Right: {format_answer(exp)}."
        return Verdict(True, given, exp, msg)
    if exp == ERROR:
        msg = "Not quite: this step cannot run."
    elif given == ERROR:
        msg = f"Not quite: this step runs and gives {format_answer(exp)}."
    else:
        assert isinstance(given, tuple) and isinstance(exp, tuple)
        if len(given) != len(exp):
            why = f"{len(given)} dims instead of {len(exp)}"
        else:
            wrong = [str(i) for i, (a, b) in enumerate(zip(given, exp)) if a != b]
            why = f"dim {', '.join(wrong)} differ{'s' if len(wrong) == 1 else ''}"
        msg = f"Not quite: it is {format_answer(exp)} — {why}."
    return Verdict(False, given, exp, msg)


def stage_labels(spec: Spec) -> list[tuple[str, str]]:
    """(what runs, hint) for every stage of ``spec``: the source, the pooling when not "none", each step."""
    labels: list[tuple[str, str]] = []
    if spec.uses_model:
        n = len(spec.texts or ())
        labels.append(
            (
                f"BERT output (last_hidden_state) for {n} text{'s' if n != 1 else ''}",
                "(batch, tokens, hidden): tokens = word pieces + [CLS] + [SEP], padded to the longest text",
            )
        )
    else:
        labels.append((f"torch.randn{tuple(spec.shape or ())}", ""))
    if spec.pooling.value != "none":
        labels.append((f"pooling: {spec.pooling.value}", "one vector per text"))
    labels.extend((step_source(s), "") for s in spec.steps)
    return labels


def questions_for(spec: Spec, stages: Sequence[StageShape]) -> list[Question]:
    """One question per stage after the source (for a text spec the source's token count is asked too).

    ``stages``: the shape after every stage, ``"error"`` last when a step fails — a lesson's front matter,
    or ``stages_from_trace`` of an edited spec.
    """
    out = []
    for i, (expected, (label, hint)) in enumerate(zip(stages, stage_labels(spec))):
        if i == 0 and not spec.uses_model:
            continue  # the synthetic source shape is given
        out.append(Question(i, label, expected, hint))
    return out


def questions(lesson: Lesson) -> list[Question]:
    """The lesson's questions, answered by its front matter's ``stages``."""
    return questions_for(lesson.spec, lesson.stages)


def stages_from_trace(trace: Any) -> tuple[StageShape, ...]:
    """The shape after every stage a trace reached, then ``"error"`` when a step failed."""
    shapes: list[StageShape] = [tuple(s.shape) for s in trace.stages]
    if trace.error is not None:
        shapes.append(ERROR)
    return tuple(shapes)


def score(results: Mapping[int, bool], total: int) -> Score:
    """Score from ``{stage: correct}`` of the answered questions."""
    return Score(sum(1 for ok in results.values() if ok), len(results), total)
