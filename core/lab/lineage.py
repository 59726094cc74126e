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

Shapes too large to draw get a scaled-down analogue with the same pattern (``plan_drawing``: e.g.
(32, 128, 768) is drawn as (2, 4, 8), and ``x.view(32, 768, 128)`` as ``x.view(2, 8, 4)``); verdicts of
``compare_chains`` are computed on the real shape when it has at most ``MAX_VERDICT_NUMEL`` elements.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.engine.expr import bind, describe, parse_expr, run_expr, to_source
from core.engine.ops import Op, contiguous_strides, step_layout
from core.engine.parse import Bin, Expr, Lit
from core.errors import ExpressionRefused, ShapeError
from core.lab.einops_view import EinopsEquivalent, einops_equivalent, source_names

__all__ = [
    "MAX_DRAW_CELLS",
    "MIXED",
    "PAD",
    "DrawPlan",
    "Lineage",
    "LineageStage",
    "StepFailure",
    "Verdict",
    "compare_chains",
    "differing_cells",
    "index_text",
    "parse_shape_text",
    "plan_drawing",
    "trace_lineage",
    "unravel",
]

PAD = -1  # a cell made by padding: no source element
MIXED = -2  # a cell that aggregates several source elements (mean, sum, amax...)
MAX_DRAW_CELLS = 512  # per stage; larger sources are drawn as a scaled-down analogue
MAX_STAGE_NUMEL = 200_000  # a drawn chain may grow (repeat, expand) up to this; figures crop
MAX_VERDICT_NUMEL = 2**22  # compare on the real shape up to this many elements, else on the analogue
MAX_SOURCE_NDIM = 6
MAX_SOURCE_NUMEL = 2**26
MAX_MEMBERS_WORK = 20_000_000  # source numel x stage numel for the one-hot member search
AGGREGATING = frozenset({"mean", "sum", "amax", "amin", "reduce"})
_SCALE_VALUES = (2, 3, 4, 5, 6, 8)


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


@dataclass(frozen=True)
class Verdict:
    """Do two chains give the same shape and the same data?

    kind: ``identical``, ``same_shape_different_data``, ``different_shape``, ``same_order_different_shape``
    or ``failed``; first_diff: the first differing cell (row-major) with the source element each chain has
    there (``"x[0, 1, 0]"``, ``"padding"`` or ``"mixed"``); on_shape: the input shape it was computed on.
    """

    kind: str
    headline: str
    detail: str
    shape_a: tuple[int, ...] | None
    shape_b: tuple[int, ...] | None
    first_diff: tuple[int, ...] | None = None
    source_a: str = ""
    source_b: str = ""
    n_diff: int = 0
    numel: int = 0
    memory: str = ""
    on_shape: tuple[int, ...] = ()
    scaled: bool = False

    @property
    def same_data(self) -> bool:
        return self.kind == "identical"


@dataclass(frozen=True)
class DrawPlan:
    """How chains on a (possibly large) source are drawn.

    drawn_shape: the source actually drawn; drawn_chains: the chains' expressions rewritten for it
    (sizes mapped by ``mapping``, e.g. 768 -> 6); drawn_sources: those as text; full_layouts: per chain,
    the real (shape, strides) of every stage (source first), predicted without running anything;
    full_errors: per chain, the message of the step that fails at the real size ("" when all run);
    full_sources / full_einops: per chain, each stage's op as PyTorch text and its einops form at the real
    size (``"x"`` / None for the source).
    ok is False when no analogue that behaves the same was found (note says what to do).
    """

    shape: tuple[int, ...]
    drawn_shape: tuple[int, ...]
    chains: tuple[tuple[str, ...], ...]
    drawn_chains: tuple[tuple[Any, ...], ...]
    drawn_sources: tuple[tuple[str, ...], ...]
    mapping: tuple[tuple[int, int], ...] = ()
    full_layouts: tuple[tuple[tuple[tuple[int, ...], tuple[int, ...]], ...], ...] = ()
    full_errors: tuple[str, ...] = ()
    full_sources: tuple[tuple[str, ...], ...] = ()
    full_einops: tuple[tuple[EinopsEquivalent | None, ...], ...] = ()
    scaled: bool = False
    ok: bool = True
    note: str = ""


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


