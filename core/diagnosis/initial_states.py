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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Source:
    """Where a layer step's initial state is written: inline (``"h0": "torch.zeros(1, 32, 300)"``, ``step`` None)
    or in the step that binds the name it reads (``"h0": "h0"`` after ``h0 = torch.zeros(1, 32, 300)``)."""

    keys: tuple[str, ...]  # the layer's keys that read it: ("h0",), or ("h0", "c0") for ``"c0": "h0"``
    text: str  # the expression: ``torch.zeros(1, 32, 300)``
    step: int | None = None  # the step that binds it
    name: str | None = None  # the name it is bound to

    @property
    def quoted(self) -> str:
        """The statement as the user wrote it: ``h0 = torch.zeros(1, 32, 300)``."""
        return f"{self.name if self.step is not None else self.keys[0]} = {self.text}"


@dataclass(frozen=True)
class StateEdit:
    """The spec's steps (dict form) with the initial states rebuilt, and one line per edit for the fix's text."""

    steps: list[Any]
    parts: tuple[str, ...]
    rebuilt: dict[str, str]  # the new expression per layer key (``{"h0": "torch.zeros(1, x.size(0), 300)"}``)


def sources(steps: tuple[Any, ...], i: int, step: Any) -> list[Source]:
    """Where the initial states of layer step ``i`` are written, one entry per expression (a bound name read as
    both h0 and c0 is one entry with both keys)."""
    from core.diagnosis.step_names import statement_targets, value_text

    found: list[Source] = []
    for key in ("h0", "c0"):
        text = getattr(step, key, None)
        if not text:
            continue
        name = _bare_name(text)
        j = _binder(steps, i, name) if name is not None else None
        value = value_text(steps[j]) if j is not None else None
        if j is not None and value is not None and statement_targets(steps[j]) == name:
            same = next((s for s in found if s.step == j), None)
            if same is not None:
                found[found.index(same)] = Source((*same.keys, key), same.text, j, name)
                continue
            found.append(Source((key,), value, j, name))
        elif name is None:
            found.append(Source((key,), text))
    return found


def state_edit(spec: Any, i: int, step: Any, params: dict[str, Any], in_shape: tuple[int, ...]) -> StateEdit | None:
    """The initial states of layer step ``i`` rebuilt for its input ``in_shape`` and every other batch, in the
    user's words: a state written inline is rewritten in the layer step; one bound by its own step
    (``h0 = torch.zeros(1, 32, 300)``) is rewritten there, under the user's name, when the layer's input already
    holds the same tensor at that step (else the layer step gets the rebuilt expression). None: nothing to change.
    """
    from core.diagnosis.step_names import assignment, binds

    want = expected_states(params, step.kind.value, in_shape)
    code = batch_code(step, params)
    steps = spec.to_dict()["steps"]
    layer = dict(steps[i])
    parts: list[str] = []
    new_exprs: dict[str, str] = {}
    for src in sources(spec.steps, i, step):
        key = src.keys[0]
        if key not in want:
            continue
        new = rebuilt(src.text, want[key], code)
        if new is None:
            continue
        for k in src.keys:
            new_exprs[k] = new
        stable = src.step is not None and all(step.input not in binds(s) for s in spec.steps[src.step : i])
        if stable:
            steps[src.step] = assignment(src.name, new)
            parts.append(f"step {src.step + 1}: `{src.name} = {new}`")
        else:
            for k in src.keys:
                layer[k] = new
                parts.append(f"{k} = `{new}`")
    if not parts:
        return None
    steps[i] = layer
    return StateEdit(steps, tuple(parts), new_exprs)


def _bare_name(text: str) -> str | None:
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return node.id if isinstance(node, ast.Name) else None


def _binder(steps: tuple[Any, ...], i: int, name: str) -> int | None:
    """The last step before ``i`` that binds ``name``."""
    from core.diagnosis.step_names import binds

    return next((j for j in range(i - 1, -1, -1) if name in binds(steps[j])), None)
