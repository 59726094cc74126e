"""Named-step twins of the issue-12 tables: the same pipeline written the way pasted code writes it.

Every bare step ``x.view(100, 6, 12)`` becomes an assignment ``t1 = <that, over the current name>``, an LSTM
``out1, (hn1, cn1) = lstm(<current name>)`` (``"input"`` / ``"output"``), a GRU ``out1, hn1``, a Conv1d / Linear
``y1``, a loss reads the current name. ``x``, ``h_n`` and ``c_n`` in later steps, in h0 / c0 and in expected fixes
and wording become the names that hold them at that point, so a twin is the same computation, step for step (the
step numbers do not move). Built by plain regex renaming here, independent of the product's own renaming.

    >>> twin({"shape": [4, 10, 32], "steps": [{"lstm": {"hidden_size": 8}}, "x[:, -1, :]"]})["steps"]
    [{'lstm': {'hidden_size': 8}, 'output': 'out1, (hn1, cn1)'}, 't2 = out1[:, -1, :]']
"""

from __future__ import annotations

import copy
import re
from typing import Any

from core.spec import Spec
from core.trace import run_spec

# shared by the named-step tests (test_named_diagnosis.py, test_named_no_false_alarms.py)
TINY = "random:bert-tiny"
THREE = ["short one", "a somewhat longer text with many more words in it", "mid length text here"]
BI = {"hidden_size": 16, "batch_first": True, "bidirectional": True}
UNI = {"hidden_size": 8, "batch_first": True}


def run(data: dict, ckpt=None):
    return run_spec(Spec.from_dict(data), ckpt, device="cpu")


def warnings_of(trace) -> list:
    return [w for w in trace.warnings if w.severity == "warning"]


def lstm(params: dict, output: str = "out, (h_n, c_n)", **more) -> dict:
    return {"lstm": params, "output": output, **more}


LAYERS = ("lstm", "gru", "conv1d", "linear")
_SIBLINGS = ("input", "output", "h0", "c0", "target")


def rename(text: str, names: dict[str, str]) -> str:
    """``text`` with the whole words ``x`` / ``h_n`` / ``c_n`` replaced by the names that hold them.

    A word after a dot (``.x``) is an attribute, not a name, and stays.
    """
    if not names:
        return text
    pattern = r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(names, key=len, reverse=True)) + r")(?!\w)"
    return re.sub(pattern, lambda m: names[m.group(1)], text)


def _kind(step: dict) -> str | None:
    return next((k for k in step if k not in _SIBLINGS), None)


def twin_with_names(data: dict) -> tuple[dict, list[dict[str, str]]]:
    """The named twin of ``data`` and, per step, the names that held ``x`` / ``h_n`` / ``c_n`` when it ran."""
    out = copy.deepcopy(data)
    cur = {"x": "x", "h_n": "h_n", "c_n": "c_n"}
    steps: list[Any] = []
    seen: list[dict[str, str]] = []
    for k, step in enumerate(data.get("steps", [])):
        n = k + 1
        seen.append(dict(cur))
        if isinstance(step, str):
            bound = re.match(r"^\s*([\w\s,()]+?)\s*=(?!=)\s*(.*)$", step, re.S)
            if bound is not None and bound.group(1).strip() != "x":  # already named: only what it reads moves
                steps.append(f"{bound.group(1).strip()} = {rename(bound.group(2), cur)}")
                continue
            value = bound.group(2) if bound is not None else step
            steps.append(f"t{n} = {rename(value, cur)}")
            cur["x"] = f"t{n}"
            continue
        new = copy.deepcopy(step)
        kind = _kind(step)
        if cur["x"] != "x":
            new["input"] = cur["x"]
        for key in ("h0", "c0"):
            if isinstance(new.get(key), str):
                new[key] = rename(new[key], cur)
        if kind == "lstm":
            new["output"] = f"out{n}, (hn{n}, cn{n})"
            cur.update(x=f"out{n}", h_n=f"hn{n}", c_n=f"cn{n}")
        elif kind == "gru":
            new["output"] = f"out{n}, hn{n}"
            cur.update(x=f"out{n}", h_n=f"hn{n}")
        elif kind in ("conv1d", "linear"):
            new["output"] = f"y{n}"
            cur["x"] = f"y{n}"
        elif kind == "loss" and isinstance(new.get("target"), str):
            new["target"] = rename(new["target"], cur)
        steps.append(new)
    out["steps"] = steps
    return out, seen


def twin(data: dict) -> dict:
    """The named twin of a spec dict (see the module docstring)."""
    return twin_with_names(data)[0]


def fix_steps(fix: Any) -> list[Any]:
    """The steps a fix writes: the replaced / inserted step, or the whole new list of a "set" / "update" edit."""
    if fix.op in ("replace", "insert"):
        return [fix.step]
    if fix.op == "set" and fix.key == "steps":
        return list(fix.value)
    if fix.op == "update":
        return list(fix.value.get("steps", []))
    return []


def names_written(step: Any) -> set[str]:
    """The names a step's text reads: every identifier of an expression step, a layer / loss step's input and
    h0 / c0 / target expressions (to check that a fix keeps the user's names and never falls back to ``x``)."""
    if isinstance(step, str):
        texts = [step]
    elif isinstance(step, dict):
        texts = [str(step.get(k)) for k in ("h0", "c0", "target") if isinstance(step.get(k), str)]
        texts.append(str(step.get("input", "x")))
    else:
        return set()
    found: set[str] = set()
    for text in texts:
        text = re.sub(r"(['\"]).*?\1", "", text)  # einops patterns and other strings
        found |= set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)", text))
    return found
