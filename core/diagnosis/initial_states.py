"""Initial states ``h0`` / ``c0`` of an LSTM/GRU step: the shape they must have, and the expression rebuilt so it
has it on every batch.

An initial state is (num_layers × num_directions, batch, hidden_size) — proj_size for an LSTM's h0 when set —
whatever batch_first says (torch.nn.LSTM docs). The usual mistake writes the batch as a number
(``torch.zeros(1, 32, 300)``): it fits every full batch and breaks the last, smaller one. The rebuilt expression
reads the batch from the input (``x.size(0)`` batch-first, ``x.size(1)`` seq-first) and puts the right numbers at
the other two places; it is found and rewritten with ``ast`` (never evaluated).

    >>> rebuilt("torch.zeros(1, 32, 300)", (2, 8, 300), "x.size(0)")
    'torch.zeros(2, x.size(0), 300)'
    >>> literal_batch("torch.zeros(1, x.size(0), 300)") is None
    True
"""

from __future__ import annotations

import ast
from typing import Any

FACTORIES = ("zeros", "ones", "randn", "rand", "empty", "full")


def _factory(tree: ast.AST) -> tuple[ast.Call, list[ast.expr], ast.AST] | None:
    """The first ``torch.zeros(...)``-like call, its size nodes, and the node that holds them (call or tuple)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr not in FACTORIES or not isinstance(node.func.value, ast.Name):
            continue
        if node.func.value.id != "torch" or not node.args:
            continue
        first = node.args[0]
        if isinstance(first, ast.Tuple | ast.List):
            return node, list(first.elts), first
        if node.func.attr == "full":
            continue  # torch.full takes its sizes as one tuple
        return node, list(node.args), node
    return None


def _int(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    return None


def literal_batch(text: str) -> int | None:
    """The batch size written as a number at dim 1 of a 3-D ``torch.zeros(...)`` state, or None."""
    try:
        found = _factory(ast.parse(text, mode="eval"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if found is None or len(found[1]) != 3:
        return None
    return _int(found[1][1])


def rebuilt(text: str, want: tuple[int, ...], batch_code: str) -> str | None:
    """``text`` with the state's sizes made right: the batch read from the input, the other two set to ``want``.

    None when the expression is not a ``torch.zeros(...)``-like call of 3 sizes, or nothing changes.
    """
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found = _factory(tree)
    if found is None or len(found[1]) != 3 or len(want) != 3:
        return None
    call, sizes, holder = found
    new = list(sizes)
    if _int(sizes[1]) is not None:
        new[1] = ast.parse(batch_code, mode="eval").body
    for p in (0, 2):
        if _int(sizes[p]) is not None and _int(sizes[p]) != want[p]:
            new[p] = ast.Constant(want[p])
    if all(a is b for a, b in zip(new, sizes)):
        return None
    if isinstance(holder, ast.Tuple | ast.List):
        holder.elts = new
    else:
        call.args = new + call.args[3:]
    return ast.unparse(tree)


def expected_states(params: dict[str, Any], kind: str, in_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """``{"h0": shape, "c0": shape}`` an LSTM/GRU with resolved ``params`` needs for a 3-D input of ``in_shape``."""
    if len(in_shape) != 3:
        return {}
    dirs = 2 if params.get("bidirectional") else 1
    n = dirs * int(params.get("num_layers", 1))
    batch = in_shape[0] if params.get("batch_first") else in_shape[1]
    hidden = int(params["hidden_size"])
    out = {"h0": (n, batch, int(params.get("proj_size") or hidden))}
    if kind == "lstm":
        out["c0"] = (n, batch, hidden)
    return out


def batch_code(step: Any, params: dict[str, Any]) -> str:
    """The input's batch size as an expression: ``x.size(0)`` batch-first, ``x.size(1)`` seq-first."""
    return f"{step.input}.size({0 if params.get('batch_first') else 1})"


def rebuilt_step(step: Any, params: dict[str, Any], in_shape: tuple[int, ...]) -> dict[str, str]:
    """The rewritten ``h0`` / ``c0`` of a layer step (only those that change)."""
    want = expected_states(params, step.kind.value, in_shape)
    code = batch_code(step, params)
    out = {}
    for key in ("h0", "c0"):
        text = getattr(step, key, None)
        if text and key in want:
            new = rebuilt(text, want[key], code)
            if new is not None:
                out[key] = new
    return out
