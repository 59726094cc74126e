"""Run op chains: on ``meta`` tensors to predict, on real tensors to run; one code path for both.

Prediction runs each op's torch call on meta tensors (shape, strides and dtype without memory), so torch
itself computes the result layout and raises its own errors. When the meta call fails, the same call is
repeated on uninitialised CPU tensors of the same layout to get the message a CPU run gives (meta kernels word
some errors differently). An op whose result size depends on values (boolean-mask indexing, ``nonzero``,
tensor ``repeats``) raises ``DataDependent``: the prediction stops honestly there.

A real run first checks every op on meta mirrors of its real inputs, so a result over the memory budget
(``MAX_NUMEL`` elements) or an op over the work budget (``MAX_WORK`` multiply-adds for matmul / einsum / pooling)
is refused before it allocates; a data-dependent op is bounded by its inputs (a boolean mask selects at most
what it masks; ``repeat_interleave`` by the sum of its repeats) before it runs, and checked after.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import torch

from core.engine.catalog import OPS, OpDef
from core.engine.chain import IndexList, Layout, Op, Operand, contiguous_strides
from core.engine.values import Const, DeviceOf, Sizes, Spread, SubExpr, TupleE, flatten_sizes, resolve
from core.errors import ExpressionRefused, ShapeError

MAX_NUMEL = 2**27
MAX_WORK = 2**33
LEGACY_VARARGS = ("reshape", "view", "expand", "repeat", "permute")
_CALL_ONLY = ("pick", "tuple", "reflected", "attr")
_WORK_OPS = ("matmul", "bmm", "mm", "baddbmm", "einsum", "max_pool1d", "avg_pool1d", "scaled_dot_product_attention")


class DataDependent(Exception):
    """The op's result shape depends on tensor values (``x[mask.bool()]``): prediction stops at it."""

    def __init__(self, op: Op) -> None:
        super().__init__(f"`{op.source or op.name}`: the result's shape depends on the values")
        self.op = op


def fmt_bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def is_packed(v: Any) -> bool:
    return type(v).__name__ == "PackedSequence"


def tensors_of(v: Any) -> list[torch.Tensor]:
    if isinstance(v, torch.Tensor):
        return [v]
    if is_packed(v):
        return [v.data]
    if isinstance(v, (tuple, list)):
        return [t for item in v for t in tensors_of(item)]
    return []


class Ctx:
    """Where a chain runs: the named values (meta or real), the budgets, torch's warnings seen on the way."""

    def __init__(self, env: dict[str, Any], meta: bool, max_numel: int = MAX_NUMEL, max_work: int = MAX_WORK) -> None:
        self.env = env
        self.meta = meta
        self.max_numel = max_numel
        self.max_work = max_work
        self.warnings: list[tuple[str, str]] = []
        first = next((t for t in env.values() if isinstance(t, torch.Tensor)), None)
        self.default_device = (
            torch.device("meta") if meta else (first.device if first is not None else torch.device("cpu"))
        )

    def get(self, name: str) -> Any:
        if name not in self.env:
            hint = " (h_n and c_n exist after an LSTM/GRU step)" if name in ("h_n", "c_n") else ""
            if name == "input_ids":
                hint = " (input_ids exist for texts, not for a synthetic tensor)"
            raise ExpressionRefused(
                f"`{name}` is not defined here{hint}; available: {', '.join(sorted(self.env)) or 'none'}"
            )
        return self.env[name]

    def shape(self, name: str) -> tuple[int, ...]:
        v = self.get(name)
        if is_packed(v):
            raise ExpressionRefused(f"`{name}` is a PackedSequence: read sizes from `{name}.data`")
        if not isinstance(v, torch.Tensor):
            raise ExpressionRefused(f"`{name}` is not a tensor")
        return tuple(v.shape)

    def dtype(self, name: str) -> Any:
        self.shape(name)
        return self.env[name].dtype

    def device(self, name: str) -> Any:
        self.shape(name)
        return self.env[name].device

    def check(self, op: Op, value: Any, numel: int | None = None) -> None:
        for n in [numel] if numel is not None else [t.numel() for t in tensors_of(value)]:
            if n > self.max_numel:
                raise ExpressionRefused(
                    f"`{op.source or op.name}` would create {n:,} elements ({fmt_bytes(n * 4)} as float32); the limit "
                    f"is {self.max_numel:,} elements ({fmt_bytes(self.max_numel * 4)}); use smaller sizes"
                )

    def check_work(self, op: Op, t: Any, args: tuple, out: Any) -> None:
        if op.name not in _WORK_OPS or not isinstance(out, torch.Tensor):
            return
        work = _work(op, t, args, out)
        if work > self.max_work:
            raise ExpressionRefused(
                f"`{op.source or op.name}` would take about {work:,} multiply-adds; the limit is {self.max_work:,}; "
                "use smaller sizes"
            )


