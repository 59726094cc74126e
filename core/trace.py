"""Run a Spec and record every stage: source -> pooling -> steps (expressions and layers).

    >>> trace = run_spec(Spec.from_dict({"shape": [32, 128, 768], "steps": ["x.transpose(1, 2)"]}))
    >>> [s.shape for s in trace.stages]          # (b, l, h) -> (b, h, l)
    [(32, 128, 768), (32, 768, 128)]

Order of work: parse every step, predict every shape from the source shape on meta tensors (over the memory
budget or an unknown name is a refusal), then run for real. A refusal at the first step raises
``ExpressionRefused`` before anything runs; a refusal at a later step lets the steps before it run and becomes
``trace.error`` (a ``ShapeError`` of kind ``"refused"`` naming the construct, with a fix when a supported
spelling exists). A step that fails stops the trace with a ShapeError in ``trace.error``; the stages before it
stay. Steps read and bind names: ``x``, ``mask`` / ``attention_mask`` (b, l), ``input_ids`` (texts),
``lengths`` (b,), ``h_n`` / ``c_n`` after an LSTM/GRU, and whatever earlier steps bound (``w = ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from core.diagnosis import axes as ax
from core.diagnosis import findings as diagnosis
from core.engine.evaluate import first, is_packed
from core.engine.expr import MAX_NUMEL, Statement, run_statement
from core.engine.layers import build_layer, count_parameters, predict_layer, resolved_params, run_layer
from core.engine.losses import build_loss, labels_tensor, per_sample_loss, run_loss, synthetic_target
from core.engine.predict import layer_binds, parse_prefix, predict_chain, reads_after, source_env
from core.engine.retention import Retention, drop_unread, tensors_in
from core.errors import BudgetExceeded, ExpressionRefused, RunCancelled, ShapeError, SpecError
from core.fixes import Fix
from core.limits import check_deadline
from core.limits import current as current_limits
from core.records import Finding, Stage
from core.spec import LayerStep, LossStep, Pooling, Spec, step_source


@dataclass
class Trace:
    """The result of running a Spec. ``tensors[i]`` is the tensor of ``stages[i]``."""

    spec: Spec
    stages: list[Stage] = field(default_factory=list)
    tensors: list[Any] = field(default_factory=list)
    side: list[dict[str, Any]] = field(default_factory=list)  # per stage: h_n, c_n tensors...
    findings: list[Finding] = field(default_factory=list)  # spec-level notes (pooling, truncation)
    error: ShapeError | None = None
    encoding: Any = None
    checkpoint: Any = None  # CheckpointInfo for text specs

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def warnings(self) -> list[Finding]:
        return [*self.findings, *(w for s in self.stages for w in s.warnings)]

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stages": [s.to_dict() for s in self.stages],
            "warnings": [w.to_dict() for w in self.warnings],
            "error": error_dict(self.error, len(self.stages)) if self.error else None,
        }
        if self.checkpoint is not None:
            out["checkpoint"] = self.checkpoint.to_dict()
        if self.encoding is not None:
            enc = self.encoding
            out["tokens"] = [
                {"text": t, "tokens": list(tok[:n]), "length": n, "truncated": cut}
                for t, tok, n, cut in zip(enc.texts, enc.tokens, enc.lengths, enc.truncated)
            ]
        return out


def error_dict(err: ShapeError, stages_before: int) -> dict[str, Any]:
    return {
        "step": err.step_index,
        "step_text": err.step,
        "kind": err.kind,
        "refused": err.kind == "refused",
        "message": err.message,
        "explanation": err.explanation,
        "fix": err.fix.description if err.fix is not None else None,
        "fix_edit": err.fix.to_dict()["edit"] if err.fix is not None else None,
        "input_shape": list(err.input_shape) if err.input_shape is not None else None,
        "input_axes": list(err.input_axes) if err.input_axes is not None else None,
        "stages_before": stages_before,
    }


def run_spec(
    spec: Spec, checkpoint: Any = None, device: str = "auto", max_numel: int = MAX_NUMEL, attentions: bool = True
) -> Trace:
    """Run a Spec. Raises SpecError, ExpressionRefused (refused at the first step: nothing ran) or CheckpointError."""
    import torch

    exprs, refusal = parse_prefix(spec)
    if refusal is not None and refusal.step_index == 0:
        raise refusal
    trace = Trace(spec)
    env: dict[str, Any] = {}
    info: dict[str, Any] = {"checkpoint": None, "lengths": None, "padded": False}
    if spec.uses_model:
        from core.model.checkpoints import load_checkpoint
        from core.model.encoding import check_encoder_work, encode, encoding_bytes, tokenize

        ckpt = checkpoint or load_checkpoint(spec.checkpoint, device)
        trace.checkpoint = ckpt.info
        info["checkpoint"] = ckpt.info
        with ckpt.lock:
            batch, _ = tokenize(ckpt, spec.texts, spec.max_length)
        b, seq = batch["input_ids"].shape
        src_shape = _pooled_shape(spec.pooling, (b, seq, ckpt.info.hidden_size))
        held = encoding_bytes(ckpt, b, seq, attentions)  # the encoder output stays (memo, tokens panel, pooling)
        work = check_encoder_work(ckpt, b, seq)  # the forward's FLOPs: the layer steps add to them
        names = source_env(spec, src_shape, (b, seq))
        refusal = _predict(spec, exprs, src_shape, max_numel, names, refusal, held, work)
        enc = encode(ckpt, spec.texts, spec.max_length, attentions=attentions)
        trace.encoding = enc
        mask = enc.attention_mask.to(enc.hidden_states[-1].device)
        lengths = torch.tensor(enc.lengths, device=mask.device)
        env.update(mask=mask, attention_mask=mask, input_ids=enc.input_ids.to(mask.device))
        info.update(lengths=enc.lengths, padded=min(enc.lengths) < max(enc.lengths))
        n = len(enc.hidden_states)
        if not -n <= spec.layer < n:
            raise SpecError(
                f"layer {spec.layer} does not exist: this checkpoint has {n} hidden-state entries "
                f"(0 = embeddings, 1..{n - 1} = transformer layers)"
            )
        layer_no = spec.layer % n
        x = enc.hidden_states[spec.layer]
        _add(
            trace,
            x,
            "source",
            "encoder output",
            f"outputs.hidden_states[{spec.layer}]  # layer {layer_no} of {n - 1}",
            ax.text_axes(tuple(x.shape)),
        )
        trace.findings.extend(diagnosis.spec_findings(spec, ckpt.info, enc))
        if spec.pooling is not Pooling.NONE:
            from core.model.pooling import pool

            x = pool(spec.pooling, enc.hidden_states, mask, enc.pooler_output, spec.layer)
    else:
        src_shape = _pooled_shape(spec.pooling, spec.shape)
        held = 4 * _numel(spec.shape) if spec.pooling is not Pooling.NONE else 0  # the unpooled source stage
        refusal = _predict(spec, exprs, src_shape, max_numel, source_env(spec, src_shape), refusal, held)
        g = torch.Generator().manual_seed(spec.seed)
        x = torch.randn(spec.shape, generator=g)
        lengths = torch.full((spec.shape[0],), spec.shape[1] if len(spec.shape) > 1 else 1)
        if len(spec.shape) >= 2:
            ones = torch.ones(spec.shape[:2], dtype=torch.long)
            env.update(mask=ones, attention_mask=ones)
        _add(
            trace,
            x,
            "source",
            "synthetic tensor",
            f"torch.randn{tuple(spec.shape)}",
            ax.synthetic_axes(tuple(spec.shape)),
        )
        if spec.pooling is not Pooling.NONE:
            if spec.pooling not in (Pooling.CLS, Pooling.MEAN, Pooling.MAX) or x.dim() != 3:
                raise SpecError("a synthetic (batch, tokens, hidden) tensor supports only cls, mean or max pooling")
            from core.model.pooling import pool

            x = pool(spec.pooling, (x,), torch.ones(x.shape[:2]), None, -1)
    if spec.pooling is not Pooling.NONE:  # (b, l, h) -> (b, h), or (b, 4h) for last4_concat
        _add(
            trace,
            x,
            "pooling",
            f"pool: {spec.pooling.value}",
            _pool_source(spec),
            ax.pooled_axes(spec.pooling, tuple(x.shape)),
        )
    env.update(x=x, lengths=lengths)
    info["held"] = held
    if spec.labels is not None:
        env["labels"] = labels_tensor(spec.labels).to(x.device)
    _run_steps(trace, spec, exprs, env, info, max_numel, refusal)
    return trace


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _predict(
    spec: Spec,
    exprs: dict[Any, Statement],
    shape: tuple[int, ...],
    max_numel: int,
    names: dict[str, Any],
    refusal: ExpressionRefused | None,
    held: int = 0,
    work: float = 0.0,
) -> ExpressionRefused | None:
    """Predict every shape before anything runs; a refusal at the first step raises, a later one is returned.

    The memory budget is the pipeline's: the bytes held at once (``held``: the encoder output; every name,
    every stage kept for display, each op's input and output; see ``core.engine.retention``) are predicted.
    So is the work budget: the encoder's FLOPs (``work``) plus every layer step's.
    """
    budgets = current_limits()
    retention = Retention(budgets.memory_bytes, extra=held, work=work, work_limit=budgets.work_flops)
    try:
        predict_chain(spec, exprs, shape, max_numel, env=names, retention=retention)
    except ExpressionRefused as e:
        if not e.step_index:
            raise
        if refusal is None or e.step_index < (refusal.step_index or 0):
            return e
    return refusal


def _pooled_shape(pooling: Pooling, shape: tuple[int, ...]) -> tuple[int, ...]:
    if pooling is Pooling.NONE:
        return shape
    width = shape[-1] * (4 if pooling is Pooling.LAST4_CONCAT else 1)
    return (shape[0], width)


def _pool_source(spec: Spec) -> str:
    from core.model.pooling import DESCRIPTIONS

    return DESCRIPTIONS[spec.pooling]


def _run_steps(
    trace: Trace,
    spec: Spec,
    exprs: dict[Any, Statement],
    env: dict[str, Any],
    info: dict[str, Any],
    max_numel: int,
    refusal: ExpressionRefused | None = None,
) -> None:
    axes_env = _start_axes(trace, env)
    book = diagnosis.NameBook.start(trace.stages, env, axes_env)
    info["book"] = book  # every name as the next step finds it: shape, axes, the stage that bound it, its path
    retention = Retention(current_limits().memory_bytes, extra=info.get("held", 0))
    offset = len(trace.stages) - 1  # retention's first stage is the one x starts as
    retention.add_stage(trace.tensors[-1], env, "the source")
    later = reads_after(spec, exprs)
    for i, step in enumerate(spec.steps):
        prev = trace.stages[-1]
        text = step_source(step)
        if refusal is not None and i == refusal.step_index:
            trace.error = _refused(refusal, i, text, prev)
            return
        info["env"] = dict(env)  # the names as the step found them (diagnosis reads the data, never changes it)
        try:
            check_deadline(f"before step {i + 1}")
            if isinstance(step, str):
                out, axes, side, extras, binds, notes = _run_expr_step(exprs[i], env, axes_env, prev, max_numel)
                kind = "expr"
            elif isinstance(step, LossStep):
                out, axes, side, extras, binds = _run_loss_step(spec, i, step, exprs, env, axes_env, max_numel)
                kind, notes = "loss", []
            else:
                out, axes, side, extras, binds = _run_layer_step(spec, i, step, exprs, env, axes_env, prev, max_numel)
                kind, notes = step.kind.value, []
        except RunCancelled as e:
            trace.error = _stopped(str(e), i, text, prev, "stopped")
            return
        except ExpressionRefused as e:
            trace.error = _refused(e, i, text, prev)
            return
        except ShapeError as e:
            trace.error = _located(e, i, text, prev, spec, trace, info)
            return
        except (MemoryError, RuntimeError, TypeError, ValueError, IndexError) as e:
            if _out_of_memory(e):
                trace.error = _stopped(OUT_OF_MEMORY, i, text, prev, "out_of_memory")
                return
            err = ShapeError(f"{type(e).__name__}: {e}" if isinstance(e, TypeError) else str(e))
            trace.error = _located(err, i, text, prev, spec, trace, info)
            return
        env.update(binds)
        drop_unread(env, later[i], retention.keep_for_display)
        for name, value in binds.items():
            if kind in ("lstm", "gru") and any(value is v for v in side.values()):
                continue  # h_n / c_n under any name: their axes were set by the layer step
            shown = tuple(getattr(first(value), "shape", ()))
            same = shown == tuple(first(out).shape)
            axes_env[name] = ax.fit(axes, shown) if same else ax.fit(axes_env.get(name, ()), shown)
        stage = _add(trace, out, kind, f"step {i + 1}", text, axes, step_index=i, extras=extras, side=side)
        try:  # what was predicted, now for real: older stage tensors too large to keep for display are let go
            retention.add_stage(trace.tensors[-1], env, f"step {i + 1}")
        except BudgetExceeded as e:  # a shape the prediction could not know (it depends on values)
            trace.error = _refused(e, i, text, prev)
            return
        for j in retention.released():
            _release(trace, offset + j)
        # diagnosis reads the step over the names it read, as it found them (info["book"]), whatever they are called
        info["names"] = {k: tuple(getattr(first(v), "shape", ())) for k, v in env.items()}
        info["ops"] = side.get("ops") if kind == "expr" else None
        found = [*notes, *diagnosis.stage_findings(spec, trace.stages, i, step, info)]
        if found:
            trace.stages[-1] = _with_warnings(stage, found)
        book.bind(stage.index, _reads(step, exprs, i), binds, axes_env, side, kind, before=info["env"])


OUT_OF_MEMORY = (
    "the server ran out of memory running this step; nothing is wrong with the shapes. Use smaller sizes, fewer "
    "texts or a smaller layer"
)


def _out_of_memory(e: BaseException) -> bool:
    text = str(e)
    return isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or "can't allocate memory" in text


def _stopped(message: str, i: int, text: str, prev: Stage, kind: str) -> ShapeError:
    """A step that could not finish for a reason other than its shapes (time limit, memory): no diagnosis."""
    why = {
        "stopped": "The run reached the server's time limit, so it was stopped before this step; the steps before "
        "it ran.",
        "out_of_memory": "Not a shape problem: the machine could not allocate what this step needs.",
    }[kind]
    return ShapeError(
        message,
        step_index=i,
        step=text,
        input_shape=prev.shape,
        input_axes=prev.axis_labels,
        explanation=why,
        kind=kind,
    )


def _release(trace: Trace, index: int) -> None:
    """Let a stage's tensors go (its record stays): too large to keep for display once later steps ran."""
    if trace.tensors[index] is None:
        return
    trace.tensors[index] = None
    side = trace.side[index]
    for key, value in list(side.items()):
        if tensors_in(value):
            side[key] = None


