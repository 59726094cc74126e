"""Compare two chains: same shape, same data? Both run on the same index tensors (``core.lab.lineage``).

Verdicts are computed on the real shape when it has at most ``MAX_VERDICT_NUMEL`` elements (else the caller
compares on the drawn analogue of ``core.lab.drawing``). Chains without aggregates run on two index tensors
(``u`` and ``u + K``); chains with one run on all four (see ``core.lab.lineage``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from core.engine.expr import parse_expr
from core.engine.ops import Op
from core.engine.parse import Expr
from core.errors import ExpressionRefused
from core.lab.lineage import (
    MIXED,
    PAD,
    LineageStage,
    StepFailure,
    chain_lines,
    classify,
    expr_nodes,
    index_text,
    run_chain,
    unravel,
)

__all__ = ["AGGREGATING", "MAX_VERDICT_NUMEL", "Verdict", "compare_chains", "differing_cells", "op_names"]

MAX_VERDICT_NUMEL = 2**22  # compare on the real shape up to this many elements, else on the analogue
AGGREGATING = frozenset({"mean", "sum", "amax", "amin", "reduce"})


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


def op_names(obj: Any, out: set[str]) -> set[str]:
    """Every op name in a parsed expression, operands of cat/stack included."""
    out.update(node.name for node in expr_nodes(obj) if isinstance(node, Op))
    return out


def _aggregates(lines: list[str | Expr]) -> bool:
    names: set[str] = set()
    for line in lines:
        try:
            op_names(line if isinstance(line, Expr) else parse_expr(line), names)
        except ExpressionRefused:
            continue
    return bool(names & AGGREGATING)


def _final_runs(
    shape: tuple[int, ...], steps: Sequence[str | Expr], max_numel: int
) -> tuple[list[torch.Tensor], StepFailure | None, bool]:
    lines = chain_lines(steps)
    run, _ = run_chain(shape, lines, max_numel, runs=4 if _aggregates(lines) else 2)
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
    return int(classify(vals, k)[0]), float(vals[0][0])


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
