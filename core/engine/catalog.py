"""The ops of the expression language: one row per op with its parameters, spellings and torch call.

There is no shape rule here: shapes, strides and errors come from running the very same call on ``meta``
tensors (see ``core.engine.evaluate``). A row only says how to read the user's arguments (the parameter
names are torch's own, so keyword arguments work as in torch) and which torch function runs it.

    >>> OPS["softmax"].methods, OPS["softmax"].funcs[:2]
    (('softmax',), ('torch.softmax', 'torch.nn.functional.softmax'))

Signature mini-language: ``"dim:int=0|axis, *keepdim:bool=False"`` -- name, kind, default (none = required),
``|`` keyword aliases, a leading ``*`` for a parameter kept in ``Op.kwargs`` rather than ``Op.args``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REQ = "<required>"
PAD_MODES = ("constant", "reflect", "replicate", "circular")
REDUCTIONS = ("mean", "sum", "max", "min", "prod")


@dataclass(frozen=True)
class P:
    """One parameter after the tensor: name, kind, default (``REQ`` when required), keyword aliases."""

    name: str
    kind: str
    default: Any = REQ
    aliases: tuple[str, ...] = ()
    kw: bool = False  # kept in Op.kwargs (only when given) instead of Op.args


@dataclass(frozen=True)
class OpDef:
    """An op of the language.

    returns: ``tensor``; ``tuple`` (pick one with ``[i]`` / ``.values`` or unpack); ``packed`` (a PackedSequence);
    ``tuple_if`` (a tuple when ``return_indices=True`` / ``max(dim)``). ``data``: the result's shape depends on
    values (boolean masks, tensor repeats), so prediction stops there and the run bounds it by its inputs.
    """

    name: str
    params: tuple[P, ...]
    methods: tuple[str, ...] = ()
    funcs: tuple[str, ...] = ()
    call: Callable[..., Any] | None = None
    returns: str = "tensor"
    fields: tuple[str, ...] = ()
    data: bool = False
    ctor: bool = False  # builds a tensor from sizes (no input tensor): torch.zeros(2, 3)
    infix: str = ""  # "+" for add ... (rendered as an operator)
    words: str = ""  # describe(): a short phrase

    def param(self, name: str) -> P | None:
        return next((p for p in self.params if p.name == name or name in p.aliases), None)


_SHORT = {"F.": "torch.nn.functional.", "rnn.": "torch.nn.utils.rnn.", "linalg.": "torch.linalg."}


def _full(name: str) -> str:
    for short, full in _SHORT.items():
        if name.startswith(short):
            return full + name[len(short) :]
    return name


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word: a string default such as constant


def _sig(text: str) -> tuple[P, ...]:
    out = []
    for part in filter(None, (s.strip() for s in text.split(","))):
        kw = part.startswith("*")
        part = part.lstrip("*")
        names, _, rest = part.partition(":")
        kind, eq, default = rest.partition("=")
        default, *aliases = default.split("|") if eq else (REQ, *kind.split("|")[1:])
        kind = kind.split("|")[0]
        value = _literal(default) if eq else REQ
        out.append(P(names, kind, value, tuple(aliases), kw))
    return tuple(out)


def _method(name: str) -> Callable[..., Any]:
    return lambda t, args, kwargs: getattr(t, name)(*args, **kwargs)


def _func(path: str) -> Callable[..., Any]:
    def call(t: Any, args: tuple, kwargs: dict) -> Any:
        import einops
        import torch

        obj: Any = einops if path.startswith("einops.") else torch
        for part in path.split(".")[1:]:
            obj = getattr(obj, part)
        return obj(t, *args, **kwargs)

    return call


OPS: dict[str, OpDef] = {}


def op(
    name: str,
    sig: str = "",
    m: tuple[str, ...] | str = (),
    f: tuple[str, ...] | str = (),
    call: Callable[..., Any] | None = None,
    **more: Any,
) -> None:
    methods = (m,) if isinstance(m, str) else m
    funcs = tuple(_full(x) for x in ((f,) if isinstance(f, str) else f))
    if call is None and (methods or funcs):
        call = _method(methods[0]) if methods else _func(funcs[0])
    OPS[name] = OpDef(name, _sig(sig), methods, funcs, call, **more)


def _sizes(name: str) -> Callable[..., Any]:
    return lambda t, a, k: getattr(t, name)(tuple(a))


def _reduce(t: Any, a: tuple, k: dict) -> Any:
    import torch

    name = k.pop("_name")
    dim, keepdim = a[0], bool(k.pop("keepdim", False))
    if dim is None or dim == ():
        if keepdim:
            return getattr(t, name)(dim=tuple(range(t.dim())) if name in ("amax", "amin") else None, keepdim=True, **k)
        return getattr(torch, name)(t, **k) if k else getattr(t, name)()
    return getattr(t, name)(dim=dim, keepdim=keepdim, **k)


def _reducer(name: str) -> Callable[..., Any]:
    return lambda t, a, k: _reduce(t, a, {**k, "_name": name})


def _piece(name: str) -> Callable[..., Any]:
    def call(t: Any, a: tuple, k: dict) -> Any:
        out = getattr(t, name)(a[0], a[1])
        return out if len(a) < 3 or a[2] is None else out[a[2]]

    return call


def _kw(name: str, *params: str, func: str | None = None) -> Callable[..., Any]:
    """Call a torch method (or function) passing the canonical args by their torch names."""
    target = _func(_full(func)) if func else None

    def call(t: Any, a: tuple, k: dict) -> Any:
        kwargs = {p: v for p, v in zip(params, a)}
        kwargs.update(k)
        if target is not None:
            return target(t, (), kwargs)
        return getattr(t, name)(**kwargs)

    return call


# --------------------------------------------------------------------------- shape ops (canonical args of old)
op("reshape", "shape:sizes", "reshape", "torch.reshape", _sizes("reshape"), words="reshape to {0} (copies if needed)")
op("view", "size:sizes|shape", "view", call=_sizes("view"), words="view as {0} (no copy; needs compatible strides)")
op("expand", "size:sizes", "expand", call=_sizes("expand"), words="broadcast to {0} without copying")
op("repeat", "repeats:sizes", "repeat", call=_sizes("repeat"), words="tile {0} times (copies)")
op("permute", "dims:sizes", "permute", "torch.permute", _sizes("permute"), words="reorder dims to {0}")
op(
    "transpose",
    "dim0:int|axis0, dim1:int|axis1",
    ("transpose", "swapaxes", "swapdims"),
    ("torch.transpose", "torch.swapaxes", "torch.swapdims"),
    words="swap dims {0} and {1}",
)
op("flatten", "start_dim:int=0, end_dim:int=-1", "flatten", "torch.flatten", words="merge dims {0}..{1} into one")
op("unflatten", "dim:int, sizes:ints", "unflatten", "torch.unflatten", words="split dim {0} into {1}")
op("unsqueeze", "dim:int", "unsqueeze", "torch.unsqueeze", words="insert a size-1 dim at {0}")
op(
    "squeeze",
    "dim:dims=None",
    "squeeze",
    "torch.squeeze",
    lambda t, a, k: t.squeeze() if a[0] is None else t.squeeze(a[0]),
)
op("contiguous", "", "contiguous", words="copy into contiguous memory (no-op if already contiguous)")
for _n in ("mean", "sum"):
    op(_n, "dim:dims=None|axis, *keepdim:bool=False, *dtype:dtype=None", _n, f"torch.{_n}", _reducer(_n))
for _n in ("amax", "amin"):
    op(_n, "dim:dims=None|axis, *keepdim:bool=False", _n, f"torch.{_n}", _reducer(_n))
op("chunk", "chunks:int, dim:int=0", "chunk", "torch.chunk", _piece("chunk"), returns="tuple")
op(
    "split",
    "split_size_or_sections:int_or_ints|split_size|split_sizes, dim:int=0",
    ("split", "split_with_sizes"),
    ("torch.split", "torch.split_with_sizes"),
    _piece("split"),
    returns="tuple",
)
op("narrow", "dim:int, start:int_or_tensor, length:int", "narrow", "torch.narrow")
op("select", "dim:int, index:int", "select", "torch.select", words="take index {1} of dim {0} (the dim disappears)")
op(
    "movedim",
    "source:int_or_ints, destination:int_or_ints",
    ("movedim", "moveaxis"),
    ("torch.movedim", "torch.moveaxis"),
)
op(
    "pad",
    "pad:ints, *mode:str=constant, *value:opt_num=None",
    f="F.pad",
    words="pad by {0} (pairs from the last dim backwards)",
)
op("rearrange", "pattern:pattern", f="einops.rearrange")
op("reduce", "pattern:pattern, reduction:reduction", f="einops.reduce")
op("einops_repeat", "pattern:pattern", f="einops.repeat", words="einops repeat {0!r}")
op("cat", "tensors:tensors, dim:int=0|axis", f=("torch.cat", "torch.concat", "torch.concatenate"))
op("stack", "tensors:tensors, dim:int=0|axis", f="torch.stack")
op("index", "", words="index [{0}]")

# --------------------------------------------------------------------------------------- arithmetic
BINARY = {
    "add": ("+", ("add",), ("torch.add",)), "sub": ("-", ("sub", "subtract"), ("torch.sub", "torch.subtract")),
    "mul": ("*", ("mul", "multiply"), ("torch.mul", "torch.multiply")),
    "div": ("/", ("div", "divide", "true_divide"), ("torch.div", "torch.divide", "torch.true_divide")),
    "floordiv": ("//", ("floor_divide",), ("torch.floor_divide",)), "mod": ("%", ("remainder",), ("torch.remainder",)),
    "pow": ("**", ("pow",), ("torch.pow",)), "matmul": ("@", ("matmul",), ("torch.matmul",)),
    "eq": ("==", ("eq",), ("torch.eq",)), "ne": ("!=", ("ne",), ("torch.ne",)), "lt": ("<", ("lt",), ("torch.lt",)),
    "le": ("<=", ("le",), ("torch.le",)), "gt": (">", ("gt",), ("torch.gt",)), "ge": (">=", ("ge",), ("torch.ge",)),
    "and": ("&", ("bitwise_and",), ("torch.bitwise_and",)),
    "or": ("|", ("bitwise_or",), ("torch.bitwise_or",)),
    "xor": ("^", ("bitwise_xor",), ("torch.bitwise_xor",)),
}  # fmt: skip
_PY_OPS = {
    "+": "__add__", "-": "__sub__", "*": "__mul__", "/": "__truediv__", "//": "__floordiv__", "%": "__mod__",
    "**": "__pow__", "@": "__matmul__", "==": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__",
    ">=": "__ge__", "&": "__and__", "|": "__or__", "^": "__xor__",
}  # fmt: skip
_REFLECTED = {
    "+": "__radd__", "-": "__rsub__", "*": "__rmul__", "/": "__rtruediv__", "//": "__rfloordiv__", "%": "__rmod__",
    "**": "__rpow__", "@": "__rmatmul__", "&": "__rand__", "|": "__ror__", "^": "__rxor__",
}  # fmt: skip
_SWAPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _binary(sym: str) -> Callable[..., Any]:
    def call(t: Any, a: tuple, k: dict) -> Any:
        other = a[0]
        if k.get("reflected"):
            if sym in _SWAPPED:  # 0 < x is x > 0
                return getattr(t, _PY_OPS[_SWAPPED[sym]])(other)
            if hasattr(other, "shape"):  # tensor on both sides: plain Python order
                return getattr(other, _PY_OPS[sym])(t)
            return getattr(t, _REFLECTED[sym])(other)
        if "rounding_mode" in k:
            return t.div(other, rounding_mode=k["rounding_mode"])
        if "alpha" in k:
            return getattr(t, "add" if sym == "+" else "sub")(other, alpha=k["alpha"])
        return getattr(t, _PY_OPS[sym])(other)

    return call


for _n, (_sym, _m, _f) in BINARY.items():
    _extra = ", *rounding_mode:str=None" if _n == "div" else ", *alpha:num=1" if _n in ("add", "sub") else ""
    op(_n, f"other:tensor_or_num{_extra}", _m, _f, _binary(_sym), infix=_sym)
op("maximum", "other:tensor", "maximum", "torch.maximum", words="elementwise maximum with {0}")
op("minimum", "other:tensor", "minimum", "torch.minimum", words="elementwise minimum with {0}")
op(
    "clamp",
    "min:opt_num_or_tensor=None, max:opt_num_or_tensor=None",
    ("clamp", "clip"),
    ("torch.clamp", "torch.clip"),
    _kw("clamp", "min", "max"),
    words="clamp to [{0}, {1}]",
)
op("clamp_min", "min:tensor_or_num", "clamp_min", "torch.clamp_min", words="clamp below at {0}")
op("clamp_max", "max:tensor_or_num", "clamp_max", "torch.clamp_max", words="clamp above at {0}")
for _n in ("logical_and", "logical_or", "logical_xor"):
    op(_n, "other:tensor", _n, f"torch.{_n}", words=f"elementwise {_n.replace('_', ' ')} with {{0}}")

UNARY = (
    "neg",
    "abs",
    "exp",
    "log",
    "sqrt",
    "rsqrt",
    "tanh",
    "sigmoid",
    "relu",
    "sin",
    "cos",
    "reciprocal",
    "sign",
    "floor",
    "ceil",
    "round",
    "log1p",
    "expm1",
    "erf",
    "square",
    "logical_not",
    "bitwise_not",
    "isnan",
    "isinf",
    "clone",
    "detach",
)
for _n in UNARY:
    _f = (f"torch.{_n}",) + ((f"F.{_n}",) if _n in ("relu", "sigmoid", "tanh") else ())
    op(_n, "", _n, _f, words=f"elementwise {_n}")
op("gelu", "*approximate:str=none", (), "F.gelu", words="elementwise GELU")
op("silu", "", (), "F.silu", words="elementwise SiLU")
op("leaky_relu", "negative_slope:num=0.01", (), "F.leaky_relu", words="elementwise leaky ReLU")
op("elu", "alpha:num=1.0", (), "F.elu", words="elementwise ELU")

# --------------------------------------------------------------------------------------------- casts
for _n in ("float", "long", "int", "bool", "half", "double"):
    op(_n, "", _n, words=f"cast to {_n}")
op("to", "dtype:to_target", "to", call=lambda t, a, k: t if a[0] is None else t.to(a[0]), words="convert to {0}")
op("type", "dtype:dtype", "type", words="cast to {0}")
op("type_as", "other:tensor", "type_as", words="cast to the dtype of {0}")
op("cpu", "", "cpu", call=lambda t, a, k: t if t.is_meta else t.cpu(), words="move to the CPU")

# ------------------------------------------------------------------------------------ softmax & matmul
for _n in ("softmax", "log_softmax"):
    op(
        _n,
        "dim:opt_int=None, *dtype:dtype=None",
        _n,
        (f"torch.{_n}", f"F.{_n}", f"torch.special.{_n}"),
        _kw(_n, "dim", func=f"F.{_n}"),
        words=f"{_n.replace('_', ' ')} over dim {{0}}",
    )
op("bmm", "mat2:tensor", "bmm", "torch.bmm", words="batched matrix product with {0}")
op("mm", "mat2:tensor", "mm", "torch.mm", words="matrix product with {0}")
op(
    "baddbmm",
    "batch1:tensor, batch2:tensor, *beta:num=1, *alpha:num=1",
    "baddbmm",
    "torch.baddbmm",
    words="beta·input + alpha·(batch1 @ batch2)",
)
op("einsum", "", words="einsum {0!r}")
op(
    "scaled_dot_product_attention",
    "key:tensor, value:tensor, attn_mask:opt_tensor=None, dropout_p:num=0.0, is_causal:bool=False, *scale:opt_num=None",
    (),
    "F.scaled_dot_product_attention",
    _kw("", "key", "value", "attn_mask", "dropout_p", "is_causal", func="F.scaled_dot_product_attention"),
    words="attention: softmax(q·kᵀ/√d) · v",
)

# -------------------------------------------------------------------------------------- constructors
_CTOR = "*dtype:dtype=None, *device:device=None, *requires_grad:bool=False"


def _ctor(name: str) -> Callable[..., Any]:
    def call(t: Any, a: tuple, k: dict) -> Any:
        import torch

        k = {key: v for key, v in k.items() if key != "requires_grad"}  # inference only
        fn = getattr(torch, name)
        if name == "arange":
            start, end, step = a
            return fn(start, **k) if end is None else fn(start, end, step, **k)
        if name == "eye":
            return fn(a[0], **k) if a[1] is None else fn(a[0], a[1], **k)
        return fn(*a, **k)

    return call


op("zeros", f"size:sizes, {_CTOR}", f="torch.zeros", call=_ctor("zeros"), ctor=True, words="zeros of shape {0}")
op("ones", f"size:sizes, {_CTOR}", f="torch.ones", call=_ctor("ones"), ctor=True, words="ones of shape {0}")
op(
    "full",
    f"size:ints, fill_value:num, {_CTOR}",
    f="torch.full",
    call=_ctor("full"),
    ctor=True,
    words="{1} everywhere, shape {0}",
)
op(
    "arange",
    f"start:num, end:opt_num=None, step:num=1, {_CTOR}",
    f="torch.arange",
    call=_ctor("arange"),
    ctor=True,
    words="the integers from 0 (or start) up to the end",
)
op("eye", f"n:int, m:opt_int=None, {_CTOR}", f="torch.eye", call=_ctor("eye"), ctor=True, words="identity matrix")
op("tensor", f"data:data, {_CTOR}", f="torch.tensor", call=_ctor("tensor"), ctor=True, words="the constant {0}")
for _n in ("zeros_like", "ones_like"):
    op(_n, "*dtype:dtype=None", (), f"torch.{_n}", words=f"{_n.split('_')[0]} with the same shape")
op("full_like", "fill_value:num, *dtype:dtype=None", (), "torch.full_like", words="{0} with the same shape")
for _n in ("new_zeros", "new_ones"):
    op(_n, "size:sizes, *dtype:dtype=None", _n, words=f"new {_n[4:]} of shape {{0}}")
op("new_full", "size:ints, fill_value:num, *dtype:dtype=None", "new_full", words="new tensor of {1}, shape {0}")
op(
    "new_tensor",
    "data:data, *dtype:dtype=None",
    "new_tensor",
    words="the constant {0} (dtype and device of the tensor)",
)

# --------------------------------------------------------------------------------- family 7 and more
op(
    "norm",
    "p:p=2, dim:dims=None, keepdim:bool=False, *dtype:dtype=None",
    "norm",
    "torch.norm",
    _kw("norm", "p", "dim", "keepdim"),
    words="{0}-norm over {1}",
)
op(
    "vector_norm",
    "ord:num=2, dim:dims=None, keepdim:bool=False",
    (),
    ("linalg.vector_norm", "linalg.norm"),
    words="{0}-norm over {1}",
)
op("normalize", "p:num=2.0, dim:int=1, eps:num=1e-12", (), "F.normalize", words="scale to unit {0}-norm along dim {1}")
op(
    "layer_norm",
    "normalized_shape:ints, weight:opt_tensor=None, bias:opt_tensor=None, eps:num=1e-05",
    (),
    "F.layer_norm",
    _kw("", "normalized_shape", "weight", "bias", "eps", func="F.layer_norm"),
    words="layer norm over the last dims",
)
op(
    "cosine_similarity",
    "x2:tensor, dim:int=1, *eps:num=1e-08",
    (),
    "F.cosine_similarity",
    words="cosine similarity with {0} along dim {1}",
)
op("one_hot", "num_classes:int=-1", (), "F.one_hot", words="one-hot with {0} classes")
for _n in ("argmax", "argmin"):
    op(_n, "dim:opt_int=None, keepdim:bool=False", _n, f"torch.{_n}", _kw(_n, "dim", "keepdim"))
op(
    "topk",
    "k:int, dim:int=-1, largest:bool=True, sorted:bool=True",
    "topk",
    "torch.topk",
    _kw("topk", "k", "dim", "largest", "sorted"),
    returns="tuple",
    fields=("values", "indices"),
)
op(
    "sort",
    "dim:int=-1, descending:bool=False, *stable:bool=False",
    "sort",
    "torch.sort",
    _kw("sort", "dim", "descending"),
    returns="tuple",
    fields=("values", "indices"),
)
op(
    "argsort",
    "dim:int=-1, descending:bool=False, *stable:bool=False",
    "argsort",
    "torch.argsort",
    _kw("argsort", "dim", "descending"),
)
for _n in ("max", "min"):
    op(
        _n,
        "dim:opt_int=None, keepdim:bool=False",
        _n,
        f"torch.{_n}",
        lambda t, a, k, n=_n: getattr(t, n)() if a[0] is None else getattr(t, n)(dim=a[0], keepdim=a[1]),
        returns="tuple_if",
        fields=("values", "indices"),
    )
op("gather", "dim:int, index:tensor", "gather", "torch.gather", words="gather along dim {0} by {1}")
op("index_select", "dim:int, index:tensor", "index_select", "torch.index_select", words="pick {1} along dim {0}")


def _repeat_interleave(t: Any, a: tuple, k: dict) -> Any:
    import torch

    if a[0] is None:  # torch.repeat_interleave(repeats): the indices, each repeated
        return torch.repeat_interleave(t, **k)
    return t.repeat_interleave(a[0], dim=a[1], **k)


op(
    "repeat_interleave",
    "repeats:int_or_tensor=None, dim:opt_int=None, *output_size:opt_int=None",
    "repeat_interleave",
    "torch.repeat_interleave",
    _repeat_interleave,
    words="repeat each entry {0} times along {1}",
)
op(
    "where",
    "input:tensor_or_num, other:tensor_or_num",
    (),
    "torch.where",
    lambda t, a, k: __import__("torch").where(t, *a),
    words="{0} where the condition holds, else {1}",
)
op("masked_fill", "mask:tensor, value:tensor_or_num", "masked_fill", "torch.masked_fill", words="set {1} where {0}")
op("masked_select", "mask:tensor", "masked_select", "torch.masked_select", data=True, words="the entries where {0}")
op(
    "nonzero",
    "*as_tuple:bool=False",
    "nonzero",
    "torch.nonzero",
    data=True,
    returns="tuple_if",
    words="indices of the non-zero entries",
)
for _n in ("expand_as", "view_as", "reshape_as"):
    op(_n, "other:tensor", _n, words=f"{_n.split('_')[0]} as {{0}}")
op("unbind", "dim:int=0", "unbind", "torch.unbind", _kw("unbind", "dim"), returns="tuple")
op("t", "", "t", "torch.t", words="transpose a matrix")
op("flip", "dims:sizes", "flip", "torch.flip", _kw("flip", "dims"), words="reverse dims {0}")
op("roll", "shifts:int_or_ints, dims:int_or_ints=None", "roll", "torch.roll", _kw("roll", "shifts", "dims"))
op("unfold", "dimension:int, size:int, step:int", "unfold", words="windows of {1} every {2} along dim {0}")
op(
    "tensor_split",
    "indices_or_sections:ints_or_tensor|sections|indices|tensor_indices_or_sections, dim:int=0",
    "tensor_split",
    "torch.tensor_split",
    returns="tuple",
)
op("cumsum", "dim:int, *dtype:dtype=None", "cumsum", "torch.cumsum", words="running sum along dim {0}")
op("logsumexp", "dim:dims, keepdim:bool=False", "logsumexp", "torch.logsumexp", _kw("logsumexp", "dim", "keepdim"))
for _n in ("std", "var"):
    op(
        _n,
        "dim:dims=None, keepdim:bool=False, *correction:num=1, *unbiased:opt_bool=None",
        _n,
        f"torch.{_n}",
        _kw(_n, "dim", "keepdim"),
    )
op(
    "prod",
    "dim:opt_int=None, keepdim:bool=False, *dtype:dtype=None",
    "prod",
    "torch.prod",
    lambda t, a, k: t.prod(**k) if a[0] is None else t.prod(a[0], keepdim=a[1], **k),
)
for _n in ("any", "all"):
    op(
        _n,
        "dim:dims=None, keepdim:bool=False",
        _n,
        f"torch.{_n}",
        lambda t, a, k, n=_n: getattr(t, n)() if a[0] is None else getattr(t, n)(dim=a[0], keepdim=a[1]),
    )
for _n in ("tril", "triu"):
    op(_n, "diagonal:int=0", _n, f"torch.{_n}", words=f"{_n} with diagonal {{0}}")
op(
    "adaptive_avg_pool1d",
    "output_size:int_or_ints",
    (),
    "F.adaptive_avg_pool1d",
    words="average-pool the last dim to {0}",
)
op(
    "adaptive_max_pool1d",
    "output_size:int_or_ints, return_indices:bool=False",
    (),
    "F.adaptive_max_pool1d",
    returns="tuple_if",
    words="max-pool the last dim to {0}",
)
op(
    "max_pool1d",
    "kernel_size:int_or_ints, stride:opt_ints=None, padding:int_or_ints=0, dilation:int_or_ints=1, "
    "ceil_mode:bool=False, return_indices:bool=False",
    (),
    ("F.max_pool1d", "torch.max_pool1d"),
    _kw("", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices", func="F.max_pool1d"),
    returns="tuple_if",
    words="max over windows of {0} along the last dim",
)
op(
    "avg_pool1d",
    "kernel_size:int_or_ints, stride:opt_ints=None, padding:int_or_ints=0, ceil_mode:bool=False, "
    "count_include_pad:bool=True",
    (),
    ("F.avg_pool1d", "torch.avg_pool1d"),
    _kw("", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", func="F.avg_pool1d"),
    words="average over windows of {0} along the last dim",
)
op(
    "pack_padded_sequence",
    "lengths:tensor, batch_first:bool=False, enforce_sorted:bool=True",
    (),
    "rnn.pack_padded_sequence",
    _kw("", "lengths", "batch_first", "enforce_sorted", func="rnn.pack_padded_sequence"),
    returns="packed",
    data=True,
    words="pack the real time steps ({0} per sequence)",
)
op(
    "pad_packed_sequence",
    "batch_first:bool=False, padding_value:num=0.0, total_length:opt_int=None",
    (),
    "rnn.pad_packed_sequence",
    _kw("", "batch_first", "padding_value", "total_length", func="rnn.pad_packed_sequence"),
    returns="tuple",
    data=True,
    words="unpack back to a padded tensor",
)
for _n in ("data", "batch_sizes", "sorted_indices", "unsorted_indices"):
    op(_n, "", call=lambda t, a, k, n=_n: getattr(t, n), words=f"the {_n.replace('_', ' ')} of a PackedSequence")

ATTR_OPS = ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
TUPLE_FIELDS = {name: d.fields for name, d in OPS.items() if d.fields}
METHODS: dict[str, str] = {m: d.name for d in OPS.values() for m in d.methods}
FUNCS: dict[str, str] = {fn: d.name for d in OPS.values() for fn in d.funcs}

# refused spellings with the supported one (shown in the refusal)
HINTS = {
    "item": "reading a value out of a tensor is not part of the language; keep it a tensor (e.g. x.sum(), x.amax())",
    "tolist": "reading values out of a tensor is not part of the language",
    "numpy": "the language stays in torch; the app shows every stage's values already",
    "cuda": "the app picks the device; remove `.cuda()`",
    "dropout": "dropout is the identity at inference (model.eval()); remove the step",
    "size_": "",
}
