"""Element lineage: where every element of every stage of a chain came from, and how it sits in memory.

The chain runs through ``core.engine.expr.run_expr`` (the very code the pipeline uses) on an *index tensor*
``torch.arange(n).reshape(shape)``, so every cell of every result holds the flat index of the source
element it came from: the lineage IS the result of the ops on indices.

    >>> lin = trace_lineage((2, 4, 6), ["x.transpose(1, 2)"])      # (b, l, h) -> (b, h, l)
    >>> lin.final.shape, lin.final.source_index((0, 0, 1))          # cell (0, 0, 1) is token 1, feature 0
    ((2, 6, 4), (0, 1, 0))
    >>> lin = trace_lineage((2, 4, 6), ["x.view(2, 6, 4)"])         # same shape, regrouped memory
    >>> lin.final.source_index((0, 0, 1))                           # ... is token 0, feature 1
    (0, 0, 1)

Four runs tell every cell's kind apart (all in float64, exact for these integers): ``u = index + 1``,
``u + K``, ``u ** 2`` and ``-u``. A moved element gives ``v``, ``v + K``, ``v ** 2``, ``-v``; a padding
constant does not change with K (``PAD``); an aggregate (mean, sum, amax, amin, einops reduce) breaks one
of the other identities (``MIXED``). For a drawn stage, the members of each aggregate are found with
``torch.func.vmap`` over one-hot inputs.

The same index runs serve ``core.lab.compare`` (same shape, same data?); ``core.lab.drawing`` picks the
(possibly scaled-down) source that is traced here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.engine.expr import DataDependent, bind, describe, parse_expr, run_expr, to_source
from core.engine.ops import Op
from core.engine.parse import Expr
from core.errors import ExpressionRefused, ShapeError
from core.lab.einops_view import EinopsEquivalent, einops_equivalent, source_names

__all__ = [
    "MAX_STAGE_NUMEL",
    "MIXED",
    "PAD",
    "IndexRuns",
    "Lineage",
    "LineageStage",
    "StepFailure",
    "chain_lines",
    "classify",
    "expr_nodes",
    "index_text",
    "op_text",
    "run_chain",
    "trace_lineage",
    "unravel",
]

PAD = -1  # a cell made by padding: no source element
MIXED = -2  # a cell that aggregates several source elements (mean, sum, amax...)
MAX_STAGE_NUMEL = 200_000  # a drawn chain may grow (repeat, expand) up to this; figures crop
MAX_MEMBERS_WORK = 20_000_000  # source numel x stage numel for the one-hot member search


# ---------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class LineageStage:
    """One stage of a chain drawn element by element.

    origin: per cell in row-major order, the flat index of its source element, ``PAD`` or ``MIXED``;
    members: for each MIXED cell, ``(cell, (source flat indices...))``;
    memory: ``"source"``, ``"view"`` (same memory as the stage before), ``"copy"`` (new memory, same
    elements) or ``"new"`` (new memory with padding / aggregates);
    storage: origin codes of the memory this stage reads, in memory order, from its first to its last
    element (``storage_offset`` is where that region starts); storage_used: which of those it reads.
    """

    index: int
    line: int  # which chain line made it (-1 for the source)
    source: str  # the op applied to the stage before, e.g. "x.transpose(1, 2)"
    op: str  # op name, "source" for the input
    description: str
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    contiguous: bool
    origin: tuple[int, ...]
    members: tuple[tuple[int, tuple[int, ...]], ...]
    memory: str
    shares_source_memory: bool
    storage: tuple[int, ...]
    storage_used: tuple[bool, ...]
    storage_offset: int
    einops: EinopsEquivalent | None
    axis_names: tuple[str, ...]
    source_shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def origin_at(self, cell: Sequence[int]) -> int:
        """Origin code of the cell at multi-index ``cell``."""
        flat = int(np.ravel_multi_index(tuple(cell), self.shape)) if self.shape else 0
        return self.origin[flat]

    def source_index(self, cell: Sequence[int]) -> tuple[int, ...] | None:
        """Index into the source of the element at ``cell``; None for padding or aggregates."""
        code = self.origin_at(cell)
        return unravel(code, self.source_shape) if code >= 0 else None

    def members_of(self, flat_cell: int) -> tuple[int, ...]:
        return dict(self.members).get(flat_cell, ())

    @property
    def has_padding(self) -> bool:
        return PAD in self.origin

    @property
    def has_mixed(self) -> bool:
        return MIXED in self.origin


@dataclass(frozen=True)
class StepFailure:
    """A line of the chain that could not run: torch's own message plus explanation and fix.

    alternative: for a ``view`` that fails on strides, the same chain with that view as ``reshape``.
    """

    line: int
    step: str
    op_source: str
    message: str
    kind: str
    input_shape: tuple[int, ...] | None
    explanation: str
    fix: str
    refused: bool = False
    alternative: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lineage:
    """A chain traced on an index tensor: ``stages[0]`` is the source, then one stage per op."""

    source_shape: tuple[int, ...]
    steps: tuple[str, ...]
    stages: tuple[LineageStage, ...]
    error: StepFailure | None = None

    @property
    def final(self) -> LineageStage:
        return self.stages[-1]

    @property
    def ok(self) -> bool:
        return self.error is None


# ---------------------------------------------------------------------------------------------- helpers


def unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    if not shape:
        return ()
    return tuple(int(i) for i in np.unravel_index(int(flat), shape))


def index_text(idx: Sequence[int] | None, name: str = "x") -> str:
    """``x[0, 1, 2]``."""
    if idx is None:
        return name
    return f"{name}[{', '.join(str(int(i)) for i in idx)}]"


def chain_lines(steps: Sequence[str | Expr]) -> list[str | Expr]:
    """The chain's lines: each text step split on newlines, blank and ``#`` lines dropped; parsed steps kept."""
    out: list[str | Expr] = []
    for s in steps:
        if isinstance(s, Expr):
            out.append(s)
            continue
        for line in str(s).splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def _explain(message: str, shape: tuple[int, ...] | None, step: str) -> tuple[str, str]:
    from core.diagnosis.explain import explain

    ctx = {"input_shape": shape, "step": step} if shape is not None else {"step": step}
    e = explain(message, ctx)
    return (e.explanation, e.fix) if e.recognized else ("", "")


