"""PyTorch's own OpInfo samples and error inputs, run through our language and against plain torch.

For every op of the expression language that has an OpInfo entry in the installed torch
(``torch.testing._internal.common_methods_invocations.op_db``), each ``sample_inputs`` / ``error_inputs`` case is
written as a step over named tensors (``x`` = the sample's input, ``a0``, ``a1`` ... its tensor arguments), then
parse -> predict (meta) -> run, and compared with OpInfo's own call of the op:

- ``agree``: both run; same shape, strides, dtype and values; the prediction has the same shape and strides
  (or stops honestly: the result's shape depends on the values);
- ``agree_fail``: both fail; our run raises ShapeError with torch's message, the prediction fails too;
- ``fail_on_values``: torch rejects index *values* (``gather`` with an index past the end): the prediction,
  which sees no values, runs; our run fails with torch's message;
- ``refused``: our language refuses the spelling (an argument it does not take, e.g. ``out=``, ``memory_format=``);
- ``disagree``: anything else (a test failure); ``crash``: another exception from our side (a test failure).

Run it as a script for the counts: ``PYTHONPATH=. .venv/bin/python tests/engine/opinfo_sweep.py [limit]``.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch

from core.engine.catalog import METHODS
from core.engine.expr import DataDependent, parse_statement, predict_statement, run_statement
from core.errors import ExpressionRefused, ShapeError

# OpInfo name (with variant) -> how it is spelled in a step; "method" / "func" / a template
SPELLING: dict[str, str] = {
    "T": "x.T", "mT": "x.mT", "where": "torch.where({a0}, x, {a1})", "__getitem__": "x[{index}]",
    "einsum": "torch.einsum({a0}, {tensors})", "cat": "torch.cat([{tensors}]{kw})",
    "stack": "torch.stack([{tensors}]{args}{kw})",
    "zeros": "torch.zeros({input}{kw})", "ones": "torch.ones({input}{kw})", "full": "torch.full({input}{args}{kw})",
    "arange": "torch.arange({input}{args}{kw})", "eye": "torch.eye({input}{args}{kw})",
}  # fmt: skip
OPS = [
    "add", "sub", "rsub", "mul", "div.no_rounding_mode", "div.floor_rounding", "div.trunc_rounding", "true_divide",
    "floor_divide", "remainder", "pow", "matmul", "eq", "ne", "lt", "le", "gt", "ge", "bitwise_and", "logical_and",
    "bitwise_or", "logical_or", "bitwise_xor", "maximum", "minimum", "clamp", "clamp_min", "clamp_max", "neg", "abs",
    "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "nn.functional.relu", "sin", "cos", "reciprocal", "sign",
    "floor", "ceil", "round", "log1p", "expm1", "erf", "square", "logical_not", "bitwise_not", "isnan", "isinf",
    "clone", "nn.functional.gelu", "nn.functional.silu", "nn.functional.leaky_relu", "nn.functional.elu", "float",
    "long", "int", "bool", "half", "double", "to", "softmax", "softmax.with_dtype", "log_softmax",
    "log_softmax.with_dtype", "bmm", "mm", "einsum", "zeros", "ones", "full", "arange", "eye", "zeros_like",
    "ones_like", "full_like", "new_zeros", "new_ones", "new_full", "norm", "linalg.vector_norm",
    "nn.functional.normalize", "nn.functional.layer_norm", "nn.functional.cosine_similarity", "nn.functional.one_hot",
    "argmax", "argmin", "topk", "sort", "argsort", "max.reduction_with_dim", "max.reduction_no_dim", "max.binary",
    "min.reduction_with_dim", "min.reduction_no_dim", "min.binary", "gather", "index_select", "repeat_interleave",
    "where", "masked_fill", "masked_select", "nonzero", "expand_as", "view_as", "reshape_as", "unbind", "t", "flip",
    "roll", "unfold", "nn.functional.adaptive_avg_pool1d", "nn.functional.adaptive_max_pool1d",
    "nn.functional.max_pool1d", "nn.functional.avg_pool1d", "tensor_split", "cumsum", "logsumexp", "std", "var",
    "prod", "any", "all", "tril", "triu", "reshape", "view", "expand", "repeat", "permute", "transpose", "flatten",
    "unflatten", "unsqueeze", "squeeze", "squeeze.multiple", "contiguous", "mean", "sum", "amax", "amin", "chunk",
    "split", "split.list_args", "split_with_sizes", "narrow", "select", "movedim", "nn.functional.pad.constant",
    "nn.functional.pad.reflect", "nn.functional.pad.replicate", "nn.functional.pad.circular", "cat", "stack", "T",
    "mT", "__getitem__",
]  # fmt: skip
# ops whose errors depend on index values, which a prediction on meta tensors cannot see (the run reports them)
VALUE_CHECKED = {"gather", "index_select", "__getitem__", "nn.functional.one_hot", "repeat_interleave", "masked_fill"}
_FUNC_ONLY = {"einsum", "zeros", "ones", "full", "arange", "eye", "zeros_like", "ones_like", "full_like",
              "nn.functional.relu"}  # fmt: skip


@dataclass
class Case:
    op: str
    kind: str  # sample | error
    text: str
    outcome: str
    detail: str = ""


def _dtype_for(op: Any) -> torch.dtype:
    dtypes = op.supported_dtypes("cpu")
    for d in (torch.float32, torch.int64, torch.bool):
        if d in dtypes:
            return d
    return next(iter(dtypes))


class _Writer:
    """Python source for a sample's values; tensors become names a0, a1 ... in ``env``."""

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env

    def v(self, value: Any) -> str:
        if isinstance(value, torch.Tensor):
            name = f"a{len(self.env) - 1}"
            self.env[name] = value
            return name
        if isinstance(value, torch.dtype):
            return str(value)
        if isinstance(value, torch.Size):
            return repr(tuple(value))
        if isinstance(value, slice):
            return ":".join("" if p is None else self.v(p) for p in (value.start, value.stop)) + (
                "" if value.step is None else f":{self.v(value.step)}"
            )
        if isinstance(value, list):
            return "[" + ", ".join(self.v(i) for i in value) + "]"
        if isinstance(value, tuple):
            return "(" + ", ".join(self.v(i) for i in value) + ("," if len(value) == 1 else "") + ")"
        if isinstance(value, float) and not math.isfinite(value):
            return f"float('{value}')"
        if value is Ellipsis:
            return "..."
        return repr(value)

    def index(self, value: Any) -> str:
        items = value if isinstance(value, tuple) else (value,)
        return ", ".join(self.v(i) for i in items) if items else "()"