def _work(op: Op, t: Any, args: tuple, out: torch.Tensor) -> int:
    if op.name in ("max_pool1d", "avg_pool1d"):
        return out.numel() * math.prod(args[0] if isinstance(args[0], tuple) else (args[0],))
    if op.name == "einsum":
        return _einsum_work(args[0], [t, *args[1]], out)
    if op.name == "scaled_dot_product_attention":  # q·kᵀ then weights·v
        return 2 * out.numel() * int(args[0].shape[-2]) if args[0].dim() >= 2 else out.numel()
    if op.name == "baddbmm":
        return out.numel() * (int(args[0].shape[-1]) if args[0].dim() else 1)
    other = args[0]
    k = t.shape[-1] if t.dim() else 1
    if op.kw("reflected") and isinstance(other, torch.Tensor):
        k = other.shape[-1] if other.dim() else 1
    return out.numel() * max(int(k), 1)


def _einsum_work(eq: str, operands: list[torch.Tensor], out: torch.Tensor) -> int:
    """Multiply-adds of torch's left-to-right einsum: the iteration space of each pairwise product."""
    lhs = eq.replace(" ", "").split("->")[0].split(",")
    sizes: dict[str, int] = {}
    for term, t in zip(lhs, operands):
        letters = [c for c in term.replace("...", "") if c.isalpha()]
        dims = list(t.shape)
        if "..." in term:
            k = term.index("...")
            lead = len([c for c in term[:k] if c.isalpha()])
            dims = dims[:lead] + dims[len(dims) - (len(letters) - lead) :]
        for c, s in zip(letters, dims):
            sizes[c] = max(sizes.get(c, 1), int(s))
    total = math.prod(sizes.values()) if sizes else 1
    return max(total, out.numel())


# ------------------------------------------------------------------------------------------------- bind


def _coerce(p_kind: str, v: Any, what: str) -> Any:
    if p_kind in ("ints", "int_or_ints", "dims", "sizes", "opt_ints") and isinstance(v, list):
        v = tuple(v)
    if p_kind == "int" and (isinstance(v, bool) or not isinstance(v, int)):
        raise ExpressionRefused(f"{what} must be an int, got {v!r}")
    if p_kind == "ints":
        v = (v,) if isinstance(v, int) and not isinstance(v, bool) else v
        if not isinstance(v, tuple) or not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
            raise ExpressionRefused(f"{what} must be ints, got {v!r}")
    if p_kind in ("num", "opt_num") and v is not None and not isinstance(v, (int, float)):
        raise ExpressionRefused(f"{what} must be a number, got {v!r}")
    return v


def _operand(sub: Any, ctx: Ctx) -> tuple[Operand, Any]:
    """A tensor operand's record and its value (a sub-chain run in the same context)."""
    if isinstance(sub, Operand):  # already bound (step_layout of a bound op): a meta tensor of its layout
        if not ctx.meta:
            raise ExpressionRefused(f"`{sub.source}` must be bound again to run")
        strides = sub.strides or contiguous_strides(tuple(sub.shape))
        dtype = getattr(torch, sub.dtype)
        return sub, torch.empty_strided(tuple(sub.shape), strides, dtype=dtype, device="meta")
    e = sub.expr
    results = eval_chain(e.root, e.ops, ctx)
    root_shape = ctx.shape(e.root) if e.root is not None else None
    t = results[-1][1] if results else ctx.get(e.root)
    if isinstance(t, (tuple, list)):
        t = t[0]
    if not isinstance(t, torch.Tensor):
        raise ExpressionRefused(f"`{e.source}` is not a tensor")
    shapes = (root_shape, *(tuple(first(v).shape) for _, v in results))
    record = Operand(e.root, tuple(op for op, _ in results), shapes, str(t.dtype).replace("torch.", ""), t.stride())
    return record, t


