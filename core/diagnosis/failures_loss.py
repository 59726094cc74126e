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
- ``target_range``: a class id ≥ the number of classes -> out_features of the Linear that made the logits = max
  label + 1.
- ``rnn_hidden``: an h0 / c0 whose sizes do not fit -> rebuilt from the input's batch (``initial_states``).

The loss reads its ``input`` name wherever it was bound: the head, the step that dropped the tokens and the tensor to
flatten are found along that name's data path (``step_names``), and the edits keep the user's names
(``logits = logits.view(-1, 5)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from core.diagnosis.finding_tools import on_input, predicts
from core.diagnosis.step_names import assignment
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


def loss_json(
    step: LossStep, kind: LossKind | None = None, target: Any = None, drop: tuple[str, ...] = (), input: str = ""
) -> dict:
    """The step as JSON with another kind, target and/or input name (parameters the new kind does not take are
    dropped)."""
    from core.loss_step import LOSS_PARAMS

    new_kind = kind or step.kind
    params = {k: v for k, v in step.params.items() if k in LOSS_PARAMS[new_kind] and k not in drop}
    out = LossStep(new_kind, params, input or step.input, step.target if target is None else target).to_json()
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
    for fix, through in builder(spec, stages, i, step, logits, target, nums, info):
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


def _head(spec: Spec, i: int, width: int, stages: list[Stage], info: dict[str, Any], name: str) -> int | None:
    """The Linear step with out_features ``width`` that made the logits ``name`` (the classifier): the step that
    bound the name; for ``x``, the last layer step before ``i`` when it is that Linear."""
    book = info.get("book")
    named = book.get(name) if book is not None else None
    if named is not None and named.stage is not None and named.role == "output":
        j = stages[named.stage].step_index
        s = spec.steps[j] if j is not None else None
        if isinstance(s, LayerStep) and s.kind is LayerKind.LINEAR and s.params.get("out_features") == width:
            return j
        return None
    if name != "x":
        return None
    for j in range(i - 1, -1, -1):
        s = spec.steps[j]
        if isinstance(s, LayerStep):
            if s.kind is LayerKind.LINEAR and s.params.get("out_features") == width:
                return j
            return None  # another layer in between: not the head
    return None


def _target_size(spec, stages, i, step, logits, target, nums, info) -> Candidates:
    lshape, tshape = tuple(logits.shape), tuple(target.shape)
    if len(lshape) == len(tshape) and lshape[:-1] == tshape[:-1] and lshape[-1] != tshape[-1]:
        j = _head(spec, i, lshape[-1], stages, info, step.input)
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
        if lshape[-1] == 1:
            yield on_input(spec, i, step.input, "x.squeeze(-1)", ": one output per text, (N, 1) -> (N,)"), i + 1
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


def _multi_target(spec, stages, i, step, logits, target, nums, info) -> Candidates:
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


def _class_dim(spec, stages, i, step, logits, target, nums, info) -> Candidates:
    lshape = tuple(logits.shape)
    flat: Any = _expr(step, ".view(-1)")
    shown = flat
    if isinstance(step.target, SyntheticTarget):
        flat = SyntheticTarget((target.numel(),), step.target.dtype, step.target.high)
        shown = "target.view(-1)"
    if len(lshape) < 3 or flat is None:
        return
    c = lshape[-1]
    fix = on_input(spec, i, step.input, f"x.view(-1, {c})", step=loss_json(step, target=flat))
    yield (
        Fix(
            f"{fix.description} and compare with `{shown}`: one row of {c} logits per token against one label per "
            "token",
            "set",
            key="steps",
            value=fix.value,
        ),
        i + 1,
    )


def _dropped_tokens(stages: list[Stage], info: dict[str, Any], name: str) -> tuple[int, Any, str] | None:
    """The expression step that took the token axis away (pooled or indexed it) on the way to the tensor ``name``
    holds: ``(step index, its targets, the name it read)``."""
    book = info.get("book")
    named = book.get(name) if book is not None else None
    if named is None:
        return None
    from core.diagnosis.step_names import statement_targets

    for k in sorted(named.lineage, reverse=True):
        st = stages[k] if k < len(stages) else None
        read = book.inputs.get(k, ())
        if st is None or st.step_index is None or st.kind != "expr" or not read:
            continue
        had = any(a.role == "tokens" for a in read[0].axes)
        if had and not any(a.role == "tokens" for a in st.axes):
            return st.step_index, statement_targets(st.source), read[0].name
    return None


def _loss_batch(spec, stages, i, step, logits, target, nums, info) -> Candidates:
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
        dropped = _dropped_tokens(stages, info, step.input)
        per_token = f"logits per token ({t}, {c}) against {t} labels"
        if dropped is not None:
            j, targets, root = dropped
            if targets == step.input and j == i - 1:  # `logits = tok_logits[:, 0]` right before the loss
                keep = assignment(targets, f"{root}.view(-1, {c})")
                yield Fix(f"replace step {j + 1} by `{keep}` (it dropped the tokens): {per_token}", "replace",
                          index=j, step=keep), i  # fmt: skip
            if targets is None and root == "x":
                kept, what, at = [s for k, s in enumerate(steps) if k != j], f"remove step {j + 1}", i - 1
            else:
                keep = assignment(targets, root)
                kept, what, at = [*steps[:j], keep, *steps[j + 1 :]], f"replace step {j + 1} by `{keep}`", i
            then = on_input(_with_steps(spec, kept), at, step.input, f"x.view(-1, {c})")
            fixed = [*kept[:at], then.step, *kept[at:]] if then.op == "insert" else then.value
            view = then.description.split("`")[1]
            yield Fix(f"{what} (it dropped the tokens) and insert `{view}` before the loss: {per_token}", "set",
                      key="steps", value=fixed), i  # fmt: skip
        elif spec.pooling.value != "none":
            then = on_input(_with_steps(spec, steps, pooling="none"), i, step.input, f"x.view(-1, {c})")
            fixed = [*steps[:i], then.step, *steps[i:]] if then.op == "insert" else then.value
            view = then.description.split("`")[1]
            yield (
                Fix(
                    f"set pooling to none (keep the tokens) and insert `{view}` before the loss: {per_token}",
                    "update",
                    value={"pooling": "none", "steps": fixed},
                ),
                i + 1,
            )
    if b % t == 0 and b > t:
        for st in stages:
            for w in st.warnings:
                if w.code == "batch_axis_mixed" and w.fix is not None:
                    yield w.fix, i


def _with_steps(spec: Spec, steps: list[Any], **top: Any) -> Spec:
    return Spec.from_dict({**spec.to_dict(), **top, "steps": steps})


def state_fix(spec: Spec, stages: list[Stage], i: int, step: LayerStep, shape: tuple[int, ...]) -> Fix | None:
    """h0 / c0 rebuilt so they fit this input and every other batch (checked past the layer), inline or in the
    step that binds the name the layer reads (``h0 = torch.zeros(1, 32, 300)``)."""
    from core.diagnosis.initial_states import state_edit
    from core.engine.layers import resolved_params

    if step.h0 is None and step.c0 is None:
        return None
    edit = state_edit(spec, i, step, resolved_params(step, shape), shape)
    if edit is None:
        return None
    fix = Fix(f"build the initial state from the input: {' and '.join(edit.parts)}", "set", key="steps",
              value=edit.steps)  # fmt: skip
    return fix if predicts(spec, fix, stages, i) else None


def _target_range(spec, stages, i, step, logits, target, nums, info) -> Candidates:
    """A class id ≥ the number of classes: the Linear that made the logits gets out_features = max label + 1."""
    if target.dtype.is_floating_point or target.numel() == 0 or logits.dim() < 2:
        return
    classes, top = int(logits.shape[1]), int(target.max())
    if top < classes:
        return
    j = _head(spec, i, classes, stages, info, step.input) if logits.dim() == 2 else None
    if j is not None:
        yield (
            Fix(
                f"set out_features={top + 1} on step {j + 1} (the classifier: the labels go up to {top}, so it needs "
                f"{top + 1} classes, ids 0..{top})",
                "set_param",
                index=j,
                param="out_features",
                value=top + 1,
            ),
            i,
        )


_BUILDERS = {
    "target_range": _target_range,
    "loss_target_size": _target_size,
    "multi_target": _multi_target,
    "loss_class_dim": _class_dim,
    "loss_batch": _loss_batch,
}
