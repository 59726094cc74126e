"""Lessons: the seed articles' worked examples (and their mistakes) as data, one file per lesson.

A lesson file ``core/teaching/lesson_files/<name>.md`` is a front-matter block, markdown, and fenced JSON specs:

    ---
    title: Pad 125 tokens to 128, then reshape
    seed: "000"                 # the seed article (file prefix in shared/seeds/)
    example: 3                  # its worked example (null for a mistake found in the prose)
    extra: false                # true: a mistake beyond the 15 worked examples; "where" then says where
    order: 40                   # teaching order inside the article
    kind: find-the-bug          # example | find-the-bug
    page: reshape-lab           # pipeline | reshape-lab: where "open" takes the learner
    stages: [[32, 125, 768], [32, 128, 768], "error"]   # shape after every stage, "error" where it fails
    expected_shape: [32, 128, 768]                     # the last shape the trace reaches
    expected_error: invalid for input of size 3145728  # fragment of the failing step's message or kind
    expected_warning: ""        # fragment of a warning's code or message (warning_step: 1-based step)
    ---
    What happens (no spoilers) ...

    ## Explanation ...

    ```json spec
    {"shape": [32, 125, 768], "steps": ["F.pad(x, (0, 0, 0, 3))", "x.reshape(32, 16, 125 * 768 // 16)"]}
    ```

    ```json fixed
    {... the corrected pipeline, optional ...}
    ```

Front-matter values are JSON when they parse as JSON, else plain strings. Everything is checked on
load: a broken lesson file fails loudly with its name, never silently.

    >>> get_lesson("pad-then-reshape").stages[-1]
    'error'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.errors import SpecError
from core.spec import Spec

LESSON_DIR = Path(__file__).resolve().parent / "lesson_files"
ERROR = "error"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_BLOCK = re.compile(r"^```json (spec|fixed)\n(.*?)^```\s*$", re.S | re.M)

# The source articles in teaching order (key: the ``seed`` front-matter value, the file prefix in
# shared/seeds/), titled by their idea in our own words: learners see these titles, never the numbers.
ARTICLES: dict[str, str] = {
    "000": "Reshaping BERT output for an LSTM",
    "001": "Feeding BERT's token vectors to an LSTM",
    "002": "Sentence vectors from BERT: [CLS], mean, last four layers",
    "003": "Reshaping an LSTM's output",
    "004": "BERT output into a Conv1d",
}

StageShape = tuple[int, ...] | str  # a shape, or ERROR for the stage that fails


class LessonKind(StrEnum):
    EXAMPLE = "example"
    FIND_THE_BUG = "find-the-bug"

    @property
    def label(self) -> str:
        return {"example": "Example", "find-the-bug": "Find the bug"}[self.value]


class LessonPage(StrEnum):
    """The page that opens a lesson's spec (values are the pages' URL paths)."""

    PIPELINE = "pipeline"
    RESHAPE_LAB = "reshape-lab"

    @property
    def label(self) -> str:
        return {"pipeline": "Pipeline Explorer", "reshape-lab": "Reshape Lab"}[self.value]


@dataclass(frozen=True)
class Lesson:
    """One lesson: a seed scenario as a Spec, what it teaches, and the shapes a learner should predict.

    stages: the shape after every stage of ``spec`` (source, pooling when not "none", each step), with
    ``"error"`` for the stage that fails; the quiz asks for these.
    expected_shape: the shape of the last stage that runs, e.g. ``(32, 16, 6144)``.
    """

    name: str
    title: str
    seed: str
    example: int | None
    order: int
    kind: LessonKind
    page: LessonPage
    spec: Spec
    markdown: str
    expected_shape: tuple[int, ...]
    stages: tuple[StageShape, ...]
    expected_error: str = ""
    expected_warning: str = ""
    warning_step: int | None = None  # 1-based step that must carry expected_warning
    fixed_spec: Spec | None = None
    framework: str = "PyTorch"  # the seed's framework (TensorFlow examples are reproduced in PyTorch)
    extra: bool = False  # a mistake found beyond the article's worked examples (prose, or an example on a batch)
    where_in_seed: str = ""  # e.g. "introduction": where the lesson's material sits in the article

    @property
    def article(self) -> str:
        """The source article's title (its idea, never a file number)."""
        return ARTICLES.get(self.seed, "Other examples")

    @property
    def fails(self) -> bool:
        """The lesson's spec stops at a step that cannot run (CLI exit 1)."""
        return bool(self.stages) and self.stages[-1] == ERROR

    @property
    def where(self) -> str:
        """Where in which article: ``Reshaping BERT output for an LSTM — example 3``, or where an extra lesson's
        mistake sits, e.g. ``Reshaping BERT output for an LSTM — introduction``."""
        return f"{self.article} — {self.part}"

    @property
    def part(self) -> str:
        """``example 3``, or where an extra lesson's mistake sits in its article (``introduction``)."""
        return self.where_in_seed or (f"example {self.example}" if self.example is not None else "the article")

    @property
    def scenario(self) -> str:
        """The markdown before the first ``## `` heading: the setting, no spoilers."""
        head, _, _ = self.markdown.partition("\n## ")
        return head.strip()

    @property
    def explanation(self) -> str:
        """The markdown from the first ``## `` heading on: what it teaches, the bug and the fix."""
        _, sep, tail = self.markdown.partition("\n## ")
        return ("## " + tail).strip() if sep else ""


def list_lessons() -> list[Lesson]:
    """Every lesson in teaching order (seed article, then ``order``)."""
    return list(_load_all())


def lesson_names() -> list[str]:
    return [lesson.name for lesson in _load_all()]


