"""Whole-chain shape prediction: parse every step, predict every shape on meta tensors, check the budgets.

Nothing here runs a tensor op on data: the trace (and diagnosis, to check a fix) ask it first, so a refused or
over-budget pipeline is stopped before BERT or any layer runs. Expression steps run on ``meta`` tensors (torch
computes the shapes); layers are predicted by formula (an LSTM on meta is slow). Names bound by a step
(``w = ...``, a layer's ``output``) are available to the steps after it. The prediction stops honestly at the
first step torch would reject, and at a step whose shape depends on values (``x[mask.bool()]``).

    >>> spec = Spec.from_dict({"shape": [32, 128, 768], "steps": ["x.transpose(1, 2)"]})
    >>> predict_chain(spec, parse_steps(spec), (32, 128, 768))     # (b, l, h) -> (b, h, l)
    [(32, 768, 128)]
"""

from __future__ import annotations

from typing import Any

import torch

from core.engine.evaluate import MAX_NUMEL, DataDependent, first
from core.engine.expr import Statement, meta_env, parse_statement, predict_statement, unpack
from core.engine.layers import check_layer_budget, parameter_count, predict_layer, resolved_params
from core.engine.losses import labels_tensor, predict_loss
from core.engine.retention import Retention, chain_transients, drop_unread
from core.errors import BudgetExceeded, ExpressionRefused, ShapeError
from core.limits import RECURRENT_COST
from core.spec import LayerKind, LayerStep, LossStep, Spec

StepKey = int | tuple[int, str]


def _refused(i: int, text: str, e: ExpressionRefused) -> ExpressionRefused:
    inner = str(e)
    return ExpressionRefused(f"step {i + 1} `{text[:80]}` refused: {inner}", suggestion=e.suggestion, step_index=i)


def parse_steps(spec: Spec) -> dict[StepKey, Statement]:
    """Parse every expression step (and LSTM/GRU ``h0`` / ``c0``) up front; a refused one raises with its step
    number (``ExpressionRefused.step_index``). Keys: the step index, or ``(index, "h0")`` for a state."""
    parsed, refusal = parse_prefix(spec)
    if refusal is not None:
        raise refusal
    return parsed


def parse_prefix(spec: Spec) -> tuple[dict[StepKey, Statement], ExpressionRefused | None]:
    """The parsed steps before the first refused one, and that refusal (None when all parse)."""
    parsed: dict[StepKey, Statement] = {}
    for i, step in enumerate(spec.steps):
        texts: list[tuple[StepKey, str]] = []
        if isinstance(step, str):
            texts = [(i, step)]
        elif isinstance(step, LossStep):
            texts = [((i, "target"), step.target)] if isinstance(step.target, str) else []
        else:
            texts = [((i, key), getattr(step, key)) for key in ("h0", "c0") if getattr(step, key) is not None]
        for key, text in texts:
            try:
                parsed[key] = parse_statement(text)
            except ExpressionRefused as e:
                return parsed, _refused(i, text, e)
            if not isinstance(key, int) and parsed[key].targets is not None:
                return parsed, ExpressionRefused(
                    f"step {i + 1}: `{key[1]}` must be an expression, e.g. "
                    + ("labels.view(-1)" if key[1] == "target" else "torch.zeros(1, x.size(0), 64)"),
                    step_index=i,
                )
    return parsed, None


def reads_after(spec: Spec, exprs: dict[StepKey, Statement]) -> list[set[str]]:
    """For each step, the names some later step reads (so the names outside it can be let go)."""
    from core.engine.parse import names_read

    reads: list[set[str]] = []
    for i, step in enumerate(spec.steps):
        if isinstance(step, str):
            reads.append(names_read(exprs[i]) if i in exprs else set())
            continue
        got = {step.input}
        for key in ("h0", "c0", "target"):
            if (i, key) in exprs:
                got |= names_read(exprs[(i, key)])
        if isinstance(step, LossStep) and step.target == "labels":
            got.add("labels")
        reads.append(got)
    later: list[set[str]] = []
    seen: set[str] = set()
    for r in reversed(reads):
        later.append(set(seen))
        seen |= r
    return list(reversed(later))