_SHAPE_SEPARATORS = re.compile(r"\s*[,x×X*;]\s*|\s+")


def parse_shape_text(text: str, max_numel: int = MAX_SOURCE_NUMEL) -> tuple[int, ...]:
    """``"2×4×6"``, ``"2, 4, 6"``, ``"(2, 4, 6)"`` or ``"2x4x6"`` -> ``(2, 4, 6)``; ValueError with a reason.

    >>> parse_shape_text("(32, 128, 768)")
    (32, 128, 768)
    """
    raw = (text or "").strip().strip("()[]").strip().rstrip(",").strip()
    if not raw:
        raise ValueError("type a shape, e.g. 2, 4, 6")
    parts = _SHAPE_SEPARATORS.split(raw)
    if len(raw) > 100 or not all(p.isdigit() for p in parts):
        raise ValueError(f"`{text[:40]}` is not a shape: write sizes separated by commas or ×, e.g. 2, 4, 6")
    shape = tuple(int(p) for p in parts)
    if len(shape) > MAX_SOURCE_NDIM:
        raise ValueError(f"{len(shape)} dims is too many here; use at most {MAX_SOURCE_NDIM}")
    if any(s < 1 for s in shape):
        raise ValueError("every size must be at least 1")
    if math.prod(shape) > max_numel:
        raise ValueError(f"{shape} has {math.prod(shape):,} elements; the limit is {max_numel:,}")
    return shape


def _lines(steps: Sequence[str | Expr]) -> list[str | Expr]:
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


def _op_text(op: Op) -> str:
    try:
        return to_source((op,), "x")
    except Exception:  # rendering is best effort; the raw text is a fine fallback
        return op.source or op.name


# ------------------------------------------------------------------------------------------ index runs


@dataclass
class _Run:
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
            op_source = _op_text(bound[prefix])
            if bound[prefix].name == "view" and kind == "view_stride":
                fixed = tuple(dataclasses.replace(o, name="reshape") if i == prefix else o for i, o in enumerate(bound))
                alternative = (to_source(fixed, "x"),)
        except (ShapeError, ExpressionRefused):
            op_source = expr.ops[prefix].source or text
    explanation, fix = ("", "") if refused else _explain(message, op_input, op_source)
    return StepFailure(line, text, op_source, message, kind, op_input, explanation, fix, refused, alternative)


def _run_chain(
    shape: tuple[int, ...], steps: Sequence[str | Expr], max_numel: int, runs: int = 4
) -> tuple[_Run, list[str | Expr]]:
    """Run every line on the four index tensors (u, u + K, u ** 2, -u); stop at the first failure."""
    n = math.prod(shape)
    u = torch.arange(1, n + 1, dtype=torch.float64).reshape(shape)
    k = float(n + 1)
    bases = [u, u + k, u * u, -u][:runs]
    tensors: list[list[torch.Tensor]] = [[b] for b in bases]
    ops: list[tuple[Op | None, int]] = [(None, -1)]
    lines = _lines(steps)
    line_sources: list[str] = []
    for li, step in enumerate(lines):
        text = step.source if isinstance(step, Expr) else step
        line_sources.append(text)
        current = tuple(tensors[0][-1].shape)
        try:
            expr = step if isinstance(step, Expr) else parse_expr(step)
        except ExpressionRefused as e:
            return _Run(ops, tensors, _failure_from(e, li, text, None, current, 0), line_sources), lines
        try:
            results = [run_expr(expr, {"x": t[-1]}, max_numel=max_numel) for t in tensors]
        except (ShapeError, ExpressionRefused) as e:
            prefix = _longest_prefix(expr, [t[-1] for t in tensors], max_numel)
            for r, t in enumerate(tensors):
                t.extend(res for _, res in prefix[r])
            ops.extend((op, li) for op, _ in prefix[0])
            op_input = tuple(tensors[0][-1].shape)
            failure = _failure_from(e, li, text, expr, current, len(prefix[0]), op_input)
            return _Run(ops, tensors, failure, line_sources), lines
        for r, t in enumerate(tensors):
            t.extend(res for _, res in results[r])
        ops.extend((op, li) for op, _ in results[0])
    return _Run(ops, tensors, None, line_sources), lines


