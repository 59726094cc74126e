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

from core.engine.opdef import (
    OPS,
    PAD_MODES,
    REDUCTIONS,
    REQ,
    OpDef,
    P,
    binary_call,
    ctor_call,
    kw_call,
    op,
    piece_call,
    reducer_call,
    repeat_interleave_call,
    sizes_call,
)

__all__ = ["FUNCS", "HINTS", "METHODS", "OPS", "PAD_MODES", "REDUCTIONS", "REQ", "TUPLE_FIELDS", "OpDef", "P"]


# --------------------------------------------------------------------------- shape ops (canonical args of old)
op(
    "reshape",
    "shape:sizes",
    "reshape",
    "torch.reshape",
    sizes_call("reshape"),
    words="reshape to {0} (copies if needed)",
)
op("view", "size:sizes|shape", "view", call=sizes_call("view"), words="view as {0} (no copy; needs compatible strides)")
op("expand", "size:sizes", "expand", call=sizes_call("expand"), words="broadcast to {0} without copying")
op("repeat", "repeats:sizes", "repeat", call=sizes_call("repeat"), words="tile {0} times (copies)")
op("permute", "dims:sizes", "permute", "torch.permute", sizes_call("permute"), words="reorder dims to {0}")
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
    op(_n, "dim:dims=None|axis, *keepdim:bool=False, *dtype:dtype=None", _n, f"torch.{_n}", reducer_call(_n))
for _n in ("amax", "amin"):
    op(_n, "dim:dims=None|axis, *keepdim:bool=False", _n, f"torch.{_n}", reducer_call(_n))
