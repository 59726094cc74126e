"""What every family of findings needs: check a fix by predicting shapes, bind an expression step, word shapes.

A Fix is offered only when it is *checked*: applied to the spec, the shapes are predicted again
(``core.engine.predict.predict_chain``) and must get past the step it repairs. ``OpSite`` is one op of an
expression step that ran, with everything a warning rule may read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.diagnosis import axes as ax
from core.fixes import Fix, apply_fix
from core.records import Axis, Stage
from core.spec import Pooling, Spec

# ------------------------------------------------------------------------------------------- checking fixes


def source_shape(stages: list[Stage], pooling: Pooling | None = None) -> tuple[int, ...]:
    """Shape fed to the first step: the last stage that is not a step (source or pooling).

    With ``pooling`` (a fix that changes it), the encoder output ``stages[0]`` pooled that way: (b, h), or (b, 4·h)
    for last4_concat.
    """
    if pooling is None:
        return next(s.shape for s in reversed(stages) if s.step_index is None)
    src = tuple(stages[0].shape)
    if pooling is Pooling.NONE or len(src) != 3:
        return src
    return (src[0], src[-1] * (4 if pooling is Pooling.LAST4_CONCAT else 1))


def predicted(spec: Spec, fix: Fix, stages: list[Stage]) -> tuple[Spec, list[tuple[int, ...]]] | None:
    """The fixed spec and its predicted shapes after each step (up to the first that fails); None: no valid edit."""
    from core.engine.predict import parse_steps, predict_chain

    try:
        fixed = Spec.from_dict(apply_fix(spec.to_dict(), fix))
        pooling = fixed.pooling if fixed.pooling is not spec.pooling else None
        return fixed, predict_chain(fixed, parse_steps(fixed), source_shape(stages, pooling))
    except Exception:  # an edit that does not even parse or predict is no fix
        return None


def predicts(spec: Spec, fix: Fix, stages: list[Stage], through: int) -> bool:
    """True when, with ``fix`` applied, the predicted shapes get past step ``through`` (0-based, new spec)."""
    got = predicted(spec, fix, stages)
    if got is None:
        return False
    fixed, shapes = got
    return len(shapes) > min(through, len(fixed.steps) - 1)


def checked(spec: Spec, fix: Fix | None, stages: list[Stage], through: int) -> Fix | None:
    """``fix`` when it is an edit that gets the predicted shapes past step ``through``, else None."""
    return fix if fix is not None and predicts(spec, fix, stages, through) else None


def replace_fix(spec: Spec, stages: list[Stage], i: int, source: str, why: str = "") -> Fix | None:
    """Replace step ``i`` by ``source``, checked to the end of the chain.

    When the new step changes the width a later layer was built for (an explicit in_features / input_size /
    in_channels), that parameter is set to the new width in the same edit, so the fix creates no new error.
    Falls back to a fix checked only past step ``i`` (None if even that fails). ``stages``: those before step i.
    """
    from core.engine.layers import inferred_input_size
    from core.spec import INPUT_PARAM, LayerStep

    text = f"replace step {i + 1} by `{source}`{why}"
    plain = Fix(text, "replace", index=i, step=source)
    last = len(spec.steps) - 1
    if predicts(spec, plain, stages, last):
        return plain
    got = predicted(spec, plain, stages)
    if got is not None:
        fixed, shapes = got
        j = len(shapes)  # the first step that no longer fits
        step = fixed.steps[j] if i < j <= last else None
        if isinstance(step, LayerStep) and INPUT_PARAM[step.kind] in step.params:
            param = INPUT_PARAM[step.kind]
            width = inferred_input_size(step.kind, shapes[j - 1])
            steps = fixed.to_dict()["steps"]
            ((kind, params),) = ((k, v) for k, v in steps[j].items() if k == step.kind.value)
            steps[j] = {**steps[j], kind: {**params, param: width}}
            both = Fix(f"{text}, and set {param}={width} on step {j + 1}", "set", key="steps", value=steps)
            if predicts(spec, both, stages, last):
                return both
    return checked(spec, plain, stages, i)


# ------------------------------------------------------------------------------------- expression steps


@dataclass(frozen=True)
class OpSite:
    """Op ``k`` of the expression step ``index`` that just ran.

    ``stages[-1]`` is the step's stage and ``stages[-2]`` its input; ``shapes[k]`` / ``axes[k]`` are what op ``k``
    received and ``shapes[k + 1]`` / ``axes[k + 1]`` what it produced (``shapes[0]`` is the root's shape).
    ``info`` is the trace's run facts (``padded``, ``lengths``...).
    """

    spec: Spec
    stages: list[Stage]
    index: int
    step: str
    root: str
    ops: tuple[Any, ...]
    k: int
    shapes: list[tuple[int, ...]]
    axes: list[tuple[Axis, ...]]
    info: dict[str, Any]

    @property
    def op(self) -> Any:
        return self.ops[self.k]

    @property
    def s_in(self) -> tuple[int, ...]:
        return self.shapes[self.k]

    @property
    def s_out(self) -> tuple[int, ...]:
        return self.shapes[self.k + 1]

    @property
    def a_in(self) -> tuple[Axis, ...]:
        return self.axes[self.k]


def env_shapes(stages: list[Stage], x_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """The shapes of the names an expression may use (``x``, ``lengths``, ``h_n``, ``c_n``) at this point."""
    shapes = {"x": tuple(x_shape), "lengths": tuple(stages[0].shape[:1])}
    for st in reversed(stages):
        if st.extra("h_n") is not None:
            shapes["h_n"] = tuple(st.extra("h_n"))
            if st.extra("c_n") is not None:
                shapes["c_n"] = tuple(st.extra("c_n"))
            break
    return shapes


def op_sites(spec: Spec, stages: list[Stage], i: int, step: str, info: dict[str, Any]) -> list[OpSite]:
    """One ``OpSite`` per op of the expression step ``step`` (its root, bound ops, shapes and axes after each op)."""
    from core.engine.expr import bind, parse_expr
    from core.engine.ops import chain_shapes

    x_stage = stages[-2]
    expr = parse_expr(step)
    env = env_shapes(stages, x_stage.shape)
    ops = bind(expr, env)
    root_shape = env[expr.root]
    shapes = [root_shape, *chain_shapes(root_shape, ops)]
    axes = [ax.root_axes(expr.root, root_shape, x_stage)]
    for op, a, b in zip(ops, shapes, shapes[1:]):
        axes.append(ax.fit(ax.op_axes(op, a, axes[-1], b), b))
    return [OpSite(spec, stages, i, step, expr.root, ops, k, shapes, axes, info) for k in range(len(ops))]


def render(ops: Any, root: str) -> str:
    """Source text of a chain of bound ops on ``root`` (how a fix writes the repaired step)."""
    from core.engine.expr import to_source

    return to_source(tuple(ops), root)


# ---------------------------------------------------------------------------------------------- wording


def shape_str(s: tuple[int, ...]) -> str:
    """``(32, 128, 768)``; a 1-tuple keeps its comma: ``(4,)``."""
    return "(" + ", ".join(str(v) for v in s) + ("," if len(s) == 1 else "") + ")"


def labels(axes: tuple[Axis, ...]) -> str:
    """``(batch (B), tokens (L), hidden (H))``."""
    return "(" + ", ".join(a.label for a in axes) + ")"


def singular(name: str) -> str:
    return {"tokens": "token", "time steps": "time step", "positions": "position"}.get(name, name)


def shorter(short: list[int], lengths: tuple[int, ...]) -> str:
    """``"2 of 3 texts are shorter"`` / ``"1 of 2 texts is shorter"``."""
    return f"{len(short)} of {len(lengths)} texts {'is' if len(short) == 1 else 'are'} shorter"
