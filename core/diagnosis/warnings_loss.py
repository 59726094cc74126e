"""Warnings for a loss step that ran but computes something else than meant.

- ``loss_broadcast``: MSELoss of (N, 1) predictions against (N,) targets broadcasts to (N, N): every prediction is
  compared with every target (torch only warns). Fix: squeeze the predictions to (N,).
- ``nll_raw_logits``: NLLLoss reads log-probabilities (after log_softmax); raw logits (positive values) make it
  ``-x[target]``, which grows without bound. Fix: CrossEntropyLoss (log_softmax + NLLLoss in one).
- ``softmax_before_loss``: CrossEntropyLoss applies log_softmax itself; probabilities from a softmax step go
  through softmax twice and the loss hardly moves. Fix: remove the softmax step.
"""

from __future__ import annotations

import re
from typing import Any

from core.diagnosis.failures_loss import loss_inputs, loss_json
from core.diagnosis.finding_tools import checked
from core.fixes import Fix
from core.records import Finding, Stage
from core.spec import LossKind, LossStep, Spec

_SOFTMAX = re.compile(r"^(?:x\.softmax\(|torch\.softmax\(x,|F\.softmax\(x,)\s*(?:dim=)?-?\d+\)$")


def loss_findings(spec: Spec, stages: list[Stage], i: int, step: LossStep, info: dict[str, Any]) -> list[Finding]:
    stage = stages[-1]
    out: list[Finding] = []
    warned = stage.extra("torch_warnings") or ()
    logits_shape, target_shape = tuple(stage.extra("logits") or ()), tuple(stage.extra("target") or ())
    if any("target size" in w for w in warned):
        out.append(_broadcast(spec, stages, i, step, logits_shape, target_shape))
    pair = loss_inputs(spec, i, step, info.get("env") or {})
    if pair is None:
        return out
    logits, _ = pair
    if step.kind is LossKind.NLL and logits.is_floating_point() and bool((logits > 0).any()):
        fix = Fix(
            f"use nn.CrossEntropyLoss in step {i + 1} (log_softmax and NLLLoss in one)",
            "replace",
            index=i,
            step=loss_json(step, kind=LossKind.CROSS_ENTROPY),
        )
        out.append(
            Finding(
                "nll_raw_logits",
                f"nn.NLLLoss reads log-probabilities (the output of log_softmax, all ≤ 0), but its input has "
                f"positive values up to {float(logits.max()):.3g}: raw logits. NLLLoss then is just −logit[target], "
                "which training can push to −∞ by growing one logit. Use nn.CrossEntropyLoss on the logits (it "
                "applies log_softmax itself), or insert `x.log_softmax(dim=-1)` before NLLLoss.",
                checked(spec, fix, stages[:-1], i),
                step_index=i,
            )
        )
    prev_step = spec.steps[i - 1] if i > 0 else None
    if (
        step.kind is LossKind.CROSS_ENTROPY
        and step.input == "x"
        and isinstance(prev_step, str)
        and _SOFTMAX.match(prev_step.replace(" ", "").replace(",dim", ", dim").replace(",-", ", -"))
    ):
        fix = Fix(f"remove step {i} (CrossEntropyLoss applies the softmax itself)", "delete", index=i - 1)
        out.append(
            Finding(
                "softmax_before_loss",
                f"Step {i} `{prev_step}` turns the logits into probabilities, and nn.CrossEntropyLoss applies "
                "log_softmax again: softmax twice squeezes every row towards uniform, so the loss hardly moves and "
                "gradients vanish. Give CrossEntropyLoss the raw logits.",
                checked(spec, fix, stages[:-1], i - 1),
                step_index=i,
            )
        )
    return out


def _broadcast(spec, stages, i, step, logits_shape, target_shape) -> Finding:
    n = logits_shape[0] if logits_shape else 0
    msg = (
        f"nn.{step.kind.value} compared predictions {logits_shape} with targets {target_shape}: the shapes differ, "
        f"so torch broadcast them to {tuple(_broadcast_shape(logits_shape, target_shape))} — every prediction "
        f"against every target ({n} × {n} pairs instead of {n}). The loss is a number, but the wrong one "
        "(torch only warns)."
    )
    fix = None
    if logits_shape[-1:] == (1,) and logits_shape[:-1] == target_shape and step.input == "x":
        msg += " Squeeze the predictions to one value per text: `x.squeeze(-1)`."
        fix = checked(
            spec,
            Fix(f"insert `x.squeeze(-1)` before step {i + 1}: (N, 1) -> (N,)", "insert", index=i, step="x.squeeze(-1)"),
            stages[:-1],
            i + 1,
        )
    elif target_shape[-1:] == (1,) and target_shape[:-1] == logits_shape and isinstance(step.target, str):
        new = f"{step.target}.squeeze(-1)"
        msg += f" Squeeze the targets: `{new}`."
        fix = checked(
            spec, Fix(f"compare with `{new}`", "replace", index=i, step=loss_json(step, target=new)), stages[:-1], i
        )
    return Finding("loss_broadcast", msg, fix, step_index=i)


def _broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> list[int]:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    return [max(x, y) for x, y in zip(a, b)]