def _reads(step: Any, exprs: dict[Any, Statement], i: int) -> list[str]:
    """The names step ``i`` read, the tensor it works on first (an expression's root, a layer's or loss's input)."""
    from core.engine.parse import names_read

    stmts = [exprs[k] for k in (i, (i, "h0"), (i, "c0"), (i, "target")) if k in exprs]
    first_name = [step.input] if isinstance(step, (LayerStep, LossStep)) else []
    if isinstance(step, str) and i in exprs and exprs[i].expr.root is not None:
        first_name = [exprs[i].expr.root]
    return [*first_name, *sorted(n for st in stmts for n in names_read(st))]


def _start_axes(trace: Trace, env: dict[str, Any]) -> dict[str, tuple]:
    """Axis labels of the names a pipeline starts with (``x`` from its stage, the mask (B, L), lengths (B,))."""
    source = trace.stages[0]
    batch, tokens = ax.BATCH, ax.TOKENS
    out: dict[str, tuple] = {"x": trace.stages[-1].axes, "lengths": (batch,)}
    if len(source.shape) >= 2:
        for name in ("mask", "attention_mask", "input_ids"):
            if name in env:
                out[name] = (batch, tokens)
    return out


def _run_expr_step(stmt: Statement, env: dict[str, Any], axes_env: dict[str, tuple], prev: Stage, max_numel: int):
    run = run_statement(stmt, env, max_numel, light=True)  # intermediates let go as the chain runs
    results = run.results
    root = stmt.expr.root
    root_value = env.get(root) if root is not None else None
    root_shape = tuple(first(root_value).shape) if root_value is not None else None
    shapes = [tuple(first(t).shape) for _, t in results]
    ops = tuple(op for op, _ in results)
    axes = ax.expr_axes(ops, shapes, prev, root, root_shape, env_axes=axes_env)
    out = run.value
    if shapes and tuple(first(out).shape) != shapes[-1]:
        axes = ax.fit((), tuple(first(out).shape))
    side: dict[str, Any] = {"ops": [(op, tuple(first(t).shape)) for op, t in results], "binds": run.binds}
    extras: list[tuple[str, Any]] = []
    if stmt.targets is not None:
        extras.append(("binds", tuple(run.binds)))
        if len(run.binds) > 1:
            extras.append(("bound", tuple((n, _shape_of(v)) for n, v in run.binds.items())))
    notes = [
        Finding("torch_warning", f"torch warns at `{where}`: {text}", severity="warning", step_index=None)
        for where, text in dict.fromkeys(run.warnings)
    ]
    return out, axes, side, tuple(extras), run.binds, notes


