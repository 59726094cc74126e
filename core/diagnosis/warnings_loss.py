"""Warnings for a loss step that ran but computes something else than meant.

- ``loss_broadcast``: MSELoss of (N, 1) predictions against (N,) targets broadcasts to (N, N): every prediction is
  compared with every target (torch only warns). Fix: squeeze the predictions to (N,).
- ``nll_raw_logits``: NLLLoss reads log-probabilities (after log_softmax); raw logits (positive values) make it
  ``-x[target]``, which grows without bound. Fix: CrossEntropyLoss (log_softmax + NLLLoss in one).
- ``softmax_before_loss``: CrossEntropyLoss applies log_softmax itself; probabilities from a softmax step go
  through softmax twice and the loss hardly moves. Fix: remove the softmax step (``x.softmax(-1)``,
  ``logits = logits.softmax(-1)``), or give the loss the logits the softmax read (``probs = logits.softmax(-1)``:
  the loss reads ``logits``).
- ``sigmoid_before_loss``: the same for BCEWithLogitsLoss, which applies the sigmoid itself: ``torch.sigmoid(x)`` /
  ``x.sigmoid()`` before it squashes every prediction into (0.5, 0.73). Same fixes.

The loss reads its ``input`` name wherever it was bound; the step that bound it is found by name, not by position.
"""

from __future__ import annotations

from typing import Any

from core.diagnosis.failures_loss import loss_inputs, loss_json
from core.diagnosis.finding_tools import checked, on_input
from core.fixes import Fix
from core.records import Finding, Stage
from core.spec import LossKind, LossStep, Spec


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
                f"applies log_softmax itself), or insert `{_logsoftmax(step.input)}` before NLLLoss.",
                checked(spec, fix, stages[:-1], i),
                step_index=i,
            )
        )
    act = _ACTIVATIONS.get(step.kind)
    soft = _activation_step(spec, stages, step, info, act[0]) if act is not None else None
    if soft is not None:
        out.append(_double_activation(spec, stages, i, step, *soft))
    return out


# the loss that applies an activation itself: (the op a step must not apply before it, the finding's code)
_ACTIVATIONS = {
    LossKind.CROSS_ENTROPY: ("softmax", "softmax_before_loss"),
    LossKind.BCE_WITH_LOGITS: ("sigmoid", "sigmoid_before_loss"),
}


def _double_activation(spec: Spec, stages: list[Stage], i: int, step: LossStep, j: int, root: str) -> Finding:
    """``softmax_before_loss`` / ``sigmoid_before_loss``: step ``j`` applied the activation the loss applies again.
    Fix: remove the step (a bare ``x.softmax(-1)``), or give the loss the logits the step read (``root``)."""
    op, code = _ACTIVATIONS[step.kind]
    if root == step.input:
        fix = checked(spec, Fix(f"remove step {j + 1} ({step.kind.value} applies the {op} itself)", "delete",
                                index=j), stages[:-1], i - 1)  # fmt: skip
    else:
        fix = checked(
            spec,
            Fix(f"give step {i + 1} the logits `{root}` instead of `{step.input}` ({step.kind.value} applies the "
                f"{op} itself)", "replace", index=i, step=loss_json(step, input=root)),
            stages[:-1],
            i,
        )  # fmt: skip
    logits = f" (`{root}`)." if root != step.input else "."
    if op == "softmax":
        msg = (
            f"Step {j + 1} `{spec.steps[j]}` turns the logits into probabilities, and nn.CrossEntropyLoss applies "
            "log_softmax again: softmax twice squeezes every row towards uniform, so the loss hardly moves and "
            "gradients vanish. Give CrossEntropyLoss the raw logits" + logits
        )
    else:
        msg = (
            f"Step {j + 1} `{spec.steps[j]}` turns the logits into probabilities, and nn.BCEWithLogitsLoss applies "
            "the sigmoid again: sigmoid(sigmoid(z)) lies between 0.5 and 0.73, so every prediction reads as a weak "
            "'yes', the loss can hardly move and gradients vanish. Give BCEWithLogitsLoss the raw logits"
            + logits[:-1]
            + " (nn.BCELoss takes probabilities, but is less stable)."
        )
    return Finding(code, msg, fix, step_index=i)


def _broadcast(spec, stages, i, step, logits_shape, target_shape) -> Finding:
    n = logits_shape[0] if logits_shape else 0
    msg = (
        f"nn.{step.kind.value} compared predictions {logits_shape} with targets {target_shape}: the shapes differ, "
        f"so torch broadcast them to {tuple(_broadcast_shape(logits_shape, target_shape))} — every prediction "
        f"against every target ({n} × {n} pairs instead of {n}). The loss is a number, but the wrong one "
        "(torch only warns)."
    )
    fix = None
    if logits_shape[-1:] == (1,) and logits_shape[:-1] == target_shape:
        msg += f" Squeeze the predictions to one value per text: `{step.input}.squeeze(-1)`."
        fix = checked(spec, on_input(spec, i, step.input, "x.squeeze(-1)", ": (N, 1) -> (N,)"), stages[:-1], i + 1)
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


def _activation_step(
    spec: Spec, stages: list[Stage], step: LossStep, info: dict[str, Any], op: str
) -> tuple[int, str] | None:
    """(index, the name it read) of the step that bound the loss's input with ``op``: a softmax over the classes
    (dim 1) or a sigmoid (``torch.sigmoid(x)``, ``x.sigmoid()``, ``F.sigmoid(x)``), when the name it read still
    holds the logits; None otherwise."""
    from core.engine.parse import parse_statement

    book = info.get("book")
    named = book.get(step.input) if book is not None else None
    if named is None or named.stage is None or named.role != "value" or not named.shape:
        return None
    j = stages[named.stage].step_index
    text = spec.steps[j] if j is not None else None
    if not isinstance(text, str):
        return None
    expr = parse_statement(text).expr
    if len(expr.ops) != 1 or expr.ops[0].name != op or expr.root is None:
        return None
    if op == "softmax":
        dim = _literal(expr.ops[0].args[0] if expr.ops[0].args else None)
        ndim = len(named.shape)
        if dim is None or ndim < 2 or dim % ndim != 1:
            return None
    if expr.root != step.input:
        read = book.inputs.get(named.stage, ())
        now = book.get(expr.root)
        was = next((n for n in read if n.name == expr.root), None)
        if now is None or was is None or now.stage != was.stage:
            return None  # rebound since: the logits are gone
    return j, expr.root


def _logsoftmax(name: str) -> str:
    return "x.log_softmax(dim=-1)" if name == "x" else f"{name} = {name}.log_softmax(dim=-1)"


def _literal(arg: Any) -> int | None:
    """An int written in a step (``1``, ``-1``), or None."""
    value = getattr(arg, "value", None)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = getattr(arg, "text", None)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