def _spread(sp: Spread, ctx: Ctx) -> tuple[tuple[Operand, ...], tuple[Any, ...]]:
    """The index tensors of a tuple used as a whole index (``x[torch.where(m)]``): one operand record per
    tensor, each the same chain picking its piece (``torch.nonzero(m, as_tuple=True)[k]``)."""
    e = sp.expr
    results = eval_chain(e.root, e.ops, ctx)
    value = results[-1][1] if results else ctx.get(e.root)
    if not isinstance(value, (tuple, list)) or not all(isinstance(t, torch.Tensor) for t in value):
        raise ExpressionRefused(f"`{e.source}` is not a tuple of tensors")
    before = (ctx.shape(e.root) if e.root is not None else None, *(tuple(first(v).shape) for _, v in results[:-1]))
    *ops, last = (op for op, _ in results)
    records = []
    for k, t in enumerate(value):
        picked = Op(last.name, last.args, (*(kv for kv in last.kwargs if kv[0] != "tuple"), ("pick", k)), last.source)
        dtype = str(t.dtype).replace("torch.", "")
        records.append(Operand(e.root, (*ops, picked), (*before, tuple(t.shape)), dtype, t.stride()))
    return tuple(records), tuple(value)


def first(v: Any) -> Any:
    """The tensor a stage shows for a value: itself, the first of a tuple, a PackedSequence's data."""
    if isinstance(v, (tuple, list)) and v:
        return first(v[0])
    return v.data if is_packed(v) else v


def _value(v: Any, ctx: Ctx) -> tuple[Any, Any]:
    """(record value, call value) of one argument."""
    if isinstance(v, (SubExpr, Operand)):
        return _operand(v, ctx)
    if isinstance(v, Spread):
        return _spread(v, ctx)
    if isinstance(v, Const) and isinstance(v.value, tuple) and len(v.value) == 2 and v.value[0] == "list":
        lst = IndexList(tuple(resolve(i, ctx) for i in v.value[1]))
        return lst, lst
    if isinstance(v, tuple) and any(isinstance(i, (SubExpr, Operand)) for i in v):
        pairs = [_value(i, ctx) for i in v]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    r = resolve(v, ctx)
    return r, r


def bind_op(op: Op, ctx: Ctx) -> tuple[Op, tuple, dict]:
    """Resolve an op's symbolic arguments and run its tensor operands: (record, call args, call kwargs)."""
    d = OPS[op.name]
    if op.name in LEGACY_VARARGS and len(op.args) == 1 and isinstance(op.args[0], (Sizes, TupleE)):
        sizes = flatten_sizes(resolve(op.args[0], ctx)) if isinstance(op.args[0], TupleE) else resolve(op.args[0], ctx)
        return Op(op.name, tuple(sizes), (), op.source), tuple(sizes), {}
    pairs = [_value(a, ctx) for a in op.args]
    if op.name == "index":  # a tuple used as the whole index: one index tensor per piece
        pairs = [q for a, p in zip(op.args, pairs) for q in (zip(*p) if isinstance(a, Spread) else [p])]
    rec = [p[0] for p in pairs]
    call = [p[1] for p in pairs]
    if op.name not in ("index", "cat", "stack", "einsum") and op.name not in LEGACY_VARARGS:
        plist = [p for p in d.params if not p.kw and p.kind != "tensors"]
        for i, p in enumerate(plist[: len(rec)]):
            if isinstance(rec[i], (Operand, IndexList)):
                continue
            v = flatten_sizes(call[i]) if p.kind in ("sizes", "ints") and isinstance(call[i], tuple) else call[i]
            rec[i] = call[i] = _coerce(p.kind, v, f"`{p.name}` of `{op.source or op.name}`")
    kw_rec, kw_call = [], {}
    for k, v in op.kwargs:
        r, c = (v, resolve(v, ctx)) if isinstance(v, DeviceOf) else _value(v, ctx)
        kw_rec.append((k, r))
        kw_call[k] = c
    return Op(op.name, tuple(rec), tuple(kw_rec), op.source), tuple(call), kw_call