def _shape_of(v: Any) -> tuple[int, ...]:
    return tuple(first(v).shape)


def _run_layer_step(
    spec: Spec,
    i: int,
    step: LayerStep,
    exprs: dict[Any, Statement],
    env: dict[str, Any],
    axes_env: dict[str, tuple],
    prev: Stage,
    max_numel: int,
):
    if step.input not in env:
        raise ExpressionRefused(f"`{step.input}` is not defined here; available: {', '.join(sorted(env))}")
    x = env[step.input]
    data = first(x)
    shape = tuple(data.shape)
    states = {key: run_statement(exprs[(i, key)], env, max_numel).value for key in ("h0", "c0") if (i, key) in exprs}
    module = build_layer(step, shape, spec.seed, i, str(data.device), data.dtype)
    out, side = run_layer(module, step, x, states.get("h0"), states.get("c0"))
    params = resolved_params(step, shape)
    pred = predict_layer(step, shape) if not is_packed(x) else None
    facts = pred.extras if pred else tuple((k, tuple(v.shape)) for k, v in side.items())
    extras: list[tuple[str, Any]] = [
        ("parameters", count_parameters(module)),
        *facts,
        ("params", tuple(sorted(params.items()))),
    ]
    here = replace(prev, shape=shape, axes=ax.fit(axes_env.get(step.input, ()), shape))
    out_shape = tuple(first(out).shape)
    axes = ax.packed_axes(step, params, out_shape) if is_packed(x) else ax.layer_axes(step, params, here, out_shape)
    binds = {**side, **layer_binds(step, out, side)}
    if step.output is not None or step.input != "x":
        extras.append(("binds", step.names))
    for name, v in binds.items():  # h_n / c_n, and the user's names for them (``out, (h, c)``)
        if any(v is s for s in side.values()):
            axes_env[name] = ax.state_axes(tuple(v.shape))
    return out, axes, side, tuple(extras), binds


