"""Fixes for a loss step that failed (logits against targets) and for initial states that do not fit, each a spec
edit checked by prediction before it is offered (``failures`` asks for them; the explanations come from
``core.diagnosis.explain``).

- ``loss_target_size`` (BCEWithLogitsLoss): targets (16, 3) vs logits (16, 4) -> the head's out_features = 3;
  class ids (N,) against (N, C) logits -> CrossEntropyLoss; (N,) against (N, 1) -> squeeze the logits.
- ``multi_target`` (CrossEntropyLoss / NLLLoss given rows): one-hot rows -> ``labels.argmax(dim=1)``; multi-hot rows
  -> BCEWithLogitsLoss with ``labels.float()``.
- ``loss_class_dim``: per-token logits (N, L, C) against labels (N, L) -> ``x.view(-1, C)`` and ``labels.view(-1)``.
- ``loss_batch``: 512 targets for 8 rows = labels per token: keep the tokens (undo the pooling or the step that
  dropped them) and flatten both; one-hot rows flattened -> ``argmax``; h_n folded into the batch -> the earlier
  batch warning's rearrangement.
- ``rnn_hidden``: an h0 / c0 whose sizes do not fit -> rebuilt from the input's batch (``initial_states``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from core.diagnosis.finding_tools import predicts
from core.fixes import Fix
from core.records import Stage
from core.spec import LayerKind, LayerStep, LossKind, LossStep, Spec, SyntheticTarget

Candidates = Iterator[tuple[Fix, int]]  # a fix and the (new) step index the prediction must get past


def loss_inputs(spec: Spec, i: int, step: LossStep, env: dict[str, Any]) -> tuple[Any, Any] | None:
    """The logits and the targets the loss step ``i`` reads, evaluated again from ``env`` (None if they can't be)."""
    from core.engine.evaluate import first
    from core.engine.expr import parse_statement, run_statement
    from core.engine.losses import synthetic_target

    if step.input not in env:
        return None
    logits = first(env[step.input])
    try:
        if isinstance(step.target, SyntheticTarget):
            target = synthetic_target(step.target, spec.seed, i)
        else:
            target = first(run_statement(parse_statement(step.target), dict(env)).value)
    except Exception:
        return None
    return logits, target


def loss_json(step: LossStep, kind: LossKind | None = None, target: Any = None, drop: tuple[str, ...] = ()) -> dict:
    """The step as JSON with another kind and/or target (parameters the new kind does not take are dropped)."""
    from core.loss_step import LOSS_PARAMS

    new_kind = kind or step.kind
    params = {k: v for k, v in step.params.items() if k in LOSS_PARAMS[new_kind] and k not in drop}
    out = LossStep(new_kind, params, step.input, step.target if target is None else target).to_json()
    return out


def loss_fix(
    kind: str, nums: dict[str, Any], spec: Spec, stages: list[Stage], i: int, step: LossStep, info
) -> Fix | None:
    """The first candidate fix for the loss error ``kind`` whose predicted shapes get past the loss."""
    pair = loss_inputs(spec, i, step, info.get("env") or {})
    if pair is None:
        return None
    logits, target = pair
    builder = _BUILDERS.get(kind)
    if builder is None:
        return None
    for fix, through in builder(spec, stages, i, step, logits, target, nums):
        if predicts(spec, fix, stages, through):
            return fix
    return None


def _replace_loss(spec: Spec, i: int, step: LossStep, why: str, **change: Any) -> Fix:
    new = loss_json(step, **change)
    return Fix(why, "replace", index=i, step=new)


def _expr(step: LossStep, suffix: str) -> Any:
    """The target expression with ``suffix`` applied (``labels`` -> ``labels.argmax(dim=1)``), or None (synthetic)."""
    if isinstance(step.target, SyntheticTarget):
        return None
    text = step.target
    simple = text.replace("_", "").replace(".", "").isalnum()
    return f"{text}{suffix}" if simple else f"({text}){suffix}"


def _head(spec: Spec, i: int, width: int) -> int | None:
    """The last Linear step before ``i`` with an explicit or inferred out_features of ``width`` (the classifier)."""
    for j in range(i - 1, -1, -1):
        s = spec.steps[j]
        if isinstance(s, LayerStep):
            if s.kind is LayerKind.LINEAR and s.params.get("out_features") == width:
                return j
            return None  # another layer in between: not the head
    return None


def _target_size(spec, stages, i, step, logits, target, nums) -> Candidates:
    lshape, tshape = tuple(logits.shape), tuple(target.shape)
    if len(lshape) == len(tshape) and lshape[:-1] == tshape[:-1] and lshape[-1] != tshape[-1]:
        j = _head(spec, i, lshape[-1])
        if j is not None:
            n = tshape[-1]
            yield (
                Fix(
                    f"set out_features={n} on step {j + 1} (the head: {n} labels per text, as the targets have)",
                    "set_param",
                    index=j,
                    param="out_features",
                    value=n,
                ),
                i,
            )
    if len(tshape) == len(lshape) - 1 and tshape == lshape[:-1]:
        if lshape[-1] == 1 and step.input == "x":
            yield Fix(f"insert `x.squeeze(-1)` before step {i + 1}: one output per text, (N, 1) -> (N,)", "insert",
                      index=i, step="x.squeeze(-1)"), i + 1  # fmt: skip
        if lshape[-1] >= 2:
            new_target: Any = _expr(step, ".long()") if target.dtype.is_floating_point else None
            if isinstance(step.target, SyntheticTarget):
                new_target = SyntheticTarget(step.target.shape, "long", lshape[-1])
            yield (
                _replace_loss(
                    spec,
                    i,
                    step,
                    f"use nn.CrossEntropyLoss in step {i + 1}: the targets are class ids {tshape}, one per text, "
                    f"against {lshape[-1]} logits",
                    kind=LossKind.CROSS_ENTROPY,
                    target=new_target,
                ),
                i,
            )


def _one_hot(target: Any) -> bool:
    import torch

    if target.dim() != 2 or target.numel() == 0:
        return False
    t = target.float()
    return bool(torch.all((t == 0) | (t == 1)) and torch.all(t.sum(dim=1) == 1))


def _multi_target(spec, stages, i, step, logits, target, nums) -> Candidates:
    lshape, tshape = tuple(logits.shape), tuple(target.shape)
    if len(tshape) != 2 or len(lshape) != 2 or tshape[0] != lshape[0]:
        return
    if _one_hot(target) and tshape[1] == lshape[1]:
        new = _expr(step, ".argmax(dim=1)")
        if new is not None:
            yield _replace_loss(spec, i, step, f"pass class ids: target `{new}` (the one-hot rows' positions)",
                                target=new), i  # fmt: skip
    if tshape[1] == lshape[1]:
        new = _expr(step, ".float()") if not target.dtype.is_floating_point else None
        if isinstance(step.target, SyntheticTarget):
            new = SyntheticTarget(step.target.shape, "float", 2)
        yield (
            _replace_loss(
                spec,
                i,
                step,
                f"use nn.BCEWithLogitsLoss in step {i + 1}: several labels per text (multi-hot rows {tshape}), one "
                "0/1 float target per output",
                kind=LossKind.BCE_WITH_LOGITS,
                target=new,
            ),
            i,
        )


def _class_dim(spec, stages, i, step, logits, target, nums) -> Candidates:
    lshape = tuple(logits.shape)
    flat: Any = _expr(step, ".view(-1)")
    shown = flat
    if isinstance(step.target, SyntheticTarget):
        flat = SyntheticTarget((target.numel(),), step.target.dtype, step.target.high)
        shown = "target.view(-1)"
    if len(lshape) < 3 or step.input != "x" or flat is None:
        return
    c = lshape[-1]
    steps = spec.to_dict()["steps"]
    steps[i] = loss_json(step, target=flat)
    steps.insert(i, f"x.view(-1, {c})")
    yield (
        Fix(
            f"insert `x.view(-1, {c})` before step {i + 1} and compare with `{shown}`: one row of {c} logits per "
            "token against one label per token",
            "set",
            key="steps",
            value=steps,
        ),
        i + 1,
    )


def _dropped_tokens(stages: list[Stage]) -> int | None:
    """The step that took the token axis away (pooled or indexed it), looking back from the loss."""
    for k in range(len(stages) - 1, 0, -1):
        st, before = stages[k], stages[k - 1]
        if st.step_index is None:
            return None
        had = any(a.role == "tokens" for a in before.axes)
        if had and not any(a.role == "tokens" for a in st.axes) and st.kind == "expr":
            return st.step_index
    return None


def _loss_batch(spec, stages, i, step, logits, target, nums) -> Candidates:
    b, t = nums.get("input_batch"), nums.get("target_batch")
    lshape = tuple(logits.shape)
    if not b or not t or len(lshape) != 2:
        return
    c = lshape[-1]
    labels = None
    if spec.labels is not None:
        from core.engine.losses import labels_tensor

        labels = labels_tensor(spec.labels)
    if t % b == 0 and t > b:
        if labels is not None and labels.dim() == 2 and labels.shape[1] == c and _one_hot(labels):
            yield _replace_loss(spec, i, step, f"pass class ids: target `labels.argmax(dim=1)` ({b},) instead of "
                                f"the one-hot rows flattened", target="labels.argmax(dim=1)"), i  # fmt: skip
        # labels per token: keep the tokens, flatten logits and labels alike
        steps = spec.to_dict()["steps"]
        j = _dropped_tokens(stages)
        if j is not None and step.input == "x":
            new = [s for k, s in enumerate(steps) if k != j]
            loss_at = i - 1
            new.insert(loss_at, f"x.view(-1, {c})")
            what = f"remove step {j + 1} (it dropped the tokens) and insert `x.view(-1, {c})` before the loss"
            yield Fix(f"{what}: logits per token ({t}, {c}) against {t} labels", "set", key="steps", value=new), i
        elif spec.pooling.value != "none" and step.input == "x":
            new = list(steps)
            new.insert(i, f"x.view(-1, {c})")
            yield (
                Fix(
                    f"set pooling to none (keep the tokens) and insert `x.view(-1, {c})` before the loss: logits per "
                    f"token ({t}, {c}) against {t} labels",
                    "update",
                    value={"pooling": "none", "steps": new},
                ),
                i + 1,
            )
    if b % t == 0 and b > t:
        for st in stages:
            for w in st.warnings:
                if w.code == "batch_axis_mixed" and w.fix is not None:
                    yield w.fix, i


def state_fix(spec: Spec, stages: list[Stage], i: int, step: LayerStep, shape: tuple[int, ...]) -> Fix | None:
    """h0 / c0 rebuilt so they fit this input and every other batch (checked past the layer)."""
    from core.diagnosis.initial_states import rebuilt_step
    from core.engine.layers import resolved_params

    if step.h0 is None and step.c0 is None:
        return None
    new = rebuilt_step(step, resolved_params(step, shape), shape)
    if not new:
        return None
    steps = spec.to_dict()["steps"]
    steps[i] = {**steps[i], **new}
    text = " and ".join(f"{k} = `{v}`" for k, v in new.items())
    fix = Fix(f"build the initial state from the input: {text}", "set", key="steps", value=steps)
    return fix if predicts(spec, fix, stages, i) else None


_BUILDERS = {
    "loss_target_size": _target_size,
    "multi_target": _multi_target,
    "loss_class_dim": _class_dim,
    "loss_batch": _loss_batch,
}
