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
class ReshapeReport:
    """Result of :func:`reshape_report`: the output axes, the cuts and whether some dim crosses axes."""

    axes: tuple[Axis, ...]
    cuts: tuple[Cut, ...] = ()
    crossed: bool = False

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
        return ReshapeReport(tuple(in_axes))
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
    for j, b in enumerate(out_shape):
        if b == 1:
            place = math.prod(out_shape[:j])
            match = next((o for o in ones if o[0] == place), None)
            if match is not None:
                ones.remove(match)
            result[j] = in_axes[match[1]] if match is not None else NEW_AXIS
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
    axes = tuple(a if a is not None else generic(j, out_shape[j]) for j, a in enumerate(result))
    return ReshapeReport(axes, tuple(cuts), crossed)


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