def _run_loss_step(
    spec: Spec,
    i: int,
    step: LossStep,
    exprs: dict[Any, Statement],
    env: dict[str, Any],
    axes_env: dict[str, tuple],
    max_numel: int,
):
    """Logits against targets: the loss value becomes the stage (``x`` is left as it was) and is bound as ``loss``.

    The side keeps the logits, the targets and the per-sample losses (reduction='none') for the loss panel.
    """
    if step.input not in env:
        raise ExpressionRefused(f"`{step.input}` is not defined here; available: {', '.join(sorted(env))}")
    logits = first(env[step.input])
    if isinstance(step.target, str):
        target = first(run_statement(exprs[(i, "target")], env, max_numel).value)
    else:
        target = synthetic_target(step.target, spec.seed, i).to(logits.device)
    module = build_loss(step.kind, step.params)
    value, warned = run_loss(module, logits, target)
    side: dict[str, Any] = {"logits": logits, "target": target, "per_sample": per_sample_loss(step, logits, target)}
    extras: list[tuple[str, Any]] = [
        ("loss_kind", step.kind.value),
        ("input", step.input),
        ("target_source", step.target_source),
        ("logits", tuple(logits.shape)),
        ("logits_dtype", str(logits.dtype).replace("torch.", "")),
        ("target", tuple(target.shape)),
        ("target_dtype", str(target.dtype).replace("torch.", "")),
        ("reduction", step.params.get("reduction", "mean")),
    ]
    if value.dim() == 0:
        extras.append(("value", float(value)))
    if warned:
        extras.append(("torch_warnings", tuple(dict.fromkeys(warned))))
    in_axes = ax.fit(axes_env.get(step.input, ()), tuple(logits.shape))
    axes = ax.loss_axes(step.kind.value, in_axes, tuple(value.shape))
    return value, axes, side, tuple(extras), {"loss": value}


