"""Records of a bound chain: ``Op``, ``Operand`` (another tensor an op reads), ``IndexList``.

Every op of a chain is an ``Op`` record of plain values. Its output shape and strides are not predicted by a
rule of ours: ``core.engine.ops.step_layout`` runs the op on ``meta`` tensors, so torch computes them.

Canonical ``Op.args`` of the shape ops (all values concrete after ``bind``; other modules read them):

- ``reshape`` / ``view`` / ``expand`` / ``repeat``: the sizes, e.g. ``(32, 16, -1)``; ``permute``: the dims
- ``transpose``: ``(dim0, dim1)`` (``x.T`` / ``x.mT`` carry ``kwargs=(("attr", "T"),)`` / ``(("attr", "mT"),)``)
- ``flatten``: ``(start_dim, end_dim)``;  ``unflatten``: ``(dim, sizes)``;  ``unsqueeze``: ``(dim,)``
- ``squeeze``: ``(dim,)`` with dim None, an int or a tuple;  ``contiguous``: ``()``
- ``mean`` / ``sum`` / ``amax`` / ``amin``: ``(dim,)`` (None, int or tuple), kwargs ``(("keepdim", bool),)``
- ``chunk``: ``(chunks, dim, pick)``;  ``split``: ``(split_size_or_sections, dim, pick)`` (pick None: unpacked)
- ``narrow``: ``(dim, start, length)``;  ``select``: ``(dim, index)``;  ``movedim``: ``(source, destination)``
- ``index``: the index items: ints, slices, None, Ellipsis, ``Operand`` (a tensor index), ``IndexList``
- ``pad``: ``(pad,)``, kwargs ``mode`` / ``value`` when given
- ``rearrange`` / ``einops_repeat``: ``(pattern,)``;  ``reduce``: ``(pattern, reduction)``; kwargs: axis sizes
- ``cat`` / ``stack``: ``(others, dim)`` where ``others`` is a tuple of ``Operand`` (the chain so far is the first)
- binary ops (``add``, ``mul``, ``matmul``, ``gt`` ...): ``(other,)`` -- an ``Operand`` or a number; kwargs
  ``(("reflected", True),)`` when the tensor is on the right (``1.0 - mask``)
- ``einsum``: ``(equation, others)``; every other op: its torch parameters in torch's order
  (``core.engine.catalog``), kwargs for keyword-only ones; ops that return a tuple carry ``("pick", i)``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.engine.catalog import OPS

Shape = tuple[int, ...]
Layout = tuple[Shape, tuple[int, ...]]  # (shape, strides)
OP_NAMES: tuple[str, ...] = tuple(OPS)


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
class Operand:
    """Another tensor an op reads: a bound chain with its shapes (``x * m.unsqueeze(-1)`` -> ``m.unsqueeze(-1)``).

    shapes: the root's shape (None for a constructor such as ``torch.arange(4)``), then the shape after each op.
    """

    root: str | None
    ops: tuple[Op, ...]
    shapes: tuple[Any, ...]
    dtype: str = "float32"
    strides: tuple[int, ...] | None = field(default=None, compare=False)

    @property
    def shape(self) -> Shape:
        return self.shapes[-1]


IndexTensor = Operand  # the name older modules import for a tensor used as an index


@dataclass(frozen=True)
class IndexList:
    """A list of ints used as an index (``x[:, [0, 2]]``); torch reads it as a long tensor."""

    values: tuple[int, ...]

    @property
    def shape(self) -> Shape:
        return (len(self.values),)


def contiguous_strides(shape: Shape) -> tuple[int, ...]:
    out, acc = [], 1
    for size in reversed(shape):
        out.append(acc)
        acc *= max(size, 1)
    return tuple(reversed(out))
