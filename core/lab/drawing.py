"""Drawing plans: which source a chain is drawn on, and the chain rewritten for it.

Shapes too large to draw get a scaled-down analogue with the same pattern (``plan_drawing``: e.g.
(32, 128, 768) is drawn as (2, 4, 8), and ``x.view(32, 768, 128)`` as ``x.view(2, 8, 4)``); the plan also
carries every stage's real (shape, strides), its PyTorch text and einops form at the real size, predicted
with ``core.engine.ops.step_layout`` without running anything. The drawn chains are traced by
``core.lab.lineage.trace_lineage``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.engine.expr import DataDependent, bind, parse_expr, to_source
from core.engine.ops import Op, contiguous_strides, step_layout
from core.engine.parse import Bin, Expr, Lit
from core.errors import ExpressionRefused, ShapeError
from core.lab.einops_view import EinopsEquivalent, einops_equivalent, source_names
from core.lab.lineage import chain_lines, expr_nodes, op_text

__all__ = ["MAX_DRAW_CELLS", "DrawPlan", "plan_drawing"]

MAX_DRAW_CELLS = 512  # per stage; larger sources are drawn as a scaled-down analogue
_SCALE_VALUES = (2, 3, 4, 5, 6, 8)


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
        except (ShapeError, ExpressionRefused, DataDependent) as err:  # DataDependent: x[torch.where(x > 0)]
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
                record.append((op_text(op), eq))
            layouts.append(layout)
    return sig, layouts, ""


def _literals(obj: Any, out: set[int]) -> set[int]:
    out.update(node.value for node in expr_nodes(obj) if isinstance(node, Lit))
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
    chains = tuple(tuple(str(s) for s in chain_lines(c)) for c in chains)
    refusal = ""
    try:
        parsed = [[parse_expr(s) for s in c] for c in chains]
    except ExpressionRefused as e:
        parsed, refusal = None, str(e)
    records: list[list[tuple[str, EinopsEquivalent | None]]] = [[("x", None)] for _ in parsed or []]
    full = [_behaviour(shape, p, r) for p, r in zip(parsed, records)] if parsed is not None else []
    full_layouts = tuple(tuple(lay) for _, lay, _ in full)
    full_errors = tuple(msg for _, _, msg in full)
    full_sources = tuple(tuple(t for t, _ in r) for r in records)
    full_einops = tuple(tuple(e for _, e in r) for r in records)
    if parsed is None and math.prod(shape) > max_cells:  # never draw (allocate) a big source for a refused step
        return DrawPlan(
            shape,
            shape,
            chains,
            (),
            (),
            scaled=True,
            ok=False,
            note=(
                f"A step is refused ({refusal}), so nothing is drawn for {shape} ({math.prod(shape):,} elements). "
                f"Fix the step, or type a shape with at most {max_cells} elements to see the refusal drawn."
            ),
        )
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
    except (ShapeError, ExpressionRefused, DataDependent):
        return expr.source
