"""The teacher's view of a room: per lesson and question, how many answered, the share right, and the most
common wrong answers with what each means (core.teaching.meanings). Pure: takes the store's rows.

>>> from core.room.store import Answer
>>> rows = [Answer(1, "a", "permute-for-conv1d", 1, "(32, 768, 128)", True, 0.0),
...         Answer(1, "b", "permute-for-conv1d", 1, "(32, 128, 768)", False, 0.0)]
>>> q = lesson_results("permute-for-conv1d", rows)[0]
>>> q.answered, q.right, q.wrong[0].answer, q.wrong[0].meaning
(2, 1, '(32, 128, 768)', 'forgot the permute: that is its input shape')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from core.room.store import Answer
from core.teaching import quiz
from core.teaching.lessons import get_lesson, lesson_names
from core.teaching.meanings import lesson_context, meaning

TOP_WRONG = 3


@dataclass(frozen=True)
class WrongAnswer:
    answer: str  # as stored (the canonical form the quiz writes, or whatever text reached the store)
    count: int
    meaning: str


@dataclass(frozen=True)
class QuestionResult:
    lesson: str
    stage: int
    label: str
    expected: str
    answered: int
    right: int
    wrong: tuple[WrongAnswer, ...]

    @property
    def share_right(self) -> float:
        """Right answers / answers, 0.0 when nobody answered."""
        return self.right / self.answered if self.answered else 0.0


def lesson_results(lesson_name: str, answers: Iterable[Answer], top: int = TOP_WRONG) -> list[QuestionResult]:
    """One result per question of the lesson (unanswered ones included, answered 0), in stage order.

    Raises SpecError for an unknown lesson name.
    """
    lesson = get_lesson(lesson_name)
    ctx = lesson_context(lesson)
    per_stage: dict[int, list[Answer]] = {}
    for a in answers:
        if a.lesson == lesson_name:
            per_stage.setdefault(a.stage, []).append(a)
    out = []
    for q in quiz.questions(lesson):
        rows = per_stage.get(q.stage, [])
        wrong = Counter(a.answer for a in rows if not a.correct)
        out.append(
            QuestionResult(
                lesson=lesson_name,
                stage=q.stage,
                label=q.label,
                expected=quiz.format_answer(q.expected),
                answered=len(rows),
                right=sum(a.correct for a in rows),
                wrong=tuple(WrongAnswer(text, n, _meaning(ctx, q.stage, text)) for text, n in wrong.most_common(top)),
            )
        )
    return out


def _meaning(ctx, stage: int, text: str) -> str:
    try:
        given = quiz.parse_answer(text)
    except quiz.AnswerError:
        return "not a shape"
    return meaning(ctx, stage, given)


def room_results(answers: Iterable[Answer]) -> dict[str, list[QuestionResult]]:
    """Results for every lesson that has at least one answer, in teaching order, keyed by lesson name.
    Answers to unknown lessons (removed since, or a hostile name written to the file) are left out."""
    rows = list(answers)
    seen = {a.lesson for a in rows}
    return {name: lesson_results(name, rows) for name in lesson_names() if name in seen}
