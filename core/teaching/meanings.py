"""What a wrong answer means: "(32, 128, 768): forgot the permute". Pure; derived from the lesson itself.

A wrong shape usually is a shape that exists somewhere in the lesson — the input of the step (the step was
forgotten), an earlier or later stage, the shape the fixed pipeline gives — or the right sizes in the wrong
order, the right number of elements grouped differently, a tokens count without [CLS]/[SEP], a Conv1d
length without the kernel's shrink, an axis kept or dropped. ``RULES`` is that list, tried in order; each
rule is a small function that returns a sentence or None.

>>> ctx = Context.of(stages=[(32, 128, 768), (32, 768, 128), (32, 512, 126)],
...                  labels=["torch.randn(32, 128, 768)", "x.permute(0, 2, 1)", "nn.Conv1d(768, 512, 3)"])
>>> meaning(ctx, 1, (32, 128, 768))
'forgot the permute: that is its input shape'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import ExpressionRefused, ShapeError, SpecError
from core.teaching.lessons import ERROR, Lesson, StageShape
from core.teaching.quiz import stage_labels

Answer = tuple[int, ...] | str


@dataclass(frozen=True)
class Context:
    """The lesson as the rules see it: the shape after every stage (``"error"`` last when a step fails),
    what runs at each stage, and the fixed pipeline's stages when the lesson has one."""

    stages: tuple[StageShape, ...]
    labels: tuple[str, ...]
    fixed: tuple[StageShape, ...] = ()
    text_source: bool = False  # stage 0 is BERT's output: dim 1 counts word pieces + [CLS] + [SEP]

    @classmethod
    def of(cls, stages: Sequence[StageShape], labels: Sequence[str], fixed: Sequence[StageShape] = (), text=False):
        return cls(tuple(stages), tuple(labels), tuple(fixed), text)

    def label(self, stage: int) -> str:
        return self.labels[stage] if 0 <= stage < len(self.labels) else f"stage {stage}"


def op_name(label: str) -> str:
    """The operation a step label names: ``x.permute(0, 2, 1)`` -> ``permute``, ``nn.Conv1d(…)`` -> ``Conv1d``,
    ``x[:, -1, :]`` -> ``indexing``, ``pooling: mean`` -> ``mean pooling``."""
    if label.startswith("pooling: "):
        return f"{label.removeprefix('pooling: ')} pooling"
    m = re.match(r"\s*nn\.(\w+)", label) or re.search(r"\.(\w+)\(", label) or re.match(r"\s*(\w+)\(", label)
    if m:
        return m.group(1)
    if "[" in label:
        return "indexing"
    return "step"


def _short(label: str, limit: int = 40) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _shape(a: Answer | StageShape) -> tuple[int, ...] | None:
    return a if isinstance(a, tuple) else None


def _fmt(shape: Answer | StageShape) -> str:
    if not isinstance(shape, tuple):
        return "error"
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


# ------------------------------------------------------------------------------------------------ rules
# Each rule: (ctx, stage, given, expected) -> sentence or None. ``given != expected`` always holds.

Rule = Callable[[Context, int, Answer, StageShape], "str | None"]