def _longest_prefix(expr: Expr, inputs: list[torch.Tensor], max_numel: int) -> list[list[tuple[Op, torch.Tensor]]]:
    for k in range(len(expr.ops) - 1, 0, -1):
        sub = Expr(expr.source, expr.root, expr.ops[:k])
        try:
            return [run_expr(sub, {"x": t}, max_numel=max_numel) for t in inputs]
        except (ShapeError, ExpressionRefused):
            continue
    return [[] for _ in inputs]


def _classify(vals: list[np.ndarray], k: float) -> np.ndarray:
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
    run, lines = _run_chain(shape, _lines(steps), max_numel)
    k = float(n + 1)
    source_ptr = run.tensors[0][0].untyped_storage().data_ptr()
    codes: list[np.ndarray] = []
    for s in range(len(run.ops)):
        stage_ts = [t[s] for t in run.tensors]
        codes.append(_classify(_flat_values(stage_ts), k))
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
            src, desc, opname = _op_text(op), describe(op), op.name
            if ptr == prev_ptr:
                memory = "view"
            else:
                memory = "copy" if (code >= 0).all() else "new"
        _, lo, hi = _storage_view(t1)
        region_vals = [_storage_view(t[s])[0][lo : hi + 1].numpy() for t in run.tensors]
        storage = _classify(region_vals, k) if hi >= lo else np.zeros(0, np.int64)
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


# ------------------------------------------------------------------------------------------------ compare


def _nodes(obj: Any) -> Iterator[Any]:
    """Every node of a parsed expression tree (ops, literals, cat/stack operands), depth first."""
    yield obj
    if isinstance(obj, tuple):
        for item in obj:
            yield from _nodes(item)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _nodes(getattr(obj, f.name))


def _op_names(obj: Any, out: set[str]) -> set[str]:
    """Every op name in a parsed expression, operands of cat/stack included."""
    out.update(node.name for node in _nodes(obj) if isinstance(node, Op))
    return out


def _aggregates(lines: list[str | Expr]) -> bool:
    names: set[str] = set()
    for line in lines:
        try:
            _op_names(line if isinstance(line, Expr) else parse_expr(line), names)
        except ExpressionRefused:
            continue
    return bool(names & AGGREGATING)


def _final_runs(
    shape: tuple[int, ...], steps: Sequence[str | Expr], max_numel: int
) -> tuple[list[torch.Tensor], StepFailure | None, bool]:
    lines = _lines(steps)
    run, _ = _run_chain(shape, lines, max_numel, runs=4 if _aggregates(lines) else 2)
    finals = [t[-1] for t in run.tensors]
    shares = finals[0].untyped_storage().data_ptr() == run.tensors[0][0].untyped_storage().data_ptr()
    return finals, run.failure, shares


def _cell_source(code: int, value: float | None = None, *, source_shape: tuple[int, ...]) -> str:
    if code == PAD:
        return "padding" if value is None else f"padding (value {value:g})"
    if code == MIXED:
        return "mixed (an aggregate)"
    return index_text(unravel(code, source_shape))


def _memory_text(t: torch.Tensor, shares: bool) -> str:
    where = "a view of the input's memory" if shares else "in new memory (copied)"
    return f"{where}, {'contiguous' if t.is_contiguous() else 'not contiguous'} (strides {tuple(t.stride())})"


def _code_at(runs: list[torch.Tensor], cell: tuple[int, ...], k: float) -> tuple[int, float]:
    """(origin code, value of the first run) of one cell."""
    vals = [np.array([float(t[cell])]) for t in runs]
    while len(vals) < 4:  # gather-only chains ran twice; the other identities hold by construction
        vals.append(vals[0] ** 2 if len(vals) == 2 else -vals[0])
    return int(_classify(vals, k)[0]), float(vals[0][0])