def _refused(e: ExpressionRefused, i: int, text: str, prev: Stage) -> ShapeError:
    """A refusal as the trace's error at step ``i``: the construct named, a fix when a supported spelling exists."""
    detail = re.sub(r"^step \d+ `.*?` refused: ", "", str(e), flags=re.S)
    fix = None
    if e.suggestion:
        fix = Fix(f"replace step {i + 1} by `{e.suggestion}`", "replace", index=i, step=e.suggestion)
    return ShapeError(
        detail,
        step_index=i,
        step=text,
        input_shape=prev.shape,
        input_axes=prev.axis_labels,
        explanation=(
            "This step is outside the safe expression language (or over the memory budget), so it was not run; "
            "the steps before it ran."
        ),
        fix=fix,
        kind="refused",
    )


def _located(err: ShapeError, i: int, text: str, prev: Stage, spec: Spec, trace: Trace, info: dict[str, Any]):
    """The failure at step ``i``, its input being the tensor the step reads (a layer's or loss's ``input``, an
    expression's root), which is the previous stage only when the step reads ``x`` right after it."""
    err.step_index, err.step = i, text
    named = diagnosis.step_input(spec.steps[i], info.get("book"))
    if named is not None and named.shape:
        err.input_shape, err.input_axes = named.shape, tuple(a.label for a in named.axes)
    else:
        err.input_shape, err.input_axes = prev.shape, prev.axis_labels
    return diagnosis.explain_failure(err, spec, trace.stages, info)


