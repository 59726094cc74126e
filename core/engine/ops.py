"""Per-op shape rules, runners, renderers and descriptions of the expression language.

Every op of a bound chain is an ``Op`` record.  Its output shape is predicted by an independent
pure-Python rule (``predict_op``), never by running torch, so that other modules can reuse the same
dispatch (e.g. to move axis labels).  Rules track strides as well as shapes, because ``view`` succeeds
or fails depending on the strides of its input (``x.permute(0, 2, 1).view(32, -1)`` fails).

Canonical ``Op.args`` per op name (all values concrete after ``bind``):

- ``reshape`` / ``view`` / ``expand`` / ``repeat``: the sizes, e.g. ``(32, 16, -1)``
- ``permute``: the dims, e.g. ``(0, 2, 1)``;  ``transpose``: ``(dim0, dim1)``
  (``x.T`` / ``x.mT`` carry ``kwargs=(("attr", "T"),)`` / ``(("attr", "mT"),)``)
- ``flatten``: ``(start_dim, end_dim)``;  ``unflatten``: ``(dim, sizes)``;  ``unsqueeze``: ``(dim,)``
- ``squeeze``: ``(dim,)`` with dim None, an int or a tuple;  ``contiguous``: ``()``
- ``mean`` / ``sum`` / ``amax`` / ``amin``: ``(dim,)`` (None, int or tuple), kwargs ``(("keepdim", bool),)``
- ``chunk``: ``(chunks, dim, pick)``;  ``split``: ``(split_size_or_sections, dim, pick)``
- ``narrow``: ``(dim, start, length)``;  ``select``: ``(dim, index)``;  ``movedim``: ``(source, destination)``
- ``index``: the index items: ints, slices, None, Ellipsis, ``IndexTensor``
- ``pad``: ``(pad,)``, kwargs ``mode`` / ``value`` when given
- ``rearrange``: ``(pattern,)``;  ``reduce``: ``(pattern, reduction)``; kwargs are the axis sizes
- ``cat`` / ``stack``: ``(others, dim)`` where ``others`` is a tuple of ``Operand`` (the chain so far is
  the first tensor of the list)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from core.errors import ShapeError

Shape = tuple[int, ...]
Layout = tuple[Shape, tuple[int, ...]]  # (shape, strides)


@dataclass(frozen=True)
class Op:
    """One operation of a chain, e.g. ``Op("permute", (0, 2, 1), (), "x.permute(0, 2, 1)")``."""

    name: str
    args: tuple = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    source: str = field(default="", compare=False)  # ops that do the same thing compare equal

    def kw(self, key: str, default: Any = None) -> Any:
        return dict(self.kwargs).get(key, default)


@dataclass(frozen=True)
class IndexTensor:
    """A tensor used as an index: ``torch.arange(n)`` (name None) or ``lengths + offset``."""

    shape: Shape
    name: str | None = None
    offset: int = 0

    @property
    def source(self) -> str:
        if self.name is None:
            return f"torch.arange({self.shape[0]})"
        if self.offset == 0:
            return self.name
        return f"{self.name} {'-' if self.offset < 0 else '+'} {abs(self.offset)}"

    def materialize(self, env: dict[str, torch.Tensor], device: torch.device) -> torch.Tensor:
        if self.name is None:
            return torch.arange(self.shape[0], device=device)
        return env[self.name].to(device) + self.offset


@dataclass(frozen=True)
class Operand:
    """Another tensor of a ``cat`` / ``stack`` list: a bound chain with its predicted shapes."""

    root: str
    ops: tuple[Op, ...]
    shapes: tuple[Shape, ...]  # root shape, then the shape after each op

    @property
    def shape(self) -> Shape:
        return self.shapes[-1]


# ----------------------------------------------------------------------------------------- helpers


def _fail(message: str, kind: str) -> None:
    raise ShapeError(message, kind=kind)


def contiguous_strides(shape: Shape) -> tuple[int, ...]:
    out, acc = [], 1
    for size in reversed(shape):
        out.append(acc)
        acc *= max(size, 1)
    return tuple(reversed(out))


def _wrap(dim: int, ndim: int) -> int:
    n = max(ndim, 1)  # torch treats a 0-d tensor as having the range [-1, 0]
    if not -n <= dim < n:
        _fail(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})", "dim_range")
    return dim + n if dim < 0 else dim


def _wrap_dims(dims: tuple[int, ...], ndim: int) -> list[int]:
    out = [_wrap(d, ndim) for d in dims]
    for d in out:
        if out.count(d) > 1:
            _fail(f"dim {d} appears multiple times in the list of dims", "dim_repeated")
    return out


def _infer_size(sizes: tuple[int, ...], numel: int) -> Shape:
    """torch's ``infer_size``: resolve one -1 in ``sizes`` for a tensor of ``numel`` elements."""
    infer, known = None, 1
    for i, s in enumerate(sizes):
        if s == -1:
            if infer is not None:
                _fail("only one dimension can be inferred", "reshape_infer")
            infer = i
        elif s >= 0:
            known *= s
        else:
            _fail(f"invalid shape dimension {s} at index {i} of shape {list(sizes)}", "reshape_numel")
    if numel == known or (infer is not None and known > 0 and numel % known == 0):
        out = list(sizes)
        if infer is not None:
            if known == 0:
                _fail(
                    f"cannot reshape tensor of 0 elements into shape {list(sizes)} because the unspecified "
                    "dimension size -1 can be any value and is ambiguous",
                    "reshape_numel",
                )
            out[infer] = numel // known
        return tuple(out)
    _fail(f"shape '{list(sizes)}' is invalid for input of size {numel}", "reshape_numel")
    raise AssertionError  # unreachable


