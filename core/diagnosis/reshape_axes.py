"""Axis labels through reshape / view / flatten / unflatten / einops: composite, or honestly "mixed".

A reshape never moves data: it re-cuts the row-major order into new dims. Each dim covers a range of
"digit places" of that order: dim k of ``(32, 128, 768)`` covers the places from its stride (tokens: 768)
up to stride × size (98,304). An output dim is **clean** when both ends of its range either coincide with
input-dim boundaries or cut one input dim into integer factors; it is then labelled by the pieces it holds:

    >>> [a.label for a in reshape_axes((32, 128, 768), (BATCH, TOKENS, HIDDEN), (32, 16, 6144))]
    ['batch (B)', 'time steps (L/8)', '8·hidden (8·H)']

An end that falls inside one unit of an input dim (6000 values is 7.8125 hidden vectors) is a **cut**; a dim
that glues whole axes to a partial piece of a later axis, like ``view(32, 768, 128)`` on ``(B, L, H)``,
**crosses** axes (gluing batch to groups of tokens, ``(B, L, H) -> (B·2, L/2, H)``, is a batch of windows and
stays clean; so does re-merging parts of one axis). Both are marked ``mixed`` (role ``"mixed"``), and so is
every dim that shares an input dim with a mixed one:

    >>> [a.role for a in reshape_axes((32, 128, 768), (BATCH, TOKENS, HIDDEN), (32, 768, 128))]
    ['batch', 'mixed', 'mixed']
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from fractions import Fraction

from core.records import Axis

BATCH = Axis("batch", "B", "batch")
TOKENS = Axis("tokens", "L", "tokens")
HIDDEN = Axis("hidden", "H", "hidden")
NEW_AXIS = Axis("new axis", "1", "other")
SEQUENCE_ROLES = ("tokens", "time")
FEATURE_ROLES = ("hidden", "features", "channels")


@dataclass(frozen=True)
class Cut:
    """An output boundary that falls inside one unit of input dim ``dim`` (a non-integer split).

    ``boundary``: the flat size of the output block (e.g. 6000); ``unit``: the flat size of one entry of
    the cut dim (e.g. 768 values per token); ``size``: that dim's size.
    """

    dim: int
    axis: Axis
    boundary: int
    unit: int
    size: int

    def describe(self) -> str:
        """``"6,000 = 7.8125 × 768, not a whole number of tokens"``."""
        if self.boundary % self.unit:
            ratio = self.boundary / self.unit
            return f"{self.boundary:,} = {ratio:g} × {self.unit:,}, not a whole number of {self.axis.name}"
        k = self.boundary // self.unit
        return f"{k} does not divide {self.axis.name} ({self.size})"


@dataclass(frozen=True)
class PermutedView:
    """A reshape whose result has the shape of ``x.permute(perm)`` (then merged by ``reshape(out)``), not its data.

    ``perm`` orders every input dim (size-1 dims keep their place); ``merged`` is True when the permuted shape
    still needs merging into ``out`` (``(20, 30, 12, 6) -> (600, 6, 12)``); ``moved``: the input dims that
    changed place. ``split``: the input's elementary shape when an earlier merge is undone first
    (``(4, 80)`` made by flattening (4, 10, 8), viewed as ``(4, 8, 10)``: ``x.reshape(4, 10, 8).permute(0, 2, 1)``);
    then ``perm`` orders the elementary dims.
    """

    perm: tuple[int, ...]
    out: tuple[int, ...]
    merged: bool
    split: tuple[int, ...] | None = None

    @property
    def moved(self) -> tuple[int, ...]:
        return tuple(p for j, p in enumerate(self.perm) if p != j)

    def source(self, root: str = "x", sizes: tuple[int, ...] | None = None) -> str:
        """``x.permute(0, 2, 1)`` or ``x.permute(0, 1, 3, 2).reshape(-1, 6, 12)`` (``sizes`` as written)."""
        text = f"{root}.permute({', '.join(map(str, self.perm))})"
        if self.split is not None:
            text = f"{root}.reshape({', '.join(map(str, self.split))}).permute({', '.join(map(str, self.perm))})"
        if self.merged:
            text += f".reshape({', '.join(map(str, sizes or self.out))})"
        return text


_MAX_PERM_DIMS = 6  # 720 orders at most
_ANALOGUE = (2, 3, 5, 7, 11, 13)  # distinct small sizes: a small tensor with the same dims-of-size-1 pattern


def _merges_into(sizes: list[int], out: list[int]) -> bool:
    """True when ``out`` is ``sizes`` with runs of consecutive dims multiplied together (no split)."""
    i = 0
    for want in out:
        acc = 1
        while i < len(sizes) and acc < want:
            acc *= sizes[i]
            i += 1
        if acc != want:
            return False
    return i == len(sizes)


def _same_data(in_shape: tuple[int, ...], perm: tuple[int, ...]) -> bool:
    """Does ``x.reshape(out)`` hold the same elements in the same places as ``x.permute(perm).reshape(out)``?

    Compared on index tensors, ``arange(numel).view(in_shape)``, on a small analogue (every dim of size > 1 given a
    small distinct size) when the tensor is big: only which dims are size 1 decides the answer.
    """
    import torch

    shape = in_shape
    if math.prod(in_shape) > 4096:
        sizes = iter(_ANALOGUE)
        shape = tuple(1 if s == 1 else next(sizes) for s in in_shape)
    idx = torch.arange(math.prod(shape)).view(shape)
    return bool(torch.equal(idx.permute(perm).flatten(), idx.flatten()))


def permuted_view(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> PermutedView | None:
    """The permutation whose shape a reshape ``in_shape -> out_shape`` copies, when it does not copy its data.

    None when ``out_shape`` is a plain merge of ``in_shape``'s dims in order (flatten, ``view(B, -1)``), or a split
    (``(B, 128, 768) -> (B, 16, 6144)``) that no reordering explains, or when the data agree. Fewest moved dims win.

    >>> permuted_view((100, 12, 6), (100, 6, 12)).source()
    'x.permute(0, 2, 1)'
    >>> permuted_view((20, 30, 12, 6), (600, 6, 12)).source("x", (-1, 6, 12))
    'x.permute(0, 1, 3, 2).reshape(-1, 6, 12)'
    >>> permuted_view((32, 128, 768), (32, 98304)) is None
    True
    """
    import itertools

    in_shape, out_shape = tuple(in_shape), tuple(out_shape)
    if in_shape == out_shape or math.prod(in_shape) != math.prod(out_shape):
        return None
    big = [k for k, s in enumerate(in_shape) if s != 1]
    out = [s for s in out_shape if s != 1]
    sizes = [in_shape[k] for k in big]
    if len(big) > _MAX_PERM_DIMS or len(out) > len(big) or _merges_into(sizes, out):
        return None
    best: tuple[int, tuple[int, ...]] | None = None
    for order in itertools.permutations(range(len(big))):
        moves = sum(1 for j, o in enumerate(order) if o != j)
        if moves == 0 or (best is not None and moves >= best[0]):
            continue
        if _merges_into([sizes[o] for o in order], out):
            best = (moves, order)
    if best is None:
        return None
    full = list(range(len(in_shape)))
    for slot, o in zip(big, best[1]):
        full[slot] = big[o]
    perm = tuple(full)
    if _same_data(in_shape, perm):
        return None
    permuted = tuple(in_shape[p] for p in perm)
    return PermutedView(perm, out_shape, merged=permuted != out_shape)


@dataclass(frozen=True)
class ReshapeReport:
    """Result of :func:`reshape_report`: the output axes, the cuts and whether some dim crosses axes.

    ``sources[j]``: the input dims whose values output dim ``j`` holds (a part or the whole of each), in order;
    ``permuted``: set when the output has the shape of a permutation of the input but not its data
    (:func:`permuted_view`).
    """

    axes: tuple[Axis, ...]
    cuts: tuple[Cut, ...] = ()
    crossed: bool = False
    sources: tuple[tuple[int, ...], ...] = ()
    permuted: PermutedView | None = None

    @property
    def mixed(self) -> bool:
        return any(a.role == "mixed" for a in self.axes)


@dataclass(frozen=True)
class _Atom:
    """Places ``lo .. hi`` (row-major digit places, in units of one entry) of an original axis.

    ``tokens (L)`` itself is ``_Atom(tokens, 128, 1, 128)``; ``time steps (L/8)`` is ``_Atom(tokens, 128, 8,
    128)`` (16 long) and the 8 in ``8·hidden`` is ``_Atom(tokens, 128, 1, 8)``.
    """

    origin: Axis
    size: int
    lo: int
    hi: int

    @property
    def length(self) -> int:
        return self.hi // self.lo

    @property
    def full(self) -> bool:
        return self.lo == 1 and self.hi == self.size


# derived label -> the atoms it is made of, so a later reshape can split or re-merge it
# (flatten then unflatten gives back tokens (L) and hidden (H)); bounded, oldest dropped first
_ORIGINS: dict[Axis, tuple[_Atom, ...]] = {}
_MAX_ORIGINS = 4096


_ORIGINS_LOCK = threading.Lock()  # the app traces in several threads


def _remember(axis: Axis, atoms: tuple[_Atom, ...]) -> Axis:
    with _ORIGINS_LOCK:
        if axis not in _ORIGINS and len(_ORIGINS) >= _MAX_ORIGINS:
            _ORIGINS.pop(next(iter(_ORIGINS)))
        _ORIGINS[axis] = atoms
    return axis


def _atoms(axis: Axis, size: int) -> tuple[_Atom, ...]:
    parts = _ORIGINS.get(axis)
    if parts and math.prod(p.length for p in parts) == size:
        return parts
    return (_Atom(axis, size, 1, size),)


def paren(symbol: str) -> str:
    """``(L·H)`` when a symbol is compound, so ``(L·H)/768`` reads right."""
    return f"({symbol})" if any(c in symbol for c in "·/+−-[") else symbol


def generic(i: int, size: int) -> Axis:
    """A dim we know nothing about: ``dim 2 (d2)``."""
    return Axis(f"dim {i}", f"d{i}", "other")


def _fallback(shape: tuple[int, ...]) -> tuple[Axis, ...]:
    return tuple(generic(i, d) for i, d in enumerate(shape))


def _symbol(p: _Atom) -> str:
    sym = p.origin.symbol or p.origin.name
    if p.full:
        return sym
    if p.hi == p.size:  # the outer part of a split: how many groups
        return f"{paren(sym)}/{p.lo}"
    return str(p.length)


def _single(p: _Atom) -> Axis:
    """One part of a split axis: ``time steps (L/8)`` (outer part) or ``tokens per step (8)`` (inner)."""
    o = p.origin
    seq = o.role in SEQUENCE_ROLES
    if p.hi == p.size:
        name = "time steps" if seq else f"{o.name} groups"
        role = "time" if seq else o.role
        axis = Axis(name, _symbol(p), role, f"{_symbol(p)} = {p.size}/{p.lo} = {p.length}")
    else:
        name = "tokens per step" if seq else f"{o.name} per group"
        axis = Axis(name, _symbol(p), o.role, f"{p.length} of {o.label} ({p.size} = {p.size // p.length} × {p.length})")
    return _remember(axis, (p,))


def _composite(parts: list[_Atom], size: int) -> Axis:
    """Whole axes (the first may be an inner part) merged: ``8·hidden (8·H)``, ``tokens·hidden (L·H)``."""
    names = [p.origin.name if p.full else _single(p).name if p.hi == p.size else str(p.length) for p in parts]
    symbols = [paren(_symbol(p)) for p in parts]
    roles = [p.origin.role for p in parts]
    if roles[0] == "batch":
        role = "batch"
    elif any(r in FEATURE_ROLES for r in roles) or len(set(roles)) > 1:
        role = "features"
    else:
        role = roles[0]
    sizes = " × ".join(str(p.length) for p in parts)
    axis = Axis("·".join(names), "·".join(symbols), role, f"{'·'.join(symbols)} = {sizes} = {size}")
    return _remember(axis, tuple(parts))


def _merge(parts: list[_Atom]) -> list[_Atom]:
    """Adjacent parts of the same axis (outer then inner) become one part."""
    out: list[_Atom] = []
    for p in parts:
        if out and out[-1].origin == p.origin and out[-1].size == p.size and p.hi == out[-1].lo:
            out[-1] = _Atom(p.origin, p.size, p.lo, out[-1].hi)
        else:
            out.append(p)
    return out


def reshape_report(in_shape: tuple[int, ...], in_axes: tuple[Axis, ...], out_shape: tuple[int, ...]) -> ReshapeReport:
    """Labels of ``out_shape`` when a tensor ``in_shape`` labelled ``in_axes`` is reshaped (row-major)."""
    in_shape, out_shape = tuple(in_shape), tuple(out_shape)
    if len(in_axes) != len(in_shape):
        in_axes = _fallback(in_shape)
    if in_shape == out_shape:
        return ReshapeReport(tuple(in_axes), sources=tuple((k,) for k in range(len(in_shape))))
    n = math.prod(in_shape)
    if n == 0 or math.prod(out_shape) != n:
        return ReshapeReport(_fallback(out_shape))
    # expand every input dim into its atoms (a derived label splits back into the parts it was made of)
    atoms: list[tuple[int, _Atom]] = []  # (input dim, atom), outer to inner, size-1 dims left out
    for k, (size, axis) in enumerate(zip(in_shape, in_axes)):
        if size != 1:
            atoms += [(k, a) for a in _atoms(axis, size) if a.length != 1]
    lengths = [a.length for _, a in atoms]
    strides = [math.prod(lengths[e + 1 :]) for e in range(len(atoms))]
    result: list[Axis | None] = [None] * len(out_shape)
    # size-1 dims: keep an input size-1 axis found at the same place of the order, else "new axis"
    ones = [(math.prod(in_shape[:k]), k) for k, a in enumerate(in_shape) if a == 1]
    one_src: dict[int, int] = {}
    for j, b in enumerate(out_shape):
        if b == 1:
            place = math.prod(out_shape[:j])
            match = next((o for o in ones if o[0] == place), None)
            if match is not None:
                ones.remove(match)
            result[j] = in_axes[match[1]] if match is not None else NEW_AXIS
            if match is not None:
                one_src[j] = match[1]
    parts: dict[int, list[_Atom]] = {}
    held: dict[int, dict[int, int]] = {}
    cuts: list[Cut] = []
    why: dict[int, str] = {}
    extra_names: dict[int, list[str]] = {}
    for j, b in enumerate(out_shape):
        if b == 1:
            continue
        lo, hi = math.prod(out_shape[j + 1 :]), math.prod(out_shape[j:])
        found: list[_Atom] = []
        bad: list[Cut] = []
        cover: dict[int, int] = {}  # input dim -> how much of it this output dim holds
        for e, (k, atom) in enumerate(atoms):
            s, length = strides[e], lengths[e]
            start, end = max(lo, s), min(hi, s * length)
            if start >= end:
                continue
            a, z = Fraction(start, s), Fraction(end, s)
            exact = a.denominator == z.denominator == 1 and int(z) % int(a) == 0 and length % int(z) == 0
            if not exact:
                edge = start if a.denominator != 1 or length % int(a) else end
                cut = Cut(k, in_axes[k], edge, s, in_shape[k])
                bad.append(cut)
                if cut not in cuts:
                    cuts.append(cut)
                extra_names.setdefault(j, []).extend(x.origin.name for _, x in atoms[e + 1 :])
            found.append(_Atom(atom.origin, atom.size, atom.lo * int(a), atom.lo * int(z)) if exact else atom)
            cover[k] = cover.get(k, 1) * (int(z / a) if exact else length)
        parts[j] = _merge(found)
        held[j] = cover
        if bad:
            why[j] = "cuts " + "; ".join(dict.fromkeys(c.describe() for c in bad))
    # crossing: whole input dims glued to a part of a later input dim (only the first may be partial), except
    # batch glued to groups of a later axis: (B, L, H) -> (B·2, L/2, H) makes windows, a batch of half-texts
    crossed = False
    for j, cover in held.items():
        dims = list(cover)
        partial_later = any(cover[k] != in_shape[k] for k in dims[1:])
        # ...and judged on the original axes too: (B, 3, 2·H) -> (B, 6, H) re-merges tokens, a clean undo
        ps = parts[j]
        origin_cross = len(ps) > 1 and any(not p.full for p in ps[1:])
        if j not in why and partial_later and origin_cross and any(in_axes[k].role != "batch" for k in dims[:-1]):
            crossed = True
            labels = " and ".join(in_axes[k].label for k in dims)
            why[j] = f"crosses axes: glues {labels} together in memory order, not by meaning"
    changed = True
    while changed:  # a dim holding another part of an input dim that a mixed dim holds is mixed too
        changed = False
        tainted = {k for j in why for k in held[j]}
        for j, cover in held.items():
            if j not in why and any(k in tainted and cover[k] != in_shape[k] for k in cover):
                shared = ", ".join(in_axes[k].label for k in cover if k in tainted)
                why[j] = f"holds a part of {shared}, whose other parts went to a mixed dim"
                changed = True
    for j, ps in parts.items():
        if j in why:
            names = list(dict.fromkeys([p.origin.name for p in ps] + extra_names.get(j, [])))
            result[j] = Axis("mixed " + "·".join(names), str(out_shape[j]), "mixed", why[j])
        elif len(ps) == 1 and ps[0].full:
            result[j] = ps[0].origin
        elif len(ps) == 1:
            result[j] = _single(ps[0])
        else:
            result[j] = _composite(ps, out_shape[j])
    sources = tuple(
        tuple(held[j]) if j in held else ((one_src[j],) if j in one_src else ()) for j in range(len(out_shape))
    )
    axes = tuple(a if a is not None else generic(j, out_shape[j]) for j, a in enumerate(result))
    permuted = permuted_view(in_shape, out_shape)
    moved_atoms: set[int] = set()
    if permuted is None and len(atoms) > len([s for s in in_shape if s != 1]) and all(a.full for _, a in atoms):
        # whole axes merged (tokens·hidden after a flatten) re-cut in the other order: judge the elementary axes
        # (only whole ones: parts of one axis, like (L/8, 8·H), are regroupings whose re-cuts stay regroupings)
        elementary = tuple(lengths)
        inner = permuted_view(elementary, out_shape)
        if inner is not None:
            permuted = PermutedView(inner.perm, inner.out, inner.merged, elementary)
            moved_atoms = {atoms[e][0] for e in inner.moved}
    if permuted is not None:  # the transpose's shape with the memory order's data: every moved dim is scrambled
        moved = set(permuted.moved) if permuted.split is None else moved_atoms
        why_p = f"the shape of `{permuted.source('x')}` but not its data: view/reshape keeps the memory order"
        axes = tuple(
            Axis("mixed " + "·".join(dict.fromkeys(in_axes[k].name for k in sources[j])), str(out_shape[j]), "mixed",
                 why_p)
            if moved & set(sources[j]) and a.role != "mixed" else a
            for j, a in enumerate(axes)
        )  # fmt: skip
    return ReshapeReport(axes, tuple(cuts), crossed, sources, permuted)


def reshape_axes(in_shape: tuple[int, ...], in_axes: tuple[Axis, ...], out_shape: tuple[int, ...]) -> tuple[Axis, ...]:
    """Only the axes of :func:`reshape_report`."""
    return reshape_report(in_shape, in_axes, out_shape).axes


def einops_axes(
    pattern: str,
    sizes: dict[str, int],
    in_shape: tuple[int, ...],
    in_axes: tuple[Axis, ...],
    out_shape: tuple[int, ...],
    reduce: bool = False,
) -> tuple[Axis, ...]:
    """Labels after ``rearrange`` / ``reduce``: split to elementary axes, reorder (drop reduced), merge.

    >>> [a.label for a in einops_axes("b l h -> b h l", {}, (2, 9, 8), (BATCH, TOKENS, HIDDEN), (2, 8, 9))]
    ['batch (B)', 'hidden (H)', 'tokens (L)']
    """
    from einops.parsing import ParsedExpression

    left_s, right_s = pattern.split("->")
    left, right = ParsedExpression(left_s), ParsedExpression(right_s)
    groups: list[list[str]] = []
    for group in left.composition:
        if group == "…":
            n_ell = len(in_shape) - (len(left.composition) - 1)
            groups += [[f"…{i}"] for i in range(n_ell)]
        else:
            groups.append([g if isinstance(g, str) else f"_anon{id(g)}" for g in group])
    if len(groups) != len(in_shape):
        raise ValueError("pattern does not fit the shape")
    elem_names: list[str] = []
    elem_sizes: list[int] = []
    for group, size in zip(groups, in_shape):
        known = {g: sizes[g] for g in group if g in sizes}
        known.update({g: 1 for g in group if g.startswith("_anon")})
        known.update({g: size for g in group if g.startswith("…")})
        unknown = [g for g in group if g not in known]
        fixed = math.prod(known.values())
        if unknown:
            known[unknown[0]] = size // fixed
        elem_names += group
        elem_sizes += [known[g] for g in group]
    mid_axes = reshape_axes(in_shape, in_axes, tuple(elem_sizes))
    ell = [g for g in elem_names if g.startswith("…")]
    order: list[str] = []
    out_groups: list[list[str]] = []
    for group in right.composition:
        if group == "…":
            out_groups += [[g] for g in ell]
        else:
            names = []
            for g in group:
                names += ell if g == "…" else [g] if isinstance(g, str) else []
            out_groups.append(names)
    for group in out_groups:
        order += group
    if not reduce and set(order) != {g for g in elem_names if not g.startswith("_anon")}:
        raise ValueError("identifiers differ between the sides")
    kept = [elem_names.index(g) for g in order]
    perm_shape = tuple(elem_sizes[k] for k in kept)
    perm_axes = tuple(mid_axes[k] for k in kept)
    return reshape_axes(perm_shape, perm_axes, out_shape)