def _text(name: str, sample: Any, env: dict[str, Any]) -> str | None:
    w = _Writer(env)
    base = name.split(".")[0] if not name.startswith(("nn.", "linalg.")) else name.rsplit(".", 1)[0] if name.startswith(
        "nn.functional.pad") else name  # fmt: skip
    kwargs = {k: v for k, v in sample.kwargs.items() if not (k == "device" and v == "cpu")}
    inp = sample.input
    if name in ("cat", "stack", "einsum"):
        tensors = inp if isinstance(inp, (list, tuple)) else [inp]
        env["x"] = tensors[0]
        names = ["x"] + [w.v(t) for t in tensors[1:]]
        args = "".join(f", {w.v(a)}" for a in sample.args)
        kw = "".join(f", {k}={w.v(v)}" for k, v in kwargs.items())
        if name == "einsum":
            return f"torch.einsum({w.v(sample.args[0])}, {', '.join(names)})"
        return SPELLING[name].format(tensors=", ".join(names), args=args, kw=kw)
    if name in ("zeros", "ones", "full", "arange", "eye"):
        env["x"] = torch.zeros(1)
        args = "".join(f", {w.v(a)}" for a in sample.args)
        kw = "".join(f", {k}={w.v(v)}" for k, v in kwargs.items())
        return SPELLING[name].format(input=w.v(inp), args=args, kw=kw)
    if not isinstance(inp, torch.Tensor):
        return None
    env["x"] = inp
    if name == "__getitem__":
        return f"x[{w.index(sample.args[0])}]"
    if name == "where":
        return f"torch.where({w.v(sample.args[0])}, x, {w.v(sample.args[1])})"
    if name in ("T", "mT"):
        return f"x.{name}"
    args = ", ".join([w.v(a) for a in sample.args] + [f"{k}={w.v(v)}" for k, v in kwargs.items()])
    if base.startswith("nn.functional."):
        return f"F.{base[len('nn.functional.') :]}(x{', ' if args else ''}{args})"
    if base.startswith("linalg."):
        return f"torch.{base}(x{', ' if args else ''}{args})"
    if base == "rsub":
        other = sample.args[0] if sample.args else kwargs.get("other")
        return f"{w.v(other)} - x" if not kwargs or set(kwargs) == {"other"} else f"torch.rsub(x, {args})"
    if base in METHODS and base not in _FUNC_ONLY:
        return f"x.{base}({args})"
    return f"torch.{base}(x{', ' if args else ''}{args})"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b) and all(
            _same(x, y) for x, y in zip(a, b))  # fmt: skip
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return False
    if a.shape != b.shape or a.dtype != b.dtype or a.stride() != b.stride():
        return False
    if a.dtype.is_floating_point or a.dtype.is_complex:
        return torch.allclose(a, b, equal_nan=True, atol=1e-5, rtol=1e-4)
    return torch.equal(a, b)