def source_env(spec: Spec, shape: tuple[int, ...], tokens: tuple[int, int] | None = None) -> dict[str, Any]:
    """Shapes of the names a pipeline starts with: ``x``, ``lengths`` (b,), ``mask`` / ``attention_mask`` and, for
    texts, ``input_ids`` (b, l). ``tokens`` is (batch, seq_len) when known (texts), else read from the source."""
    if tokens is None and spec.shape is not None:
        tokens = (spec.shape[0], spec.shape[1]) if len(spec.shape) >= 2 else None
    elif tokens is None and spec.pooling.value == "none" and len(shape) >= 2:
        tokens = (shape[0], shape[1])  # texts, unpooled: x is (B, L, H)
    env: dict[str, Any] = {"x": tuple(shape), "lengths": tuple(shape[:1])}
    if tokens is not None:
        env.update(mask=tokens, attention_mask=tokens, lengths=tokens[:1])
        if spec.uses_model:
            env["input_ids"] = tokens
    if spec.labels is not None:
        env["labels"] = labels_tensor(spec.labels)  # a small real tensor: meta_env keeps its dtype
    return env


def predict_chain(
    spec: Spec,
    exprs: dict[Any, Statement],
    shape: tuple[int, ...],
    max_numel: int = MAX_NUMEL,
    env: dict[str, Any] | None = None,
    retention: Retention | None = None,
) -> list[tuple[int, ...]]:
    """Shape of each step's stage, predicted without running; stops at the first step torch would reject, at a
    data-dependent one, and at a step not in ``exprs`` (refused at parse).

    ``env`` gives the starting names (see ``source_env``; derived from ``spec`` and ``shape`` when None).
    ``retention`` (``core.engine.retention``): count the bytes the run would hold at once, step by step, the
    stages kept for display included, and the run's work, and refuse (BudgetExceeded) above their limits: the
    memory budget is per pipeline, not per op.
    Raises ExpressionRefused (with ``step_index``) when a predicted result is over the memory budget or a step
    reads a name that is not defined.
    """
    names = meta_env(env if env is not None else source_env(spec, shape))
    mask, attention = names.get("mask"), names.get("attention_mask")
    if mask is not None and attention is not None and mask.shape == attention.shape:
        names["attention_mask"] = mask  # one tensor under two names, as the run binds them
    if retention is not None:
        retention.add_stage(names["x"], names, "the source")
        later = reads_after(spec, exprs)
    out: list[tuple[int, ...]] = []
    for i, step in enumerate(spec.steps):
        where = f"step {i + 1}"
        try:
            if isinstance(step, str):
                if i not in exprs:
                    break
                run = predict_statement(exprs[i], names, max_numel)
                if retention is not None:  # inside the step: each op's input and output (intermediates released)
                    root = exprs[i].expr.root
                    start = names.get(root) if root is not None else None
                    for pair in chain_transients(start, [v for _, v in run.results]):
                        retention.check(names, pair, where)
                names.update(run.binds)
                new = tuple(first(run.value).shape)
                stage_value = first(run.value)
            elif isinstance(step, LossStep):
                got = _predict_loss(i, step, names, exprs, max_numel)
                if got is None:
                    break
                new, stage_value = got, names["loss"]
            else:
                got = _predict_layer(i, step, names, exprs, max_numel, retention)
                if got is None:
                    break
                new, stage_value = got
            if retention is not None:
                drop_unread(names, later[i], retention.keep_for_display)
                retention.add_stage(stage_value, names, where)
        except (ShapeError, DataDependent):
            break
        except ExpressionRefused as e:  # keeps the class: BudgetExceeded stays a budget refusal
            raise type(e)(
                str(e) if str(e).startswith("step ") else f"step {i + 1} `{str(step)[:80]}` refused: {e}",
                suggestion=e.suggestion,
                step_index=i,
            ) from None
        out.append(new)
    return out


