"""Diagnosis hooks called by the trace engine: semantic warnings and explained failures.

- ``spec_findings``: notes on the whole spec (truncation, random weights, pooling vs checkpoint).
- ``stage_findings``: warnings after a step that ran but probably means the wrong thing, e.g.
  ``x.view(32, 768, 128)`` on (B, L, H): the shape of ``x.permute(0, 2, 1)``, scrambled data.
- ``explain_failure``: fills a ShapeError's explanation (``core.diagnosis.explain`` plus the trace's context) and
  its fix, a concrete spec edit (``core.fixes.Fix``).

Every Fix offered here is checked before it is offered: applied to the spec, the shapes are predicted
again (``core.engine.predict.predict_chain``) and must get past the step it repairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from core.diagnosis import axes as ax
from core.diagnosis.reshape_axes import SEQUENCE_ROLES, reshape_report
from core.errors import ShapeError
from core.fixes import Fix, apply_fix
from core.records import Axis, Finding, Stage
from core.spec import DEFAULT_CHECKPOINT, LayerKind, LayerStep, Pooling, Spec

GATHER_LAST = "x[torch.arange(x.shape[0]), lengths - 1]"
_RNN = {LayerKind.LSTM: "LSTM", LayerKind.GRU: "GRU"}
_RESHAPES = ("reshape", "view", "flatten", "unflatten")


# ---------------------------------------------------------------------------------------- spec level


def spec_findings(spec: Spec, ckpt: Any, enc: Any) -> list[Finding]:
    """Notes on the spec as a whole: truncation, random weights, pooling the checkpoint was not trained for."""
    out = []
    specials = _special_count(ckpt)
    if enc is not None and spec.max_length is not None and spec.max_length <= specials and enc.any_truncated:
        out.append(
            Finding(
                "no_words_left",
                f"max_length={spec.max_length} leaves only the special tokens ([CLS] and [SEP]): every word "
                f"was cut ({sum(enc.truncated)} token(s)), so each text is the same two tokens and the model sees "
                "no text at all. Raise max_length in the sidebar (128 fits most sentences).",
            )
        )
    elif enc is not None and enc.any_truncated:
        cut = sum(enc.truncated)
        out.append(Finding("truncated", f"{cut} token(s) were cut by max_length={spec.max_length}", severity="note"))
    if ckpt is None:
        return out
    name = getattr(ckpt, "id", spec.checkpoint)
    if not getattr(ckpt, "real_weights", True):
        out.append(
            Finding(
                "random_weights",
                f"{name} has RANDOM weights: every shape is real, but the values are meaningless — no similarity, "
                "sentiment or topic signal. Use it to study shapes at BERT sizes; use the bundled model "
                f"({DEFAULT_CHECKPOINT}) for meaningful vectors.",
                severity="note",
            )
        )
    to_mean = Fix("set pooling to mean (masked mean over real tokens)", "set", key="pooling", value="mean")
    if spec.pooling is Pooling.POOLER and not getattr(ckpt, "pooler_trained", False):
        out.append(
            Finding(
                "pooler_untrained",
                f"pooling 'pooler' uses BERT's pooler layer (dense + tanh on [CLS]), which {name} did not train: "
                "its output is a fixed, untrained projection of [CLS], not a sentence summary. Masked mean "
                "pooling is the safe choice here.",
                to_mean,
                severity="note",
            )
        )
    if spec.pooling is Pooling.CLS and getattr(ckpt, "trained_pooling", None) == "mean":
        out.append(
            Finding(
                "cls_on_mean_model",
                f"{name} was trained for mean pooling (a sentence-transformers model): its [CLS] vector was never "
                "trained to summarise the sentence, so 'cls' embeddings compare texts poorly. Mean pooling "
                "gives the vectors the model was trained to produce.",
                to_mean,
                severity="note",
            )
        )
    return out


def _special_count(ckpt: Any) -> int:
    """Special tokens a tokenizer adds to one text ([CLS] + [SEP] for BERT; 2 when unknown)."""
    return int(getattr(ckpt, "special_tokens", 2) or 2)


# --------------------------------------------------------------------------------------- stage level


def stage_findings(spec: Spec, stages: list[Stage], step_index: int, step: Any, info: dict[str, Any]) -> list[Finding]:
    """Warnings (and notes) for the step that just ran; ``stages[-1]`` is its stage, ``stages[-2]`` its input."""
    if len(stages) < 2:
        return []
    try:
        if isinstance(step, str):
            return _expr_findings(spec, stages, step_index, step, info)
        if isinstance(step, LayerStep):
            return _layer_findings(spec, stages, step_index, step)
    except Exception:  # a diagnosis rule must never break a trace that ran
        return []
    return []


def _source_shape(stages: list[Stage]) -> tuple[int, ...]:
    """Shape fed to the first step: the last stage that is not a step (source or pooling)."""
    return next(s.shape for s in reversed(stages) if s.step_index is None)


def _predicts(spec: Spec, fix: Fix, stages: list[Stage], through: int) -> bool:
    """True when, with ``fix`` applied, the predicted shapes get past step ``through`` (0-based, new spec)."""
    from core.engine.predict import parse_steps, predict_chain

    try:
        fixed = Spec.from_dict(apply_fix(spec.to_dict(), fix))
        shapes = predict_chain(fixed, parse_steps(fixed), _source_shape(stages))
    except Exception:  # an edit that does not even parse or predict is no fix
        return False
    return len(shapes) > min(through, len(fixed.steps) - 1)


def _checked(spec: Spec, fix: Fix | None, stages: list[Stage], through: int) -> Fix | None:
    """``fix`` when it is an edit that gets the predicted shapes past step ``through``, else None."""
    return fix if fix is not None and _predicts(spec, fix, stages, through) else None


def _env_shapes(stages: list[Stage], x_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    shapes = {"x": tuple(x_shape), "lengths": tuple(stages[0].shape[:1])}
    for st in reversed(stages):
        if st.extra("h_n") is not None:
            shapes["h_n"] = tuple(st.extra("h_n"))
            if st.extra("c_n") is not None:
                shapes["c_n"] = tuple(st.extra("c_n"))
            break
    return shapes


def _chain(step: str, stages: list[Stage], x_stage: Stage):
    """(root, bound ops, shapes [root, after op 1, ...], axes [root, after op 1, ...]) of an expression."""
    from core.engine.expr import bind, parse_expr
    from core.engine.ops import chain_shapes

    expr = parse_expr(step)
    env = _env_shapes(stages, x_stage.shape)
    ops = bind(expr, env)
    root_shape = env[expr.root]
    shapes = [root_shape, *chain_shapes(root_shape, ops)]
    axes = [ax.root_axes(expr.root, root_shape, x_stage)]
    for op, a, b in zip(ops, shapes, shapes[1:]):
        axes.append(ax.fit(ax.op_axes(op, a, axes[-1], b), b))
    return expr.root, ops, shapes, axes


def _render(ops: Any, root: str) -> str:
    from core.engine.expr import to_source

    return to_source(tuple(ops), root)


def _shape(s: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(v) for v in s) + ("," if len(s) == 1 else "") + ")"


def _labels(axes: tuple[Axis, ...]) -> str:
    return "(" + ", ".join(a.label for a in axes) + ")"


def _expr_findings(spec: Spec, stages: list[Stage], i: int, step: str, info: dict[str, Any]) -> list[Finding]:
    from core.engine.ops import Op

    prev = stages[-2]
    root, ops, shapes, axes = _chain(step, stages, prev)
    found: list[Finding] = []
    for k, op in enumerate(ops):
        a_in, s_in, s_out = axes[k], shapes[k], shapes[k + 1]
        if op.name in _RESHAPES:
            rep = reshape_report(s_in, a_in, s_out)
            perm = _as_permutation(s_in, s_out) if rep.mixed else None
            if perm is not None:
                new_ops = (*ops[:k], Op("permute", perm), *ops[k + 1 :])
                found.append(_view_as_permute(spec, stages, i, step, s_in, a_in, s_out, perm, _render(new_ops, root)))
            elif rep.cuts:
                found.append(_reshape_cut(spec, stages, i, step, root, ops, k, s_in, a_in, s_out, rep.cuts[0]))
        elif op.name in ("index", "select"):
            found += _drop_findings(spec, stages, i, step, root, ops, k, s_in, a_in, info)
    return found


def _as_permutation(s_in: tuple[int, ...], s_out: tuple[int, ...]) -> tuple[int, ...] | None:
    """A non-identity permutation p with ``s_out == s_in[p]`` (dims of size 1 ignored), preferring few moves."""
    if len(s_in) != len(s_out) or s_in == s_out or sorted(s_in) != sorted(s_out):
        return None
    perm: list[int] = []
    used: set[int] = set()
    for j, size in enumerate(s_out):
        options = [d for d, s in enumerate(s_in) if s == size and d not in used]
        pick = j if j in options else options[0]
        perm.append(pick)
        used.add(pick)
    return tuple(perm)


def _view_as_permute(spec, stages, i, step, s_in, a_in, s_out, perm, new_source) -> Finding:
    perm_src = f"x.permute({', '.join(map(str, perm))})"
    moved = [j for j, p in enumerate(perm) if p != j]
    meant = ", ".join(f"dim {j} should be {a_in[perm[j]].label}" for j in moved)
    msg = (
        f"`{step}` gives {_shape(s_out)}, the same shape as `{perm_src}`, but not the same data: view/reshape "
        f"keeps the memory order and only re-cuts it, so the {_labels(a_in)} numbers are scrambled across the "
        f"new dims ({meant}, but each now holds a run of consecutive memory that cuts across "
        f"{' and '.join(a_in[p].name for p in sorted(set(perm[j] for j in moved)))}). The run succeeds; the "
        "meaning does not. To swap axes use permute or transpose."
    )
    fix = Fix(f"replace step {i + 1} by `{new_source}`", "replace", index=i, step=new_source)
    return Finding("view_as_permute", msg, _checked(spec, fix, stages[:-1], i), step_index=i)


def _reshape_cut(spec, stages, i, step, root, ops, k, s_in, a_in, s_out, cut) -> Finding:
    from core.engine.ops import Op

    d = cut.dim
    inner = " × ".join(a.name for a in a_in[d + 1 :]) or "values"
    unit = math.prod(s_in[d + 1 :])
    msg = (
        f"`{step}` turns {_shape(s_in)} {_labels(a_in)} into {_shape(s_out)}, but the new dims cut through "
        f"{a_in[d].name}: {cut.describe()}. A block of {cut.boundary:,} values ends part-way through one "
        f"{_singular(a_in[d].name)}'s {unit:,} {inner} values, so that {_singular(a_in[d].name)} is split across two "
        "rows and every later row is shifted."
    )
    fix = None
    if (
        a_in[d].role in SEQUENCE_ROLES
        and d < len(s_in) - 1
        and s_out[:d] == s_in[:d]
        and len(s_out) == d + 2
        and ops[k].name != "flatten"
    ):
        steps_n, length = s_out[d], s_in[d]
        padded = -(-length // steps_n) * steps_n
        width = (padded // steps_n) * unit
        pad = (0, 0) * (len(s_in) - 1 - d) + (0, padded - length)
        name = ops[k].name if ops[k].name in ("reshape", "view") else "reshape"
        new_ops = (*ops[:k], Op("pad", (pad,)), Op(name, (*s_out[:d], steps_n, width)), *ops[k + 1 :])
        new_source = _render(new_ops, root)
        msg += (
            f" Pad {a_in[d].name} to a multiple of {steps_n} first ({length} → {padded} with `F.pad`) and use "
            f"the width that keeps whole {a_in[d].name}: {padded // steps_n} × {unit:,} = {width:,}."
        )
        cand = Fix(
            f"replace step {i + 1} by `{new_source}` (pad {a_in[d].name} {length} → {padded}, then {width:,} wide)",
            "replace",
            index=i,
            step=new_source,
        )
        fix = _checked(spec, cand, stages[:-1], i)
    return Finding("reshape_cuts_axis", msg, fix, step_index=i)


def _singular(name: str) -> str:
    return {"tokens": "token", "time steps": "time step", "positions": "position"}.get(name, name)


def _drop_findings(spec, stages, i, step, root, ops, k, s_in, a_in, info) -> list[Finding]:
    """``x[:, -1, :]`` on a padded batch (warning), and what an integer index dropped (a note)."""
    prev = stages[-2]
    drops = ax.index_drops(ops[k], s_in, a_in)
    lengths = tuple(info.get("lengths") or ())
    out: list[Finding] = []
    notes: list[str] = []
    for d, axis, idx in drops:
        size = s_in[d]
        last = idx in (-1, size - 1)
        if (
            axis.role == "tokens"
            and last
            and info.get("padded")
            and lengths
            and size == max(lengths)
            and root == "x"
            and k == 0
        ):
            out.append(_padded_last(spec, stages, i, step, ops, d, prev, lengths))
            continue
        if axis.role == "layers" and root in ("h_n", "c_n") and info.get("padded") and lengths and k == 0:
            found = _padded_state(spec, stages, i, step, root, lengths)
            if found is not None:
                out.append(found)
                continue
        if axis.role in SEQUENCE_ROLES:
            took = (
                "[CLS] (position 0, the first token of every text)"
                if idx == 0 and axis.role == "tokens"
                else (f"the last position ({axis.symbol} − 1 = {size - 1})" if last else f"position {idx % size}")
            )
            notes.append(f"drops {axis.label}: took {took}")
        elif axis.role == "layers":
            notes.append(f"drops {axis.label}: took {'the last layer' if last else f'entry {idx % size}'}")
    if notes:
        out.append(Finding("axis_dropped", f"`{step}` " + "; ".join(notes) + ".", severity="note", step_index=i))
    return out


def _shorter(short: list[int], lengths: tuple[int, ...]) -> str:
    """``"2 of 3 texts are shorter"`` / ``"1 of 2 texts is shorter"``."""
    return f"{len(short)} of {len(lengths)} texts {'is' if len(short) == 1 else 'are'} shorter"


def _padded_last(spec, stages, i, step, ops, d, prev, lengths) -> Finding:
    top = max(lengths)
    short = [n for n in lengths if n < top]
    rnn = prev.kind in ("lstm", "gru")
    what = (
        f"the {prev.kind.upper()} output after reading [PAD] tokens"
        if rnn
        else "a [PAD] token ([SEP] is last only for the longest text)"
    )
    msg = (
        f"`{step}` takes position {top - 1} (the last of {top}) for every text, but the batch is padded: "
        f"{_shorter(short, lengths)} ({', '.join(map(str, short))} real tokens), so for "
        f"them this 'last step' is {what}. Take each text's own last real token with `{GATHER_LAST}`"
    )
    if rnn:
        msg += (
            ", or pack the batch (nn.utils.rnn.pack_padded_sequence) so that h_n[-1] holds each text's real last "
            "state — without packing, `h_n[-1]` is this same padded last step."
        )
    else:
        msg += ", or pool with the attention mask (pooling 'mean')."
    fix = None
    if d == 1 and len(ops) == 1 and prev.axes and prev.axes[0].role == "batch":
        cand = Fix(
            f"replace step {i + 1} by `{GATHER_LAST}` (each text's last real token)",
            "replace",
            index=i,
            step=GATHER_LAST,
        )
        fix = _checked(spec, cand, stages[:-1], i)
    elif d == 0 and len(ops) == 1 and len(prev.axes) > 1 and prev.axes[1].role == "batch":
        src = "x[lengths - 1, torch.arange(x.shape[1])]"
        cand = Fix(f"replace step {i + 1} by `{src}` (each text's last real token)", "replace", index=i, step=src)
        fix = _checked(spec, cand, stages[:-1], i)
    return Finding("padded_last_step", msg, fix, step_index=i)


def _padded_state(spec, stages, i, step, root, lengths) -> Finding | None:
    """``h_n[-1]`` of an LSTM/GRU run over a padded (unpacked) batch: the state after the [PAD] tokens."""
    rnn = next((s for s in reversed(stages[:-1]) if s.extra("h_n") is not None), None)
    if rnn is None or not any(a.role == "tokens" and s == max(lengths) for a, s in zip(rnn.axes, rnn.shape)):
        return None
    top = max(lengths)
    short = [n for n in lengths if n < top]
    params = dict(rnn.extra("params", ()))
    same = "" if params.get("bidirectional") else " — the same value as `x[:, -1, :]` of the output"
    msg = (
        f"`{step}` is the {rnn.kind.upper()}'s state after its last time step ({top}), but the batch is padded and "
        f"not packed: {_shorter(short, lengths)} ({', '.join(map(str, short))} real tokens), "
        f"so for them {root} is the state after reading [PAD] tokens{same}. Take each text's own last real token "
        f"of the output with `{GATHER_LAST}`, or pack the batch (nn.utils.rnn.pack_padded_sequence) so that h_n "
        "holds each text's real last state."
    )
    fix = None
    prev = stages[-2]
    if prev is rnn and params.get("batch_first") and prev.axes[0].role == "batch":
        cand = Fix(
            f"replace step {i + 1} by `{GATHER_LAST}` (each text's last real token of the output)",
            "replace",
            index=i,
            step=GATHER_LAST,
        )
        fix = _checked(spec, cand, stages[:-1], i)
    return Finding("padded_last_step", msg, fix, step_index=i)


def _layer_findings(spec: Spec, stages: list[Stage], i: int, step: LayerStep) -> list[Finding]:
    from core.engine.layers import resolved_params

    prev = stages[-2]
    shape, axes = tuple(prev.shape), ax.fit(prev.axes, tuple(prev.shape))
    p = resolved_params(step, shape)
    before = stages[:-1]
    out: list[Finding] = []
    if step.kind in _RNN:
        name = _RNN[step.kind]
        if len(shape) == 3 and not p.get("batch_first") and axes[0].role == "batch" and axes[1].role != "batch":
            fix = Fix(f"set batch_first=True on step {i + 1}", "set_param", index=i, param="batch_first", value=True)
            out.append(
                Finding(
                    "batch_first",
                    f"nn.{name}(batch_first=False) reads its input as (seq, batch, features), but this tensor is "
                    f"{_labels(axes)} {_shape(shape)}: the {name} stepped through the {shape[0]} {axes[0].name} "
                    f"entries as if they were time, and treated the {shape[1]} {axes[1].name} as independent "
                    "sequences. Set batch_first=True (or transpose to (L, B, H) first).",
                    _checked(spec, fix, before, i),
                    step_index=i,
                )
            )
        if len(shape) == 2 and axes[0].role == "batch":
            dim = 1 if p.get("batch_first") else 0
            src = f"x.unsqueeze({dim})"
            fix = Fix(f"insert `{src}` before step {i + 1}", "insert", index=i, step=src)
            seq = f"({shape[0]}, 1, {shape[1]})" if dim == 1 else f"(1, {shape[0]}, {shape[1]})"
            out.append(
                Finding(
                    "unbatched_sequence",
                    f"nn.{name} got a 2-D {_labels(axes)} tensor {_shape(shape)} and silently read it as ONE "
                    f"unbatched sequence of {shape[0]} time steps: the {shape[0]} texts now feed into each other "
                    f"through the hidden state. Give every text its own sequence of length 1 with `{src}` -> {seq}.",
                    _checked(spec, fix, before, i + 1),
                    step_index=i,
                )
            )
    if (
        step.kind is LayerKind.CONV1D
        and len(shape) == 3
        and axes[1].role in SEQUENCE_ROLES
        and axes[2].role in ("hidden", "features")
    ):
        fix = _conv_permute_fix(spec, i, step, shape, axes)
        out.append(
            Finding(
                "conv_over_hidden",
                f"nn.Conv1d reads (batch, channels, length), so here its {shape[1]} channels are your "
                f"{axes[1].label} and it slides along {axes[2].label} ({shape[2]}): it convolves across "
                f"{axes[2].name} units instead of along the sequence. It only ran because in_channels equals the "
                f"number of {axes[1].name}. Put {axes[2].name} on dim 1 first: `x.permute(0, 2, 1)`.",
                _checked(spec, fix, before, i + 1),
                step_index=i,
            )
        )
    return out


def _conv_permute_fix(spec: Spec, i: int, step: LayerStep, shape: tuple[int, ...], axes) -> Fix | None:
    src = "x.permute(0, 2, 1)"
    if "in_channels" not in step.params:
        return Fix(f"insert `{src}` before step {i + 1}", "insert", index=i, step=src)
    steps = spec.to_dict()["steps"]
    ((kind, params),) = steps[i].items()
    steps[i] = {kind: {**params, "in_channels": shape[2]}}
    steps.insert(i, src)
    return Fix(
        f"insert `{src}` before step {i + 1} and set its in_channels={shape[2]}", "set", key="steps", value=steps
    )


# ------------------------------------------------------------------------------------------ failures


def explain_failure(err: ShapeError, spec: Spec, stages: list[Stage], info: dict[str, Any]) -> ShapeError:
    """Fill ``err.explanation`` (plain words, with the numbers) and ``err.fix`` (a checked spec edit)."""
    from core.diagnosis.explain import explain

    prev = stages[-1] if stages else None
    i = err.step_index
    step = spec.steps[i] if i is not None and 0 <= i < len(spec.steps) else None
    shape = tuple(err.input_shape) if err.input_shape is not None else (tuple(prev.shape) if prev else None)
    axes: tuple[Axis, ...] = ()
    if prev is not None and shape is not None and tuple(prev.shape) == shape:
        axes = ax.fit(prev.axes, shape)
    layer = None
    if isinstance(step, LayerStep) and shape is not None:
        from core.engine.layers import resolved_params

        layer = {"kind": step.kind.value, "params": resolved_params(step, shape)}
    context = {
        "input_shape": shape,
        "input_axes": tuple(a.name for a in axes) or None,
        "step": err.step,
        "layer": layer,
    }
    ex = explain(err.message, context)
    err.kind = err.kind or ex.kind
    fix = None
    if i is not None and step is not None and shape is not None:
        try:
            fix = _failure_fix(ex, spec, stages, i, step, shape, axes)
        except Exception:  # no fix rather than a broken trace
            fix = None
    text = ex.explanation
    text += _context_note(ex.kind, axes, shape)
    if ex.fix:
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


def _move(ndim: int, src: int, dst: int) -> str:
    order = [d for d in range(ndim) if d != src]
    order.insert(dst, src)
    return f"x.permute({', '.join(map(str, order))})"


def _failure_fix(ex, spec, stages, i, step, shape, axes) -> Fix | None:
    """Candidate fixes for the error, best first; the first one whose predicted shapes get past step i wins."""
    builder = _FIXES.get(ex.kind)
    if builder is None:
        return None
    for fix, through in builder(ex.numbers, i, step, shape, axes):
        if fix is not None and _predicts(spec, fix, stages, through):
            return fix
    return None


def _name(axes: tuple[Axis, ...], d: int, size: int) -> str:
    return f"{axes[d].label} = {size}" if d < len(axes) else f"dim {d} ({size})"


def _fix_conv_channels(nums, i, step, shape, axes):
    want = nums.get("expected_channels")
    if len(shape) != 3 or not isinstance(step, LayerStep):
        return
    for d in (2, 0):
        if shape[d] == want and d != 1:
            src = _move(3, d, 1)
            yield (
                Fix(
                    f"insert `{src}` before step {i + 1}: moves {_name(axes, d, want)} to dim 1, where Conv1d "
                    "reads its channels",
                    "insert",
                    index=i,
                    step=src,
                ),
                i + 1,
            )
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


def _fix_kernel(nums, i, step, shape, axes):
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


def _fix_rnn_input(nums, i, step, shape, axes):
    want = nums.get("expected_input_size")
    if len(shape) == 3 and want in shape[:-1]:
        d = max(k for k in range(2) if shape[k] == want)
        if d != 0 or (axes and axes[0].role != "batch"):
            src = _move(3, d, 2)
            yield (
                Fix(
                    f"insert `{src}` before step {i + 1}: moves {_name(axes, d, want)} last, where the layer "
                    "reads its features",
                    "insert",
                    index=i,
                    step=src,
                ),
                i + 1,
            )
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


def _fix_linear(nums, i, step, shape, axes):
    want = nums.get("in_features")
    if not isinstance(step, LayerStep) or step.kind is not LayerKind.LINEAR:
        return
    if len(shape) >= 3 and math.prod(shape[1:]) == want:
        labels = " × ".join(a.name for a in axes[1:]) or "the dims after batch"
        yield (
            Fix(
                f"insert `x.flatten(1)` before step {i + 1}: merges {labels} into {want:,} features",
                "insert",
                index=i,
                step="x.flatten(1)",
            ),
            i + 1,
        )
    if len(shape) >= 2 and want in shape[:-1] and not (axes and axes[shape.index(want)].role == "batch"):
        d = max(k for k in range(len(shape) - 1) if shape[k] == want)
        src = _move(len(shape), d, len(shape) - 1)
        yield (
            Fix(f"insert `{src}` before step {i + 1}: moves {_name(axes, d, want)} last", "insert", index=i, step=src),
            i + 1,
        )
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


def _fix_view_stride(nums, i, step, shape, axes):
    if isinstance(step, str) and ".view(" in step:
        new = step.replace(".view(", ".reshape(")
        yield Fix(f"replace `.view(` by `.reshape(` in step {i + 1}: `{new}`", "replace", index=i, step=new), i


def _fix_reshape_size(nums, i, step, shape, axes):
    if not isinstance(step, str):
        return
    new = _resized_source(step, shape)
    if new is not None:
        yield Fix(f"replace step {i + 1} by `{new}`", "replace", index=i, step=new), i


def _resized_source(step: str, shape: tuple[int, ...]) -> str | None:
    """The step with its failing reshape/view given sizes that hold the element count (last size first)."""
    from core.engine.expr import bind, parse_expr
    from core.engine.ops import Op, chain_shapes

    expr = parse_expr(step)
    if expr.root != "x":
        return None
    ops = bind(expr, {"x": shape, "lengths": shape[:1]})
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
                return _render(new_ops, "x")
        return None
    return None


def _fix_kwarg(nums, i, step, shape, axes):
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