op("chunk", "chunks:int, dim:int=0", "chunk", "torch.chunk", piece_call("chunk"), returns="tuple")
op(
    "split",
    "split_size_or_sections:int_or_ints|split_size|split_sizes, dim:int=0",
    ("split", "split_with_sizes"),
    ("torch.split", "torch.split_with_sizes"),
    piece_call("split"),
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
for _n, (_sym, _m, _f) in BINARY.items():
    _extra = ", *rounding_mode:str=None" if _n == "div" else ", *alpha:num=1" if _n in ("add", "sub") else ""
    op(_n, f"other:tensor_or_num{_extra}", _m, _f, binary_call(_sym), infix=_sym)
op("maximum", "other:tensor", "maximum", "torch.maximum", words="elementwise maximum with {0}")
op("minimum", "other:tensor", "minimum", "torch.minimum", words="elementwise minimum with {0}")
op(
    "clamp",
    "min:opt_num_or_tensor=None, max:opt_num_or_tensor=None",
    ("clamp", "clip"),
    ("torch.clamp", "torch.clip"),
    kw_call("clamp", "min", "max"),
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
        kw_call(_n, "dim", func=f"F.{_n}"),
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
    kw_call("", "key", "value", "attn_mask", "dropout_p", "is_causal", func="F.scaled_dot_product_attention"),
    words="attention: softmax(q·kᵀ/√d) · v",
)

# -------------------------------------------------------------------------------------- constructors
_CTOR = "*dtype:dtype=None, *device:device=None, *requires_grad:bool=False"


op("zeros", f"size:sizes, {_CTOR}", f="torch.zeros", call=ctor_call("zeros"), ctor=True, words="zeros of shape {0}")
op("ones", f"size:sizes, {_CTOR}", f="torch.ones", call=ctor_call("ones"), ctor=True, words="ones of shape {0}")
# random constructors draw from a generator of their own, seeded from the call (core.engine.opdef.ctor_call):
# the same pipeline shows the same values every run, and torch's global generator is never touched
op(
    "randn",
    f"size:sizes, {_CTOR}",
    f="torch.randn",
    call=ctor_call("randn"),
    ctor=True,
    words="N(0, 1) values, shape {0}",
)
op("rand", f"size:sizes, {_CTOR}", f="torch.rand", call=ctor_call("rand"), ctor=True, words="U[0, 1) values, shape {0}")
op(
    "full",
    f"size:ints, fill_value:num, {_CTOR}",
    f="torch.full",
    call=ctor_call("full"),
    ctor=True,
    words="{1} everywhere, shape {0}",
)
op(
    "arange",
    f"start:num, end:opt_num=None, step:num=1, {_CTOR}",
    f="torch.arange",
    call=ctor_call("arange"),
    ctor=True,
    words="the integers from 0 (or start) up to the end",
)
op("eye", f"n:int, m:opt_int=None, {_CTOR}", f="torch.eye", call=ctor_call("eye"), ctor=True, words="identity matrix")
op("tensor", f"data:data, {_CTOR}", f="torch.tensor", call=ctor_call("tensor"), ctor=True, words="the constant {0}")
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
    kw_call("norm", "p", "dim", "keepdim"),
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
    kw_call("", "normalized_shape", "weight", "bias", "eps", func="F.layer_norm"),
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
    op(_n, "dim:opt_int=None, keepdim:bool=False", _n, f"torch.{_n}", kw_call(_n, "dim", "keepdim"))
op(
    "topk",
    "k:int, dim:int=-1, largest:bool=True, sorted:bool=True",
    "topk",
    "torch.topk",
    kw_call("topk", "k", "dim", "largest", "sorted"),
    returns="tuple",
    fields=("values", "indices"),
)
op(
    "sort",
    "dim:int=-1, descending:bool=False, *stable:bool=False",
    "sort",
    "torch.sort",
    kw_call("sort", "dim", "descending"),
    returns="tuple",
    fields=("values", "indices"),
)
op(
    "argsort",
    "dim:int=-1, descending:bool=False, *stable:bool=False",
    "argsort",
    "torch.argsort",
    kw_call("argsort", "dim", "descending"),
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


op(
    "repeat_interleave",
    "repeats:int_or_tensor=None, dim:opt_int=None, *output_size:opt_int=None",
    "repeat_interleave",
    "torch.repeat_interleave",
    repeat_interleave_call,
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
op("unbind", "dim:int=0", "unbind", "torch.unbind", kw_call("unbind", "dim"), returns="tuple")
op("t", "", "t", "torch.t", words="transpose a matrix")
op("flip", "dims:sizes", "flip", "torch.flip", kw_call("flip", "dims"), words="reverse dims {0}")
op("roll", "shifts:int_or_ints, dims:int_or_ints=None", "roll", "torch.roll", kw_call("roll", "shifts", "dims"))
op("unfold", "dimension:int, size:int, step:int", "unfold", words="windows of {1} every {2} along dim {0}")
op(
    "tensor_split",
    "indices_or_sections:ints_or_tensor|sections|indices|tensor_indices_or_sections, dim:int=0",
    "tensor_split",
    "torch.tensor_split",
    returns="tuple",
)
op("cumsum", "dim:int, *dtype:dtype=None", "cumsum", "torch.cumsum", words="running sum along dim {0}")
op("logsumexp", "dim:dims, keepdim:bool=False", "logsumexp", "torch.logsumexp", kw_call("logsumexp", "dim", "keepdim"))
for _n in ("std", "var"):
    op(
        _n,
        "dim:dims=None, keepdim:bool=False, *correction:num=1, *unbiased:opt_bool=None",
        _n,
        f"torch.{_n}",
        kw_call(_n, "dim", "keepdim"),
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
    kw_call("", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices", func="F.max_pool1d"),
    returns="tuple_if",
    words="max over windows of {0} along the last dim",
)
op(
    "avg_pool1d",
    "kernel_size:int_or_ints, stride:opt_ints=None, padding:int_or_ints=0, ceil_mode:bool=False, "
    "count_include_pad:bool=True",
    (),
    ("F.avg_pool1d", "torch.avg_pool1d"),
    kw_call("", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", func="F.avg_pool1d"),
    words="average over windows of {0} along the last dim",
)
op(
    "pack_padded_sequence",
    "lengths:tensor, batch_first:bool=False, enforce_sorted:bool=True",
    (),
    "rnn.pack_padded_sequence",
    kw_call("", "lengths", "batch_first", "enforce_sorted", func="rnn.pack_padded_sequence"),
    returns="packed",
    data=True,
    words="pack the real time steps ({0} per sequence)",
)
op(
    "pad_packed_sequence",
    "batch_first:bool=False, padding_value:num=0.0, total_length:opt_int=None",
    (),
    "rnn.pad_packed_sequence",
    kw_call("", "batch_first", "padding_value", "total_length", func="rnn.pad_packed_sequence"),
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
