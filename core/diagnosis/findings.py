"""Diagnosis hooks called by the trace engine: semantic warnings and explained failures.

- ``spec_findings``: notes on the whole spec (truncation, random weights, pooling vs checkpoint) — ``warnings_spec``.
- ``stage_findings``: warnings after a step that ran but probably means the wrong thing, e.g.
  ``x.view(32, 768, 128)`` on (B, L, H): the shape of ``x.permute(0, 2, 1)``, scrambled data. Each family of
  warnings is one module: ``warnings_reshape`` and ``warnings_indexing`` look at each op of an expression step,
  ``warnings_layers`` at a layer step. A new family is a new module plus one entry in ``OP_WARNINGS`` or
  ``LAYER_WARNINGS``.
- ``explain_failure``: fills a ShapeError's explanation and its fix — ``failures``.

Every Fix offered is checked before it is offered: applied to the spec, the shapes are predicted
again (``core.engine.predict.predict_chain``) and must get past the step it repairs (``finding_tools.checked``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.diagnosis import (
    warnings_batch,
    warnings_indexing,
    warnings_initial_states,
    warnings_layers,
    warnings_loss,
    warnings_reduce,
    warnings_reshape,
    warnings_states,
)
from core.diagnosis.failures import explain_failure
from core.diagnosis.finding_tools import OpSite, op_sites
from core.diagnosis.warnings_spec import spec_findings
from core.records import Finding, Stage
from core.spec import LayerStep, LossStep, Spec

__all__ = ["LAYER_WARNINGS", "LOSS_WARNINGS", "OP_WARNINGS", "explain_failure", "spec_findings", "stage_findings"]

OP_WARNINGS: tuple[Callable[[OpSite], list[Finding]], ...] = (
    warnings_batch.op_findings,  # the batch axis mixed with another (h_n.view(B, -1)) or dropped (h_n[:, -2, :])
    warnings_reshape.op_findings,  # reshape/view/flatten/unflatten that scrambles or cuts an axis
    warnings_indexing.op_findings,  # x[:, -1] on a padded batch or a bidirectional output; what an index took
    warnings_states.op_findings,  # h_n[-1] of a bidirectional LSTM, h_n on a padded batch; which layer was taken
    warnings_reduce.op_findings,  # mean / max / sum over a padded token axis without the mask
)
"""Rules run on every op of an expression step, in this order; each returns [] for ops it does not judge."""

LAYER_WARNINGS: tuple[Callable[[Spec, list[Stage], int, LayerStep], list[Finding]], ...] = (
    warnings_layers.layer_findings,  # batch_first, unbatched sequences, Conv1d over hidden
    warnings_initial_states.layer_findings,  # h0 / c0 built with the batch size as a number
)
"""Rules run on a layer step: ``(spec, stages, step_index, step) -> findings``."""

LOSS_WARNINGS: tuple[Callable[[Spec, list[Stage], int, LossStep, dict[str, Any]], list[Finding]], ...] = (
    warnings_loss.loss_findings,  # a loss that broadcast, NLLLoss on raw logits, BCE targets that are not 0/1
)
"""Rules run on a loss step: ``(spec, stages, step_index, step, info) -> findings``."""


def stage_findings(spec: Spec, stages: list[Stage], step_index: int, step: Any, info: dict[str, Any]) -> list[Finding]:
    """Warnings (and notes) for the step that just ran; ``stages[-1]`` is its stage, ``stages[-2]`` its input."""
    if len(stages) < 2:
        return []
    try:
        if isinstance(step, str):
            return [
                f for site in op_sites(spec, stages, step_index, step, info) for rule in OP_WARNINGS for f in rule(site)
            ]
        if isinstance(step, LayerStep):
            return [f for rule in LAYER_WARNINGS for f in rule(spec, stages, step_index, step)]
        if isinstance(step, LossStep):
            return [f for rule in LOSS_WARNINGS for f in rule(spec, stages, step_index, step, info)]
    except Exception:  # a diagnosis rule must never break a trace that ran
        return []
    return []
