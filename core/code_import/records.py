"""Records of a code import: what each line of the pasted code became, and the Spec it gave.

Every statement of the paste gets exactly one ``LineNote``: it produced a stage, it has no tensor effect
(imports, prints, ``model.eval()``, comments, sizes), or it was not understood (with the reason). Nothing
is skipped silently.

    >>> LineNote(3, 3, LineStatus.NO_EFFECT, "import").to_dict()["status"]
    'no tensor effect'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import SpecError
from core.spec import Spec


class LineStatus(StrEnum):
    """What a statement of the paste became (the CLI's ``lines[].status``)."""

    STAGE = "stage"
    NO_EFFECT = "no tensor effect"
    NOT_UNDERSTOOD = "not understood"


class CodeRefused(SpecError):
    """The paste as a whole is refused (too large, too deep, not Python) or holds nothing to trace.

    A ``SpecError``: nothing ran, the CLI exits 2 with this one-line message.
    """


@dataclass(frozen=True)
class LineNote:
    """One statement (``line``..``end_line``, 1-based) of the paste.

    ref: where its tensor lives in the Spec: ``"source"``, ``"pooling"`` or a step index (int); None when
    it made no tensor. what: how the line's own value relates to that stage — ``"tensor"`` (the stage's
    tensor itself), ``"tokens"`` (the tokenizer's ``(batch, tokens)`` ids and mask), ``"layer"`` (the line
    builds a layer that the stage runs), ``"part"`` (one line of an idiom the stage computes as a whole).
    notes: translations and substitutions made on this line (TensorFlow → torch, checkpoint → preset).
    """

    line: int
    end_line: int
    status: LineStatus
    reason: str = ""
    ref: int | str | None = None
    what: str = "tensor"
    notes: tuple[str, ...] = ()
    refs: tuple[int | str, ...] = ()  # every stage the line produced (a helper called twice, a loop)

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "end_line": self.end_line,
            "status": self.status.value,
            "reason": self.reason,
            "ref": self.ref,
            "what": self.what,
            "notes": list(self.notes),
        }


Span = tuple[int, int, int, int]  # (line, col, end_line, end_col): 1-based lines, 0-based character columns


@dataclass(frozen=True)
class StepSite:
    """Where a spec step lives in the code, so a fix to the step can be written back into the code.

    value: the span of the expression that is the step, when its statement makes this step only;
    first: the step is the first one its statement makes (a new statement may go before it);
    target: the single name the statement assigns; names: the user's name for each spec name the step
    reads (``x`` → ``bert_output``); layer_args: for a layer step, each constructor parameter written in
    the code with the span of its value and whether it is a keyword; call: the constructor call's span.
    """

    line: int
    end_line: int
    indent: int
    value: Span | None = None
    first: bool = True
    target: str | None = None
    names: tuple[tuple[str, str], ...] = ()
    layer_args: tuple[tuple[str, Span, bool], ...] = ()
    call: Span | None = None


@dataclass(frozen=True)
class CodeImport:
    """The result of importing pasted code: a Spec (or None) and one note per statement.

    checkpoint_named: the checkpoint the code loads (e.g. ``bert-base-uncased``), or None;
    checkpoint_choices: (spec checkpoint, label) pairs the user may pick instead, the one used first;
    notes: paste-level notes (translations, assumptions), in the order they arose.
    """

    source: str
    spec: Spec | None
    lines: tuple[LineNote, ...]
    checkpoint_named: str | None = None
    checkpoint_choices: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    framework: str = "PyTorch"
    step_lines: dict[int, int] = field(default_factory=dict)  # step index -> the line that made it
    problem: str = ""  # why there is no Spec (nothing usable)
    step_names: dict[int, str] = field(default_factory=dict)  # step index -> the spec names it binds
    sites: dict[int, StepSite] = field(default_factory=dict)  # step index -> where it is in the code
    checkpoint_override: str | None = None  # the checkpoint asked for instead of the code's

    @property
    def usable(self) -> bool:
        return self.spec is not None

    @property
    def not_understood(self) -> list[LineNote]:
        return [n for n in self.lines if n.status is LineStatus.NOT_UNDERSTOOD]

    def note_at(self, line: int) -> LineNote | None:
        """The note of the statement covering 1-based ``line``."""
        for n in self.lines:
            if n.line <= line <= n.end_line:
                return n
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict() if self.spec is not None else None,
            "checkpoint_named": self.checkpoint_named,
            "checkpoint_choices": [{"checkpoint": c, "label": label} for c, label in self.checkpoint_choices],
            "framework": self.framework,
            "notes": list(self.notes),
            "lines": [n.to_dict() for n in self.lines],
        }
