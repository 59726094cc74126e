"""Fixes as concrete spec edits, so a UI button (or a script) can apply them.

Example:
    >>> fix = Fix("insert x.permute(0, 2, 1) before step 2", "insert", index=1, step="x.permute(0, 2, 1)")
    >>> apply_fix({"shape": [2, 5, 8], "steps": [{"conv1d": {"in_channels": 8, "out_channels": 4, "kernel_size": 3}}]},
    ...           Fix("", "insert", index=0, step="x.permute(0, 2, 1)"))["steps"][0]
    'x.permute(0, 2, 1)'
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from core.errors import SpecError

EDIT_OPS = ("insert", "replace", "delete", "set_param", "delete_param", "set", "update")


@dataclass(frozen=True)
class Fix:
    """A spec edit.

    op: insert (``step`` before ``index``) | replace (step ``index`` by ``step``) | delete (step ``index``) |
        set_param (``param`` of layer step ``index`` to ``value``) | delete_param | set (top-level ``key``) |
        update (several top-level keys at once: ``value`` is a dict, e.g. ``{"pooling": "mean", "steps": [...]}``).
    """

    description: str
    op: str
    index: int | None = None
    step: Any = None
    param: str | None = None
    key: str | None = None
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"description": self.description, "edit": {"op": self.op}}
        for name in ("index", "step", "param", "key", "value"):
            v = getattr(self, name)
            if v is not None:
                out["edit"][name] = v
        return out


def apply_fix(spec: dict[str, Any], fix: Fix) -> dict[str, Any]:
    """Return a new spec dict with ``fix`` applied (the input is not modified)."""
    out = copy.deepcopy(spec)
    steps: list[Any] = out.setdefault("steps", [])
    i = fix.index
    if fix.op == "set":
        if not fix.key:
            raise SpecError("a 'set' fix needs a key")
        out[fix.key] = fix.value
        return out
    if fix.op == "update":
        if not isinstance(fix.value, dict) or not fix.value:
            raise SpecError("an 'update' fix needs a dict of top-level keys")
        out.update(copy.deepcopy(fix.value))
        return out
    if i is None or not (0 <= i <= len(steps)) or (fix.op != "insert" and i == len(steps)):
        raise SpecError(f"fix refers to step {i}, but the spec has {len(steps)} steps")
    if fix.op == "insert":
        steps.insert(i, fix.step)
    elif fix.op == "replace":
        steps[i] = fix.step
    elif fix.op == "delete":
        del steps[i]
    elif fix.op in ("set_param", "delete_param"):
        step = steps[i]
        kinds = [k for k in step if k not in ("input", "output", "h0", "c0")] if isinstance(step, dict) else []
        if len(kinds) != 1:
            raise SpecError(f"step {i + 1} is not a layer step; cannot change parameter {fix.param!r}")
        kind = kinds[0]
        params = dict(step[kind] or {})
        if fix.op == "set_param":
            params[fix.param] = fix.value
        else:
            params.pop(fix.param, None)
        steps[i] = {**step, kind: params}
    else:
        raise SpecError(f"unknown fix op {fix.op!r}; expected one of {', '.join(EDIT_OPS)}")
    return out