def op_text(op: Op) -> str:
    """One bound op as PyTorch text over ``x`` (``x.transpose(1, 2)``); its raw text if rendering fails."""
    try:
        return to_source((op,), "x")
    except Exception:  # rendering is best effort; the raw text is a fine fallback
        return op.source or op.name


def expr_nodes(obj: Any) -> Iterator[Any]:
    """Every node of a parsed expression tree (ops, literals, cat/stack operands), depth first."""
    yield obj
    if isinstance(obj, tuple):
        for item in obj:
            yield from expr_nodes(item)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from expr_nodes(getattr(obj, f.name))


# ------------------------------------------------------------------------------------------ index runs


@dataclass
class IndexRuns:
    """Per stage: bound op (None for the source), its line, and the tensors of the four runs."""

    ops: list[tuple[Op | None, int]]
    tensors: list[list[torch.Tensor]]  # [run][stage]
    failure: StepFailure | None
    line_sources: list[str]


def _failure_from(
    e: Exception,
    line: int,
    text: str,
    expr: Expr | None,
    shape: tuple[int, ...],
    prefix: int,
    op_input: tuple[int, ...] | None = None,
) -> StepFailure:
    """``shape``: the line's input (sizes like x.shape[0] bind to it); ``op_input``: the failing op's."""
    op_input = shape if op_input is None else op_input
    refused = isinstance(e, ExpressionRefused)
    message = getattr(e, "message", None) or str(e)
    kind = "refused" if refused else (getattr(e, "kind", "") or "torch")
    op_source = text
    alternative: tuple[str, ...] = ()
    if expr is not None and prefix < len(expr.ops):
        try:
            bound = bind(expr, {"x": shape})
            op_source = op_text(bound[prefix])
            if bound[prefix].name == "view" and kind == "view_stride":
                fixed = tuple(dataclasses.replace(o, name="reshape") if i == prefix else o for i, o in enumerate(bound))
                alternative = (to_source(fixed, "x"),)
        except (ShapeError, ExpressionRefused, DataDependent):  # DataDependent: an operand such as torch.where(m)
            op_source = expr.ops[prefix].source or text
    explanation, fix = ("", "") if refused else _explain(message, op_input, op_source)
    return StepFailure(line, text, op_source, message, kind, op_input, explanation, fix, refused, alternative)


