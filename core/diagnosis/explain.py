"""Plain-language explanations of PyTorch shape errors.

``explain(message)`` takes one error message or a whole pasted traceback, finds the last exception
line and returns an :class:`Explanation`: a category (``kind``), what went wrong written with the
numbers parsed out of the message, and a concrete fix in PyTorch terms.

    >>> e = explain("RuntimeError: shape '[32, 16, 6000]' is invalid for input of size 3145728")
    >>> e.kind, e.numbers["fitting_last_dim"]
    ('reshape_size', 6144)

The optional ``context`` is what the trace engine knows about the failing step::

    {"input_shape": (32, 128, 768), "input_axes": ("batch", "tokens", "hidden"),
     "step": "conv1d", "layer": {"kind": "conv1d", "params": {"in_channels": 768}}}

and makes the answer more specific (axis names, which dim to move where).

Patterns follow torch 2.13's wording, plus some older variants. Every regex is linear-time (bounded
character classes, no nested quantifiers) and at most ``MAX_SCAN_CHARS`` of the input are scanned,
so a 1 MB paste of junk returns ``recognized=False`` in milliseconds. Pure Python: no torch import.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.spec import LAYER_PARAMS, TORCH_NAMES

__all__ = ["KINDS", "MAX_SCAN_CHARS", "Explanation", "explain", "explain_exception"]

MAX_SCAN_CHARS = 20_000
"""Only the last this-many characters of a paste are scanned (the final exception is at the end)."""

_MAX_BLOCKS = 12  # exception blocks of a chained traceback that are tried, last first

KINDS: dict[str, str] = {
    "conv_channels": "Conv layer: wrong number of input channels at dim 1",
    "conv_rank": "Conv layer: input has the wrong number of dimensions",
    "conv_padding": "Conv layer: unsupported padding option",
    "kernel_too_large": "Conv layer: kernel longer than the (padded) input",
    "rnn_input_size": "LSTM/GRU: last dim differs from input_size",
    "rnn_rank": "LSTM/GRU: input must be 2-D or 3-D",
    "rnn_hidden": "LSTM/GRU: initial hidden state has the wrong shape",
    "linear_mat": "Matrix multiply / Linear: inner sizes differ (in_features)",
    "matmul": "Batched or vector matrix multiply: sizes do not line up",
    "broadcast": "Element-wise op: shapes cannot be broadcast",
    "view_stride": ".view() on a non-contiguous tensor",
    "reshape_size": "reshape/view: new shape has a different number of elements",
    "multiple_infer": "reshape/view: more than one -1",
    "unflatten_size": "unflatten: sizes do not multiply to the dim's size",
    "split_size": "split: sizes do not sum to the dim's size",
    "flatten_args": "flatten: start_dim after end_dim",
    "permute_dims": "permute: not one entry per dimension",
    "permute_duplicate": "permute / reduction: the same dim listed twice",
    "t_rank": ".t() on a tensor with more than 2 dims",
    "dim_range": "Dimension out of range",
    "index_range": "Index out of bounds",
    "too_many_indices": "Indexing with more positions than the tensor has dims",
    "mask_shape": "Boolean mask shape does not match the tensor",
    "embedding_index": "Embedding: token id or position beyond the table",
    "cat_size": "torch.cat: sizes differ outside the concatenation dim",
    "cat_rank": "torch.cat: tensors have different numbers of dims",
    "stack_size": "torch.stack: tensors have different shapes",
    "expand_nonsingleton": "expand: only size-1 dims can be expanded",
    "expand_rank": "expand: fewer sizes than the tensor has dims",
    "pad_length": "F.pad: padding tuple has the wrong length",
    "layernorm_shape": "LayerNorm: normalized_shape differs from the last dims",
    "norm_features": "BatchNorm: num_features differs from dim 1",
    "loss_batch": "Loss: input and target batch sizes differ",
    "tuple_input": "A tuple (e.g. LSTM's (output, (h_n, c_n))) was passed where a tensor was expected",
    "model_output": "A Hugging Face ModelOutput was used as a tensor",
    "keras_kwarg": "Keras argument passed to a PyTorch layer",
    "unknown_kwarg": "Unknown keyword argument for a PyTorch layer",
    "missing_arg": "Layer constructor missing a required size",
    "dtype_mismatch": "Tensors or weights have different dtypes",
    "device_mismatch": "Tensors or weights are on different devices",
    "einops_shape": "einops: pattern does not fit the tensor's shape",
    "einops_pattern": "einops: invalid pattern",
    "unrecognized": "Not a message we know",
}


@dataclass(frozen=True)
class Explanation:
    """A diagnosis of one error message.

    Attributes:
        recognized: True when the message matched a known error.
        kind: a key of ``KINDS``, e.g. ``"conv_channels"`` (``"unrecognized"`` when not recognized).
        explanation: the cause in plain words, with the numbers from the message.
        fix: a concrete action in PyTorch terms.
        numbers: the values parsed from the message, e.g.
            ``{"expected_channels": 768, "got_channels": 128, "input_shape": [32, 128, 768]}``.
        message: the exception line that was explained (not part of ``to_dict``).
    """

    recognized: bool
    kind: str
    explanation: str
    fix: str
    numbers: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """``{"recognized", "kind", "explanation", "fix", "numbers"}`` — the CLI / JSON form."""
        return {
            "recognized": self.recognized,
            "kind": self.kind,
            "explanation": self.explanation,
            "fix": self.fix,
            "numbers": dict(self.numbers),
        }


# ------------------------------------------------------------------------------------------------ helpers


@dataclass(frozen=True)
class _Ctx:
    shape: tuple[int, ...] | None = None
    axes: tuple[str, ...] | None = None
    layer: str = ""  # lstm | gru | conv1d | linear | ""
    params: dict[str, Any] = field(default_factory=dict)
    step: str = ""

    def dim(self, d: int, shape: Sequence[int] | None = None) -> str:
        """``"dim 2 (hidden)"`` when axis labels are known for ``shape`` (default: the input shape)."""
        shape = self.shape if shape is None else tuple(shape)
        if self.axes and shape is not None and len(self.axes) == len(shape) and -len(shape) <= d < len(shape):
            return f"dim {d} ({self.axes[d]})"
        return f"dim {d}"


def _make_ctx(context: dict[str, Any] | None) -> _Ctx:
    if not isinstance(context, dict):
        return _Ctx()
    shape = _as_int_tuple(context.get("input_shape"))
    axes_raw = context.get("input_axes")
    axes = tuple(str(a) for a in axes_raw) if isinstance(axes_raw, (list, tuple)) else None
    layer = context.get("layer")
    kind, params = "", {}
    if isinstance(layer, dict):
        kind_raw = layer.get("kind", "")
        kind = str(getattr(kind_raw, "value", kind_raw)).lower()
        params = layer.get("params") if isinstance(layer.get("params"), dict) else {}
    elif isinstance(layer, str):
        kind = layer.lower()
    return _Ctx(shape=shape, axes=axes, layer=kind, params=dict(params), step=str(context.get("step") or ""))


def _as_int_tuple(value: Any) -> tuple[int, ...] | None:
    if not isinstance(value, (list, tuple)):
        return None
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        return None


_INT = re.compile(r"-?\d+")


def _ints(text: str) -> list[int]:
    return [int(t) for t in _INT.findall(text)]


def _shape(s: Sequence[int]) -> str:
    return "[" + ", ".join(str(v) for v in s) + "]"


def _n(v: int) -> str:
    return f"{v:,}"


def _times(s: Sequence[int]) -> str:
    return " × ".join(str(v) for v in s)


def _prod(s: Sequence[int]) -> int:
    return math.prod(s)


def _move_perm(ndim: int, src: int, dst: int) -> list[int]:
    """The permutation that moves dim ``src`` to position ``dst``, keeping the others in order."""
    order = [i for i in range(ndim) if i != src]
    order.insert(dst, src)
    return order


def _move_code(ndim: int, src: int, dst: int) -> str:
    perm = _move_perm(ndim, src, dst)
    code = f"`x.permute({', '.join(str(p) for p in perm)})`"
    if abs(src - dst) == 1:
        a, b = sorted((src, dst))
        code += f" (or `x.transpose({a}, {b})`)"
    return code


def _factorize(n: int) -> str:
    """``3145728 -> "2^20 × 3"`` (trial division, n is at most a tensor size)."""
    if n < 2:
        return str(n)
    parts, p, rest = [], 2, n
    while p * p <= rest and p < 10_000:
        k = 0
        while rest % p == 0:
            rest //= p
            k += 1
        if k:
            parts.append(f"{p}^{k}" if k > 1 else str(p))
        p += 1 if p == 2 else 2
    if rest > 1:
        parts.append(str(rest))
    return " × ".join(parts)


def _layer_name(ctx: _Ctx, default: str) -> str:
    return {"lstm": "LSTM", "gru": "GRU", "conv1d": "Conv1d", "linear": "Linear", "rnn": "RNN"}.get(ctx.layer, default)


_Result = tuple[str, str, dict[str, Any]]  # explanation, fix, numbers
_Handler = Callable[[re.Match[str], _Ctx], _Result]


# -------------------------------------------------------------------------------------------- convolution


def _conv_channels(m: re.Match[str], ctx: _Ctx) -> _Result:
    groups = int(m["groups"])
    weight = _ints(m["weight"])
    in_shape = _ints(m["input"])
    exp, got = int(m["exp"]), int(m["got"])
    nd = max(len(weight) - 2, 1)
    layer = f"Conv{nd}d"
    layout = {1: "(batch, channels, length)", 2: "(batch, channels, height, width)"}.get(nd, "(batch, channels, ...)")
    unbatched = ctx.shape is not None and len(ctx.shape) == len(in_shape) - 1
    numbers: dict[str, Any] = {
        "groups": groups,
        "weight_shape": weight,
        "input_shape": in_shape,
        "expected_channels": exp,
        "got_channels": got,
    }
    expl = (
        f"{layer} reads its input as {layout} and takes the channels from dim 1. The layer was built "
        f"for {exp} input channels (weight {_shape(weight)} = out_channels {weight[0]}, in_channels"
        f"{'/groups' if groups > 1 else ''} {weight[1] if len(weight) > 1 else '?'}, kernel), "
        f"but your input {_shape(in_shape)} has {got} at dim 1."
    )
    if groups > 1:
        expl += f" With groups={groups}, in_channels = {weight[1]} × {groups} = {exp}."
    if unbatched and ctx.shape is not None:
        expl += (
            f" Your tensor {_shape(ctx.shape)} is {len(ctx.shape)}-D, so {layer} treated it as ONE unbatched "
            f"sample (channels = {ctx.shape[0]}) and added the leading 1."
        )
        if len(ctx.shape) == 2 and nd == 1:
            expl += " A (batch, hidden) sentence vector (after pooling) has no token axis to convolve over."
            fix = (
                "Keep the token axis: use pooling 'none' (the un-pooled (batch, tokens, hidden) output) and "
                f"insert `x.permute(0, 2, 1)` -> (batch, {exp}, tokens) before the {layer}. For a single "
                f"vector per sample, `x.unsqueeze(-1)` -> (batch, hidden, 1) works only with kernel_size=1 "
                "(then it is just a Linear layer)."
            )
            numbers["input_shape"] = in_shape
            return expl, fix, numbers
    elif in_shape and in_shape[0] == 1 and ctx.shape is None:
        expl += (
            f" (If your tensor is {len(in_shape) - 1}-D, torch treated it as one unbatched sample and "
            "added the leading 1; a pooled (batch, hidden) sentence vector has no token axis to convolve "
            "over: use the un-pooled (batch, tokens, hidden) output instead.)"
        )
    positions = [i for i, s in enumerate(in_shape) if s == exp and i != 1]
    if positions:
        p = positions[-1]
        numbers["channels_at_dim"] = p
        shown_shape = ctx.shape if (ctx.shape is not None and len(ctx.shape) == len(in_shape)) else in_shape
        expl += f" The {exp} is at {ctx.dim(p, shown_shape)}"
        if nd == 1 and len(in_shape) == 3 and p == 2:
            expl += (
                ": this is the (batch, tokens, hidden) layout BERT produces, hidden last, while "
                f"{layer} wants the features in the middle."
            )
        else:
            expl += "."
        if unbatched:
            code = _move_code(len(in_shape) - 1, p - 1, 0)
            new = [in_shape[p]] + [s for i, s in enumerate(in_shape[1:], 1) if i != p]
        else:
            code = _move_code(len(in_shape), p, 1)
            perm = _move_perm(len(in_shape), p, 1)
            new = [in_shape[i] for i in perm]
        fix = (
            f"Move dim {p} to dim 1 before this layer: insert {code} -> {_shape(new)}. Do not use "
            ".view() or .reshape() for this: they keep the memory order and would mix tokens and "
            f"features. (If {got} really are your channels, build the layer with in_channels={got}.)"
        )
    else:
        expl += f" No dim of your input has size {exp}."
        fix = (
            f"Build the layer with in_channels={got} (nn.{layer}({got}, {weight[0]}, kernel_size=...)) so it "
            f"matches dim 1, or change the previous step so that dim 1 holds {exp} channels."
        )
    return expl, fix, numbers


def _conv_rank_fix(op: str, shape: list[int], lo: int, hi: int) -> str:
    r = len(shape)
    if r > hi:
        extra = r - hi
        singletons = [i for i, s in enumerate(shape) if s == 1]
        if len(singletons) >= extra:
            code = "x" + "".join(f".squeeze({i})" for i in sorted(singletons[:extra], reverse=True))
            return f"Drop the size-1 dim(s): `{code}`."
        merged = [_prod(shape[: extra + 1]), *shape[extra + 1 :]]
        return (
            f"Merge the extra leading dims into the batch: `x.flatten(0, {extra})` -> {_shape(merged)} "
            "(and unflatten the result afterwards), or pool/select away the extra axis first."
        )
    missing = lo - r
    return (
        f"Add the missing dim(s): `x.unsqueeze(0)` adds a batch axis{', ' if missing > 1 else ''}"
        f"{'`x.unsqueeze(1)` a single channel' if missing > 1 else ''}. A 1-D pooled vector has no length "
        f"axis for {op} to slide over: feed the un-pooled (batch, tokens, hidden) output, permuted to "
        "(batch, hidden, tokens)."
    )


def _conv_rank(m: re.Match[str], ctx: _Ctx) -> _Result:
    op = m["op"].lower()
    shape = _ints(m["shape"])
    lo, hi = int(m["lo"]), int(m["hi"])
    layout = {
        "conv1d": "(batch, channels, length) or unbatched (channels, length)",
        "conv2d": "(batch, channels, height, width) or unbatched (channels, height, width)",
    }.get(op, "(batch, channels, ...)")
    expl = f"{op} accepts {hi}-D {layout}; your input {_shape(shape)} is {len(shape)}-D."
    return expl, _conv_rank_fix(op, shape, lo, hi), {"input_shape": shape, "expected_ndim": [lo, hi]}


def _conv_rank_old(m: re.Match[str], ctx: _Ctx) -> _Result:
    want = int(m["want"])
    weight = _ints(m["weight"])
    shape = _ints(m["shape"])
    op = f"conv{max(len(weight) - 2, 1)}d"
    expl = (
        f"{op} (weight {_shape(weight)}) expects {want}-D input (batch, channels, ...); your input "
        f"{_shape(shape)} is {len(shape)}-D."
    )
    return expl, _conv_rank_fix(op, shape, want, want), {"input_shape": shape, "expected_ndim": [want, want]}


def _kernel_too_large(m: re.Match[str], ctx: _Ctx) -> _Result:
    size = _ints(m["size"])
    kernel = _ints(m["kernel"])
    pairs = list(zip(size, kernel, strict=False))
    i = next((j for j, (s_, k_) in enumerate(pairs) if k_ > s_), 0)
    s_i, k = pairs[i] if pairs else (0, 0)
    expl = (
        f"After padding, each channel has spatial size {' x '.join(map(str, size))} but the kernel spans "
        f"{' x '.join(map(str, kernel))}: a window of {k} cannot fit in {s_i} positions. "
    )
    if len(size) == 1:
        expl += (
            "Conv1d slides over the LAST dim (length); in BERT pipelines that is the token axis after "
            "`x.permute(0, 2, 1)`."
        )
    else:
        expl += f"Conv{len(size)}d slides over the last {len(size)} dims."
    if ctx.shape is not None:
        expl += f" Your input {_shape(ctx.shape)} has {ctx.shape[-1]} at the last dim."
    fix = (
        f"Pad the input so the kernel fits: padding={(k - 1) // 2} (or padding='same' with stride 1) keeps "
        f"the length; or use kernel_size <= {s_i}. If the last dim is tiny because the axes are swapped "
        "(channels last) or the tokens were pooled away, permute so tokens are last, or skip pooling "
        "before the convolution; very short texts may also need a larger max_length with padding."
    )
    return expl, fix, {"padded_input_size": size, "kernel_size": kernel}


def _pool_output_size(m: re.Match[str], ctx: _Ctx) -> _Result:
    op, size = m["op"], int(m["size"])
    expl = (
        f"{op} would produce an output of size {size}: the pooling window (kernel_size) is longer than the "
        "(padded) last dim of the input. Pooling layers slide over the LAST dim, like Conv1d."
    )
    if ctx.shape is not None:
        expl += f" Your input {_shape(ctx.shape)} has {ctx.shape[-1]} there."
    fix = (
        "Use a kernel_size no larger than the last dim, pad the input, or pool over the token axis after "
        "`x.permute(0, 2, 1)`; to pool a whole sequence to one value use nn.AdaptiveMaxPool1d(1) or "
        "`x.amax(dim=-1)`."
    )
    return expl, fix, {"output_size": size}


def _repeat_rank(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = "repeat() needs one repeat count per dim of the tensor (more are allowed and add leading dims)."
    if ctx.shape is not None:
        expl += f" Your input {_shape(ctx.shape)} has {len(ctx.shape)} dims."
    fix = (
        "Give a count for every dim, 1 to keep it: e.g. `x.repeat(1, 1, 2)` for a 3-D tensor; `expand` "
        "avoids the copy for size-1 dims."
    )
    return expl, fix, {}


def _conv_padding_same(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = (
        "padding='same' is valid in PyTorch's Conv1d/Conv2d, but only with stride=1: with a stride the "
        "output cannot have the same length as the input."
    )
    fix = "Use stride=1 with padding='same', or give an integer padding, e.g. padding=(kernel_size - 1) // 2."
    return expl, fix, {}


def _conv_padding_invalid(m: re.Match[str], ctx: _Ctx) -> _Result:
    mode = m["mode"]
    expl = f"padding={mode!r} is not a PyTorch option: Conv layers accept an int/tuple, 'same' or 'valid'."
    fix = "Use padding='same' (stride 1), padding='valid' (no padding) or an integer."
    if mode == "causal":
        fix += (
            " For Keras-style causal padding, pad only on the left yourself: "
            "`F.pad(x, (kernel_size - 1, 0))` before a Conv1d with padding=0."
        )
    return expl, fix, {"padding": mode}


# ---------------------------------------------------------------------------------------------- recurrent


def _rnn_input_size(m: re.Match[str], ctx: _Ctx) -> _Result:
    exp, got = int(m["exp"]), int(m["got"])
    name = _layer_name(ctx, "LSTM/GRU")
    numbers: dict[str, Any] = {"expected_input_size": exp, "got_input_size": got}
    expl = (
        f"{name} reads the features from the LAST dim of its input ((batch, seq, features) with "
        f"batch_first=True, (seq, batch, features) without). It was built with input_size={exp}, but the "
        f"last dim of your input is {got}."
    )
    moved = ""
    if ctx.shape is not None:
        numbers["input_shape"] = list(ctx.shape)
        where = [i for i, s in enumerate(ctx.shape[:-1]) if s == exp]
        expl += f" Your input is {_shape(ctx.shape)}."
        if where:
            d = where[-1]
            numbers["features_at_dim"] = d
            expl += f" The {exp} is at {ctx.dim(d)}"
            if len(ctx.shape) == 3 and d == 1:
                expl += ": the (batch, channels, length) layout a Conv1d produces."
            else:
                expl += "."
            code = _move_code(len(ctx.shape), d, len(ctx.shape) - 1)
            moved = f"Move it last: insert {code} before this step. "
    if not moved:
        moved = (
            f"If the {exp} features sit at another dim (e.g. after a Conv1d, whose output is "
            "(batch, channels, length)), move them last with `x.transpose(1, 2)`. "
        )
    fix = (
        moved
        + f"Otherwise build the layer for this input: input_size={got} "
        + f"(nn.{name.split('/')[0]}({got}, hidden_size, ...))."
    )
    return expl, fix, numbers


def _rnn_rank(m: re.Match[str], ctx: _Ctx) -> _Result:
    got = int(m["got"])
    name = m["name"] or _layer_name(ctx, "LSTM/GRU")
    expl = (
        f"{name} takes a 3-D input (batch, seq, features) with batch_first=True (or (seq, batch, features)), "
        f"or an unbatched 2-D (seq, features); yours is {got}-D"
        + (f" {_shape(ctx.shape)}." if ctx.shape is not None else ".")
    )
    if got > 3:
        fix = (
            "Merge the extra dims: e.g. a (batch, chunks, tokens, hidden) tensor becomes (batch * chunks, "
            "tokens, hidden) with `x.flatten(0, 1)`, or (batch, chunks * tokens, hidden) with "
            "`x.flatten(1, 2)`; or pool/select the extra axis away."
        )
    else:
        fix = (
            "Add the missing axes: a single sequence of vectors is `x.unsqueeze(0)` (batch of 1). Beware: a "
            "pooled (batch, hidden) tensor is accepted as ONE unbatched sequence of length batch; use "
            "`x.unsqueeze(1)` -> (batch, 1, hidden) to give each sample a sequence of length 1."
        )
    return expl, fix, {"got_ndim": got}


def _rnn_hidden(m: re.Match[str], ctx: _Ctx) -> _Result:
    want = _ints(m["want"])
    got = _ints(m["got"])
    expl = (
        f"The initial state h0/c0 you passed has shape {_shape(got)}, the layer needs {_shape(want)}. It is "
        "(num_layers * num_directions, batch, hidden_size) - NOT batch-first, even with batch_first=True."
    )
    fix = (
        f"Create it as torch.zeros({', '.join(map(str, want))}) (for an LSTM both h0 and c0), or leave it "
        "out: "
        "PyTorch starts from zeros by default."
    )
    return expl, fix, {"expected_hidden_shape": want, "got_hidden_shape": got}


def _rnn_hidden_unbatched(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = (
        "Your input is 2-D, which the LSTM/GRU treats as ONE unbatched (seq, features) sequence; then h0/c0 "
        "must be 2-D (num_layers * num_directions, hidden_size) too, but you passed 3-D ones."
    )
    fix = (
        "Add the batch axis to the input (`x.unsqueeze(0)`, or `x.unsqueeze(1)` for pooled (batch, hidden) "
        "vectors) so it is 3-D, or drop the batch axis of h0/c0."
    )
    return expl, fix, {}


# ---------------------------------------------------------------------------------------- matmul / linear


def _linear_mat(m: re.Match[str], ctx: _Ctx) -> _Result:
    a, b, c, d = int(m["a"]), int(m["b"]), int(m["c"]), int(m["d"])
    numbers: dict[str, Any] = {"mat1": [a, b], "mat2": [c, d], "got_features": b, "in_features": c}
    is_linear = ctx.layer in ("linear", "") and "@" not in ctx.step and "matmul" not in ctx.step
    expl = (
        f"A matrix product {a}x{b} @ {c}x{d} needs the inner sizes to match: {b} (columns of mat1) must "
        f"equal {c} (rows of mat2)."
    )
    if is_linear:
        expl += (
            f" For nn.Linear, mat1 is your input with every dim but the last flattened into rows ({a} "
            f"row{'s' if a != 1 else ''} of "
            f"{b}) and mat2 is the layer's weight transposed: in_features={c}, out_features={d}. So your "
            f"input's last dim is {b} but the layer was built for in_features={c}."
        )
    hints: list[str] = []
    shape = ctx.shape
    if shape is not None:
        numbers["input_shape"] = list(shape)
        if len(shape) >= 3 and _prod(shape[1:]) == c:
            hints.append(
                f"The layer expects the flattened features {_times(shape[1:])} = {_n(c)}: insert "
                f"`x.flatten(1)` -> [{shape[0]}, {c}] before it."
            )
        elif c in shape[:-1]:
            where = [i for i, s in enumerate(shape[:-1]) if s == c][-1]
            hints.append(
                f"The {c} is at {ctx.dim(where)}: move it last with {_move_code(len(shape), where, len(shape) - 1)}."
            )
        if len(shape) >= 3 and a == _prod(shape[:-1]):
            hints.append(
                f"Note the {_n(a)} rows = {_times(shape[:-1])}: Linear is applied to every position of a "
                f"{len(shape)}-D input; pool first (e.g. `x.mean(dim=1)` or `x[:, 0]`) for one vector per "
                "sample."
            )
    if not hints:
        if b > c and b % c == 0:
            k = b // c
            hints.append(
                f"{_n(b)} = {k} × {c}: it looks like a (batch, {k}, {c}) tensor was flattened (e.g. "
                "`flatten(1)` "
                f"over tokens × hidden). To keep {c} features, pool over that axis first (`x.mean(dim=1)`, "
                f"`x[:, 0]` or `x[:, -1]`) instead of flattening, or set in_features={b}."
            )
            if k == 2:
                hints.append(f"A bidirectional LSTM also outputs 2 × hidden_size = {b} features.")
        elif c > b and c % b == 0:
            k = c // b
            hints.append(
                f"in_features {_n(c)} = {k} × {b}: the layer expects a flattened (batch, {k}, {b}) "
                "tensor; if "
                f"your input is (batch, {k}, {b}), insert `x.flatten(1)` -> (batch, {_n(c)}) before it."
            )
    if (not is_linear or ctx.layer == "") and d == b:
        hints.append(f"For `a @ b`, b looks transposed ({c}x{d}): try `a @ b.T` (or `b.transpose(-2, -1)`).")
    fix = f"Build the layer with in_features={b} (nn.Linear({b}, {d})), or make the input's last dim {c}."
    if not is_linear:
        fix = f"Make the last dim of the left operand ({b}) equal the second-to-last dim of the right ({c})."
    if hints:
        fix += " " + " ".join(hints)
    return expl, fix, numbers


def _bmm(m: re.Match[str], ctx: _Ctx) -> _Result:
    want = _ints(m["want"])
    got = _ints(m["got"])
    expl = (
        "torch.bmm / @ on 3-D tensors multiplies (batch, n, m) by (batch, m, p): the second tensor's first "
        f"two dims must be [batch, m] = {_shape(want)}, but they are {_shape(got)}."
    )
    parts = []
    if len(want) == 2 and len(got) == 2:
        if want[0] != got[0]:
            parts.append(f"the batch sizes differ ({want[0]} vs {got[0]})")
        if want[1] != got[1]:
            parts.append(
                f"the inner size differs: the first tensor's last dim is {want[1]}, the second's dim 1 is {got[1]}"
            )
    if parts:
        expl += " So " + " and ".join(parts) + "."
    fix = (
        "If the second tensor is stored the other way round (batch, p, m), transpose it: "
        "`torch.bmm(a, b.transpose(1, 2))` (as in attention scores `q @ k.transpose(-2, -1)`). "
        "Batch sizes must be equal (or 1 with torch.matmul broadcasting)."
    )
    return expl, fix, {"expected": want, "got": got}


def _matmul_rank(m: re.Match[str], ctx: _Ctx) -> _Result:
    which = m["which"]
    expl = f"torch.bmm needs 3-D (batch, n, m) tensors; {which} is not 3-D."
    fix = "Add a batch axis with `x.unsqueeze(0)`, or use torch.matmul / `@`, which broadcasts 2-D and 3-D operands."
    return expl, fix, {}


def _mv(m: re.Match[str], ctx: _Ctx) -> _Result:
    r, c, v = int(m["r"]), int(m["c"]), int(m["v"])
    expl = f"A matrix-vector product ({r}x{c} @ vector of {v}) needs the vector length {v} to equal the columns {c}."
    fix = f"Make the vector length {c}, or transpose the matrix if it is stored as {c}x{r}: `mat.T @ vec`."
    return expl, fix, {"mat": [r, c], "vec": v}


def _dot(m: re.Match[str], ctx: _Ctx) -> _Result:
    a, b = int(m["a"]), int(m["b"])
    expl = f"A dot product of two 1-D tensors needs equal lengths; got {a} and {b}."
    fix = "Check both vectors' shapes; for a matrix product keep them 2-D (e.g. `x.unsqueeze(0)`)."
    return expl, fix, {"sizes": [a, b]}


def _broadcast(m: re.Match[str], ctx: _Ctx) -> _Result:
    a, b, d = int(m["a"]), int(m["b"]), int(m["d"])
    expl = (
        f"Element-wise operations (+, -, *, /, masked_fill, where, losses, @ batch dims) line shapes up from "
        f"the right; at dim {d} of the result one tensor has {a} and the other {b}. Sizes must be equal, "
        "or one "
        "of them 1 (then it is broadcast)."
    )
    fix = (
        "Make the sizes at that dim equal, or insert a size-1 axis where one tensor lacks it with "
        "`unsqueeze`. A common case in BERT pipelines: an attention mask (batch, tokens) applied to hidden "
        "states (batch, tokens, hidden) needs `mask.unsqueeze(-1)` -> (batch, tokens, 1), e.g. "
        "`(x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)`."
    )
    return expl, fix, {"size_a": a, "size_b": b, "dim": d}


# ----------------------------------------------------------------------------------------- reshape family


def _view_stride(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = (
        ".view() never copies: it can only reinterpret memory that is laid out in the new order. After "
        "permute/transpose (or slicing) the tensor is a non-contiguous view, so the dims you are merging "
        "are not adjacent in memory."
    )
    if ctx.shape is not None:
        expl += f" Your input {_shape(ctx.shape)} is such a view."
    fix = (
        "Use `.reshape(...)` (copies only when needed) instead of `.view(...)`, or call `.contiguous()` "
        "first: `x.contiguous().view(...)`. Remember that permuting then reshaping changes which numbers "
        "end up together."
    )
    return expl, fix, {}


def _reshape_size(m: re.Match[str], ctx: _Ctx) -> _Result:
    shape = _ints(m["shape"])
    numel = int(m["numel"])
    numbers: dict[str, Any] = {"target_shape": shape, "numel": numel}
    known = [s for s in shape if s != -1]
    prod_known = _prod(known)
    n_infer = len(shape) - len(known)
    src = f" Your tensor {_shape(ctx.shape)} has {_times(ctx.shape)} = {_n(numel)} elements." if ctx.shape else ""
    expl = f"reshape/view must keep the number of elements: the input has {_n(numel)} ({_factorize(numel)}).{src}"
    if n_infer == 1:
        numbers["known_product"] = prod_known
        if prod_known == 0:
            expl += " A 0 in the new shape leaves nothing for the -1 to fill."
            fix = "Remove the 0 from the shape."
        else:
            ratio = numel / prod_known
            expl += (
                f" The -1 would have to be {_n(numel)} / ({_times(known)} = {_n(prod_known)}) = {ratio:.4g}, "
                "which is not a whole number."
            )
            fix = (
                f"Choose the other sizes so that their product divides {_n(numel)}: keep the sizes you know "
                "(batch, tokens, hidden) and split only one axis into factors of it, e.g. "
                "`x.reshape(x.size(0), 16, -1)`."
            )
    else:
        expl += f" The new shape holds {_times(shape)} = {_n(prod_known)} ≠ {_n(numel)}."
        fits: list[tuple[int, int]] = []
        for i in range(len(shape)):
            rest = _prod(shape[:i] + shape[i + 1 :])
            if rest > 0 and numel % rest == 0:
                fits.append((i, numel // rest))
        last = len(shape) - 1
        rest_last = _prod(shape[:-1]) if shape else 1
        if rest_last > 0 and numel % rest_last == 0 and shape:
            v = numel // rest_last
            numbers["fitting_last_dim"] = v
            expl += f" Keeping {_shape(shape[:-1])}, the last dim must be {_n(numel)} / ({_times(shape[:-1])}) = {v}."
            new = [*shape[:-1], v]
            fix = (
                f"Use `x.reshape({', '.join(map(str, new))})`, or let torch compute the last size: "
                f"`x.reshape({', '.join(map(str, shape[:-1]))}, -1)`."
            )
        elif shape:
            expl += f" {_times(shape[:-1])} = {_n(rest_last)} does not divide {_n(numel)}, so no last dim fits."
            fix = "Change the other sizes so their product divides the element count, then put -1 in one place."
        else:
            fix = "Give a shape whose sizes multiply to the element count."
        others = [(i, v) for i, v in fits if i != last][:2]
        if others:
            alts = [[*shape[:i], v, *shape[i + 1 :]] for i, v in others]
            fix += " Other shapes that fit: " + ", ".join(_shape(a) for a in alts) + "."
    if ctx.shape and shape and shape[0] not in (-1, ctx.shape[0]):
        fix += (
            f" Your batch is {ctx.shape[0]}, not {shape[0]}: use `x.size(0)` or -1 instead of a "
            "hard-coded batch "
            "size (the last batch of a dataset is often smaller)."
        )
    return expl, fix, numbers


def _multiple_infer(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = (
        "Only one size in reshape/view can be -1: torch can infer one missing factor, not how to split it between two."
    )
    fix = (
        "Write all sizes but one explicitly, e.g. `x.reshape(x.size(0), 16, -1)`, or use `x.size(i)` for "
        "the dims you keep."
    )
    if ctx.shape is not None:
        fix += f" Your input is {_shape(ctx.shape)}."
    return expl, fix, {}


def _unflatten_size(m: re.Match[str], ctx: _Ctx) -> _Result:
    sizes = _ints(m["sizes"])
    d, size = int(m["dim"]), int(m["size"])
    known = [s for s in sizes if s != -1]
    pk = _prod(known)
    known_str = f"{_times(known)} = {_n(pk)}" if len(known) > 1 else _n(pk)
    expl = f"unflatten splits dim {d} (size {_n(size)}) into {_shape(sizes)}, but {known_str}"
    if -1 in sizes and pk:
        expl += f" does not divide {_n(size)} ({_n(size)} / {_n(pk)} = {size / pk:.4g})."
    else:
        expl += f" ≠ {_n(size)}."
    fix = f"Pick sizes whose product is {_n(size)} ({_factorize(size)}), e.g. with one -1 and a divisor of {_n(size)}."
    return expl, fix, {"sizes": sizes, "dim": d, "dim_size": size}


def _split_size(m: re.Match[str], ctx: _Ctx) -> _Result:
    total, d = int(m["total"]), int(m["dim"])
    sizes = _ints(m["sizes"])
    expl = (
        f"split with a list of sizes must cover dim {d} exactly: {' + '.join(map(str, sizes))} = "
        f"{sum(sizes)} ≠ {total}."
    )
    fix = (
        f"Make the sizes sum to {total}, or pass one int to split into equal chunks "
        f"(`x.split({sizes[0] if sizes else 1}, dim={d})`)."
    )
    return expl, fix, {"total": total, "dim": d, "sizes": sizes}


def _flatten_args(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = "flatten(start_dim, end_dim) merges the dims from start_dim up to end_dim; start_dim came after end_dim."
    fix = (
        "Swap the two arguments, e.g. `x.flatten(1, 2)` to merge dims 1 and 2 (`x.flatten(1)` merges "
        "everything after the batch)."
    )
    return expl, fix, {}


# -------------------------------------------------------------------------------------- dims and indexing


def _permute_dims(m: re.Match[str], ctx: _Ctx) -> _Result:
    nd = int(m["nd"]) if m["nd"] else (len(ctx.shape) if ctx.shape else None)
    nl = int(m["nl"]) if m["nl"] else None
    expl = "permute() needs every dimension listed exactly once, as a full new order."
    if nd is not None and nl is not None:
        expl += f" The tensor has {nd} dims but you gave {nl}."
    numbers = {"ndim": nd, "len_dims": nl}
    example = ", ".join(map(str, [0, *range(nd - 1, 0, -1)])) if nd and nd > 1 else "0"
    fix = (
        f"List all {nd if nd else 'the'} dims, e.g. `x.permute({example})`; to swap just two dims use "
        "`x.transpose(a, b)`."
    )
    if nd is not None and nl is not None and nl > nd:
        fix += (
            " You listed more dims than the tensor has: an earlier step (pooling, `x[:, 0]`) may have "
            "removed "
            "one; check the shape, or add an axis with `unsqueeze`."
        )
    return expl, fix, numbers


def _permute_duplicate(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = "A dim appears twice in the list: permute needs each dim exactly once (a reduction each at most once)."
    if m.groupdict().get("dim"):
        expl = f"Dim {m['dim']} appears more than once in the list of dims."
    fix = "Write each dim once, e.g. `x.permute(0, 2, 1)` for (batch, tokens, hidden) -> (batch, hidden, tokens)."
    return expl, fix, {}


def _t_rank(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = f".t() / .T on a matrix only: your tensor is {m['nd']}-D."
    fix = "Say which two dims to swap: `x.transpose(1, 2)`, or `x.mT` / `x.transpose(-2, -1)` for the last two."
    return expl, fix, {"ndim": int(m["nd"])}


def _dim_range(m: re.Match[str], ctx: _Ctx) -> _Result:
    lo, hi, got = int(m["lo"]), int(m["hi"]), int(m["got"])
    nd = hi + 1
    numbers: dict[str, Any] = {"range": [lo, hi], "got_dim": got, "ndim": nd}
    if ctx.shape is not None and len(ctx.shape) == hi:  # unsqueeze: one position past the last dim
        expl = (
            f"Your tensor has {hi} dims; unsqueeze can insert a new axis at positions 0..{hi} (or {lo}..-1), "
            f"but you asked for {got}."
        )
    else:
        expl = (
            f"Valid dims here are 0..{hi} (or {lo}..-1), so the tensor has {nd} dim{'s' if nd != 1 else ''} "
            f"({nd - 1} if this was unsqueeze, which may also insert after the last); you asked for dim "
            f"{got}. "
            f"Dims count from 0: the last one is {hi}, or -1."
        )
    if ctx.shape is not None:
        expl += " Your input " + _shape(ctx.shape)
        if ctx.axes and len(ctx.axes) == len(ctx.shape):
            expl += " = (" + ", ".join(f"dim {i}: {a}" for i, a in enumerate(ctx.axes)) + ")"
        expl += "."
    fix = f"Use a dim in [{lo}, {hi}]"
    if got == nd or got == -nd - 1:
        fix += f" - probably dim {hi if got > 0 else lo} (off by one, or use -1 for the last dim)"
    fix += (
        ". If you expected more dims, an earlier step removed one: pooling turns (batch, tokens, hidden) "
        "into (batch, hidden) and `x[:, 0]` drops the token axis. (unsqueeze accepts one position more.)"
    )
    return expl, fix, numbers


def _index_range(m: re.Match[str], ctx: _Ctx) -> _Result:
    idx, d, size = int(m["idx"]), int(m["dim"]), int(m["size"])
    expl = (
        f"Index {idx} does not exist at dim {d}: it has size {size}, so valid indices are 0..{size - 1} "
        f"(or -{size}..-1)."
    )
    if ctx.shape is not None and len(ctx.shape) > d:
        expl = expl.replace(f"at dim {d}", f"at {ctx.dim(d)}", 1)
    tokens_axis = (ctx.axes is not None and d < len(ctx.axes) and "token" in ctx.axes[d].lower()) or (
        ctx.axes is None and d == 1
    )
    fix = f"Use an index below {size}"
    if idx == size:
        fix += f" (off by one: the last element is {size - 1}, or -1)"
    fix += "."
    if tokens_axis:
        fix += (
            f" If dim {d} is the token axis, the sequence is only {size} tokens long (padding/truncation to "
            "max_length): take the last token with `x[:, -1]`, [CLS] with `x[:, 0]`, or raise max_length."
        )
    return expl, fix, {"index": idx, "dim": d, "size": size}


def _select_range(m: re.Match[str], ctx: _Ctx) -> _Result:
    idx, d = int(m["idx"]), int(m["dim"])
    shape = _ints(m["shape"])
    size = shape[d] if 0 <= d < len(shape) else 0
    expl = (
        f"Index {idx} does not exist at dim {d} of {_shape(shape)}: valid indices are 0..{size - 1} (or -{size}..-1)."
    )
    fix = f"Use an index below {size}; `-1` is the last element."
    return expl, fix, {"index": idx, "dim": d, "size": size, "input_shape": shape}


def _gather_range(m: re.Match[str], ctx: _Ctx) -> _Result:
    idx, size = int(m["idx"]), int(m["size"])
    expl = f"index_select/gather got index {idx}, but the dim has size {size} (valid 0..{size - 1})."
    fix = f"Keep every index below {size}."
    return expl, fix, {"index": idx, "size": size}


def _narrow(m: re.Match[str], ctx: _Ctx) -> _Result:
    s, n, size = int(m["start"]), int(m["len"]), int(m["size"])
    expl = f"narrow(dim, start={s}, length={n}) would read up to position {s + n - 1}, but the dim has size {size}."
    fix = (
        f"Use start + length <= {size}, e.g. length {max(size - s, 0)}; slicing `x[:, {s}:{s + n}]` clips "
        "instead of failing."
    )
    return expl, fix, {"start": s, "length": n, "size": size}


def _too_many_indices(m: re.Match[str], ctx: _Ctx) -> _Result:
    nd = int(m["nd"])
    expl = f"You indexed with more positions than the tensor has dims ({nd})."
    fix = (
        f"Index with at most {nd} positions. Usually an earlier step removed a dim: pooling (batch, tokens, "
        "hidden) -> (batch, hidden) or `x[:, -1, :]`; after that `x[:, 0, :]` no longer applies - use "
        "`x[:, 0]`."
    )
    return expl, fix, {"ndim": nd}


def _mask_shape(m: re.Match[str], ctx: _Ctx) -> _Result:
    mask, tensor = _ints(m["mask"]), _ints(m["tensor"])
    expl = f"A boolean mask must match the leading dims of the tensor: mask {_shape(mask)} vs tensor {_shape(tensor)}."
    fix = (
        "Build the mask with the same leading shape (e.g. the attention mask (batch, tokens) for (batch, "
        "tokens, hidden))."
    )
    return expl, fix, {"mask_shape": mask, "tensor_shape": tensor}


def _embedding_index(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = (
        "An nn.Embedding lookup got an id >= num_embeddings. With BERT that is a token id beyond the "
        "model's vocabulary (tokenizer and checkpoint do not match) or a position beyond "
        "max_position_embeddings (usually 512)."
    )
    fix = (
        "Use the tokenizer of the same checkpoint, and tokenize with truncation=True, max_length <= 512; "
        "check `input_ids.max() < model.config.vocab_size`."
    )
    return expl, fix, {}


# ----------------------------------------------------------------------------- cat / stack / expand / pad


def _cat_size(m: re.Match[str], ctx: _Ctx) -> _Result:
    d, exp, got, t = int(m["dim"]), int(m["exp"]), int(m["got"]), int(m["t"])
    expl = (
        f"torch.cat(..., dim={d}) joins tensors along dim {d}; every OTHER dim must be equal. At one of them "
        f"tensor 0 has size {exp} but tensor {t} has {got}."
    )
    fix = (
        "Print `[t.shape for t in tensors]`. Either concatenate along the dim where they really differ "
        "(dim=...), or make the other dims equal: pad/truncate texts to the same max_length, pool, or "
        "transpose one of them."
    )
    return expl, fix, {"cat_dim": d, "expected_size": exp, "got_size": got, "tensor_number": t}


def _cat_size_old(m: re.Match[str], ctx: _Ctx) -> _Result:
    d, a, b, d2 = int(m["dim"]), int(m["a"]), int(m["b"]), int(m["d2"])
    expl = f"torch.cat(..., dim={d}) needs every other dim equal, but at dim {d2} the tensors have {a} and {b}."
    fix = f"Make dim {d2} equal, or concatenate along dim={d2} if that is the axis you meant to join."
    return expl, fix, {"cat_dim": d, "mismatch_dim": d2, "sizes": [a, b]}


def _cat_rank(m: re.Match[str], ctx: _Ctx) -> _Result:
    a, b = int(m["a"]), int(m["b"])
    expl = f"torch.cat needs tensors with the same number of dims; got {a}-D and {b}-D."
    fix = (
        "Add the missing axis to the smaller one: e.g. a pooled (batch, hidden) vector next to (batch, "
        "tokens, "
        "hidden) needs `v.unsqueeze(1)` -> (batch, 1, hidden)."
    )
    return expl, fix, {"ndims": [a, b]}


def _stack_size(m: re.Match[str], ctx: _Ctx) -> _Result:
    s1, e1, s2, e2 = _ints(m["s1"]), int(m["e1"]), _ints(m["s2"]), int(m["e2"])
    expl = f"torch.stack needs identical shapes, but entry {e1} is {_shape(s1)} and entry {e2} is {_shape(s2)}"
    if len(s1) == len(s2):
        diff = [i for i, (x, y) in enumerate(zip(s1, s2, strict=True)) if x != y]
        expl += " (they differ at " + ", ".join(f"dim {i}: {s1[i]} vs {s2[i]}" for i in diff) + ")."
    else:
        expl += f" ({len(s1)}-D vs {len(s2)}-D)."
    fix = (
        "Pad to a common length (tokenizer `padding=True` / `padding='max_length'`, or "
        "`torch.nn.utils.rnn.pad_sequence`), or use torch.cat to join along an existing dim."
    )
    return expl, fix, {"shape_a": s1, "shape_b": s2, "entries": [e1, e2]}


def _expand(m: re.Match[str], ctx: _Ctx) -> _Result:
    new, old, d = int(m["new"]), int(m["old"]), int(m["dim"])
    numbers: dict[str, Any] = {"expanded_size": new, "existing_size": old, "dim": d}
    expl = (
        f"expand() can only stretch dims of size 1 (it makes a view, no copy). Dim {d} has size {old}, "
        f"which cannot become {new}."
    )
    if m["target"] is not None:
        target, have = _ints(m["target"]), _ints(m["have"])
        numbers.update(target_shape=target, tensor_shape=have)
        expl += f" Target {_shape(target)}, tensor {_shape(have)}."
    fix = (
        "Expand only size-1 dims (use -1 to keep a dim): add the axis first, e.g. "
        "`mask.unsqueeze(-1).expand(-1, -1, hidden)`; use `repeat` if you need real copies, or check that "
        "you expand to the right shape (`expand_as(other)`)."
    )
    return expl, fix, numbers


def _expand_rank(m: re.Match[str], ctx: _Ctx) -> _Result:
    n, nd = int(m["n"]), int(m["nd"])
    expl = f"expand() got {n} size(s) for a {nd}-D tensor; it needs at least one size per dim."
    fix = "Give a size for every dim (-1 keeps it), e.g. `x.expand(-1, 4)`, or `unsqueeze` first to add new axes."
    return expl, fix, {"sizes_given": n, "ndim": nd}


def _pad_odd(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = (
        "F.pad takes (left, right) pairs, starting from the LAST dim and moving backwards; an odd count "
        "is not a set of pairs."
    )
    fix = (
        "`F.pad(x, (0, 0, 0, 2))` pads 2 positions at the end of dim -2 (tokens of (batch, tokens, "
        "hidden)); `(1, 1)` pads the last dim."
    )
    return expl, fix, {}


def _pad_long(m: re.Match[str], ctx: _Ctx) -> _Result:
    n, nd = int(m["n"]), int(m["nd"])
    expl = (
        f"F.pad got {n} numbers = {n // 2} (left, right) pairs, but the tensor has only {nd} dims (at "
        f"most {2 * nd} numbers)."
    )
    fix = f"Give at most {nd} pairs, last dim first: `(last_l, last_r, prev_l, prev_r, ...)`."
    return expl, fix, {"pad_length": n, "ndim": nd}


def _layernorm(m: re.Match[str], ctx: _Ctx) -> _Result:
    ns, got = _ints(m["ns"]), _ints(m["got"])
    expl = (
        f"LayerNorm({_shape(ns)[1:-1]}) normalizes the LAST dim(s), which must be {_shape(ns)}; your "
        f"input is {_shape(got)}."
    )
    fix = (
        f"Build it as nn.LayerNorm({got[-1] if got else '...'}) for the last dim, or move the features "
        "last (`x.transpose(1, 2)` after a Conv1d)."
    )
    return expl, fix, {"normalized_shape": ns, "input_shape": got}


def _norm_features(m: re.Match[str], ctx: _Ctx) -> _Result:
    want, got = int(m["want"]), int(m["got"])
    expl = (
        f"BatchNorm1d(num_features={want}) normalizes dim 1 of (batch, features, length); your input has {got} there."
    )
    fix = (
        f"Use num_features={got}, or permute so the {want} features are at dim 1 (`x.permute(0, 2, 1)` "
        "for BERT output)."
    )
    return expl, fix, {"num_features": want, "got": got}


def _loss_batch(m: re.Match[str], ctx: _Ctx) -> _Result:
    a, b = int(m["a"]), int(m["b"])
    expl = f"The loss got {a} predictions but {b} targets: the batch dims differ."
    fix = (
        "Logits must be (batch, classes) and targets (batch,): pool per sample before the classifier (e.g. "
        "`x[:, -1]`), and don't flatten tokens into the batch with `view(-1, ...)` unless targets are per "
        "token."
    )
    return expl, fix, {"input_batch": a, "target_batch": b}


# ---------------------------------------------------------------------------------- wrong objects / types


def _tuple_input(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = (
        "A tuple was used where a tensor is needed. nn.LSTM/GRU return a tuple: output, (h_n, c_n) for LSTM "
        "(output, h_n for GRU), and Hugging Face models may return tuples too."
    )
    fix = (
        "Unpack it: `output, (h_n, c_n) = lstm(x)`; then use output (batch, seq, num_directions * hidden) or "
        "`h_n[-1]` (batch, hidden). In nn.Sequential wrap the LSTM in a small module that returns only "
        "output."
    )
    return expl, fix, {}


def _model_output(m: re.Match[str], ctx: _Ctx) -> _Result:
    cls = m["cls"]
    expl = f"{cls} is a container of tensors, not a tensor."
    fix = (
        "Take the tensor you need: `outputs.last_hidden_state` (batch, tokens, hidden), "
        "`outputs.pooler_output` "
        "(batch, hidden), or `outputs.hidden_states[-1]` with output_hidden_states=True."
    )
    return expl, fix, {"class": cls}


# --------------------------------------------------------------------------------------- constructor args

_VALID_PARAMS: dict[str, tuple[str, ...]] = {
    # the layer steps' tables are the spec's own (one source); RNN / Conv2d only appear in pasted errors
    **{TORCH_NAMES[kind]: tuple(params) for kind, params in LAYER_PARAMS.items()},
    "RNN": (
        "input_size",
        "hidden_size",
        "num_layers",
        "nonlinearity",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
    ),
    "Conv2d": (
        "in_channels",
        "out_channels",
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "groups",
        "bias",
        "padding_mode",
    ),
}
"""Constructor parameters (without device/dtype) of common layers; the tests check them against torch."""

_RNN_OUT = (
    "PyTorch's {name} always returns (output, (h_n, c_n)) (GRU: (output, h_n)): output is (batch, seq, "
    "num_directions * hidden_size) with batch_first=True - the whole sequence - and h_n is (num_layers * "
    "num_directions, batch, hidden_size), not batch-first."
)
_RNN_LAST = (
    "Don't pass it: `output, (h_n, c_n) = lstm(x)`. For the last step use `output[:, -1, :]` or `h_n[-1]` "
    "(both (batch, hidden_size); bidirectional: `torch.cat([h_n[-2], h_n[-1]], dim=1)`); for every step "
    "use output."
)

_KERAS_ARGS: dict[str, tuple[str, str]] = {
    "return_sequences": ("return_sequences is a Keras argument. " + _RNN_OUT, _RNN_LAST),
    "return_state": ("return_state is a Keras argument. " + _RNN_OUT, _RNN_LAST),
    "units": (
        "units is Keras' output size. PyTorch names it hidden_size (LSTM/GRU) or out_features (Linear), and "
        "also needs the input size (input_size / in_features), which Keras infers.",
        "Write nn.LSTM(input_size, hidden_size, batch_first=True) or nn.Linear(in_features, out_features); "
        "nn.LazyLinear(out_features) infers in_features on first use.",
    ),
    "filters": (
        "filters is Keras' Conv1D output size; PyTorch names it out_channels and also needs in_channels.",
        "Write nn.Conv1d(in_channels, out_channels, kernel_size), e.g. nn.Conv1d(768, 128, 3) for BERT-base "
        "features after `x.permute(0, 2, 1)`.",
    ),
    "activation": (
        "PyTorch layers have no activation argument (Keras does): a layer is only the linear part.",
        "Apply the activation after the layer: `torch.relu(layer(x))`, or nn.Sequential(nn.Linear(...), "
        "nn.ReLU()). (nn.RNN alone has nonlinearity='tanh'|'relu'; LSTM/GRU gates are fixed.)",
    ),
    "recurrent_activation": (
        "recurrent_activation is Keras-only: PyTorch's LSTM/GRU gates always use sigmoid/tanh.",
        "Remove it.",
    ),
    "recurrent_dropout": (
        "recurrent_dropout is Keras-only. PyTorch's dropout= applies between stacked layers (num_layers > 1).",
        "Remove it; use dropout= with num_layers >= 2, or nn.Dropout on the output.",
    ),
    "input_shape": (
        "input_shape is Keras' way to declare the input; PyTorch layers take the feature size only.",
        "Pass the size of the feature dim: input_size= (LSTM), in_features= (Linear), in_channels= (Conv1d).",
    ),
    "input_dim": (
        "input_dim is Keras' name; PyTorch uses input_size (LSTM/GRU), in_features (Linear), in_channels (Conv1d).",
        "Rename it to the PyTorch parameter.",
    ),
    "strides": ("strides is the Keras spelling.", "Use stride= in PyTorch."),
    "dilation_rate": ("dilation_rate is the Keras spelling.", "Use dilation= in PyTorch."),
    "use_bias": ("use_bias is the Keras spelling.", "Use bias=True/False in PyTorch."),
    "kernel_initializer": (
        "Initialisers are not constructor arguments in PyTorch.",
        "Initialise after building: `nn.init.xavier_uniform_(layer.weight)`.",
    ),
    "go_backwards": (
        "go_backwards is Keras-only.",
        "Use bidirectional=True, or flip the sequence: `x.flip(1)`.",
    ),
    "stateful": (
        "stateful is Keras-only: PyTorch keeps no state between calls.",
        "Pass the state yourself: `out, (h, c) = lstm(x, (h, c))`.",
    ),
    "time_major": (
        "time_major is Keras-only.",
        "PyTorch's default is time-major; use batch_first=True for (batch, seq, features).",
    ),
    "pool_size": ("pool_size is the Keras spelling.", "Use kernel_size= for nn.MaxPool1d / nn.AvgPool1d."),
    "rate": ("rate is Keras' Dropout argument.", "Use nn.Dropout(p=...)."),
}


def _kwarg(m: re.Match[str], ctx: _Ctx) -> tuple[str, str, str, dict[str, Any]]:
    cls = m["cls"] or ""
    arg = m["arg"]
    name = cls if cls in _VALID_PARAMS else _layer_name(ctx, "LSTM" if cls == "RNNBase" else (cls or "the layer"))
    numbers = {"class": name, "argument": arg}
    if arg in _KERAS_ARGS:
        expl, fix = _KERAS_ARGS[arg]
        return "keras_kwarg", f"{name} got {arg}=: " + expl.format(name=name), fix, numbers
    valid = _VALID_PARAMS.get(name)
    expl = f"{arg!r} is not a parameter of PyTorch's {name}."
    if arg == "padding" and name in ("LSTM", "GRU", "RNN", "Linear"):
        expl += " Only convolutions take padding (and there 'same' and 'valid' are valid)."
    fix = (
        f"Valid parameters: {', '.join(valid)}." if valid else "Check the constructor's signature in the PyTorch docs."
    )
    return "unknown_kwarg", expl, fix, numbers


def _missing_arg(m: re.Match[str], ctx: _Ctx) -> _Result:
    cls = m["cls"] or ""
    name = "LSTM/GRU" if cls == "RNNBase" else (cls or "the layer")
    args = re.findall(r"'(\w+)'", m["args"])
    expl = (
        f"{name} needs {', '.join(args)}. Unlike Keras, PyTorch layers need both the input and the output "
        "size "
        "(a single number is taken as the first one)."
    )
    fix = (
        "Write nn.Linear(in_features, out_features), nn.LSTM(input_size, hidden_size, batch_first=True), "
        "nn.Conv1d(in_channels, out_channels, kernel_size); nn.LazyLinear(out_features) infers in_features."
    )
    return expl, fix, {"class": name, "missing": args}


# ----------------------------------------------------------------------------------------- dtype / device


def _dtype(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = "The operands have different dtypes (e.g. integer token ids or float64 numpy data meeting float32 weights)."
    fix = (
        "Convert the input: `x.float()` (or `x.to(layer.weight.dtype)`); numpy arrays arrive as float64, use "
        "`torch.from_numpy(a).float()`. Token ids for nn.Embedding must be long."
    )
    return expl, fix, {}


def _device(m: re.Match[str], ctx: _Ctx) -> _Result:
    expl = "The tensors (or a tensor and a layer's weights) live on different devices, e.g. cuda:0 and cpu."
    fix = (
        "Move both to one device: `model.to(device)` and `x = x.to(device)` (layers built later need "
        "`.to(device)` too)."
    )
    return expl, fix, {}


# ------------------------------------------------------------------------------------------------- einops

_EIN_PATTERN = re.compile(r'pattern "(?P<p>[^"\n]{0,500})"')
_EIN_SHAPE = re.compile(r"Input tensor shape: (?:torch\.Size\()?[\[(]?(?P<s>[\d, ]{0,200})")


def _einops(m: re.Match[str], ctx: _Ctx, block: str) -> tuple[str, str, str, dict[str, Any]]:
    pm = _EIN_PATTERN.search(block)
    sm = _EIN_SHAPE.search(block)
    pattern = pm["p"] if pm else ""
    shape = _ints(sm["s"]) if sm else list(ctx.shape or ())
    numbers: dict[str, Any] = {"pattern": pattern, "input_shape": shape}
    lhs = pattern.split("->")[0].strip() if "->" in pattern else pattern
    head = f"einops pattern {pattern!r} on a tensor of shape {_shape(shape)}: " if pattern else "einops: "
    reason = m["reason"].strip()
    r = re.search(r"(?:expected|Expected) (\d+) dim\w*(?:\. Received|, got) (\d+)", reason)
    if r:
        want, got = int(r[1]), int(r[2])
        numbers.update(pattern_ndim=want, tensor_ndim=got)
        return (
            "einops_shape",
            head + f"the left side {lhs!r} names {want} axes but the tensor has {got} dims.",
            "Name one axis per dim on the left (e.g. 'b l h -> b h l' for (batch, tokens, hidden)), or "
            "use '...' "
            "for the dims you don't touch.",
            numbers,
        )
    r = re.search(r"can't divide axis of length (\d+) in chunks of (\d+)", reason)
    if r:
        length, chunk = int(r[1]), int(r[2])
        numbers.update(axis_length=length, chunk=chunk)
        return (
            "einops_shape",
            head + f"an axis of length {length} cannot be split into groups of {chunk}: {length} / {chunk} = "
            f"{length / chunk:.4g} ({length} = {_factorize(length)}).",
            f"Give a size that divides {length}, e.g. h=12 for 768 = 12 × 64 (BERT-base heads).",
            numbers,
        )
    r = re.search(r"Shape mismatch, (\d+) ?!= ?(\d+)", reason)
    if r:
        a, b = int(r[1]), int(r[2])
        numbers.update(axis_length=a, product=b)
        return (
            "einops_shape",
            head + f"the sizes you gave multiply to {b}, but the axis has length {a}.",
            f"Give sizes whose product is {a}, or give all but one and let einops infer the last.",
            numbers,
        )
    r = re.search(r"Could not infer sizes for \{([^}\n]{0,200})\}", reason)
    if r:
        return (
            "einops_shape",
            head + f"axes {{{r[1]}}} are inside one group and einops cannot guess how to split it.",
            "Pass all but one of them as keywords: `rearrange(x, 'b l (h d) -> b l h d', h=12)`.",
            numbers,
        )
    r = re.search(r"Identifiers only on one side of expression \(should be on both\): \{([^}\n]{0,200})\}", reason)
    if r:
        return (
            "einops_pattern",
            head + f"rearrange must keep every axis, but {{{r[1]}}} appear on one side only.",
            "To drop an axis aggregate it with `reduce(x, pattern, 'mean')`; to add one use `repeat(...)` "
            "with its "
            "size; or merge it into a group, e.g. 'b l h -> b (l h)'.",
            numbers,
        )
    r = re.search(r'duplicate dimension "(\w{1,40})"', reason)
    if r:
        return (
            "einops_pattern",
            head + f"the axis name {r[1]!r} is used twice on one side; every dim needs its own name.",
            "Give each input dim a different name, e.g. 'b l h -> b h l'.",
            numbers,
        )
    return (
        "einops_pattern",
        head + reason,
        "Check the pattern: one name per input dim, the same names on both sides, balanced parentheses, and "
        "sizes given as keywords only for axes the pattern uses.",
        numbers,
    )


# ---------------------------------------------------------------------------------------------- the table

_L = r"[\d, ]{0,200}"  # a list of ints inside brackets, bounded

_RULES: list[tuple[str, re.Pattern[str], _Handler]] = [
    (
        "conv_channels",
        re.compile(
            r"Given groups=(?P<groups>\d+), weight of size \[?(?P<weight>[\d, ]{1,200})\]?, expected "
            r"input\[(?P<input>[\d, ]{1,200})\] to have (?P<exp>\d+) channels, but got (?P<got>\d+) channels"
        ),
        _conv_channels,
    ),
    (
        "conv_rank",
        re.compile(
            r"Expected (?P<lo>\d)D \(unbatched\) or (?P<hi>\d)D \(batched\) input to (?P<op>conv\w{1,20}), "
            rf"but got input of size:? ?\[(?P<shape>{_L})\]"
        ),
        _conv_rank,
    ),
    (
        "conv_rank",
        re.compile(
            rf"Expected (?P<want>\d+)-dimensional input for \d+-dimensional weight \[?(?P<weight>{_L})\]?, "
            rf"but got \d+-dimensional input of size \[(?P<shape>{_L})\]"
        ),
        _conv_rank_old,
    ),
    (
        "kernel_too_large",
        re.compile(
            r"Calculated padded input size per channel: \((?P<size>[\d x]{1,60})\)\. "
            r"Kernel size: \((?P<kernel>[\d x]{1,60})\)\. Kernel size can't be greater"
        ),
        _kernel_too_large,
    ),
    (
        "kernel_too_large",
        re.compile(r"(?P<op>\w{1,30}\(\)) Invalid computed output size: (?P<size>-?\d+)"),
        _pool_output_size,
    ),
    (
        "conv_padding",
        re.compile(r"padding='same' is not supported for strided convolutions"),
        _conv_padding_same,
    ),
    ("conv_padding", re.compile(r"Invalid padding string '(?P<mode>[^'\n]{0,40})'"), _conv_padding_invalid),
    (
        "rnn_input_size",
        re.compile(r"input\.size\(-1\) must be equal to input_size\. Expected (?P<exp>\d+), got (?P<got>\d+)"),
        _rnn_input_size,
    ),
    (
        "rnn_rank",
        re.compile(r"(?:(?P<name>LSTM|GRU|RNN|RNN_TANH|RNN_RELU): )?Expected input to be 2D or 3D, got (?P<got>\d+)D"),
        _rnn_rank,
    ),
    ("rnn_rank", re.compile(r"(?P<name>)input must have 3 dimensions, got (?P<got>\d+)"), _rnn_rank),
    (
        "rnn_hidden",
        re.compile(rf"Expected hidden(?:\[\d\])? size \((?P<want>{_L})\), got \[?\(?(?P<got>{_L})"),
        _rnn_hidden,
    ),
    (
        "rnn_hidden",
        re.compile(r"For unbatched 2-D input, hx (?:and cx )?should also be 2-D"),
        _rnn_hidden_unbatched,
    ),
    (
        "dtype_mismatch",
        re.compile(
            r"must have the same dtype|expected scalar type \w+ but found \w+|Input type \([\w ]{1,30}\) and "
            r"(?:bias|weight) type \([\w ]{1,30}\) should be the same|input dtype \([\w.]{1,30}\) does "
            r"not match "
            r"weight dtype|Expected tensor for argument #\d+ 'indices' to have one of the following "
            r"scalar types"
        ),
        _dtype,
    ),
    (
        "linear_mat",
        re.compile(r"mat1 and mat2 shapes cannot be multiplied \((?P<a>\d+)x(?P<b>\d+) and (?P<c>\d+)x(?P<d>\d+)\)"),
        _linear_mat,
    ),
    (
        "linear_mat",
        re.compile(r"size mismatch, m1: \[(?P<a>\d+) x (?P<b>\d+)\], m2: \[(?P<c>\d+) x (?P<d>\d+)\]"),
        _linear_mat,
    ),
    (
        "matmul",
        re.compile(
            rf"Expected size for first two dimensions of batch2 tensor to be: \[(?P<want>{_L})\] "
            rf"but got: \[(?P<got>{_L})\]"
        ),
        _bmm,
    ),
    ("matmul", re.compile(r"(?P<which>batch[12]) must be a 3D tensor"), _matmul_rank),
    (
        "matmul",
        re.compile(r"size mismatch, got input \(\d+\), mat \((?P<r>\d+)x(?P<c>\d+)\), vec \((?P<v>\d+)\)"),
        _mv,
    ),
    (
        "matmul",
        re.compile(
            r"inconsistent tensor size, expected tensor \[\d+\] and src \[\d+\] to have the same number of "
            r"elements, but got (?P<a>\d+) and (?P<b>\d+) elements"
        ),
        _dot,
    ),
    (
        "expand_nonsingleton",
        re.compile(
            r"The expanded size of the tensor \((?P<new>-?\d+)\) must match the existing size "
            r"\((?P<old>\d+)\) "
            r"at non-singleton dimension (?P<dim>\d+)\.?"
            rf"(?:\s{{0,4}}Target sizes: \[(?P<target>[-\d, ]{{0,200}})\]\.\s{{0,4}}Tensor sizes: "
            rf"\[(?P<have>{_L})\])?"
        ),
        _expand,
    ),
    (
        "expand_rank",
        re.compile(
            r"the number of sizes provided \((?P<n>\d+)\) must be greater or equal to the number of "
            r"dimensions "
            r"in the tensor \((?P<nd>\d+)\)"
        ),
        _expand_rank,
    ),
    (
        "expand_rank",
        re.compile(r"Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"),
        _repeat_rank,
    ),
    (
        "broadcast",
        re.compile(
            r"The size of tensor a \((?P<a>\d+)\) must match the size of tensor b \((?P<b>\d+)\) at "
            r"non-singleton dimension (?P<d>\d+)"
        ),
        _broadcast,
    ),
    (
        "view_stride",
        re.compile(r"view size is not compatible with input tensor's size and stride"),
        _view_stride,
    ),
    (
        "reshape_size",
        re.compile(r"shape '\[(?P<shape>[-\d, ]{0,200})\]' is invalid for input of size (?P<numel>\d+)"),
        _reshape_size,
    ),
    ("multiple_infer", re.compile(r"only one dimension can be inferred"), _multiple_infer),
    (
        "unflatten_size",
        re.compile(
            r"unflatten: Provided sizes \[(?P<sizes>[-\d, ]{0,200})\] don't multiply up to the size of dim "
            r"(?P<dim>\d+) \((?P<size>\d+)\)"
        ),
        _unflatten_size,
    ),
    (
        "split_size",
        re.compile(
            r"split_with_sizes expects split_sizes to sum exactly to (?P<total>\d+) \(input tensor's size at "
            rf"dimension (?P<dim>\d+)\), but got split_sizes=\[(?P<sizes>{_L})\]"
        ),
        _split_size,
    ),
    ("flatten_args", re.compile(r"start_dim cannot come after end_dim"), _flatten_args),
    (
        "permute_dims",
        re.compile(
            r"number of dimensions in the tensor input does not match the length of the desired ordering of "
            r"dimensions(?: i\.e\. input\.dim\(\) = (?P<nd>\d+) is not equal to len\(dims\) = (?P<nl>\d+))?"
        ),
        _permute_dims,
    ),
    ("permute_dims", re.compile(r"number of dims don't match in permute(?P<nd>)(?P<nl>)"), _permute_dims),
    (
        "permute_duplicate",
        re.compile(r"permute\(\): duplicate dims are not allowed|repeated dim in permute"),
        _permute_duplicate,
    ),
    (
        "permute_duplicate",
        re.compile(r"dim (?P<dim>-?\d+) appears multiple times in the list of dims"),
        _permute_duplicate,
    ),
    ("t_rank", re.compile(r"t\(\) expects a tensor with <= 2 dimensions, but self is (?P<nd>\d+)D"), _t_rank),
    (
        "dim_range",
        re.compile(
            r"Dimension out of range \(expected to be in range of \[(?P<lo>-?\d+), (?P<hi>-?\d+)\], "
            r"but got (?P<got>-?\d+)\)"
        ),
        _dim_range,
    ),
    (
        "index_range",
        re.compile(r"index (?P<idx>-?\d+) is out of bounds for dimension (?P<dim>\d+) with size (?P<size>\d+)"),
        _index_range,
    ),
    (
        "index_range",
        re.compile(
            rf"select\(\): index (?P<idx>-?\d+) out of range for tensor of size \[(?P<shape>{_L})\] at "
            r"dimension (?P<dim>\d+)"
        ),
        _select_range,
    ),
    (
        "index_range",
        re.compile(r"INDICES element is out of DATA bounds, id=(?P<idx>-?\d+) axis_dim=(?P<size>\d+)"),
        _gather_range,
    ),
    (
        "index_range",
        re.compile(r"start \((?P<start>\d+)\) \+ length \((?P<len>\d+)\) exceeds dimension size \((?P<size>\d+)\)"),
        _narrow,
    ),
    (
        "too_many_indices",
        re.compile(r"too many indices for tensor of dimension (?P<nd>\d+)"),
        _too_many_indices,
    ),
    (
        "mask_shape",
        re.compile(
            rf"The shape of the mask \[(?P<mask>{_L})\] at index \d+ does not match the shape of the indexed "
            rf"tensor \[(?P<tensor>{_L})\]"
        ),
        _mask_shape,
    ),
    ("embedding_index", re.compile(r"index out of range in self"), _embedding_index),
    (
        "cat_size",
        re.compile(
            r"Sizes of tensors must match except in dimension (?P<dim>\d+)\. Expected size (?P<exp>\d+) "
            r"but got "
            r"size (?P<got>\d+) for tensor number (?P<t>\d+)"
        ),
        _cat_size,
    ),
    (
        "cat_size",
        re.compile(
            r"Sizes of tensors must match except in dimension (?P<dim>\d+)\. Got (?P<a>\d+) and "
            r"(?P<b>\d+) in "
            r"dimension (?P<d2>\d+)"
        ),
        _cat_size_old,
    ),
    (
        "cat_rank",
        re.compile(r"Tensors must have same number of dimensions: got (?P<a>\d+) and (?P<b>\d+)"),
        _cat_rank,
    ),
    (
        "stack_size",
        re.compile(
            rf"stack expects each tensor to be equal size, but got \[(?P<s1>{_L})\] at entry (?P<e1>\d+) and "
            rf"\[(?P<s2>{_L})\] at entry (?P<e2>\d+)"
        ),
        _stack_size,
    ),
    ("pad_length", re.compile(r"Padding length must be divisible by 2"), _pad_odd),
    (
        "pad_length",
        re.compile(
            r"Padding length should be less than or equal to two times the input dimension but got padding "
            r"length (?P<n>\d+) and input of dimension (?P<nd>\d+)"
        ),
        _pad_long,
    ),
    (
        "layernorm_shape",
        re.compile(
            rf"Given normalized_shape=\[(?P<ns>{_L})\], expected input with shape \[\*, ?{_L}\], but got "
            r"input "
            rf"of size ?\[(?P<got>{_L})\]"
        ),
        _layernorm,
    ),
    (
        "norm_features",
        re.compile(r"running_mean should contain (?P<got>\d+) elements not (?P<want>\d+)"),
        _norm_features,
    ),
    (
        "loss_batch",
        re.compile(r"Expected input batch_size \((?P<a>\d+)\) to match target batch_size \((?P<b>\d+)\)"),
        _loss_batch,
    ),
    (
        "tuple_input",
        re.compile(
            r"argument 'input' \(position 1\) must be Tensor, not tuple|'tuple' object has no attribute "
            r"'(?:shape|size|view|reshape|permute|transpose|dim|unsqueeze|squeeze|contiguous|flatten|mean)'|"
            r"received an invalid combination of arguments - got \(tuple,"
        ),
        _tuple_input,
    ),
    (
        "model_output",
        re.compile(r"'(?P<cls>\w{0,80}(?:ModelOutput|Output\w{0,40}))' object has no attribute '\w{1,40}'"),
        _model_output,
    ),
    (
        "missing_arg",
        re.compile(
            r"(?:(?P<cls>\w{1,60})\.)?__init__\(\) missing \d+ required positional arguments?: "
            r"(?P<args>[\w', ]{1,200})"
        ),
        _missing_arg,
    ),
    (
        "device_mismatch",
        re.compile(
            r"Expected all tensors to be on the same device|Tensor on device \w+(?::\d+)? is not on the "
            r"expected "
            r"device|Input type \(torch\.cuda\.\w+\) and weight type \(torch\.\w+\) should be the same"
        ),
        _device,
    ),
]

_KWARG = re.compile(r"(?:(?P<cls>\w{1,60})\.)?__init__\(\) got an unexpected keyword argument '(?P<arg>\w{1,60})'")
_EINOPS = re.compile(
    r"Error while processing \w{1,20}(?:-\w{1,20})? pattern[^\n]{0,600}\n[^\n]{0,80}Input tensor "
    r"shape:[^\n]{0,600}"
    r"\n(?P<reason>[^\n]{1,600})"
)

# An exception header at the start of a line: "RuntimeError: ...", "einops.EinopsError: ...".
_HEADER = re.compile(
    r"^[ \t]{0,40}(?P<type>(?:[A-Za-z_]\w{0,60}\.){0,6}[A-Za-z_]\w{0,60}"
    r"(?:Error|Exception|Warning|Refused)):[ \t]?",
    re.MULTILINE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]{0,20}[A-Za-z]")


def _blocks(text: str) -> tuple[list[tuple[str, str]], str]:
    """The exception blocks ``(type, message)`` of a paste, last first, and the text before the first one."""
    headers = list(_HEADER.finditer(text))
    if not headers:
        return [], text
    blocks = []
    for i, h in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        blocks.append((h["type"], text[h.end() : end]))
    return blocks[::-1][:_MAX_BLOCKS], text[: headers[0].start()]


def _match(block: str, ctx: _Ctx) -> tuple[str, str, str, dict[str, Any]] | None:
    m = _EINOPS.search(block)
    if m:
        return _einops(m, ctx, block)
    m = _KWARG.search(block) if "__init__" in block else None
    if m:
        return _kwarg(m, ctx)
    for kind, rx, handler in _RULES:
        m = rx.search(block)
        if m:
            expl, fix, numbers = handler(m, ctx)
            return kind, expl, fix, numbers
    return None


def _first_line(block: str, limit: int = 300) -> str:
    line = block.strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


_NOT_RECOGNIZED = (
    "This doesn't look like a PyTorch shape error we know. We explain: Conv1d/Conv2d channel or rank "
    "mismatches and kernels longer than the input; LSTM/GRU input_size, rank and hidden-state errors; "
    "Linear / matmul 'mat1 and mat2 shapes cannot be multiplied' and bmm sizes; broadcasting and expand; "
    "view/reshape (stride, element count, several -1); permute, dim and index out of range; cat/stack "
    "sizes; F.pad, LayerNorm, BatchNorm; Keras-style arguments (return_sequences, units, filters, "
    "activation); einops pattern errors; dtype/device mismatches."
)
_NOT_RECOGNIZED_FIX = (
    "Paste the whole traceback or at least its last line (e.g. `RuntimeError: mat1 and mat2 shapes cannot be "
    "multiplied (4x640 and 128x2)`), and print `x.shape` right before the failing line."
)


def explain(message: str, context: dict[str, Any] | None = None) -> Explanation:
    """Explain a PyTorch error message or a pasted traceback.

    Args:
        message: one error line, or a whole traceback (the last exception is explained; in a chained
            traceback, earlier exceptions are tried when the last one is not recognized).
        context: optional facts about the failing step: ``input_shape`` (e.g. ``(32, 128, 768)``),
            ``input_axes`` (e.g. ``("batch", "tokens", "hidden")``), ``step`` (source text) and ``layer``
            (``{"kind": "conv1d", "params": {...}}``).

    Returns:
        An :class:`Explanation`; ``recognized`` is False for anything we have no rule for.

    >>> explain("input.size(-1) must be equal to input_size. Expected 768, got 64").kind
    'rnn_input_size'
    """
    text = message if isinstance(message, str) else str(message)
    text = _ANSI.sub("", text[-MAX_SCAN_CHARS:].replace("\r\n", "\n"))
    ctx = _make_ctx(context)
    blocks, before = _blocks(text)
    candidates = [b for _, b in blocks] + ([before] if before.strip() else [])
    for block in candidates:
        found = _match(block, ctx)
        if found:
            kind, expl, fix, numbers = found
            return Explanation(True, kind, expl, fix, numbers, message=_first_line(block))
    last = ""
    if blocks:
        typ, body = blocks[0]
        last = f"{typ}: {_first_line(body)}"
    expl = _NOT_RECOGNIZED
    if last:
        expl = f"We found `{last[:200]}` but have no specific explanation for it. " + expl
    return Explanation(False, "unrecognized", expl, _NOT_RECOGNIZED_FIX, {}, message=last)


def explain_exception(exc: BaseException, context: dict[str, Any] | None = None) -> Explanation:
    """``explain(f"{type(exc).__name__}: {exc}", context)``; a ShapeError's own ``message`` is preferred."""
    inner = getattr(exc, "message", None)
    text = inner if isinstance(inner, str) and inner else str(exc)
    return explain(f"{type(exc).__name__}: {text}", context)
