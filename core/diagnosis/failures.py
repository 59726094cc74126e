"""Explained failures: a step that raised gets its explanation (``core.diagnosis.explain`` plus the trace's context)
and a fix, a concrete spec edit (``core.fixes.Fix``) checked by prediction before it is offered.

One fix builder per error kind (``_FIXES``); each yields candidate fixes best first, with the step the predicted
shapes must get past, and the first that does wins.

The failing step's input is the tensor it reads (``step_names.step_input``: a layer's or loss's ``input``, an
expression's root), with that name's axes — not the previous stage — and a fix that changes it is written over that
name (``emb = emb.permute(0, 2, 1)``; ``finding_tools.on_input``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from core.diagnosis import axes as ax
from core.diagnosis.failures_loss import loss_fix, state_fix
from core.diagnosis.finding_tools import on_input, predicts, render
from core.diagnosis.reshape_axes import FEATURE_ROLES, SEQUENCE_ROLES
from core.diagnosis.step_names import step_input
from core.errors import ShapeError
from core.fixes import Fix
from core.records import Axis, Stage
from core.spec import LayerKind, LayerStep, LossStep, Spec


def explain_failure(err: ShapeError, spec: Spec, stages: list[Stage], info: dict[str, Any]) -> ShapeError:
    """Fill ``err.explanation`` (plain words, with the numbers) and ``err.fix`` (a checked spec edit)."""
    from core.diagnosis.explain import explain
    from core.diagnosis.explain.formatting import fmt_shape

    prev = stages[-1] if stages else None
    i = err.step_index
    step = spec.steps[i] if i is not None and 0 <= i < len(spec.steps) else None
    shape = tuple(err.input_shape) if err.input_shape is not None else (tuple(prev.shape) if prev else None)
    axes: tuple[Axis, ...] = ()
    named = step_input(step, info.get("book")) if step is not None else None
    if named is not None and shape is not None and tuple(named.shape) == shape:
        axes = ax.fit(named.axes, shape)
    elif prev is not None and shape is not None and tuple(prev.shape) == shape:
        axes = ax.fit(prev.axes, shape)
    layer = None
    if isinstance(step, LayerStep) and shape is not None:
        from core.engine.layers import resolved_params

        layer = {"kind": step.kind.value, "params": resolved_params(step, shape)}
    context = {
        "input_shape": shape,
        "input_axes": tuple(a.name for a in axes) or None,
        "input_symbols": tuple(a.symbol for a in axes) or None,
        "step": err.step,
        "layer": layer,
    }
    op_shape = err.op_input_shape
    moved = op_shape is not None and shape is not None and tuple(op_shape) != shape
    if moved:  # earlier ops of the step (or an operand's chain) gave the failing op another tensor: explain that one
        context.update(input_shape=op_shape, input_axes=None, input_symbols=None, after_ops=True)
    ex = explain(err.message, context)
    err.kind = err.kind or ex.kind
    fix = None
    cause = None
    if i is not None and step is not None and shape is not None:
        try:
            if isinstance(step, LossStep):
                fix = loss_fix(ex.kind, ex.numbers, spec, stages, i, step, info)
            elif ex.kind == "rnn_hidden" and isinstance(step, LayerStep):
                fix = state_fix(spec, stages, i, step, shape)
            else:
                fix = _failure_fix(ex, spec, stages, i, step, shape, axes, info)
            cause = _cause(ex, stages, step, shape, axes, info)
        except Exception:  # no fix rather than a broken trace
            fix = None
    text = ex.explanation
    if moved:
        text = f"`{err.op_source}` receives {fmt_shape(op_shape)} here (the step's input is {fmt_shape(shape)}). {text}"
    text += _context_note(ex.kind, axes, shape)
    if cause is not None:  # the trace knows the real cause: it leads, and its fix replaces the generic advice
        lead, advice = cause
        text = f"{lead} {text} {advice}"
    elif ex.fix:
        text += " " + ex.fix
    err.explanation = err.explanation or text
    if err.fix is None:
        err.fix = fix
    return err


def _context_note(kind: str, axes: tuple[Axis, ...], shape: tuple[int, ...] | None) -> str:
    if kind == "reshape_size" and shape is not None:
        grown = [(a, s) for a, s in zip(axes, shape) if "+" in a.symbol or "−" in a.symbol]
        if grown:
            a, s = grown[0]
            return (
                f" Note that {a.label} is {s} here: an earlier step padded it, so sizes computed from the "
                "unpadded length no longer fit."
            )
    return ""


def _cause(ex, stages, step, shape, axes, info) -> tuple[str, str] | None:
    """A lead sentence naming the real cause, and the advice that replaces explain's generic fix, when the trace's
    layout tells more than the message: the hidden size on the wrong dim of a Conv1d, a bidirectional width."""
    if ex.kind == "conv_channels" and isinstance(step, LayerStep):
        return _conv_layout_cause(ex.numbers, step, shape, axes, info)
    if ex.kind == "linear_mat" and isinstance(step, LayerStep) and step.kind is LayerKind.LINEAR and axes:
        return _bidirectional_width_cause(ex.numbers, stages, shape, axes, info.get("book"), step.input)
    return None


def _token_layout(shape: tuple[int, ...], axes: tuple[Axis, ...]) -> int | None:
    """The dim holding the features of a (batch, tokens, features)-like 3-D input, when dim 1 is a sequence axis."""
    if len(shape) != 3 or len(axes) != 3 or axes[1].role not in SEQUENCE_ROLES:
        return None
    return next((d for d in (2, 0) if axes[d].role in FEATURE_ROLES), None)


def _conv_layout_cause(nums, step, shape, axes, info) -> tuple[str, str] | None:
    want = nums.get("expected_channels")
    feat = _token_layout(shape, axes)
    if feat is None or want is None or shape[feat] == want:
        return None  # the right size on the wrong dim: explain's own advice (permute) is the answer
    size = shape[feat]
    ckpt = info.get("checkpoint")
    model = ""
    if ckpt is not None and axes[feat].role == "hidden" and getattr(ckpt, "hidden_size", None) == size:
        model = f" — {getattr(ckpt, 'id', 'this checkpoint')} has hidden size {size}"
    lead = (
        f"Your input is {_labels(axes)} {_shape(shape)}: Conv1d reads dim 1 as channels, and here dim 1 is "
        f"{axes[1].label} = {shape[1]}; the features are {axes[feat].label} = {size} on dim {feat}{model}."
    )
    lead += f" in_channels={want} matches neither: it is not this input's feature size ({size})."
    src = _move(3, feat, 1)
    advice = (
        f"Put the features on dim 1 with `{src}` -> {_shape(tuple(shape[d] for d in _order(3, feat, 1)))} and build "
        f"the Conv1d with in_channels={size} (or leave in_channels out: it is inferred). Setting "
        f"in_channels={shape[1]} (the number of {axes[1].name}) would run, but convolve across {axes[feat].name} "
        f"units instead of along the sequence, and break on texts of another length."
    )
    return lead, advice


def _bidirectional_width_cause(nums, stages, shape, axes, book, name) -> tuple[str, str] | None:
    from core.diagnosis.rnn_states import rnn_facts

    last = axes[-1]
    b, c = nums.get("got_features"), nums.get("in_features")
    if not last.symbol.startswith("2·") or b is None or c is None or b % 2:
        return None
    facts = rnn_facts(stages, book, name)
    what = f"bidirectional {facts.kind}" if facts is not None and facts.bidirectional else "bidirectional layer"
    lead = (
        f"The input's last dim is {last.label} = 2 × {b // 2} = {b}: the {what} concatenates its forward and "
        f"backward outputs ({b // 2} features each)"
    )
    lead += f", but the Linear was built for in_features={c}, one direction's size." if c == b // 2 else "."
    advice = f"Build the Linear with in_features={b} = 2 × {b // 2} (or leave in_features out: it is inferred)."
    return lead, advice


def _labels(axes: tuple[Axis, ...]) -> str:
    return "(" + ", ".join(a.label for a in axes) + ")"


def _shape(s: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, s)) + ")"


def _order(ndim: int, src: int, dst: int) -> list[int]:
    order = [d for d in range(ndim) if d != src]
    order.insert(dst, src)
    return order


def _move(ndim: int, src: int, dst: int, name: str = "x") -> str:
    order = [d for d in range(ndim) if d != src]
    order.insert(dst, src)
    return f"{name}.permute({', '.join(map(str, order))})"


def _failure_fix(ex, spec, stages, i, step, shape, axes, info=None) -> Fix | None:
    """Candidate fixes for the error, best first; the first one whose predicted shapes get past step i wins."""
    builder = _FIXES.get(ex.kind)
    if builder is None:
        return None
    for fix, through in builder(ex.numbers, i, step, shape, axes, spec, info or {}):
        if fix is not None and predicts(spec, fix, stages, through):
            return fix
    return None


def _name(axes: tuple[Axis, ...], d: int, size: int) -> str:
    return f"{axes[d].label} = {size}" if d < len(axes) else f"dim {d} ({size})"


def _fix_conv_channels(nums, i, step, shape, axes, spec=None, info=None):
    want = nums.get("expected_channels")
    if len(shape) != 3 or not isinstance(step, LayerStep):
        return
    feat = _token_layout(shape, tuple(axes))
    if feat is not None and shape[feat] != want and spec is not None:
        # (batch, tokens, hidden) with the wrong in_channels: permute, then the real feature size
        new = {**step.to_json(), step.kind.value: {**step.params, "in_channels": shape[feat]}}
        fix = on_input(spec, i, step.input, _move(3, feat, 1), step=new)
        yield (
            Fix(
                f"{fix.description} and set its in_channels={shape[feat]} (moves "
                f"{_name(axes, feat, shape[feat])} to dim 1, where Conv1d reads its channels)",
                "set",
                key="steps",
                value=fix.value,
            ),
            i + 1,
        )
    for d in (2, 0):
        if shape[d] == want and d != 1 and spec is not None:
            why = f": moves {_name(axes, d, want)} to dim 1, where Conv1d reads its channels"
            yield on_input(spec, i, step.input, _move(3, d, 1), why), i + 1
    if feat is not None:
        return  # dim 1 is the sequence: in_channels = the number of tokens would be no fix
    yield (
        Fix(
            f"set in_channels={shape[1]} on step {i + 1} (the size of dim 1, {_name(axes, 1, shape[1])})",
            "set_param",
            index=i,
            param="in_channels",
            value=shape[1],
        ),
        i,
    )


def _fix_kernel(nums, i, step, shape, axes, spec=None, info=None):
    if not isinstance(step, LayerStep):
        return
    if step.params.get("stride", 1) == 1:
        yield (
            Fix(
                f"set padding='same' on step {i + 1} (pads so the kernel fits and the length stays {shape[-1]})",
                "set_param",
                index=i,
                param="padding",
                value="same",
            ),
            i,
        )
    yield (
        Fix(f"set kernel_size={shape[-1]} on step {i + 1}", "set_param", index=i, param="kernel_size", value=shape[-1]),
        i,
    )


def _fix_rnn_input(nums, i, step, shape, axes, spec=None, info=None):
    want = nums.get("expected_input_size")
    if len(shape) == 3 and want in shape[:-1] and isinstance(step, LayerStep) and spec is not None:
        d = max(k for k in range(2) if shape[k] == want)
        if d != 0 or (axes and axes[0].role != "batch"):
            why = f": moves {_name(axes, d, want)} last, where the layer reads its features"
            yield on_input(spec, i, step.input, _move(3, d, 2), why), i + 1
    yield (
        Fix(
            f"set input_size={shape[-1]} on step {i + 1} (the size of the last dim)",
            "set_param",
            index=i,
            param="input_size",
            value=shape[-1],
        ),
        i,
    )
    yield (
        Fix(
            f"remove input_size from step {i + 1} (inferred from the input)",
            "delete_param",
            index=i,
            param="input_size",
        ),
        i,
    )


def _fix_linear(nums, i, step, shape, axes, spec=None, info=None):
    want = nums.get("in_features")
    if not isinstance(step, LayerStep) or step.kind is not LayerKind.LINEAR or spec is None:
        return
    if len(shape) >= 3 and math.prod(shape[1:]) == want:
        labels = " × ".join(a.name for a in axes[1:]) or "the dims after batch"
        why = f": merges {labels} into {want:,} features"
        yield on_input(spec, i, step.input, "x.flatten(1)", why, suffix="flat"), i + 1
    if len(shape) >= 2 and want in shape[:-1] and not (axes and axes[shape.index(want)].role == "batch"):
        d = max(k for k in range(len(shape) - 1) if shape[k] == want)
        why = f": moves {_name(axes, d, want)} last"
        yield on_input(spec, i, step.input, _move(len(shape), d, len(shape) - 1), why), i + 1
    yield (
        Fix(
            f"set in_features={shape[-1]} on step {i + 1} (the size of the last dim)",
            "set_param",
            index=i,
            param="in_features",
            value=shape[-1],
        ),
        i,
    )


def _fix_view_stride(nums, i, step, shape, axes, spec=None, info=None):
    if isinstance(step, str) and ".view(" in step:
        new = step.replace(".view(", ".reshape(")
        yield Fix(f"replace `.view(` by `.reshape(` in step {i + 1}: `{new}`", "replace", index=i, step=new), i


def _fix_reshape_size(nums, i, step, shape, axes, spec=None, info=None):
    if not isinstance(step, str):
        return
    new = _resized_source(step, shape, (info or {}).get("env"))
    if new is not None:
        yield Fix(f"replace step {i + 1} by `{new}`", "replace", index=i, step=new), i


def _resized_source(step: str, shape: tuple[int, ...], env: dict[str, Any] | None = None) -> str | None:
    """The step with its failing reshape/view given sizes that hold the element count (last size first), over
    the name it reads and bound to its own targets. ``env``: the names as the step found them (for its operands)."""
    from core.diagnosis.step_names import assignment
    from core.engine.expr import bind, parse_statement
    from core.engine.ops import Op, chain_shapes

    stmt = parse_statement(step)
    expr, root = stmt.expr, stmt.expr.root
    if root is None or (stmt.targets is not None and not isinstance(stmt.targets, str)):
        return None
    names: dict[str, Any] = dict(env or {})
    names[root] = shape
    names.setdefault("lengths", shape[:1])
    ops = bind(expr, names)
    cur = shape
    for k, op in enumerate(ops):
        try:
            cur = chain_shapes(cur, (op,))[0]
            continue
        except ShapeError:
            if op.name not in ("reshape", "view"):
                return None
        sizes, n = list(op.args), math.prod(cur)
        if -1 in sizes:
            return None
        for j in reversed(range(len(sizes))):
            rest = math.prod(sizes[:j] + sizes[j + 1 :])
            if rest and n % rest == 0:
                sizes[j] = n // rest
                new_ops = (*ops[:k], Op(op.name, tuple(sizes)), *ops[k + 1 :])
                return assignment(stmt.targets, render(new_ops, root))
        return None
    return None


def _fix_kwarg(nums, i, step, shape, axes, spec=None, info=None):
    arg = nums.get("argument")
    if not isinstance(step, LayerStep) or arg not in step.params:
        return
    extra = ""
    if arg == "return_sequences" and not step.params[arg]:
        extra = "; to keep only the last step as Keras did, add a step `x[:, -1, :]` after it"
    yield Fix(f"remove {arg} from step {i + 1} (a Keras argument){extra}", "delete_param", index=i, param=arg), i


_FIXES: dict[str, Callable[..., Any]] = {
    "conv_channels": _fix_conv_channels,
    "kernel_too_large": _fix_kernel,
    "rnn_input_size": _fix_rnn_input,
    "linear_mat": _fix_linear,
    "view_stride": _fix_view_stride,
    "reshape_size": _fix_reshape_size,
    "keras_kwarg": _fix_kwarg,
    "unknown_kwarg": _fix_kwarg,
}