def _view_strides(shape: Shape, strides: tuple[int, ...], new: Shape) -> tuple[int, ...] | None:
    """torch's ``computeStride``: strides of ``new`` as a view of (shape, strides), or None if impossible."""
    if not shape:
        return tuple(1 for _ in new)
    numel = math.prod(shape)
    if numel == 0:
        return strides if tuple(shape) == tuple(new) else contiguous_strides(new)
    out = [0] * len(new)
    view_d = len(new) - 1
    chunk_base = strides[-1]
    tensor_numel, view_numel = 1, 1
    for tensor_d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[tensor_d]
        if tensor_d == 0 or (shape[tensor_d - 1] != 1 and strides[tensor_d - 1] != tensor_numel * chunk_base):
            while view_d >= 0 and (view_numel < tensor_numel or new[view_d] == 1):
                out[view_d] = view_numel * chunk_base
                view_numel *= new[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base = strides[tensor_d - 1]
                tensor_numel, view_numel = 1, 1
    if view_d != -1:
        return None
    return tuple(out)


def _reshape_layout(layout: Layout, new: Shape) -> Layout:
    """``reshape`` semantics: a view when strides allow it, else a contiguous copy."""
    strides = _view_strides(layout[0], layout[1], new)
    return new, strides if strides is not None else contiguous_strides(new)


def _permute_layout(layout: Layout, order: list[int]) -> Layout:
    shape, strides = layout
    return tuple(shape[i] for i in order), tuple(strides[i] for i in order)


def _fresh(shape: Shape) -> Layout:
    return tuple(shape), contiguous_strides(tuple(shape))


def _as_tuple(v: Any) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


# ---------------------------------------------------------------------------------------- rules


def _r_reshape(op: Op, layout: Layout) -> Layout:
    new = _infer_size(tuple(op.args), math.prod(layout[0]))
    if op.name == "reshape":
        return _reshape_layout(layout, new)
    strides = _view_strides(layout[0], layout[1], new)
    if strides is None:
        _fail(
            "view size is not compatible with input tensor's size and stride (at least one dimension spans "
            "across two contiguous subspaces). Use .reshape(...) instead.",
            "view_stride",
        )
    return new, strides  # type: ignore[return-value]


def _r_permute(op: Op, layout: Layout) -> Layout:
    ndim, dims = len(layout[0]), tuple(op.args)
    if len(dims) != ndim:
        _fail(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the "
            f"desired ordering of dimensions i.e. input.dim() = {ndim} is not equal to len(dims) = {len(dims)}",
            "permute_dims",
        )
    order = [_wrap(d, ndim) for d in dims]
    if len(set(order)) != len(order):
        _fail("permute(): duplicate dims are not allowed.", "permute_dims")
    return _permute_layout(layout, order)


def _r_transpose(op: Op, layout: Layout) -> Layout:
    ndim, attr = len(layout[0]), op.kw("attr")
    if attr == "T" and ndim != 2:
        _fail(
            f"x.T is only allowed on 2-D tensors here (got a {ndim}-D tensor); use x.mT to swap the last two "
            "dims or x.permute(...) to reorder them",
            "transpose_T",
        )
    if attr == "mT" and ndim < 2:
        _fail(
            f"tensor.mT is only supported on matrices or batches of matrices. Got {ndim}-D tensor.",
            "transpose_T",
        )
    a, b = _wrap(op.args[0], ndim), _wrap(op.args[1], ndim)
    if ndim == 0:
        return layout
    order = list(range(ndim))
    order[a], order[b] = order[b], order[a]
    return _permute_layout(layout, order)


def _r_movedim(op: Op, layout: Layout) -> Layout:
    ndim = len(layout[0])
    src, dst = _as_tuple(op.args[0]), _as_tuple(op.args[1])
    if len(src) != len(dst):
        _fail(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain the same "
            f"number of dims as destination ({list(dst)} dims)",
            "movedim",
        )
    s = [_wrap(d, ndim) for d in src]
    d = [_wrap(v, ndim) for v in dst]
    for name, vals, raw in (("source", s, src), ("destination", d, dst)):
        if len(set(vals)) != len(vals):
            _fail(f"movedim: repeated dim in `{name}` ({list(raw)})", "movedim")
    order: list[int] = [-1] * ndim
    for si, di in zip(s, d):
        order[di] = si
    rest_src = iter(i for i in range(ndim) if i not in s)
    for i in range(ndim):
        if order[i] == -1:
            order[i] = next(rest_src)
    return _permute_layout(layout, order)


def _r_flatten(op: Op, layout: Layout) -> Layout:
    shape = layout[0]
    start, end = _wrap(op.args[0], len(shape)), _wrap(op.args[1], len(shape))
    if not shape:
        return (1,), (1,)
    if start > end:
        _fail("flatten() has invalid args: start_dim cannot come after end_dim", "flatten_args")
    if start == end:
        return layout
    new = (*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])
    return _reshape_layout(layout, new)