def _layout(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return tuple(_layout(i) for i in v)
    return (tuple(v.shape), v.stride(), v.dtype)


def run_case(name: str, kind: str, sample: Any, call: Any, expected_error: Any = None) -> Case:
    env: dict[str, Any] = {}
    try:
        text = _text(name, sample, env)
    except Exception as e:  # a sample we cannot write as source (e.g. a tensor subclass)
        return Case(name, kind, "?", "skipped", repr(e)[:120])
    if text is None:
        return Case(name, kind, "?", "skipped", "input is not a tensor")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = call()
            ref_error = None
        except Exception as e:
            ref, ref_error = None, e
    try:
        stmt = parse_statement(text)
    except ExpressionRefused as e:
        if "returns a tuple" in str(e) and ref_error is None and isinstance(ref, (tuple, list)) and len(ref) <= 8:
            text = ", ".join(f"r{i}" for i in range(len(ref))) + ("," if len(ref) == 1 else "") + " = " + text
            stmt = parse_statement(text)
        elif "returns a tuple" in str(e):
            text = "r0, r1 = " + text
            stmt = parse_statement(text)
        else:
            return Case(name, kind, text, "refused", str(e)[:200])
    except Exception as e:
        return Case(name, kind, text, "crash", f"parse: {type(e).__name__}: {e}"[:300])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = run_statement(stmt, dict(env))
        got: Any = tuple(run.binds.values()) if isinstance(stmt.targets, tuple) else run.value
        got_error = None
    except ShapeError as e:
        got, got_error = None, e
    except ExpressionRefused as e:
        return Case(name, kind, text, "refused", str(e)[:200])
    except Exception as e:
        return Case(name, kind, text, "crash", f"run: {type(e).__name__}: {e}"[:300])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = predict_statement(stmt, env)
        predicted: Any = tuple(pred.binds.values()) if isinstance(stmt.targets, tuple) else pred.value
        pred_error = None
    except DataDependent:
        predicted, pred_error = "data", None
    except ShapeError as e:
        predicted, pred_error = None, e
    except ExpressionRefused as e:
        return Case(name, kind, text, "refused", f"predict: {e}"[:200])
    except Exception as e:
        return Case(name, kind, text, "crash", f"predict: {type(e).__name__}: {e}"[:300])
    if ref_error is None:
        if got_error is not None:
            return Case(name, kind, text, "disagree", f"torch ran, we failed: {got_error.message[:150]}")
        if not _same(got, ref):
            return Case(name, kind, text, "disagree", f"values/layout differ: {_layout(got)} vs {_layout(ref)}")
        if pred_error is not None:
            return Case(name, kind, text, "disagree", f"predicted failure: {pred_error.message[:150]}")
        if predicted != "data" and _layout(predicted) != _layout(ref):
            return Case(name, kind, text, "disagree", f"predicted {_layout(predicted)} vs {_layout(ref)}")
        return Case(name, kind, text, "agree")
    if got_error is None:
        return Case(name, kind, text, "disagree", f"torch failed ({ref_error}), we ran"[:200])
    if got_error.message != str(ref_error).strip() and str(ref_error).strip():
        return Case(name, kind, text, "disagree", f"message: {got_error.message[:90]!r} vs {str(ref_error)[:90]!r}")
    if pred_error is None and predicted != "data":
        if name in VALUE_CHECKED and any(
            w in str(ref_error) for w in ("out of bounds", "out of range", "index", "overflow")
        ):
            return Case(name, kind, text, "fail_on_values", str(ref_error)[:120])
        return Case(name, kind, text, "disagree", f"predicted success where torch fails: {str(ref_error)[:120]}")
    if pred_error is not None and pred_error.message != got_error.message:
        return Case(name, kind, text, "disagree", f"predicted message {pred_error.message[:90]!r}")
    return Case(name, kind, text, "agree_fail")


def sweep(limit: int | None = None, ops: list[str] | None = None) -> list[Case]:
    """Every sample and error input of the ops (at most ``limit`` of each per op)."""
    from torch.testing._internal.common_methods_invocations import op_db

    by_name = {o.name + ("." + o.variant_test_name if o.variant_test_name else ""): o for o in op_db}
    out: list[Case] = []
    for name in ops or OPS:
        op = by_name.get(name)
        if op is None:
            continue
        dtype = _dtype_for(op)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            samples = list(op.sample_inputs("cpu", dtype))[:limit]
        for s in samples:
            out.append(run_case(name, "sample", s, lambda s=s, op=op: op.op(s.input, *s.args, **s.kwargs)))
        try:
            errors = list(op.error_inputs("cpu"))[:limit]
        except Exception:
            errors = []
        for e in errors:
            s = e.sample_input
            out.append(run_case(name, "error", s, lambda s=s, op=op: op.op(s.input, *s.args, **s.kwargs)))
    return out


def summary(cases: list[Case]) -> str:
    counts = Counter(c.outcome for c in cases)
    ops = len({c.op for c in cases})
    return f"{len(cases)} cases over {ops} ops: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


if __name__ == "__main__":
    import sys

    cases = sweep(limit=int(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(summary(cases))
    for c in cases:
        if c.outcome in ("disagree", "crash"):
            print(f"{c.outcome:9s} {c.op:28s} {c.kind:6s} {c.text[:90]:90s} {c.detail}")
    refused = Counter(c.op for c in cases if c.outcome == "refused")
    print("refused by op:", dict(refused.most_common()))