def _predict_layer(
    i: int,
    step: LayerStep,
    names: dict[str, Any],
    exprs: dict[Any, Statement],
    max_numel: int,
    retention: Retention | None = None,
) -> tuple[tuple[int, ...], Any] | None:
    if step.input not in names:
        raise ExpressionRefused(f"`{step.input}` is not defined here; available: {', '.join(sorted(names))}")
    shape = tuple(names[step.input].shape)
    pred = predict_layer(step, shape)
    if pred is None:
        return None
    try:
        _, flops = check_layer_budget(i, step, shape, pred.shape, max_numel)  # elements, weights, work of the step
        if retention is not None:  # and the run's work so far
            recurrent = step.kind in (LayerKind.LSTM, LayerKind.GRU)
            retention.add_work(flops * (RECURRENT_COST if recurrent else 1), f"step {i + 1}")
    except BudgetExceeded as e:
        raise BudgetExceeded(str(e), step_index=i) from None
    extras = dict(pred.extras)
    for key in ("h0", "c0"):
        if (i, key) in exprs:
            state = predict_statement(exprs[(i, key)], names, max_numel).value
            want = extras.get("h_n" if key == "h0" else "c_n")
            if tuple(first(state).shape) != tuple(want or ()):
                return None  # torch rejects it at run time with its own message
    out = torch.empty(pred.shape, device="meta")
    states = {k: torch.empty(v, device="meta") for k, v in extras.items() if k in ("h_n", "c_n")}
    if retention is not None:  # while it runs: input, weights, output and states
        weights = torch.empty(parameter_count(step.kind, resolved_params(step, shape)), device="meta")
        retention.check(names, [names[step.input], weights, out, *states.values()], f"step {i + 1}")
    names.update(states)
    names.update(layer_binds(step, out, states))
    return pred.shape, out


def layer_binds(step: LayerStep, out: Any, states: dict[str, Any]) -> dict[str, Any]:
    """The names a layer step binds besides ``h_n`` / ``c_n``: ``x`` when it has no ``"output"``, else its
    targets unpacked as torch returns them (``out, (h_n, c_n)`` for an LSTM, ``out, h_n`` for a GRU; a single
    name holds the output). The same rule for meta tensors (prediction) and real ones (the trace).

    out: the layer's output; states: ``{"h_n": …, "c_n": …}`` as the layer produced them.
    """
    if step.targets is None:
        return {"x": out}
    value: Any = out
    if step.kind is LayerKind.LSTM and not isinstance(step.targets, str):
        value = (out, (states["h_n"], states["c_n"]))
    elif step.kind is LayerKind.GRU and not isinstance(step.targets, str):
        value = (out, states["h_n"])
    return unpack(step.targets, value)


def _predict_loss(
    i: int, step: LossStep, names: dict[str, Any], exprs: dict[Any, Statement], max_numel: int
) -> tuple[int, ...] | None:
    """The loss value's shape, by torch on meta tensors; binds ``loss``. None: torch rejects logits vs targets."""
    if step.input not in names:
        raise ExpressionRefused(f"`{step.input}` is not defined here; available: {', '.join(sorted(names))}")
    logits = first(names[step.input])
    if isinstance(step.target, str):
        if (i, "target") not in exprs:
            return None
        target = first(predict_statement(exprs[(i, "target")], names, max_numel).value)
    else:
        dtype = torch.int64 if step.target.dtype == "long" else torch.float32
        target = torch.empty(step.target.shape, dtype=dtype, device="meta")
    shape = predict_loss(
        step.kind, step.params, tuple(logits.shape), str(logits.dtype), tuple(target.shape), str(target.dtype)
    )
    if shape is None:
        return None
    names["loss"] = torch.empty(shape, device="meta")
    return shape