def compare_chains(
    shape: Sequence[int],
    steps_a: Sequence[str | Expr],
    steps_b: Sequence[str | Expr],
    labels: tuple[str, str] = ("A", "B"),
    max_numel: int = MAX_VERDICT_NUMEL,
) -> Verdict:
    """Same shape, same data? Both chains run on the same index tensors of ``shape``.

    >>> compare_chains((2, 4, 6), ["x.transpose(1, 2)"], ["x.view(2, 6, 4)"]).headline
    'same shape, different data'
    """
    shape = tuple(int(s) for s in shape)
    la, lb = labels
    k = float(math.prod(shape) + 1)
    ra, fa, sa = _final_runs(shape, steps_a, max_numel)
    rb, fb, sb = _final_runs(shape, steps_b, max_numel)
    for label, failure in ((la, fa), (lb, fb)):
        if failure is not None:
            what = "is refused" if failure.refused else "fails"
            return Verdict(
                "failed",
                f"cannot compare: {label} {what}",
                f"{label} {what} at `{failure.op_source}`: {failure.message}",
                None,
                None,
                on_shape=shape,
            )
    runs = min(len(ra), len(rb))
    ta, tb = ra[0], rb[0]
    shape_a, shape_b = tuple(ta.shape), tuple(tb.shape)
    numel = ta.numel()
    memory = f"{la} is {_memory_text(ta, sa)}; {lb} is {_memory_text(tb, sb)}."
    if shape_a != shape_b:
        if numel == tb.numel() and all(torch.equal(ra[r].reshape(-1), rb[r].reshape(-1)) for r in range(runs)):
            return Verdict(
                "same_order_different_shape",
                "different shapes, same elements in the same order",
                f"{la} is {shape_a}, {lb} is {shape_b}: one is a reshape of the other (read row by row, "
                "they hold the same elements).",
                shape_a,
                shape_b,
                memory=memory,
                on_shape=shape,
                numel=numel,
            )
        return Verdict(
            "different_shape",
            "different shapes",
            f"{la} is {shape_a}, {lb} is {shape_b}.",
            shape_a,
            shape_b,
            memory=memory,
            on_shape=shape,
            numel=numel,
        )
    diff = ra[0] != rb[0]
    for r in range(1, runs):
        diff |= ra[r] != rb[r]
    n_diff = int(diff.sum())
    if n_diff == 0:
        return Verdict(
            "identical",
            "identical: same shape, same data",
            f"Both give {shape_a} and every cell holds the same source element.",
            shape_a,
            shape_b,
            memory=memory,
            on_shape=shape,
            numel=numel,
        )
    first = int(torch.argmax(diff.reshape(-1).to(torch.uint8)))
    cell = unravel(first, shape_a)
    src_a = _cell_source(*_code_at(ra, cell, k), source_shape=shape)
    src_b = _cell_source(*_code_at(rb, cell, k), source_shape=shape)
    return Verdict(
        "same_shape_different_data",
        "same shape, different data",
        f"Both give {shape_a}, but {n_diff:,} of {numel:,} cells hold a different source element. The first "
        f"is cell {cell}: {la} has {src_a} there, {lb} has {src_b}.",
        shape_a,
        shape_b,
        first_diff=cell,
        source_a=src_a,
        source_b=src_b,
        n_diff=n_diff,
        numel=numel,
        memory=memory,
        on_shape=shape,
    )


def differing_cells(a: LineageStage, b: LineageStage) -> tuple[tuple[int, ...], ...]:
    """Cells (multi-indices) where two drawn stages of the same shape hold different elements."""
    if a.shape != b.shape:
        return ()
    ca, cb = np.array(a.origin), np.array(b.origin)
    return tuple(unravel(int(i), a.shape) for i in np.nonzero(ca != cb)[0])


# ------------------------------------------------------------------------------------------------ drawing


def _map_lits(obj: Any, fn: Any) -> Any:
    """Copy of a parsed expression with every int literal ``v`` replaced by ``fn(v)``."""
    if isinstance(obj, Lit):
        return Lit(fn(obj.value))
    if isinstance(obj, Bin) and obj.op == "-" and obj.left == Lit(0):
        return obj  # a negative literal (-1 in a reshape, x[:, -1]) stays as written
    if isinstance(obj, tuple):
        return tuple(_map_lits(i, fn) for i in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: _map_lits(getattr(obj, f.name), fn) for f in dataclasses.fields(obj) if f.name != "text"}
        if isinstance(obj, Op):
            changes.pop("source", None)
            changes.pop("name", None)
        if isinstance(obj, Expr):
            changes.pop("source", None)
            changes.pop("root", None)
        return dataclasses.replace(obj, **changes)
    return obj


