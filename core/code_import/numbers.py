"""Numbers in pasted code that are not literals: ``float("-inf")``, ``math.inf``, ``np.nan``,
``torch.finfo(x.dtype).min``, ``torch.iinfo(torch.int16).max``.

Each becomes a ``Size`` whose term the engine's expression language reads (``float('-inf')``, ``math.inf``,
``torch.finfo(x.dtype).min``; core.engine.values) or, where it has no such spelling, the value itself.

    >>> import ast
    >>> ast.unparse(float_of_text("-Infinity").term), named_number("math.pi").value
    ("float('-inf')", 3.141592653589793)
"""

from __future__ import annotations

import ast
import math
from typing import Any

from core.code_import.values import NotUnderstood, Size, TypeInfo, ref_node

# Named numbers: the engine's expression language reads ``math.inf`` / ``math.pi``… itself; NumPy's twins are
# written as ``float('inf')`` or their value (core.engine.values.SCALAR_CONSTS).
_ENGINE_CONSTS = {"math.inf": math.inf, "math.nan": math.nan, "math.pi": math.pi, "math.e": math.e}
_OTHER_CONSTS = {"math.tau": math.tau, "numpy.inf": math.inf, "numpy.nan": math.nan, "numpy.pi": math.pi,
                 "numpy.e": math.e, "numpy.Inf": math.inf, "numpy.NaN": math.nan}  # fmt: skip
_FLOAT_WORDS = ("inf", "-inf", "+inf", "nan", "infinity", "-infinity", "+infinity")  # what float('…') accepts
_ENGINE_FINFO = ("min", "max", "eps", "tiny")  # the torch.finfo fields the expression language reads


def special_float(value: float) -> Size:
    """``float('inf')`` / ``float('-inf')`` / ``float('nan')`` as a number the engine reads."""
    text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return Size(ast.Call(ast.Name("float", ast.Load()), [ast.Constant(text)], []), value)


def named_number(path: str) -> Size | None:
    """``math.inf``, ``math.pi``, ``np.inf``… as a number; None for any other path."""
    if path in _ENGINE_CONSTS:
        parts = path.split(".")
        return Size(ast.Attribute(ast.Name(parts[0], ast.Load()), parts[1], ast.Load()), _ENGINE_CONSTS[path])
    if path in _OTHER_CONSTS:
        value = _OTHER_CONSTS[path]
        return Size.of(value) if math.isfinite(value) else special_float(value)
    return None


def float_of_text(text: str) -> Size:
    """``float("-inf")`` / ``float('nan')`` / ``float("1e-9")``: the number Python's float() gives."""
    word = text.strip().lower()
    if word in _FLOAT_WORDS:
        return special_float(float(word))
    try:
        value = float(text)
    except ValueError:
        raise NotUnderstood(f"float({text[:40]!r}) is not a number (Python raises ValueError)") from None
    return Size.of(value)


def type_info_attr(info: TypeInfo, name: str) -> Size:
    """``torch.finfo(x.dtype).min`` → a number: the term the engine reads when it can, else the value.

    Raises NotUnderstood for a field torch's finfo / iinfo lacks, a dtype of the wrong kind (torch's own
    message), or a field of a tensor's dtype that the engine cannot read (``torch.iinfo(x.dtype)``).
    """
    dtype = info.dtype
    call = f"torch.{info.kind}({'….dtype' if dtype.of is not None else 'torch.' + dtype.name})"
    if info.kind == "finfo" and name in _ENGINE_FINFO:
        dtype_term = (
            ast.Attribute(ref_node(dtype.of), "dtype", ast.Load())
            if dtype.of is not None
            else ast.Attribute(ast.Name("torch", ast.Load()), dtype.name, ast.Load())
        )
        finfo = ast.Call(ast.Attribute(ast.Name("torch", ast.Load()), "finfo", ast.Load()), [dtype_term], [])
        value = None
        if dtype.of is None:
            value = _info_value(info, name, call)
        refs = frozenset({dtype.of}) if dtype.of is not None else frozenset()
        return Size(ast.Attribute(finfo, name, ast.Load()), value, refs)
    if dtype.of is not None:
        raise NotUnderstood(
            f"`{call}.{name}` of a tensor's dtype is not understood; name the dtype "
            f"(`torch.{info.kind}(torch.{'float32' if info.kind == 'finfo' else 'int64'}).{name}`)"
        )
    value = _info_value(info, name, call)
    return Size.of(value) if math.isfinite(value) else special_float(value)


def _info_value(info: TypeInfo, name: str, call: str) -> Any:
    import torch

    try:
        fields = (torch.finfo if info.kind == "finfo" else torch.iinfo)(getattr(torch, info.dtype.name))
    except TypeError as e:  # torch.finfo(torch.int64): torch's own words
        raise NotUnderstood(f"`{call}`: {e}") from None
    if name not in ("min", "max", "eps", "tiny", "bits", "resolution", "smallest_normal"):
        raise NotUnderstood(f"`{call}.{name}`: torch.{info.kind} has no field `{name}`")
    try:
        return getattr(fields, name)
    except AttributeError:
        raise NotUnderstood(f"`{call}.{name}`: torch.{info.kind} has no field `{name}`") from None
