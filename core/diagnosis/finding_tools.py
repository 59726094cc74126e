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

    ``stages[-1]`` is the step's stage; the step reads ``root`` (``x`` or any name: ``out``, ``h``, ``emb``), whose
    record as the step found it is ``named`` (shape, axes, the stage that bound it, its data's path). ``shapes[k]``
    / ``axes[k]`` are what op ``k`` received and ``shapes[k + 1]`` / ``axes[k + 1]`` what it produced
    (``shapes[0]`` is the root's shape). ``targets``: the names the step binds (None: a bare step, which binds
    ``x``). ``info`` is the trace's run facts (``padded``, ``lengths``, ``env``, ``book``...).
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
    targets: Any = None

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

    @property
    def book(self) -> Any:
        return self.info.get("book")

    @property
    def named(self) -> Any:
        """The root's ``step_names.Named`` (None when the trace kept no book)."""
        return self.book.get(self.root) if self.book is not None else None

    @property
    def role(self) -> str:
        """What the root holds: ``source``, ``output``, ``h_n`` / ``c_n``, ``value``, ``mask``…"""
        named = self.named
        return named.role if named is not None else ("h_n" if self.root in ("h_n", "c_n") else "value")

    @property
    def is_state(self) -> bool:
        return self.role in ("h_n", "c_n")

    @property
    def single(self) -> bool:
        """The step binds one name (or is bare): a fix may give it another expression."""
        return self.targets is None or isinstance(self.targets, str)

    def write(self, expr: str, **names: str) -> str:
        """The step rewritten to compute ``expr`` — written over ``x`` (the root), ``h_n`` … — in the user's names,
        bound to the step's own targets: ``last = out[torch.arange(out.shape[0]), lengths - 1]``."""
        from core.diagnosis.step_names import assignment, rename

        return assignment(self.targets, rename(expr, {"x": self.root, **names}))

    def keep(self, expr: str) -> str:
        """``expr`` (already in the user's names) bound to the step's own targets."""
        from core.diagnosis.step_names import assignment

        return assignment(self.targets, expr)


def op_sites(spec: Spec, stages: list[Stage], i: int, step: str, info: dict[str, Any]) -> list[OpSite]:
    """One ``OpSite`` per op of the expression step ``step``: the ops as the run bound them (``info["ops"]``:
    ``[(op, shape after it), ...]``), starting from the root the step reads, with its shape and axes."""
    from core.engine.parse import parse_statement

    stmt = parse_statement(step)
    root = stmt.expr.root
    book = info.get("book")
    named = book.get(root) if book is not None else None
    ran = info.get("ops") or []
    if root is None or named is None or not ran:
        return []
    ops = tuple(op for op, _ in ran)
    shapes = [tuple(named.shape), *(tuple(s) for _, s in ran)]
    env = ax.names_env(stages[-2] if len(stages) > 1 else None, {n: v.axes for n, v in book.names.items()})
    axes = [ax.fit(named.axes, tuple(named.shape))]
    for op, a, b in zip(ops, shapes, shapes[1:]):
        try:
            axes.append(ax.fit(ax.op_axes(op, a, axes[-1], b, env), b))
        except Exception:  # a label rule must never break a diagnosis
            axes.append(ax.fit((), b))
    return [OpSite(spec, stages, i, step, root, ops, k, shapes, axes, info, stmt.targets) for k in range(len(ops))]


def render(ops: Any, root: str) -> str:
    """Source text of a chain of bound ops on ``root`` (how a fix writes the repaired step)."""
    from core.engine.expr import to_source

    return to_source(tuple(ops), root)


# ------------------------------------------------------------------------------------- steps on a named input

STARTING_NAMES = ("x", "mask", "attention_mask", "input_ids", "lengths", "labels", "h_n", "c_n", "loss")


def on_input(spec: Spec, i: int, name: str, expr: str, why: str = "", suffix: str = "t", step: Any = None) -> Fix:
    """A fix that applies ``expr`` (written over ``x``) to the tensor that step ``i`` (a layer or a loss) reads as
    ``name``, just before it — in the user's names:

    - ``x``: insert the bare step ``x.permute(0, 2, 1)`` (its result becomes ``x``), as for every old spec;
    - a name no later step reads: insert ``emb = emb.permute(0, 2, 1)``;
    - a name later steps still read as it was: bind a new one (``emb_t = emb.permute(0, 2, 1)``) and point the
      step's ``input`` at it, so the other readers keep theirs.

    ``step``: step ``i`` rewritten as well (JSON, e.g. with in_channels set), or None to keep it.
    """
    from core.diagnosis.step_names import binds, fresh, read_later, reads, rename

    steps = spec.to_dict()["steps"]
    new_step = dict(step) if step is not None else None
    if name == "x":
        text = expr
    elif read_later(spec.steps, i, name):
        taken = {n for s in spec.steps for n in (*reads(s), *binds(s))} | {name, *STARTING_NAMES}
        new = fresh(name, taken, suffix)
        text = f"{new} = {rename(expr, {'x': name})}"
        new_step = {**(new_step or steps[i]), "input": new}
    else:
        text = f"{name} = {rename(expr, {'x': name})}"
    described = f"insert `{text}` before step {i + 1}{why}"
    if new_step is None:
        return Fix(described, "insert", index=i, step=text)
    steps[i] = new_step
    steps.insert(i, text)
    return Fix(described, "set", key="steps", value=steps)


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