# ------------------------------------------------------------------------------------------------- call


def _index_item(item: Any, device: Any) -> Any:
    if isinstance(item, IndexList):
        return torch.tensor(item.values, dtype=torch.long, device=device)
    return item


def invoke(d: OpDef, op: Op, t: Any, args: tuple, kwargs: dict) -> Any:
    """Call torch for one op (the same call on meta or real tensors)."""
    import einops

    name = op.name
    attr = kwargs.get("attr")
    if attr:
        return getattr(t, attr)
    kw = {k: v for k, v in kwargs.items() if k not in _CALL_ONLY}
    if name == "index":
        device = t.device if isinstance(t, torch.Tensor) else None
        return t[tuple(_index_item(a, device) for a in args)]
    if name in ("cat", "stack"):
        return getattr(torch, name)([t, *args[0]], dim=args[1])
    if name == "einsum":
        return torch.einsum(args[0], t, *args[1])
    if name in ("rearrange", "reduce", "einops_repeat"):
        fn = {"rearrange": einops.rearrange, "reduce": einops.reduce, "einops_repeat": einops.repeat}[name]
        return fn(t, *args, **kw)
    if d.ctor:
        return d.call(None, args, kw)  # type: ignore[misc]
    if name in ("add", "sub", "mul", "div", "floordiv", "mod", "pow", "matmul", "eq", "ne", "lt", "le", "gt", "ge",
                "and", "or", "xor"):  # fmt: skip
        out = d.call(t, args, {**kw, "reflected": kwargs.get("reflected", False)})  # type: ignore[misc]
    else:
        out = d.call(t, args, kw)  # type: ignore[misc]
    pick = kwargs.get("pick")
    if pick is not None:
        out = getattr(out, pick) if isinstance(pick, str) else out[pick]
    return out