def _with_warnings(stage: Stage, found: list[Finding]) -> Stage:
    from dataclasses import replace

    return replace(stage, warnings=(*stage.warnings, *found))


def _add(
    trace: Trace,
    t: Any,
    kind: str,
    name: str,
    source: str,
    axes: tuple,
    step_index: int | None = None,
    extras: tuple = (),
    side: dict | None = None,
) -> Stage:
    if is_packed(t):  # a PackedSequence is shown by its data (sum of lengths, features) and batch sizes
        extras = (*extras, ("packed", True), ("batch_sizes", tuple(int(v) for v in t.batch_sizes)))
        t = t.data
    elif isinstance(t, (tuple, list)):
        t = first(t)
    stage = Stage(
        index=len(trace.stages),
        name=name,
        kind=kind,
        source=source,
        shape=tuple(t.shape),
        axes=tuple(axes),
        dtype=str(t.dtype).replace("torch.", ""),
        device=str(t.device),
        strides=tuple(t.stride()),
        contiguous=bool(t.is_contiguous()),
        numel=t.numel(),
        bytes=t.numel() * t.element_size(),
        step_index=step_index,
        extras=tuple(extras),
    )
    trace.stages.append(stage)
    trace.tensors.append(t)
    trace.side.append(side or {})
    return stage
