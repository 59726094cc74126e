"""The safe tensor expression language: parse, bind, predict (on meta tensors), run, render, describe.

    >>> e = parse_expr("x.reshape(x.shape[0], 16, -1)")
    >>> predict_shapes(e, {"x": (32, 128, 768)})        # (b, l, h) -> (b, 16, l*h/16)
    [(32, 16, 6144)]
    >>> s = parse_statement("w = torch.softmax(x @ x.mT, dim=-1)")
    >>> {k: tuple(v.shape) for k, v in predict_statement(s, {"x": (2, 5, 8)}).binds.items()}   # (b, l, l)
    {'w': (2, 5, 5)}

Parsing (the ``ast`` whitelist) lives in ``core.engine.parse`` / ``core.engine.whitelist``, the op table in
``core.engine.catalog``, running on meta or real tensors in ``core.engine.evaluate``. Prediction is torch's own
shape computation on meta tensors, so it agrees with the real run by construction; a failure carries torch's
message (``ShapeError``), a result over the memory budget is refused (``ExpressionRefused``) before it runs, and
an op whose result depends on values (``x[mask.bool()]``) stops a prediction (``DataDependent``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch

from core.engine.chain import OP_NAMES, IndexList, IndexTensor, Op, Operand, contiguous_strides
from core.engine.evaluate import (
    MAX_NUMEL,
    MAX_WORK,
    Ctx,
    DataDependent,
    bind_op,
    classify,
    eval_chain,
    first,
    is_packed,
)
from core.engine.ops import predict_op
from core.engine.parse import Expr, Statement, parse_expr, parse_statement
from core.engine.render import describe, to_source
from core.errors import ShapeError

__all__ = [
    "MAX_NUMEL",
    "MAX_WORK",
    "OP_NAMES",
    "DataDependent",
    "Expr",
    "IndexList",
    "IndexTensor",
    "Op",
    "Operand",
    "Statement",
    "StatementRun",
    "bind",
    "classify",
    "describe",
    "meta_env",
    "parse_expr",
    "parse_statement",
    "predict_op",
    "predict_shapes",
    "predict_statement",
    "run_expr",
    "run_statement",
    "to_source",
    "unpack",
]

INT_NAMES = ("mask", "attention_mask", "input_ids", "lengths", "labels")
Shapes = dict[str, Any]


def meta_env(
    values: Shapes, strides: dict[str, tuple[int, ...]] | None = None, dtypes: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Meta tensors for the named values: a shape tuple (dtype int64 for masks / ids / lengths, else float32,
    contiguous unless ``strides`` says otherwise), a real tensor (same layout) or a meta tensor."""
    out: dict[str, Any] = {}
    for name, v in values.items():
        if isinstance(v, torch.Tensor):
            out[name] = (
                v if v.is_meta else torch.empty_strided(tuple(v.shape), v.stride(), dtype=v.dtype, device="meta")
            )
        elif is_packed(v):
            out[name] = v  # ops on it stop a prediction (the packed sizes come from the lengths' values)
        elif v is None:
            continue
        else:
            shape = tuple(int(s) for s in v)
            st = (strides or {}).get(name) or contiguous_strides(shape)
            default = torch.int64 if name in INT_NAMES else torch.float32
            dtype = (dtypes or {}).get(name, default)
            out[name] = torch.empty_strided(shape, tuple(st), dtype=dtype, device="meta")
    return out


def bind(expr: Expr, shapes: Shapes) -> tuple[Op, ...]:
    """Resolve symbolic sizes (``x.shape[0]``, ``x.size(-1) // 2``) and bind tensor operands (on meta).

    >>> bind(parse_expr("x.view(x.size(0), 768, -1)"), {"x": (32, 128, 768)})[0].args
    (32, 768, -1)
    """
    ctx = Ctx(meta_env(shapes), meta=True, max_numel=2**62, max_work=2**62)
    if expr.root is not None:
        ctx.get(expr.root)
    return tuple(bind_op(op, ctx)[0] for op in expr.ops)


def predict_shapes(
    expr: Expr,
    shapes: Shapes,
    max_numel: int = MAX_NUMEL,
    strides: dict[str, tuple[int, ...]] | None = None,
) -> list[tuple[int, ...]]:
    """Shape after each op, computed by torch on meta tensors (no memory, no data).

    Raises ShapeError for an op torch rejects (torch's CPU message), ExpressionRefused above ``max_numel``
    elements, DataDependent at an op whose result shape depends on values. ``strides`` (optional) gives the
    named tensors' strides, which decide whether ``view`` works.

    >>> predict_shapes(parse_expr("x.transpose(1, 2)"), {"x": (32, 128, 768)})   # (b, l, h) -> (b, h, l)
    [(32, 768, 128)]
    """
    ctx = Ctx(meta_env(shapes, strides), meta=True, max_numel=max_numel)
    return [tuple(first(v).shape) for _, v in eval_chain(expr.root, expr.ops, ctx)]