def _meta_twin(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v if v.is_meta else torch.empty_strided(tuple(v.shape), v.stride(), dtype=v.dtype, device="meta")
    if isinstance(v, torch.device):
        return torch.device("meta")
    if isinstance(v, tuple):
        return tuple(_meta_twin(i) for i in v)
    if isinstance(v, list):
        return [_meta_twin(i) for i in v]
    if isinstance(v, dict):
        return {k: _meta_twin(i) for k, i in v.items()}
    return v


def _cpu_twin(v: Any) -> Any:
    """An uninitialised CPU tensor of the same layout (pages are not touched unless torch reads them)."""
    if isinstance(v, torch.Tensor):
        if v.dtype.is_floating_point or v.dtype.is_complex:
            return torch.empty_strided(tuple(v.shape), v.stride(), dtype=v.dtype)
        return (
            torch.zeros(tuple(v.shape), dtype=v.dtype).as_strided(tuple(v.shape), v.stride())
            if (_storage_fits(v))
            else torch.zeros(tuple(v.shape), dtype=v.dtype)
        )
    if isinstance(v, torch.device):
        return torch.device("cpu")
    if isinstance(v, tuple):
        return tuple(_cpu_twin(i) for i in v)
    if isinstance(v, list):
        return [_cpu_twin(i) for i in v]
    if isinstance(v, dict):
        return {k: _cpu_twin(i) for k, i in v.items()}
    return v


def _storage_fits(v: torch.Tensor) -> bool:
    span = sum((s - 1) * st for s, st in zip(v.shape, v.stride()) if s > 0) + 1
    return v.numel() > 0 and span <= v.numel() and all(st >= 0 for st in v.stride())


def _data_dependent(e: BaseException) -> bool:
    if isinstance(e, NotImplementedError):
        return True
    text = str(e).lower()
    return "meta tensor" in text or "meta kernel" in text or "data-dependent" in text or "data dependent" in text


def message(e: BaseException) -> str:
    """torch's own message (einops' first paragraph; Python's for unpacking).

    A c10 error raised inside another op's kernel carries the C++ backtrace after its text ("Exception raised from
    maybe_wrap_dim_slow at …", then "frame #0: …"); the backtrace is cut: it names addresses, not the user's step,
    and its frames differ from one call to the next.

    >>> message(RuntimeError("bad dim\\nException raised from f at x.cpp:12 (most recent call first):\\nframe #0: g"))
    'bad dim'
    """
    return str(e).split("\nException raised from ", 1)[0].strip() or type(e).__name__


def _quiet(fn: Any, *a: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a)


def _reads_values(d: OpDef, op: Op, t: Any, args: tuple, kwargs: dict) -> bool:
    """True when the result's shape depends on values: flagged ops, PackedSequences, tensor split points."""
    if d.data or any(is_packed(v) for v in (t, *args)):
        return True
    if op.name == "tensor_split" and isinstance(args[0], torch.Tensor):
        return True  # the meta kernel cannot read the split points (it would assume zeros)
    return op.name == "one_hot" and args[0] == -1


def _apply_meta(d: OpDef, op: Op, t: Any, args: tuple, kwargs: dict, ctx: Ctx) -> Any:
    if _reads_values(d, op, t, args, kwargs):
        raise DataDependent(op)
    try:
        out = _quiet(invoke, d, op, t, args, kwargs)
    except ExpressionRefused:
        raise
    except Exception as e:
        if _data_dependent(e):
            raise DataDependent(op) from None
        out = _cpu_retry(d, op, t, args, kwargs, e)
    gap = _meta_gap(op, t, args)
    if gap is not None:
        raise ShapeError(gap[0], kind=classify(gap[0]))
    if any(not x.is_meta for x in tensors_of(out)):  # a prediction never holds data
        raise AssertionError(f"`{op.source or op.name}` left the meta device during a prediction")
    ctx.check(op, out)
    ctx.check_work(op, t, args, out)
    return out


# ops whose result can be far larger than their inputs: if meta ever failed where the CPU succeeds, a retry on
# real memory could allocate that result before any budget check, so their meta message is final
GROWING = frozenset({
    "repeat", "expand", "repeat_interleave", "einops_repeat", "matmul", "bmm", "mm", "baddbmm", "einsum",
    "scaled_dot_product_attention", "one_hot", "unfold", "pad", "zeros", "ones", "full", "arange", "eye", "tensor",
    "new_zeros", "new_ones", "new_full", "new_tensor", "zeros_like", "ones_like", "full_like",
})  # fmt: skip


def _cpu_retry(d: OpDef, op: Op, t: Any, args: tuple, kwargs: dict, meta_error: Exception) -> Any:
    if op.name in GROWING or d.ctor:
        raise ShapeError(message(meta_error), kind=classify(message(meta_error))) from None
    try:
        out = _quiet(invoke, d, op, _cpu_twin(t), _cpu_twin(args), _cpu_twin(kwargs))
    except ExpressionRefused:
        raise
    except Exception as e:
        raise ShapeError(message(e), kind=classify(message(e))) from None
    return _meta_twin(out)  # meta refused what the CPU runs: follow the CPU


_GAP_SOFTMAX = ("softmax", "log_softmax")


def _meta_gap(op: Op, t: Any, args: tuple) -> tuple[str] | None:
    """Checks torch's CPU kernels make and their meta kernels skip (found by the OpInfo sweep)."""
    if op.name in _GAP_SOFTMAX and isinstance(t, torch.Tensor) and args and args[0] is not None:
        n = max(t.dim(), 1)
        if not -n <= args[0] < n:
            return (f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {args[0]})",)
    if op.name == "index_select" and len(args) > 1 and isinstance(args[1], torch.Tensor) and args[1].dim() > 1:
        return ("index_select(): Index is supposed to be a vector",)
    if op.name in ("max", "min") and args and isinstance(args[0], int) and isinstance(t, torch.Tensor) and t.dim():
        d = args[0] + t.dim() if args[0] < 0 else args[0]
        if 0 <= d < t.dim() and t.shape[d] == 0:
            return (f"{op.name}(): Expected reduction dim {d} to have non-zero size.",)
    return None


def _data_bound(op: Op, t: Any, args: tuple, kwargs: dict) -> int:
    """An upper bound on the result's numel of a data-dependent op, from the real inputs."""
    try:
        if op.name == "index" and isinstance(t, torch.Tensor):
            items: list[Any] = []
            for a in args:
                if isinstance(a, torch.Tensor) and a.dtype in (torch.bool, torch.uint8):
                    items.extend(_meta_twin(x) for x in a.nonzero(as_tuple=True))
                else:
                    items.append(_meta_twin(_index_item(a, t.device)))
            return _quiet(lambda: _meta_twin(t)[tuple(items)].numel())
        if op.name == "repeat_interleave" and args[0] is None and isinstance(t, torch.Tensor):
            return int(t.clamp(min=0).sum()) if t.numel() else 0  # torch.repeat_interleave(repeats)
        if op.name == "repeat_interleave" and isinstance(args[0], torch.Tensor):
            reps = int(args[0].clamp(min=0).sum()) if args[0].numel() else 0
            dim = args[1]
            rest = t.numel() // max(t.shape[dim], 1) if dim is not None and t.dim() else 1
            return reps * max(rest, 1)
        if op.name == "pad_packed_sequence" and is_packed(t):
            steps = max(len(t.batch_sizes), int(args[2] or 0))
            return steps * int(t.batch_sizes[0]) * math.prod(t.data.shape[1:])
        if op.name == "one_hot" and isinstance(t, torch.Tensor) and args[0] == -1:
            return t.numel() * (int(t.max()) + 1 if t.numel() else 1)
    except Exception:  # the real call reports the problem in torch's words
        pass
    return sum(x.numel() for x in tensors_of((t, args)))


def _apply_real(d: OpDef, op: Op, t: Any, args: tuple, kwargs: dict, ctx: Ctx) -> Any:
    checked = False
    bound = None
    if _reads_values(d, op, t, args, kwargs):
        bound = _data_bound(op, t, args, kwargs)
    else:
        try:
            mt, margs, mkw = _meta_twin(t), _meta_twin(args), _meta_twin(kwargs)
            mo = _quiet(invoke, d, op, mt, margs, mkw)
        except ExpressionRefused:
            raise
        except Exception as e:
            if _data_dependent(e):
                bound = _data_bound(op, t, args, kwargs)
        else:
            ctx.check(op, mo)
            ctx.check_work(op, mt, margs, mo)
            checked = True
    if bound is not None:
        ctx.check(op, None, numel=bound)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            out = invoke(d, op, t, args, kwargs)
    except ExpressionRefused:
        raise
    except Exception as e:
        raise ShapeError(message(e), kind=classify(message(e))) from None
    for w in seen:
        if issubclass(w.category, (UserWarning, DeprecationWarning, FutureWarning)):
            ctx.warnings.append((op.source or op.name, _warning_text(str(w.message))))
    if not checked:
        ctx.check(op, out)
    return out


def _warning_text(text: str) -> str:
    return re.sub(r"\s*\(Triggered internally at [^)]*\)\.?", "", " ".join(text.split()))


def apply(op: Op, t: Any, args: tuple, kwargs: dict, ctx: Ctx) -> Any:
    d = OPS[op.name]
    if not d.ctor and t is None:
        raise ExpressionRefused(f"`{op.source or op.name}` needs a tensor")
    if d.ctor and kwargs.get("device") is None:  # a constructor lives where the chain runs: meta to predict
        kwargs = {**kwargs, "device": ctx.default_device}
    return (_apply_meta if ctx.meta else _apply_real)(d, op, t, args, kwargs, ctx)


def eval_chain(root: str | None, ops: tuple[Op, ...], ctx: Ctx, light: bool = False) -> list[tuple[Op, Any]]:
    """Each op of the chain bound and applied in ``ctx``: ``[(bound op, its value), ...]``.

    ``light``: an intermediate tensor is replaced by its meta twin (same shape, strides, dtype) once the next op
    has used it, so a chain holds only its current input and output, not every intermediate (32 chained
    ``.repeat`` on a 256 MB tensor would otherwise hold 16 GB); the last value stays real.
    """
    value = ctx.get(root) if root is not None else None
    out: list[tuple[Op, Any]] = []
    for op in ops:
        rec, args, kwargs = bind_op(op, ctx)
        try:
            value = apply(rec, value, args, kwargs, ctx)
        except ShapeError as e:  # which tensor the failing op got (the innermost chain's, when an operand fails)
            if e.op_input_shape is None and isinstance(first(value), torch.Tensor):
                e.op_input_shape, e.op_source = tuple(first(value).shape), rec.source or rec.name
            raise
        if light and out and isinstance(out[-1][1], torch.Tensor):
            out[-1] = (out[-1][0], _meta_twin(out[-1][1]))
        out.append((rec, value))
    return out


def meta_layout(op: Op, layout: Layout, dtype: Any = None) -> Layout:
    """(shape, strides) after ``op`` (bound or symbolic) on a meta tensor of ``layout``."""
    t = torch.empty_strided(tuple(layout[0]), tuple(layout[1]), dtype=dtype or torch.float32, device="meta")
    ctx = Ctx({"x": t}, meta=True, max_numel=2**62, max_work=2**62)
    rec, args, kwargs = bind_op(op, ctx)
    out = first(apply(rec, t, args, kwargs, ctx))
    return tuple(out.shape), tuple(out.stride())


# ------------------------------------------------------------------------------------------- classify

_KINDS = (
    ("view size is not compatible", "view_stride"),
    ("only one dimension can be inferred", "reshape_infer"),
    ("tuple index out of range", "chunk_index"),
    ("narrow", "narrow"),
    ("exceeds dimension size", "narrow"),
    ("flatten() has invalid args", "flatten_args"),
    ("repeat dims can not be smaller", "repeat"),
    ("movedim", "movedim"),
    ("step must be greater than zero", "index_step"),
    ("slice step cannot be zero", "index_step"),
    ("mT", "transpose_T"),
    ("matrices or batches of matrices", "transpose_T"),
    ("is invalid for input of size", "reshape_numel"),
    ("Dimension out of range", "dim_range"),
    ("out of bounds", "index_range"),
    ("out of range", "index_range"),
    ("too many indices", "index_count"),
    ("Sizes of tensors must match", "cat_shapes"),
    ("same number of dimensions", "cat_shapes"),
    ("stack expects each tensor", "stack_shapes"),
    ("permute", "permute_dims"),
    ("expanded size", "expand"),
    ("unflatten", "unflatten"),
    ("Padding", "pad"),
    ("processing rearrange-reduction pattern", "einops"),
    ("Error while processing", "einops"),
    ("split", "split"),
    ("chunk", "chunk"),
    ("could not be broadcast", "index"),
    ("must match the size of tensor", "broadcast"),
    ("cannot be multiplied", "matmul"),
    ("batch1 and batch2", "matmul"),
    ("Expected size for first two dimensions of batch2", "matmul"),
    ("dimension mismatch", "matmul"),
    ("both arguments to matmul need to be at least 1D", "matmul"),
    ("non-zero size", "reduce_empty"),
    ("values to unpack", "unpack"),
    ("mask", "mask"),
    ("einsum", "einsum"),
    ("dtype", "dtype"),
    ("result type", "dtype"),
)


def classify(msg: str) -> str:
    """A short category for a torch error message, e.g. ``"view_stride"``; ``"torch"`` if unknown."""
    return next((kind for pattern, kind in _KINDS if pattern in msg), "torch")