def run_chain(
    shape: tuple[int, ...], steps: Sequence[str | Expr], max_numel: int, runs: int = 4
) -> tuple[IndexRuns, list[str | Expr]]:
    """Run every line on the four index tensors (u, u + K, u ** 2, -u); stop at the first failure."""
    n = math.prod(shape)
    u = torch.arange(1, n + 1, dtype=torch.float64).reshape(shape)
    k = float(n + 1)
    bases = [u, u + k, u * u, -u][:runs]
    tensors: list[list[torch.Tensor]] = [[b] for b in bases]
    ops: list[tuple[Op | None, int]] = [(None, -1)]
    lines = chain_lines(steps)
    line_sources: list[str] = []
    for li, step in enumerate(lines):
        text = step.source if isinstance(step, Expr) else step
        line_sources.append(text)
        current = tuple(tensors[0][-1].shape)
        try:
            expr = step if isinstance(step, Expr) else parse_expr(step)
        except ExpressionRefused as e:
            return IndexRuns(ops, tensors, _failure_from(e, li, text, None, current, 0), line_sources), lines
        try:
            results = [_run_drawable(expr, t[-1], max_numel) for t in tensors]
            _same_shapes(results, text)
        except (ShapeError, ExpressionRefused) as e:
            prefix = _longest_prefix(expr, [t[-1] for t in tensors], max_numel)
            for r, t in enumerate(tensors):
                t.extend(res for _, res in prefix[r])
            ops.extend((op, li) for op, _ in prefix[0])
            op_input = tuple(tensors[0][-1].shape)
            failure = _failure_from(e, li, text, expr, current, len(prefix[0]), op_input)
            return IndexRuns(ops, tensors, failure, line_sources), lines
        for r, t in enumerate(tensors):
            t.extend(res for _, res in results[r])
        ops.extend((op, li) for op, _ in results[0])
    return IndexRuns(ops, tensors, None, line_sources), lines


def _run_drawable(expr: Expr, t: torch.Tensor, max_numel: int) -> list[tuple[Op, torch.Tensor]]:
    """``run_expr`` on one index tensor, refusing what has no lineage to draw: values that are not elements of
    ``x`` (comparisons, indices), tuples, names other than ``x``."""
    results = run_expr(expr, {"x": t}, max_numel=max_numel)
    for op, r in results:
        what = op.source or op.name
        if not isinstance(r, torch.Tensor):
            raise ExpressionRefused(
                f"`{what}` gives a tuple; the Reshape Lab draws one tensor per line (pick one piece, e.g. [0])"
            )
        if not r.dtype.is_floating_point:
            raise ExpressionRefused(
                f"`{what}` gives {str(r.dtype).replace('torch.', '')} values, not elements of x: the Reshape Lab draws "
                "where elements move; try this line in the Pipeline Explorer"
            )
    return results


def _same_shapes(results: list[list[tuple[Op, torch.Tensor]]], text: str) -> None:
    shapes = {tuple(tuple(r.shape) for _, r in run) for run in results}
    if len(shapes) > 1:
        raise ExpressionRefused(
            f"`{text}`: the result's shape depends on the values, so there is no fixed lineage to draw; "
            "try this line in the Pipeline Explorer"
        )


def _longest_prefix(expr: Expr, inputs: list[torch.Tensor], max_numel: int) -> list[list[tuple[Op, torch.Tensor]]]:
    for k in range(len(expr.ops) - 1, 0, -1):
        sub = Expr(expr.source, expr.root, expr.ops[:k])
        try:
            runs = [_run_drawable(sub, t, max_numel) for t in inputs]
            _same_shapes(runs, expr.source)
            return runs
        except (ShapeError, ExpressionRefused):
            continue
    return [[] for _ in inputs]


def classify(vals: list[np.ndarray], k: float) -> np.ndarray:
    """Origin codes from the values of the four runs (see the module docstring)."""
    r1 = vals[0]
    moved = (vals[1] - r1 == k) & (vals[2] == r1 * r1) & (vals[3] == -r1)
    pad = ~moved & (vals[1] == r1)
    out = np.where(moved, r1 - 1, np.where(pad, PAD, MIXED))
    return out.astype(np.int64)


def _flat_values(ts: list[torch.Tensor]) -> list[np.ndarray]:
    return [t.detach().reshape(-1).numpy() for t in ts]


