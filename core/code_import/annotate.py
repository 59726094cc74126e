"""Run an imported Spec and annotate every line of the code with the shape after it.

    >>> result = trace_code("import torch\\nx = torch.randn(32, 128, 768)\\ny = x.view(32, 768, 128)\\n")
    >>> [(a.line, a.shape) for a in result.lines if a.shape]       # doctest: +SKIP
    [(2, (32, 128, 768)), (3, (32, 768, 128))]

A line shows its stage's own record (shape, axes, warnings); the tokenizer's line shows
``(batch, tokens)``; the line whose step fails carries torch's message, the explanation and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.code_import.importer import import_code
from core.code_import.records import CodeImport, LineNote, LineStatus


@dataclass(frozen=True)
class LineShape:
    """One statement of the code with what the trace found for it.

    stage: index into ``trace.stages`` (None: no stage, not reached, or failed); step: the spec step;
    shape / axes: the value after the line; warnings: the stage's warning messages; error: the failing
    step's ``{"message", "explanation", "fix", "kind"}`` when this line fails; extras: the states of a
    recurrent layer (``h_n (2, 1, 128)``).
    """

    note: LineNote
    stage: int | None = None
    step: int | None = None
    shape: tuple[int, ...] | None = None
    axes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: dict[str, Any] | None = None
    extras: str = ""
    reached: bool = True

    @property
    def line(self) -> int:
        return self.note.line

    @property
    def end_line(self) -> int:
        return self.note.end_line

    @property
    def status(self) -> LineStatus:
        return self.note.status

    @property
    def reason(self) -> str:
        return self.note.reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.note.line,
            "end_line": self.note.end_line,
            "stage": self.stage,
            "step": self.step,
            "status": self.note.status.value,
            "reason": self.note.reason,
            "what": self.note.what,
            "shape": list(self.shape) if self.shape is not None else None,
            "axes": list(self.axes),
            "warnings": list(self.warnings),
            "error": self.error,
            "notes": list(self.note.notes),
        }


@dataclass
class CodeTrace:
    """An import, the trace of its Spec (None when there is nothing to run), and the annotated lines."""

    imported: CodeImport
    trace: Any = None
    lines: list[LineShape] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = self.trace.to_dict() if self.trace is not None else {"stages": [], "warnings": []}
        out["lines"] = [line.to_dict() for line in self.lines]
        out["import"] = {k: v for k, v in self.imported.to_dict().items() if k != "lines"}
        return out


def trace_code(
    source: str,
    checkpoint: str | None = None,
    device: str = "auto",
    ckpt: Any = None,
    imported: CodeImport | None = None,
) -> CodeTrace:
    """Import ``source`` (never run) and run its Spec; SpecError / CheckpointError like ``run_spec``."""
    from core.trace import run_spec

    imported = imported or import_code(source, checkpoint)
    if imported.spec is None:
        return CodeTrace(imported, None, [LineShape(n) for n in imported.lines])
    trace = run_spec(imported.spec, checkpoint=ckpt, device=device)
    return CodeTrace(imported, trace, annotate(imported, trace))


def stage_index(trace: Any, ref: int | str | None) -> int | None:
    """The trace stage a note's ref points at (None when it was not reached)."""
    if ref is None:
        return None
    if ref == "source":
        return 0 if trace.stages else None
    if ref == "pooling":
        found = [s.index for s in trace.stages if s.kind == "pooling"]
        return found[0] if found else (0 if trace.stages else None)
    for s in trace.stages:
        if s.step_index == ref:
            return s.index
    return None


def annotate(imported: CodeImport, trace: Any) -> list[LineShape]:
    """Every note of the import with its stage's shape, axes and warnings, and the failure on its line."""
    err = trace.error
    failed_step = err.step_index if err is not None else None
    fail_line = imported.step_lines.get(failed_step) if failed_step is not None else None
    out = []
    for note in imported.lines:
        if note.what == "print" and note.ref is not None:  # no tensor effect, but shows what it prints
            index = stage_index(trace, note.ref)
            shown = trace.stages[index] if index is not None else None
            out.append(LineShape(note, shape=tuple(shown.shape) if shown else None))
            continue
        if note.status is not LineStatus.STAGE:
            out.append(LineShape(note))
            continue
        step = note.ref if isinstance(note.ref, int) else None
        index = stage_index(trace, note.ref)
        if index is None:
            if step is not None and step == failed_step and note.line == fail_line:
                out.append(LineShape(note, None, step, error=_error(err, imported), reached=True))
            elif note.what == "layer" and step is not None and step == failed_step:
                out.append(LineShape(note, None, step, extras=f"the layer that fails on line {fail_line}"))
            else:
                why = f"not reached: step {failed_step + 1} fails (line {fail_line})" if failed_step is not None else ""
                out.append(LineShape(note, None, step, reached=False, extras=why))
            continue
        stage = trace.stages[index]
        shape, axes = tuple(stage.shape), tuple(stage.axis_labels)
        extras = ""
        if note.what == "tokens":
            shape, axes = shape[:2], axes[:2]
        elif note.what == "state" and stage.extra("h_n") is not None:
            shape = tuple(stage.extra("h_n"))
            axes = ()
        if stage.kind in ("lstm", "gru") and note.what in ("tensor", "layer"):
            extras = " · ".join(f"{k} {tuple(stage.extra(k))}" for k in ("h_n", "c_n") if stage.extra(k) is not None)
        warnings = tuple(w.message for w in stage.warnings) if note.what != "tokens" else ()
        out.append(LineShape(note, index, step, shape, axes, warnings, None, extras))
    return out


def _error(err: Any, imported: CodeImport) -> dict[str, Any]:
    """The failing step's error for its line; the fix in the code's own names (``core.code_import.code_fix``)."""
    from core.code_import.code_fix import fix_text

    return {
        "kind": err.kind,
        "message": err.message,
        "explanation": err.explanation,
        "fix": fix_text(imported, err.fix) if err.fix is not None else None,
    }
