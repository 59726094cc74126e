"""Diagnosis hooks called by the trace engine: semantic warnings and explained failures.

- ``spec_findings``: notes on the whole spec (pooling vs checkpoint, truncation).
- ``stage_findings``: warnings after a step that ran but probably means the wrong thing.
- ``explain_failure``: fills a ShapeError's explanation and fix.
"""

from __future__ import annotations

from typing import Any

from core.errors import ShapeError
from core.records import Finding, Stage
from core.spec import Spec


def spec_findings(spec: Spec, ckpt: Any, enc: Any) -> list[Finding]:
    out = []
    if enc is not None and enc.any_truncated:
        cut = sum(enc.truncated)
        out.append(Finding("truncated", f"{cut} token(s) were cut by max_length={spec.max_length}", severity="note"))
    return out


def stage_findings(spec: Spec, stages: list[Stage], step_index: int, step: Any, info: dict[str, Any]) -> list[Finding]:
    return []


def explain_failure(err: ShapeError, spec: Spec, stages: list[Stage], info: dict[str, Any]) -> ShapeError:
    try:
        from core.explain import explain
    except ImportError:  # pragma: no cover
        return err
    ex = explain(err.message, {"input_shape": err.input_shape, "input_axes": err.input_axes, "step": err.step})
    if ex.recognized:
        err.explanation = err.explanation or ex.explanation
        err.kind = err.kind or ex.kind
    return err
