"""Run a Spec and record every stage: source -> pooling -> steps (expressions and layers).

    >>> trace = run_spec(Spec.from_dict({"shape": [32, 128, 768], "steps": ["x.transpose(1, 2)"]}))
    >>> [s.shape for s in trace.stages]          # (b, l, h) -> (b, h, l)
    [(32, 128, 768), (32, 768, 128)]

Order of work: parse every expression (refused -> ExpressionRefused, nothing ran), predict every shape
from the source shape (over the memory budget -> ExpressionRefused, nothing ran), then run for real.
A step that fails stops the trace with a ShapeError in ``trace.error``; the stages before it stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.diagnosis import axes as ax
from core.diagnosis import findings as diagnosis
from core.engine.expr import MAX_NUMEL, Expr, run_expr
from core.engine.layers import build_layer, count_parameters, predict_layer, resolved_params, run_layer
from core.engine.predict import parse_steps, predict_chain
from core.errors import ShapeError, SpecError
from core.records import Finding, Stage
from core.spec import Pooling, Spec, step_source


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
    """Run a Spec. Raises SpecError / ExpressionRefused (nothing ran) or CheckpointError."""
    import torch

    exprs = parse_steps(spec)
    trace = Trace(spec)
    env: dict[str, Any] = {}
    info: dict[str, Any] = {"checkpoint": None, "lengths": None, "padded": False}
    if spec.uses_model:
        from core.model.checkpoints import load_checkpoint
        from core.model.encoding import encode, tokenize

        ckpt = checkpoint or load_checkpoint(spec.checkpoint, device)
        trace.checkpoint = ckpt.info
        info["checkpoint"] = ckpt.info
        with ckpt.lock:
            batch, _ = tokenize(ckpt, spec.texts, spec.max_length)
        b, seq = batch["input_ids"].shape
        src_shape = _pooled_shape(spec.pooling, (b, seq, ckpt.info.hidden_size))
        predict_chain(spec, exprs, src_shape, max_numel)  # refuses before BERT runs
        enc = encode(ckpt, spec.texts, spec.max_length, attentions=attentions)
        trace.encoding = enc
        mask = enc.attention_mask.to(enc.hidden_states[-1].device)
        lengths = torch.tensor(enc.lengths, device=mask.device)
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
        predict_chain(spec, exprs, _pooled_shape(spec.pooling, spec.shape), max_numel)
        g = torch.Generator().manual_seed(spec.seed)
        x = torch.randn(spec.shape, generator=g)
        lengths = torch.full((spec.shape[0],), spec.shape[1] if len(spec.shape) > 1 else 1)
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
    _run_steps(trace, spec, exprs, env, info, max_numel)
    return trace


def _pooled_shape(pooling: Pooling, shape: tuple[int, ...]) -> tuple[int, ...]:
    if pooling is Pooling.NONE:
        return shape
    width = shape[-1] * (4 if pooling is Pooling.LAST4_CONCAT else 1)
    return (shape[0], width)


def _pool_source(spec: Spec) -> str:
    from core.model.pooling import DESCRIPTIONS

    return DESCRIPTIONS[spec.pooling]


def _run_steps(
    trace: Trace, spec: Spec, exprs: dict[int, Expr], env: dict[str, Any], info: dict[str, Any], max_numel: int
) -> None:
    for i, step in enumerate(spec.steps):
        x = env["x"]
        prev = trace.stages[-1]
        text = step_source(step)
        try:
            if isinstance(step, str):
                results = run_expr(exprs[i], env, max_numel)
                out = results[-1][1] if results else x
                ops = tuple(op for op, _ in results)
                root = exprs[i].root
                axes = ax.expr_axes(ops, [tuple(t.shape) for _, t in results], prev, root, tuple(env[root].shape))
                side: dict[str, Any] = {"ops": [(op, tuple(t.shape)) for op, t in results]}
                extras: tuple[tuple[str, Any], ...] = ()
                kind = "expr"
            else:
                module = build_layer(step, tuple(x.shape), spec.seed, i, str(x.device), x.dtype)
                out, side = run_layer(module, step, x)
                params = resolved_params(step, tuple(x.shape))
                pred = predict_layer(step, tuple(x.shape))
                extras = (
                    ("parameters", count_parameters(module)),
                    *(pred.extras if pred else ()),
                    ("params", tuple(sorted(params.items()))),
                )
                axes = ax.layer_axes(step, params, prev, tuple(out.shape))
                env.update({k: v for k, v in side.items()})
                kind = step.kind.value
        except ShapeError as e:
            trace.error = _located(e, i, text, prev, spec, trace, info)
            return
        except (RuntimeError, TypeError, ValueError, IndexError) as e:
            err = ShapeError(f"{type(e).__name__}: {e}" if isinstance(e, TypeError) else str(e))
            trace.error = _located(err, i, text, prev, spec, trace, info)
            return
        env["x"] = out
        stage = _add(trace, out, kind, f"step {i + 1}", text, axes, step_index=i, extras=extras, side=side)
        found = diagnosis.stage_findings(spec, trace.stages, i, step, info)
        if found:
            trace.stages[-1] = _with_warnings(stage, found)


def _located(err: ShapeError, i: int, text: str, prev: Stage, spec: Spec, trace: Trace, info: dict[str, Any]):
    err.step_index, err.step = i, text
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