def _storage_view(t: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """(the whole storage as a 1-D tensor, first offset, last offset) of ``t``."""
    length = t.untyped_storage().nbytes() // t.element_size()
    flat = t.as_strided((length,), (1,), 0)
    lo = t.storage_offset()
    hi = lo + sum((s - 1) * st for s, st in zip(t.shape, t.stride())) if t.numel() else lo - 1
    return flat, lo, hi


def _members(
    shape: tuple[int, ...], exprs: list[str | Expr], n_stages: int, mixed_stages: list[int]
) -> dict[int, np.ndarray]:
    """Per stage with aggregates: a (source numel, stage numel) bool matrix 'source j feeds cell c'."""
    from torch.func import vmap

    n = math.prod(shape)
    parsed = [e if isinstance(e, Expr) else parse_expr(e) for e in exprs]

    def chain(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for e in parsed:
            for _, r in run_expr(e, {"x": t}):
                outs.append(r)
            t = outs[-1] if outs else t
        return tuple(outs[: n_stages - 1])

    eye = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    ones = torch.ones(shape, dtype=torch.float64)
    base = chain(ones)
    up = vmap(chain)(ones + eye)
    down = vmap(chain)(ones - eye / 2)
    out = {}
    for s in mixed_stages:
        b = base[s - 1].reshape(1, -1)
        out[s] = ((up[s - 1].reshape(n, -1) != b) | (down[s - 1].reshape(n, -1) != b)).numpy()
    return out


def trace_lineage(
    shape: Sequence[int],
    steps: Sequence[str | Expr],
    names: tuple[str, ...] | None = None,
    max_numel: int = MAX_STAGE_NUMEL,
    members: bool = True,
) -> Lineage:
    """Trace ``steps`` (lines of the expression language over ``x``) on an index tensor of ``shape``.

    Each line's ``x`` is the previous line's result; every op of a line is one stage. Stops at the first
    failing line (``Lineage.error``, with torch's message, explanation and fix); stages before it stay.

    >>> [s.shape for s in trace_lineage((2, 4, 6), ["x.permute(0, 2, 1)", "x.flatten(1)"]).stages]
    [(2, 4, 6), (2, 6, 4), (2, 24)]
    """
    shape = tuple(int(s) for s in shape)
    n = math.prod(shape)
    run, lines = run_chain(shape, chain_lines(steps), max_numel)
    k = float(n + 1)
    source_ptr = run.tensors[0][0].untyped_storage().data_ptr()
    codes: list[np.ndarray] = []
    for s in range(len(run.ops)):
        stage_ts = [t[s] for t in run.tensors]
        codes.append(classify(_flat_values(stage_ts), k))
    mixed_stages = [s for s, c in enumerate(codes) if (c == MIXED).any()]
    member_map: dict[int, np.ndarray] = {}
    if members and mixed_stages and all(n * codes[s].size <= MAX_MEMBERS_WORK for s in mixed_stages):
        done_lines = lines[: (run.ops[-1][1] + 1)] if len(run.ops) > 1 else []
        try:
            member_map = _members(shape, done_lines, len(run.ops), mixed_stages)
        except Exception:  # members are a hover nicety; the codes stay exact without them
            member_map = {}
    stages: list[LineageStage] = []
    cur_names = tuple(names) if names and len(names) == len(shape) else source_names(len(shape))
    prev_ptr = source_ptr
    for s, (op, li) in enumerate(run.ops):
        t1 = run.tensors[0][s]
        ptr = t1.untyped_storage().data_ptr()
        code = codes[s]
        if op is None:
            memory, eq, src, desc, opname = "source", None, "x", "the input", "source"
        else:
            in_shape = tuple(run.tensors[0][s - 1].shape)
            eq = einops_equivalent(op, in_shape, tuple(t1.shape), cur_names)
            cur_names = eq.out_names
            src, desc, opname = op_text(op), describe(op), op.name
            if ptr == prev_ptr:
                memory = "view"
            else:
                memory = "copy" if (code >= 0).all() else "new"
        _, lo, hi = _storage_view(t1)
        region_vals = [_storage_view(t[s])[0][lo : hi + 1].numpy() for t in run.tensors]
        storage = classify(region_vals, k) if hi >= lo else np.zeros(0, np.int64)
        used = np.zeros(max(hi - lo + 1, 0), dtype=bool)
        if t1.numel():
            offs = np.zeros(1, dtype=np.int64)
            for size, stride in zip(t1.shape, t1.stride()):
                offs = (offs[:, None] + np.arange(size, dtype=np.int64)[None, :] * stride).reshape(-1)
            used[offs] = True
        mem_members: tuple[tuple[int, tuple[int, ...]], ...] = ()
        if s in member_map:
            mat = member_map[s]
            mem_members = tuple(
                (int(c), tuple(int(j) for j in np.nonzero(mat[:, c])[0])) for c in np.nonzero(code == MIXED)[0]
            )
        stages.append(
            LineageStage(
                index=s,
                line=li,
                source=src,
                op=opname,
                description=desc,
                shape=tuple(t1.shape),
                strides=tuple(t1.stride()),
                contiguous=t1.is_contiguous(),
                origin=tuple(int(v) for v in code),
                members=mem_members,
                memory=memory,
                shares_source_memory=ptr == source_ptr,
                storage=tuple(int(v) for v in storage),
                storage_used=tuple(bool(v) for v in used),
                storage_offset=lo,
                einops=eq,
                axis_names=tuple(cur_names) if len(cur_names) == t1.dim() else source_names(t1.dim()),
                source_shape=shape,
            )
        )
        prev_ptr = ptr
    return Lineage(shape, tuple(run.line_sources), tuple(stages), run.failure)