def _behaviour(
    shape: tuple[int, ...], exprs: list[Expr], record: list[tuple[str, EinopsEquivalent | None]] | None = None
) -> tuple[list[tuple], list[tuple[tuple, tuple]], str]:
    """Pure-Python walk: per stage (rank, which dims are 1) or the failure kind; each (shape, strides);
    the failure message ("" when every step runs). ``record`` collects each op's text and einops form."""
    layout = (shape, contiguous_strides(shape))
    names = source_names(len(shape))
    sig: list[tuple] = [(len(shape), tuple(s == 1 for s in shape))]
    layouts = [layout]
    for e in exprs:
        try:
            ops = bind(e, {"x": layout[0]})
        except (ShapeError, ExpressionRefused) as err:
            sig.append(("fail", getattr(err, "kind", "refused")))
            return sig, layouts, getattr(err, "message", None) or str(err)
        for op in ops:
            try:
                layout = step_layout(op, layout)
            except ShapeError as err:
                sig.append(("fail", err.kind))
                return sig, layouts, err.message
            except Exception as err:  # a rule that trips on odd input: treat as a failure
                sig.append(("fail", "torch"))
                return sig, layouts, str(err)
            sig.append((len(layout[0]), tuple(s == 1 for s in layout[0])))
            if record is not None:
                try:
                    eq: EinopsEquivalent | None = einops_equivalent(op, layouts[-1][0], layout[0], names)
                    names = eq.out_names
                except Exception:  # the einops form is an extra; the drawn one still shows
                    eq, names = None, source_names(len(layout[0]))
                record.append((_op_text(op), eq))
            layouts.append(layout)
    return sig, layouts, ""


def _literals(obj: Any, out: set[int]) -> set[int]:
    out.update(node.value for node in _nodes(obj) if isinstance(node, Lit))
    return out


def _size_map(shape: tuple[int, ...], values: dict[int, int], literals: set[int]) -> dict[int, int]:
    """Extend a mapping of the source's sizes to the chain's literals (products, splits, last index)."""
    m = dict(values)
    dims = list(shape)
    small_dims = {d for d in dims if d <= 8}
    for r in (2, 3):
        for combo in itertools.combinations(range(len(dims)), r):
            full = math.prod(dims[i] for i in combo)
            if full > 8 and full not in m:
                m[full] = math.prod(values.get(dims[i], dims[i]) for i in combo)
    for v in sorted(literals):
        if v <= 8 or v in m:
            continue
        for s in sorted({d for d in dims if d > 8}):
            if v == s - 1:
                m[v] = m[s] - 1
                break
            if s % v == 0 and 1 < v < s:
                small = m[s]
                divisors = [d for d in range(2, small) if small % d == 0]
                if s == v * v:
                    divisors = [d for d in divisors if d * d == small]
                if divisors:
                    m[v] = divisors[0]
                    co = s // v
                    if co not in m and co not in small_dims and co > 1:
                        m[co] = small // divisors[0]
                    break
    return m