@dataclass
class StatementRun:
    """A step's statement, run or predicted: each op with its value, the names it binds, torch's warnings."""

    statement: Statement
    results: list[tuple[Op, Any]]
    binds: dict[str, Any]
    warnings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def value(self) -> Any:
        """The first bound value (the stage's tensor)."""
        return next(iter(self.binds.values())) if self.binds else None


def unpack(targets: Any, value: Any) -> dict[str, Any]:
    """Bind ``value`` to ``targets`` the way Python's assignment does (a tensor unpacks along dim 0)."""
    if targets is None:
        targets = "x"
    if isinstance(targets, str):
        if isinstance(value, (tuple, list)) and not is_packed(value):
            raise ShapeError(f"`{targets}` would hold a tuple of {len(value)}; unpack it into names", kind="unpack")
        return {} if targets == "_" else {targets: value}
    if isinstance(value, torch.Tensor):
        if value.dim() == 0:
            raise ShapeError("iteration over a 0-d tensor", kind="unpack")
        items: list[Any] = list(value.unbind(0)) if value.shape[0] <= len(targets) + 1 else [None] * value.shape[0]
    else:
        items = list(value)
    if len(items) < len(targets):
        raise ShapeError(f"not enough values to unpack (expected {len(targets)}, got {len(items)})", kind="unpack")
    if len(items) > len(targets):
        raise ShapeError(f"too many values to unpack (expected {len(targets)})", kind="unpack")
    out: dict[str, Any] = {}
    for t, v in zip(targets, items):
        out.update(unpack(t, v))
    return out


def _statement(stmt: Statement, ctx: Ctx, light: bool = False) -> StatementRun:
    e = stmt.expr
    results = eval_chain(e.root, e.ops, ctx, light=light)
    value = results[-1][1] if results else ctx.get(e.root)  # type: ignore[arg-type]
    return StatementRun(stmt, results, unpack(stmt.targets, value), ctx.warnings)


def predict_statement(stmt: Statement, env: Shapes, max_numel: int = MAX_NUMEL) -> StatementRun:
    """A statement run on meta tensors (``env``: shapes, real or meta tensors); ``binds`` holds meta tensors."""
    return _statement(stmt, Ctx(meta_env(env), meta=True, max_numel=max_numel))


def _refuse_early(stmt: Statement, env: dict[str, Any], max_numel: int) -> None:
    """Predict on meta mirrors first, so an over-budget op is refused before anything runs."""
    with contextlib.suppress(ShapeError, DataDependent):  # the real run reports / bounds them itself
        predict_statement(stmt, env, max_numel)


def run_statement(
    stmt: Statement, env: dict[str, Any], max_numel: int = MAX_NUMEL, light: bool = False
) -> StatementRun:
    """Run a statement on real tensors; ``binds`` maps each bound name to its value.

    ``light``: intermediates of the chain are released as it goes (``results`` then holds their meta twins).
    Raises ShapeError with torch's message, ExpressionRefused (over budget, unknown name) before the op runs.
    """
    _refuse_early(stmt, env, max_numel)
    return _statement(stmt, Ctx(env, meta=False, max_numel=max_numel), light=light)


def run_expr(expr: Expr, env: dict[str, Any], max_numel: int = MAX_NUMEL) -> list[tuple[Op, Any]]:
    """Run the chain with real torch and return each op with its result.

    Sizes are predicted first: an over-budget op is refused (ExpressionRefused) before anything runs.
    Any failure of torch becomes ``ShapeError(message=<torch's message verbatim>, kind=...)``.

    >>> x = torch.zeros(32, 10, 64)
    >>> [tuple(t.shape) for _, t in run_expr(parse_expr("x[:, -1, :]"), {"x": x})]   # (b, l, h) -> (b, h)
    [(32, 64)]
    """
    stmt = Statement(expr.source, None, expr)
    _refuse_early(stmt, env, max_numel)
    try:
        return eval_chain(expr.root, expr.ops, Ctx(env, meta=False, max_numel=max_numel))
    except ShapeError as e:
        e.step = e.step or expr.source
        raise
