"""Whole-chain shape prediction: parse every step, predict every shape, check the memory budgets.

Nothing here runs a tensor op: the trace (and diagnosis, to check a fix) ask it first, so a refused or
over-budget pipeline is stopped before BERT or any layer runs.

    >>> spec = Spec.from_dict({"shape": [32, 128, 768], "steps": ["x.transpose(1, 2)"]})
    >>> predict_chain(spec, parse_steps(spec), (32, 128, 768))     # (b, l, h) -> (b, h, l)
    [(32, 768, 128)]
"""

from __future__ import annotations

from core.engine.expr import MAX_NUMEL, Expr, parse_expr, predict_shapes
from core.engine.layers import check_layer_budget, predict_layer
from core.errors import ExpressionRefused, ShapeError
from core.spec import Spec


def parse_steps(spec: Spec) -> dict[int, Expr]:
    """Parse every expression step up front; a refused one raises with its step number."""
    parsed = {}
    for i, step in enumerate(spec.steps):
        if isinstance(step, str):
            try:
                parsed[i] = parse_expr(step)
            except ExpressionRefused as e:
                raise ExpressionRefused(f"step {i + 1} `{step[:80]}` refused: {e}") from None
    return parsed


def predict_chain(
    spec: Spec, exprs: dict[int, Expr], shape: tuple[int, ...], max_numel: int = MAX_NUMEL
) -> list[tuple[int, ...]]:
    """Shapes after each step, predicted without running; stops at the first step torch would reject.

    Raises ExpressionRefused when a predicted result is over the memory budget.
    """
    shapes: dict[str, tuple[int, ...]] = {"x": shape, "lengths": shape[:1]}  # lengths: (batch,)
    out = []
    for i, step in enumerate(spec.steps):
        if isinstance(step, str):
            try:
                seq = predict_shapes(exprs[i], shapes, max_numel)
            except ShapeError:
                break
            except ExpressionRefused as e:
                raise ExpressionRefused(f"step {i + 1} `{step[:80]}` refused: {e}") from None
            new = seq[-1] if seq else shapes["x"]
        else:
            pred = predict_layer(step, shapes["x"])
            if pred is None:
                break
            check_layer_budget(i, step, shapes["x"], pred.shape, max_numel)
            new = pred.shape
            shapes.update({k: v for k, v in pred.extras if k in ("h_n", "c_n")})
        shapes["x"] = new
        out.append(new)
    return out