def _r_unflatten(op: Op, layout: Layout) -> Layout:
    shape = layout[0]
    if not shape:
        _fail(f"Dimension specified as {op.args[0]} but tensor has no dimensions", "unflatten")
    dim, sizes = _wrap(op.args[0], len(shape)), tuple(op.args[1])
    if not sizes:
        _fail("unflatten: sizes must be non-empty", "unflatten")
    if sizes.count(-1) > 1:
        _fail("only one dimension can be inferred", "unflatten")
    known = math.prod(s for s in sizes if s != -1)
    ok = known == shape[dim] if -1 not in sizes else known > 0 and shape[dim] % known == 0
    if not ok or any(s < -1 for s in sizes):
        _fail(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {op.args[0]} "
            f"({shape[dim]}) in the input tensor",
            "unflatten",
        )
    part = tuple(shape[dim] // known if s == -1 else s for s in sizes)
    new = shape[:dim] + part + shape[dim + 1 :]
    return _reshape_layout(layout, new)


def _r_unsqueeze(op: Op, layout: Layout) -> Layout:
    shape, strides = layout
    d = _wrap(op.args[0], len(shape) + 1)
    st = shape[d] * strides[d] if d < len(shape) else 1
    return (*shape[:d], 1, *shape[d:]), (*strides[:d], st, *strides[d:])


def _keep(layout: Layout, keep: list[int]) -> Layout:
    return tuple(layout[0][i] for i in keep), tuple(layout[1][i] for i in keep)


def _r_squeeze(op: Op, layout: Layout) -> Layout:
    shape, dim = layout[0], op.args[0]
    if dim is None:
        drop = {i for i, s in enumerate(shape) if s == 1}
    else:
        drop = {d for d in _wrap_dims(_as_tuple(dim), len(shape)) if shape and shape[d] == 1}
    return _keep(layout, [i for i in range(len(shape)) if i not in drop])


def _r_reduce_dims(op: Op, layout: Layout) -> Layout:
    shape, dim, keepdim = layout[0], op.args[0], bool(op.kw("keepdim", False))
    dims = set(range(len(shape))) if dim is None or dim == () else set(_wrap_dims(_as_tuple(dim), len(shape)))
    if keepdim:
        return _fresh(tuple(1 if i in dims else s for i, s in enumerate(shape)))
    return _fresh(tuple(s for i, s in enumerate(shape) if i not in dims))


def _piece_sizes(op: Op, size: int) -> list[int]:
    """Sizes of the pieces of ``chunk`` / ``split`` along their dim."""
    if op.name == "chunk":
        chunks = op.args[0]
        if chunks <= 0:
            _fail(f"chunk expects `chunks` to be greater than 0, got: {chunks}", "chunk")
        step = (size + chunks - 1) // chunks
        if step == 0 and size == 0:
            return [0] * chunks
        return _piece_sizes(Op("split", (step,)), size)
    sec = op.args[0]
    if isinstance(sec, tuple):
        if any(s < 0 for s in sec):
            _fail(
                f"split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes={list(sec)}",
                "split",
            )
        if sum(sec) != size:
            _fail(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at "
                f"dimension {op.args[1]}), but got split_sizes={list(sec)}",
                "split",
            )
        return list(sec)
    if sec < 0:
        _fail(f"split expects split_size be non-negative, but got split_size={sec}", "split")
    if sec == 0:
        if size != 0:
            _fail(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}", "split")
        return [0]
    n = max((size + sec - 1) // sec, 1)
    return [sec] * (n - 1) + [size - sec * (n - 1)]


def _r_chunk(op: Op, layout: Layout) -> Layout:
    shape, strides = layout
    if not shape:
        _fail(f"{op.name} expects at least a 1-dimensional tensor", op.name)
    d = _wrap(op.args[1], len(shape))
    pieces, pick = _piece_sizes(op, shape[d]), op.args[2]
    if not -len(pieces) <= pick < len(pieces):
        _fail("tuple index out of range", "chunk_index")
    return (*shape[:d], pieces[pick], *shape[d + 1 :]), strides


def _r_narrow(op: Op, layout: Layout) -> Layout:
    shape, strides = layout
    if not shape:
        _fail("narrow() cannot be applied to a 0-dim tensor.", "narrow")
    d = _wrap(op.args[0], len(shape))
    start, length, size = op.args[1], op.args[2], shape[d]
    if not -size <= start <= size:
        _fail(f"start out of range (expected to be in range of [{-size}, {size}], but got {start})", "narrow")
    start = start + size if start < 0 else start
    if length < 0:
        _fail("narrow(): length must be non-negative.", "narrow")
    if start + length > size:
        _fail(f"start ({start}) + length ({length}) exceeds dimension size ({size}).", "narrow")
    return (*shape[:d], length, *shape[d + 1 :]), strides


def _r_select(op: Op, layout: Layout) -> Layout:
    shape = layout[0]
    if not shape:
        _fail("select() cannot be applied to a 0-dim tensor.", "select")
    d = _wrap(op.args[0], len(shape))
    index = op.args[1]
    if not -shape[d] <= index < shape[d]:
        _fail(
            f"select(): index {index} out of range for tensor of size {list(shape)} at dimension {op.args[0]}",
            "index_range",
        )
    return _keep(layout, [i for i in range(len(shape)) if i != d])


def _r_expand(op: Op, layout: Layout) -> Layout:
    shape, strides = layout
    sizes = tuple(op.args)
    if len(sizes) < len(shape):
        _fail(
            f"expand(torch.FloatTensor{{{list(shape)}}}, size={list(sizes)}): the number of sizes provided "
            f"({len(sizes)}) must be greater or equal to the number of dimensions in the tensor ({len(shape)})",
            "expand",
        )
    out_shape, out_strides = [0] * len(sizes), [0] * len(sizes)
    for i in range(len(sizes) - 1, -1, -1):
        dim = len(shape) - (len(sizes) - i)
        size = shape[dim] if dim >= 0 else 1
        stride = strides[dim] if dim >= 0 else 0
        target = sizes[i]
        if target == -1:
            if dim < 0:
                _fail(
                    f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {i}",
                    "expand",
                )
            target = size
        elif target < 0:
            _fail(f"Trying to create tensor with negative dimension {target}: {list(sizes)}", "expand")
        if size != target:
            if size != 1:
                _fail(
                    f"The expanded size of the tensor ({target}) must match the existing size ({size}) at "
                    f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: {list(shape)}",
                    "expand",
                )
            stride = 0
        out_shape[i], out_strides[i] = target, stride
    return tuple(out_shape), tuple(out_strides)


def _r_repeat(op: Op, layout: Layout) -> Layout:
    shape, reps = layout[0], tuple(op.args)
    if len(reps) < len(shape):
        _fail("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor", "repeat")
    padded = (1,) * (len(reps) - len(shape)) + shape
    out = tuple(a * b for a, b in zip(padded, reps))
    if any(r < 0 for r in reps):
        _fail(f"Trying to create tensor with negative dimension {min(out)}: {list(out)}", "repeat")
    return _fresh(out)


def _broadcast(shapes: list[Shape]) -> Shape:
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(ndim):
        sizes = {s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0} - {1}
        if len(sizes) > 1:
            listed = ", ".join(str(list(s)) for s in shapes)
            _fail(f"shape mismatch: indexing tensors could not be broadcast together with shapes {listed}", "index")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _r_index(op: Op, layout: Layout) -> Layout:
    shape, strides = layout
    items = list(op.args)
    consuming = sum(1 for it in items if it is not None and it is not Ellipsis)
    first = next((it for it in items if it is not None and it is not Ellipsis), None)
    if not shape and isinstance(first, slice):
        _fail("slice() cannot be applied to a 0-dim tensor.", "index_count")
    if not shape and isinstance(first, int):
        _fail(
            "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to "
            "convert a 0-dim tensor to a number",
            "index_count",
        )
    if consuming > len(shape):
        _fail(f"too many indices for tensor of dimension {len(shape)}", "index_count")
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at : at + 1] = [slice(None)] * (len(shape) - consuming)
    else:
        items += [slice(None)] * (len(shape) - consuming)
    out_shape: list[int] = []
    out_strides: list[int] = []
    tensors: list[tuple[int, IndexTensor]] = []
    d = 0
    for pos, it in enumerate(items):
        if it is None:
            out_shape.append(1)
            out_strides.append(out_strides[-1] if out_strides else 1)
            continue
        size = shape[d]
        if isinstance(it, slice):
            step = 1 if it.step is None else it.step
            if step == 0:
                _fail("slice step cannot be zero", "index_step")
            if step < 0:
                _fail("step must be greater than zero", "index_step")
            out_shape.append(len(range(*it.indices(size))))
            out_strides.append(strides[d] * step)
        elif isinstance(it, IndexTensor):
            if it.name is None and it.shape[0] > size:
                _fail(f"index {it.shape[0] - 1} is out of bounds for dimension {d} with size {size}", "index_range")
            tensors.append((len(out_shape), it))
            out_shape.append(-1)
            out_strides.append(0)
        else:
            if not -size <= it < size:
                _fail(f"index {it} is out of bounds for dimension {pos} with size {size}", "index_range")
        d += 1
    if not tensors:
        return tuple(out_shape), tuple(out_strides)
    bshape = _broadcast([t.shape for _, t in tensors])
    positions = [p for p, _ in tensors]
    rest = [s for i, s in enumerate(out_shape) if i not in positions]
    if positions == list(range(positions[0], positions[0] + len(positions))):
        first = positions[0]
        new = tuple(out_shape[:first]) + bshape + tuple(out_shape[positions[-1] + 1 :])
    else:
        new = bshape + tuple(rest)
    return _fresh(new)


def _r_pad(op: Op, layout: Layout) -> Layout:
    shape, pad = layout[0], tuple(op.args[0])
    if len(pad) % 2:
        _fail("Padding length must be divisible by 2", "pad")
    if len(pad) // 2 > len(shape):
        _fail(
            "Padding length should be less than or equal to two times the input dimension but got padding "
            f"length {len(pad)} and input of dimension {len(shape)}",
            "pad",
        )
    out = list(shape)
    for i in range(len(pad) // 2):
        d = len(shape) - 1 - i
        out[d] = shape[d] + pad[2 * i] + pad[2 * i + 1]
        if out[d] < 0:
            _fail("narrow(): length must be non-negative.", "pad")
    return _fresh(tuple(out))


def _r_cat(op: Op, layout: Layout) -> Layout:
    others, dim = op.args
    shapes = [layout[0]] + [o.shape for o in others]
    first = shapes[0]
    if op.name == "stack":
        for i, s in enumerate(shapes[1:], start=1):
            if s != first:
                _fail(
                    f"stack expects each tensor to be equal size, but got {list(first)} at entry 0 and "
                    f"{list(s)} at entry {i}",
                    "stack_shapes",
                )
        d = _wrap(dim, len(first) + 1)
        return _fresh((*first[:d], len(shapes), *first[d:]))
    for s in shapes[1:]:
        if len(s) != len(first):
            _fail(f"Tensors must have same number of dimensions: got {len(first)} and {len(s)}", "cat_shapes")
    if not first:
        _fail("zero-dimensional tensor (at position 0) cannot be concatenated", "cat_shapes")
    d = _wrap(dim, len(first))
    for i, s in enumerate(shapes[1:], start=1):
        for k in range(len(first)):
            if k != d and s[k] != first[k]:
                _fail(
                    f"Sizes of tensors must match except in dimension {d}. Expected size {first[k]} but got size "
                    f"{s[k]} for tensor number {i} in the list.",
                    "cat_shapes",
                )
    return _fresh((*first[:d], sum(s[d] for s in shapes), *first[d + 1 :]))


def _r_contiguous(op: Op, layout: Layout) -> Layout:
    return _fresh(layout[0])


def _einops_sides(pattern: str) -> tuple[Any, Any]:
    from einops import EinopsError
    from einops.parsing import ParsedExpression

    if pattern.count("->") != 1:
        _fail(f'Pattern "{pattern}" should contain exactly one "->"', "einops")
    left, right = pattern.split("->")
    try:
        return ParsedExpression(left), ParsedExpression(right)
    except EinopsError as e:
        _fail(f'Error while processing pattern "{pattern}": {e}', "einops")
        raise


def _r_einops(op: Op, layout: Layout) -> Layout:
    """Shape rule of einops ``rearrange`` / ``reduce`` (patterns parsed by einops' pure-Python parser)."""
    shape, pattern = layout[0], op.args[0]
    left, right = _einops_sides(pattern)
    sizes = dict(op.kwargs)

    def fail(info: str) -> None:
        _fail(
            f'Error while processing {op.name}-reduction pattern "{pattern}". Input tensor shape: '
            f"{list(shape)}. Additional info: {sizes}. {info}",
            "einops",
        )

    def axis_key(ax: Any) -> Any:
        return ax if isinstance(ax, str) else ("anon", id(ax))

    lids = {a for a in left.identifiers if isinstance(a, str)}
    rids = {a for a in right.identifiers if isinstance(a, str)}
    if right.has_non_unitary_anonymous_axes or (left.has_non_unitary_anonymous_axes and op.name == "rearrange"):
        fail("Non-unitary anonymous axes are not supported in rearrange (exception is length 1)")
    if right.has_ellipsis and not left.has_ellipsis:
        fail("Ellipsis found in right side, but not left side of a pattern")
    if op.name == "rearrange" and lids != rids:
        fail(f"Identifiers only on one side of expression (should be on both): {sorted(lids ^ rids)}")
    if op.name == "reduce" and rids - lids:
        fail(f"Unexpected identifiers on the right side of reduce: {sorted(rids - lids)}")
    for name in sizes:
        if name not in lids:
            fail(f"Axis {name} is not used in transform")
    groups: list[list[Any]] = []
    for group in left.composition:
        if group == "\u2026":
            n_ell = len(shape) - (len(left.composition) - 1)
            if n_ell < 0:
                fail(f"Wrong shape: expected >={len(left.composition) - 1} dims. Received {len(shape)}-dim tensor.")
            groups += [[f"\u2026{i}"] for i in range(n_ell)]
        else:
            groups.append(list(group))
    if len(groups) != len(shape):
        fail(f"Wrong shape: expected {len(groups)} dims. Received {len(shape)}-dim tensor.")
    known: dict[Any, int] = {}
    elementary: list[Any] = []
    for group, size in zip(groups, shape):
        fixed, unknown = 1, []
        for ax in group:
            key = axis_key(ax)
            elementary.append(key)
            if isinstance(ax, str) and ax.startswith("\u2026"):
                known[key] = size
                fixed *= size
            elif isinstance(ax, str) and ax not in sizes:
                unknown.append(key)
            else:
                known[key] = sizes[ax] if isinstance(ax, str) else ax.value
                fixed *= known[key]
        if len(unknown) > 1:
            fail(f"Could not infer sizes for {set(unknown)}")
        if unknown:
            if fixed == 0 or size % fixed:
                fail(f"Shape mismatch, can't divide axis of length {size} in chunks of {fixed}")
            known[unknown[0]] = size // fixed
        elif fixed != size:
            fail(f"Shape mismatch, {size} != {fixed}")
    ell = [k for k in elementary if isinstance(k, str) and k.startswith("\u2026")]
    out_groups: list[list[Any]] = []
    for group in right.composition:
        if group == "\u2026":
            out_groups += [[k] for k in ell]
        else:
            out_groups.append([k for ax in group for k in (ell if ax == "\u2026" else [ax])])
    out = tuple(math.prod(known[axis_key(ax)] for ax in g) for g in out_groups)
    if op.name == "reduce":
        return _fresh(out)
    mid = _reshape_layout(layout, tuple(known[k] for k in elementary))
    order_keys = [axis_key(ax) for g in out_groups for ax in g]
    mid = _permute_layout(mid, [elementary.index(k) for k in order_keys])
    return _reshape_layout(mid, out)


RULES: dict[str, Callable[[Op, Layout], Layout]] = {
    "reshape": _r_reshape,
    "view": _r_reshape,
    "permute": _r_permute,
    "transpose": _r_transpose,
    "movedim": _r_movedim,
    "flatten": _r_flatten,
    "unflatten": _r_unflatten,
    "unsqueeze": _r_unsqueeze,
    "squeeze": _r_squeeze,
    "contiguous": _r_contiguous,
    "mean": _r_reduce_dims,
    "sum": _r_reduce_dims,
    "amax": _r_reduce_dims,
    "amin": _r_reduce_dims,
    "chunk": _r_chunk,
    "split": _r_chunk,
    "narrow": _r_narrow,
    "select": _r_select,
    "expand": _r_expand,
    "repeat": _r_repeat,
    "index": _r_index,
    "pad": _r_pad,
    "rearrange": _r_einops,
    "reduce": _r_einops,
    "cat": _r_cat,
    "stack": _r_cat,
}
OP_NAMES: tuple[str, ...] = tuple(RULES)


def step_layout(op: Op, layout: Layout) -> Layout:
    """Predict (shape, strides) after ``op``; raises ShapeError like torch would."""
    return RULES[op.name](op, layout)


def predict_op(op: Op, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape after one op on a contiguous tensor, e.g. ``predict_op(Op("transpose", (1, 2)), (32, 128, 768))``
    -> ``(32, 768, 128)``."""
    shape = tuple(shape)
    return step_layout(op, (shape, contiguous_strides(shape)))[0]


def chain_shapes(root_shape: Shape, ops: tuple[Op, ...], root_strides: tuple[int, ...] | None = None) -> list[Shape]:
    """Shapes after each op of a chain (no budget check)."""
    layout: Layout = (tuple(root_shape), tuple(root_strides or contiguous_strides(tuple(root_shape))))
    out = []
    for op in ops:
        layout = step_layout(op, layout)
        out.append(layout[0])
    return out