def plan_drawing(shape: Sequence[int], chains: Sequence[Sequence[str]], max_cells: int = MAX_DRAW_CELLS) -> DrawPlan:
    """Pick the source to draw: ``shape`` itself when small, else a small analogue with the same pattern.

    Every size above 8 is mapped to a small one, keeping order and divisibility (32 | 128 | 768 ->
    2 | 4 | 8, so a row of 768 features still holds whole pieces of 128), and so is every
    literal in the chains that equals a size, a product of sizes, a factor of one (16 of 128 -> 2 of 4) or
    a last index; the analogue is kept only if every chain behaves the same (same ranks, same size-1 dims,
    same failing step with the same kind of error).

    >>> p = plan_drawing((32, 128, 768), [["x.view(32, 768, 128)"]])
    >>> p.drawn_shape, p.drawn_sources
    ((2, 4, 8), (('x.view(2, 8, 4)',),))
    """
    shape = tuple(int(s) for s in shape)
    chains = tuple(tuple(str(s) for s in _lines(c)) for c in chains)
    try:
        parsed = [[parse_expr(s) for s in c] for c in chains]
    except ExpressionRefused:
        parsed = None
    records: list[list[tuple[str, EinopsEquivalent | None]]] = [[("x", None)] for _ in parsed or []]
    full = [_behaviour(shape, p, r) for p, r in zip(parsed, records)] if parsed is not None else []
    full_layouts = tuple(tuple(lay) for _, lay, _ in full)
    full_errors = tuple(msg for _, _, msg in full)
    full_sources = tuple(tuple(t for t, _ in r) for r in records)
    full_einops = tuple(tuple(e for _, e in r) for r in records)
    if math.prod(shape) <= max_cells or parsed is None:
        return DrawPlan(
            shape,
            shape,
            chains,
            chains,
            chains,
            full_layouts=full_layouts,
            full_errors=full_errors,
            full_sources=full_sources,
            full_einops=full_einops,
        )
    big = sorted({s for s in shape if s > 8})
    lits: set[int] = set()
    for p in parsed:
        for e in p:
            _literals(e.ops, lits)
    small_dims = {s for s in shape if s <= 8}
    start = 2
    while start in small_dims:
        start += 2
    ideal = [start + 2 * i for i in range(len(big))]

    def numel_of(c: tuple[int, ...]) -> int:
        return math.prod(c[big.index(s)] if s > 8 else s for s in shape)

    candidates = [c for c in itertools.combinations(_SCALE_VALUES, len(big)) if numel_of(c) <= max_cells]
    sizes = sorted(set(shape))

    def broken(c: tuple[int, ...]) -> int:
        """Pairs of sizes whose divisibility changes (128 | 768 must stay true: 4 | 8, not 4 | 6)."""
        m = {s: (c[big.index(s)] if s > 8 else s) for s in sizes}
        return sum((b % a == 0) != (m[b] % m[a] == 0) for a, b in itertools.combinations(sizes, 2))

    candidates.sort(
        key=lambda c: (
            broken(c),
            len(set(c) & small_dims),
            round(abs(math.log(numel_of(c) / 48)), 1),
            sum(abs(a - b) for a, b in zip(c, ideal)),
        )
    )
    for cand in candidates:
        values = dict(zip(big, cand))
        m = _size_map(shape, values, lits)
        drawn_shape = tuple(values.get(s, s) for s in shape)
        drawn = [[_map_lits(e, lambda v, m=m: m.get(v, v)) for e in p] for p in parsed]
        if all(_behaviour(drawn_shape, d)[0] == f[0] for d, f in zip(drawn, full)):
            sources = tuple(tuple(_render_line(e, drawn_shape, d[:i]) for i, e in enumerate(d)) for d in drawn)
            mapping = tuple(sorted((k, v) for k, v in m.items() if k in shape or k in lits))
            note = (
                f"{shape} has {math.prod(shape):,} elements, too many to draw one by one: drawn as "
                f"{drawn_shape}, a small analogue with the same pattern (sizes mapped "
                + ", ".join(f"{k}→{v}" for k, v in mapping if k != v)
                + "). Shapes, strides and verdicts are given for the real sizes."
            )
            return DrawPlan(
                shape,
                drawn_shape,
                chains,
                tuple(tuple(d) for d in drawn),
                sources,
                mapping,
                full_layouts,
                full_errors,
                full_sources,
                full_einops,
                scaled=True,
                note=note,
            )
    return DrawPlan(
        shape,
        shape,
        chains,
        (),
        (),
        full_layouts=full_layouts,
        full_errors=full_errors,
        full_sources=full_sources,
        full_einops=full_einops,
        scaled=True,
        ok=False,
        note=(
            f"{shape} has {math.prod(shape):,} elements, too many to draw, and no small analogue behaves the same "
            f"with these steps (literal sizes that are not sizes of the input). Type a shape with at most "
            f"{max_cells} elements, e.g. 2, 4, 6, and write the steps with x.size(i) or -1."
        ),
    )


def _render_line(expr: Expr, drawn_shape: tuple[int, ...], before: list[Expr]) -> str:
    """The drawn version of a line as PyTorch text (sizes bound to the drawn input of that line)."""
    _, layouts, _ = _behaviour(drawn_shape, before)
    try:
        ops = bind(expr, {"x": layouts[-1][0]})
        return to_source(ops, "x") if ops else "x"
    except (ShapeError, ExpressionRefused):
        return expr.source