def _said_error(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    if given == ERROR and exp != ERROR:
        what = "BERT's output always exists" if k == 0 else f"{op_name(ctx.label(k))} runs here"
        return f"expected an error, but {what}: {_fmt(exp)}"
    return None


def _step_fails(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    if exp != ERROR:
        return None
    op = op_name(ctx.label(k))
    if given in ctx.fixed[1:]:
        return f"the fixed version's shape — but as written, {op} fails here"
    if k >= 1 and given == ctx.stages[k - 1]:
        return f"as if {op} did nothing — it fails here"
    return f"thought {op} runs — it fails here"


def _forgot_step(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    if k >= 1 and given == ctx.stages[k - 1]:
        return f"forgot the {op_name(ctx.label(k))}: that is its input shape"
    return None


def _other_stage(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    for j, shape in enumerate(ctx.stages):
        if j == k or shape == ERROR or given != shape:
            continue
        where = "the source" if j == 0 else _short(ctx.label(j))
        if j < k:
            return f"stopped early: that is the shape after {where} (stage {j})"
        return f"jumped ahead: that is the shape after {where} (stage {j})"
    return None


def _fixed_shape(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    if k < len(ctx.fixed) and ctx.fixed[k] != exp and given == ctx.fixed[k]:
        return "the fixed version's shape — this version gives a different one"
    return None


def _tokens(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    g, e = _shape(given), _shape(exp)
    if k != 0 or not ctx.text_source or g is None or e is None or len(g) != len(e) or len(e) < 2:
        return None
    if [d for i, d in enumerate(g) if i != 1] != [d for i, d in enumerate(e) if i != 1]:
        return None
    if g[1] == e[1] - 2:
        return "forgot [CLS] and [SEP]: BERT adds 2 tokens to every text"
    if g[1] < e[1]:
        return "counted words, not word pieces (+ [CLS] and [SEP], padded to the longest text)"
    return "too many tokens: count word pieces + [CLS] + [SEP] of the longest text"


def _order(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    g, e = _shape(given), _shape(exp)
    if g is not None and e is not None and g != e and sorted(g) == sorted(e):
        return "right sizes, wrong order"
    return None


def _conv_length(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    g, e = _shape(given), _shape(exp)
    label = ctx.label(k)
    if g is None or e is None or len(g) != len(e) or op_name(label) != "Conv1d":
        return None
    diff = [i for i, (a, b) in enumerate(zip(g, e)) if a != b]
    if diff == [len(e) - 1] and g[-1] > e[-1]:
        return f"forgot that the kernel shortens the length: L − kernel_size + 1 = {e[-1]} without padding"
    return None


def _numel(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    g, e = _shape(given), _shape(exp)
    if g is not None and e is not None and math.prod(g) == math.prod(e):
        return f"right number of elements ({math.prod(e):,}), grouped differently"
    return None


def _rank(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    g, e = _shape(given), _shape(exp)
    if g is None or e is None or len(g) == len(e):
        return None
    op = op_name(ctx.label(k))
    if len(g) > len(e):
        return f"one axis too many: {op} gives {len(e)} dims, not {len(g)}"
    return f"an axis too few: {op} gives {len(e)} dims, not {len(g)}"


def _one_dim(ctx: Context, k: int, given: Answer, exp: StageShape) -> str | None:
    g, e = _shape(given), _shape(exp)
    if g is None or e is None or len(g) != len(e):
        return None
    diff = [i for i, (a, b) in enumerate(zip(g, e)) if a != b]
    if len(diff) == 1:
        i = diff[0]
        return f"dim {i} is {e[i]}, not {g[i]}"
    return f"dims {', '.join(str(i) for i in diff)} differ"


RULES: tuple[Rule, ...] = (
    _said_error,
    _step_fails,
    _forgot_step,
    _other_stage,
    _fixed_shape,
    _tokens,
    _order,
    _conv_length,
    _rank,
    _numel,
    _one_dim,
)


def meaning(ctx: Context, stage: int, given: Answer) -> str:
    """One sentence on what the answer ``given`` to the question at ``stage`` means; "right" when it is."""
    exp = ctx.stages[stage] if 0 <= stage < len(ctx.stages) else ERROR
    if given == exp:
        return "right"
    for rule in RULES:
        said = rule(ctx, stage, given, exp)
        if said:
            return said
    return "a different shape"  # pragma: no cover - _one_dim / _rank cover every pair of shapes


def fixed_stages(lesson: Lesson) -> tuple[StageShape, ...]:
    """The fixed pipeline's stage shapes, predicted without running (same source as the lesson, no pooling);
    () when the lesson has no fixed version or it cannot be predicted."""
    from core.engine.predict import parse_steps, predict_chain

    fixed = lesson.fixed_spec
    if fixed is None or fixed.pooling.value != "none" or not isinstance(lesson.stages[0], tuple):
        return ()
    if (fixed.texts, fixed.shape) != (lesson.spec.texts, lesson.spec.shape):
        return ()
    try:
        shapes = predict_chain(fixed, parse_steps(fixed), lesson.stages[0])
    except (ExpressionRefused, ShapeError, SpecError):
        return ()
    out: list[StageShape] = [lesson.stages[0], *shapes]
    if len(shapes) < len(fixed.steps):
        out.append(ERROR)
    return tuple(out)


def lesson_context(lesson: Lesson, stages: Sequence[StageShape] | None = None) -> Context:
    """The Context of a lesson (``stages``: of an edited version; default the lesson's own)."""
    labels = [label for label, _ in stage_labels(lesson.spec)]
    own = stages is None or tuple(stages) == lesson.stages
    return Context.of(
        lesson.stages if stages is None else stages,
        labels,
        fixed_stages(lesson) if own else (),
        text=lesson.spec.uses_model,
    )