def get_lesson(name: str) -> Lesson:
    """The lesson called ``name``; SpecError listing the valid names otherwise."""
    for lesson in _load_all():
        if lesson.name == name:
            return lesson
    shown = str(name)[:80]
    raise SpecError(f"unknown lesson {shown!r}; valid lessons: {', '.join(lesson_names())}")


def lessons_by_article() -> dict[str, list[Lesson]]:
    """Lessons grouped by seed article, both in teaching order."""
    out: dict[str, list[Lesson]] = {}
    for lesson in _load_all():
        out.setdefault(lesson.seed, []).append(lesson)
    return out


@lru_cache(maxsize=1)
def _load_all() -> tuple[Lesson, ...]:
    lessons = [parse_lesson(p.stem, p.read_text(encoding="utf-8")) for p in sorted(LESSON_DIR.glob("*.md"))]
    seeds = list(ARTICLES)
    lessons.sort(key=lambda x: (seeds.index(x.seed) if x.seed in seeds else len(seeds), x.seed, x.order, x.name))
    return tuple(lessons)


# --------------------------------------------------------------------------------------------- parsing

_REQUIRED = ("title", "seed", "order", "kind", "page", "stages", "expected_shape")
_KNOWN = {
    *_REQUIRED,
    "example",
    "expected_error",
    "expected_warning",
    "warning_step",
    "framework",
    "extra",
    "where",
}


def parse_lesson(name: str, text: str) -> Lesson:
    """Parse one lesson file; SpecError naming the lesson and the problem when anything is off."""

    def fail(msg: str) -> SpecError:
        return SpecError(f"lesson {name!r}: {msg}")

    if not NAME_RE.match(name):
        raise fail("a lesson name is lower-case letters, digits and dashes")
    text = text.replace("\r\n", "\n")
    m = _FRONT.match(text)
    if not m:
        raise fail("the file must start with a front-matter block between '---' lines")
    meta = _front_matter(m.group(1), fail)
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise fail(f"front matter misses {', '.join(missing)}")
    unknown = set(meta) - _KNOWN
    if unknown:
        raise fail(f"unknown front-matter key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_KNOWN))}")
    body = text[m.end() :]
    blocks: dict[str, Spec] = {}
    for label, raw in _BLOCK.findall(body):
        if label in blocks:
            raise fail(f"more than one ```json {label} block")
        try:
            blocks[label] = Spec.from_json(raw)
        except SpecError as e:
            raise fail(f"the {label} block is not a valid spec: {e}") from None
    if "spec" not in blocks:
        raise fail("no ```json spec block")
    markdown = _BLOCK.sub("", body).strip()
    markdown = re.sub(r"\n{3,}", "\n\n", markdown)
    try:
        kind = LessonKind(str(meta["kind"]))
        page = LessonPage(str(meta["page"]))
    except ValueError as e:
        raise fail(str(e)) from None
    stages = tuple(_stage(s, fail) for s in _list(meta["stages"], "stages", fail))
    if not stages or stages[0] == ERROR or ERROR in stages[:-1]:
        raise fail("stages start with the source shape; 'error' may only be the last entry")
    expected_shape = _shape(meta["expected_shape"], "expected_shape", fail)
    ran = [s for s in stages if s != ERROR]
    if expected_shape != ran[-1]:
        raise fail(f"expected_shape {list(expected_shape)} differs from the last stage {list(ran[-1])}")
    expected_error = str(meta.get("expected_error") or "")
    if (stages[-1] == ERROR) != bool(expected_error):
        raise fail("a lesson whose last stage is 'error' needs expected_error, and only such a lesson")
    spec = blocks["spec"]
    n_stages = 1 + (spec.pooling.value != "none") + len(spec.steps)
    if len(stages) != n_stages and not (stages[-1] == ERROR and len(stages) <= n_stages):
        raise fail(f"stages has {len(stages)} entries; the spec has {n_stages} stages")
    example = meta.get("example")
    if example is not None and (isinstance(example, bool) or not isinstance(example, int)):
        raise fail("example is the worked example's number (or null)")
    order = meta["order"]
    if isinstance(order, bool) or not isinstance(order, int):
        raise fail("order is an integer")
    warning_step = meta.get("warning_step")
    if warning_step is not None and (isinstance(warning_step, bool) or not isinstance(warning_step, int)):
        raise fail("warning_step is a 1-based step number")
    title = str(meta["title"]).strip()
    return Lesson(
        name=name,
        title=title,
        seed=str(meta["seed"]),
        example=example,
        order=order,
        kind=kind,
        page=page,
        spec=spec if spec.title else spec.replace(title=title),
        markdown=markdown,
        expected_shape=expected_shape,
        stages=stages,
        expected_error=expected_error,
        expected_warning=str(meta.get("expected_warning") or ""),
        warning_step=warning_step,
        fixed_spec=blocks.get("fixed"),
        framework=str(meta.get("framework") or "PyTorch"),
        extra=meta.get("extra") is True,
        where_in_seed=str(meta.get("where") or ""),
    )


def _front_matter(block: str, fail: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for line in block.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip().isidentifier():
            raise fail(f"front-matter line {line!r} is not 'key: value'")
        value = value.strip()
        try:
            meta[key.strip()] = json.loads(value) if value else None
        except json.JSONDecodeError:
            meta[key.strip()] = value
    return meta


def _list(value: Any, key: str, fail: Any) -> list[Any]:
    if not isinstance(value, list):
        raise fail(f"{key} must be a JSON list")
    return value


def _shape(value: Any, key: str, fail: Any) -> tuple[int, ...]:
    items = _list(value, key, fail)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in items):
        raise fail(f"{key} must be a list of non-negative integers, got {value!r}")
    return tuple(items)


def _stage(value: Any, fail: Any) -> StageShape:
    if value == ERROR:
        return ERROR
    return _shape(value, "a stage", fail)
