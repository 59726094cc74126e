"""The error types of the core.

- ``SpecError``: the spec itself is invalid; nothing ran (CLI exit 2).
- ``ExpressionRefused``: an expression step is outside the safe language or over the memory budget. Refused
  at the first step, nothing ran (CLI exit 2); refused later, the trace keeps the steps before it and records
  the refusal as its error (``ShapeError`` with kind ``"refused"``, CLI exit 1).
- ``ShapeError``: a step could not run on its input (CLI exit 1). Carries the framework's own message,
  where it happened, a plain explanation and a fix (a concrete spec edit, see ``core.fixes``).
- ``BudgetExceeded``: a run predicted over one of the server's budgets (memory, work, model size; see
  ``core.limits``); nothing ran (CLI exit 2).
- ``RunCancelled``: a run stopped at the server's time limit between two units of work (CLI exit 2).
- ``CheckpointError``: a checkpoint could not be loaded (offline, missing, not an encoder, not allowed).
"""

from __future__ import annotations

from typing import Any


class SpecError(ValueError):
    """An invalid spec: unknown key, wrong type, both/neither of texts and shape..."""


class ExpressionRefused(SpecError):
    """An expression outside the whitelist, too long, or predicted over the memory budget.

    Attributes:
        suggestion: the step rewritten in the supported spelling, when a mechanical rewrite exists
            (e.g. ``x.masked_fill_(m, 0)`` -> ``x.masked_fill(m, 0)``), else None.
        step_index: index into ``spec.steps`` of the refused step, when known.
    """

    def __init__(self, message: str, *, suggestion: str | None = None, step_index: int | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion
        self.step_index = step_index


class BudgetExceeded(ExpressionRefused):
    """Predicted over a server budget (memory, work, weights, model size) before anything ran; names the budget."""


class RunCancelled(SpecError):
    """A run stopped at its deadline (or cancelled) between two units of work; the message says where."""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be loaded; the message says why and what to do."""


class ShapeError(Exception):
    """A step that cannot run on its input.

    Attributes:
        message: the framework's own error text (e.g. torch's RuntimeError message).
        step_index: index into ``spec.steps`` (None for pooling / source problems).
        step: the step's source text.
        input_shape: shape of the tensor the step received, e.g. ``(32, 128, 768)``.
        input_axes: axis labels of that tensor, e.g. ``("batch (B)", "tokens (L)", "hidden (H)")``.
        explanation: plain-language cause.
        fix: a ``core.fixes.Fix`` (or None) that, applied to the spec, makes the step run.
        kind: a short category ("conv_channels", "view_stride", ...).
        op_input_shape: shape of the tensor the failing op itself received, set by the evaluator; it differs from
            ``input_shape`` when earlier ops of the same step (or an operand's own chain) changed it, e.g.
            ``(2, 384)`` for ``x.mean(1).view(5, -1)`` on ``(2, 7, 384)``.
        op_source: that op's text (``.view(5, -1)``), set with ``op_input_shape``.
    """

    def __init__(
        self,
        message: str,
        *,
        step_index: int | None = None,
        step: str = "",
        input_shape: tuple[int, ...] | None = None,
        input_axes: tuple[str, ...] | None = None,
        explanation: str = "",
        fix: Any = None,
        kind: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.step_index = step_index
        self.step = step
        self.input_shape = input_shape
        self.input_axes = input_axes
        self.explanation = explanation
        self.fix = fix
        self.kind = kind
        self.op_input_shape: tuple[int, ...] | None = None
        self.op_source = ""

    def __str__(self) -> str:
        where = f"step {self.step_index + 1} `{self.step}`" if self.step_index is not None else (self.step or "step")
        shape = f" on input {tuple(self.input_shape)}" if self.input_shape is not None else ""
        out = f"{where}{shape}: {self.message}"
        if self.explanation:
            out += f"\nCause: {self.explanation}"
        return out
