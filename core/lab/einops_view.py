"""The einops equivalent of one op of the expression language, from its input and output shapes.

    >>> einops_equivalent(Op("permute", (0, 2, 1)), (32, 128, 768), (32, 768, 128)).code   # (b, l, h) -> (b, h, l)
    'rearrange(x, "b l h -> b h l")'
    >>> einops_equivalent(Op("view", (32, 768, 128)), (32, 128, 768), (32, 768, 128)).code
    'rearrange(x, "b l (h1 h2) -> b (l h1) h2", h1=6)'

The second line is seed 004's ``view``: the einops form shows that it does not swap tokens and features,
it cuts every 768-feature row into 6 pieces of 128 and regroups them.

A reshape (view, reshape, flatten, unflatten, squeeze, unsqueeze, an index that keeps every element...)
has a single einops pattern exactly when the cut points of the two shapes (the products of their leading
sizes) divide one another: then both shapes are groupings of the same elementary axes. Otherwise (e.g.
``(2, 3) -> (3, 2)``) it regroups elements across axis boundaries and needs two patterns.

Axis names follow the tensor through a chain: pass the previous step's ``out_names`` as ``in_names``.
Size-1 axes are always written ``1`` (einops' unit axis).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from core.engine.ops import IndexTensor, Op, Operand, step_layout

__all__ = ["EinopsEquivalent", "default_names", "einops_equivalent", "reshape_pattern", "source_names"]

_LETTERS = "abcdefgijkmnopqrstuvwxyz"  # no l/h (token/hidden names) so fallbacks never collide with them
_REDUCTIONS = {"mean": "mean", "sum": "sum", "amax": "max", "amin": "min"}
_PERMUTES = ("permute", "transpose", "movedim")
_RESHAPES = ("reshape", "view", "flatten", "unflatten", "squeeze", "unsqueeze")
_PARTS = ("index", "narrow", "select", "chunk", "split")


@dataclass(frozen=True)
class EinopsEquivalent:
    """One op written with einops, or why it cannot be.

    function: ``"rearrange"``, ``"reduce"``, ``"repeat"`` or ``""`` when there is no equivalent;
    pattern: e.g. ``"b l h -> b h l"``; sizes: the axis sizes einops needs, e.g. ``(("h1", 6),)``;
    reduction: for reduce (``"mean"``...); note: why there is none, or a remark;
    out_names: axis names of the result, one per dim (feed them to the next step's ``in_names``);
    operands: for ``torch.stack`` the list written as source (``"[x, x]"``) instead of ``x``.
    """

    function: str
    pattern: str
    sizes: tuple[tuple[str, int], ...] = ()
    reduction: str = ""
    note: str = ""
    out_names: tuple[str, ...] = ()
    operands: str = "x"

    @property
    def exists(self) -> bool:
        return bool(self.function)

    @property
    def code(self) -> str:
        """``rearrange(x, "b l h -> b h l")``, or ``no einops equivalent: <why>``."""
        if not self.function:
            return f"no einops equivalent: {self.note}" if self.note else "no einops equivalent"
        red = f", {self.reduction!r}" if self.reduction else ""
        sizes = "".join(f", {k}={v}" for k, v in self.sizes)
        return f'{self.function}({self.operands}, "{self.pattern}"{red}{sizes})'


# ------------------------------------------------------------------------------------------------ names


def source_names(ndim: int) -> tuple[str, ...]:
    """Conventional names for a source tensor: ``(b, l, h)`` for (batch, tokens, hidden)."""
    return {0: (), 1: ("h",), 2: ("l", "h"), 3: ("b", "l", "h"), 4: ("a", "b", "l", "h")}.get(ndim, default_names(ndim))


def default_names(ndim: int) -> tuple[str, ...]:
    """Plain letters (``a b c ...``), used when names cannot be followed through a step."""
    if ndim <= len(_LETTERS):
        return tuple(_LETTERS[:ndim])
    return tuple(f"d{i}" for i in range(ndim))


def _valid(names: tuple[str, ...] | None, ndim: int) -> tuple[str, ...]:
    if names is None:
        return source_names(ndim)
    if len(names) != ndim or len(set(names)) != ndim:
        return default_names(ndim)
    if not all(n.isidentifier() and not n.startswith("_") and not n.endswith("_") for n in names):
        return default_names(ndim)
    return tuple(names)


def _fresh(base: str, used: set[str]) -> str:
    base = "".join(ch for ch in base if ch.isalnum()) or "a"
    if not base[0].isalpha():
        base = "a" + base
    name, k = base, 2
    while name in used:
        name, k = f"{base}{k}", k + 1
    used.add(name)
    return name


def _emit_group(names: list[str], right: list[str], out_names: list[str], used: set[str]) -> None:
    """Append one output axis: a bare name, ``1`` when empty, or a parenthesised group ``(a b)``."""
    if not names:
        right.append("1")
        out_names.append(_fresh("u", used))
    elif len(names) == 1:
        right.append(names[0])
        out_names.append(names[0])
    else:
        right.append("(" + " ".join(names) + ")")
        out_names.append(_fresh("".join(names), used))


def _side(items: list[str]) -> str:
    return " ".join(items)


# --------------------------------------------------------------------------------------------- reshape


def reshape_pattern(
    in_shape: tuple[int, ...], out_shape: tuple[int, ...], in_names: tuple[str, ...] | None = None
) -> tuple[str, tuple[tuple[str, int], ...], tuple[str, ...]] | None:
    """The rearrange pattern of a row-major reshape, or None when no single pattern exists.

    Returns ``(pattern, sizes, out_names)``.

    >>> reshape_pattern((32, 128, 768), (32, 16, 6144))[0]          # (b, l, h) -> (b, t, k*h)
    'b (l1 l2) h -> b l1 (l2 h)'
    """
    in_shape, out_shape = tuple(in_shape), tuple(out_shape)
    if math.prod(in_shape) != math.prod(out_shape) or math.prod(in_shape) == 0:
        return None
    names = _valid(in_names, len(in_shape))
    cuts: set[int] = set()
    for shape in (in_shape, out_shape):
        acc = 1
        for s in shape:
            if s != 1:
                acc *= s
                cuts.add(acc)
    bounds = sorted(cuts)
    if any(b % a for a, b in itertools.pairwise(bounds)):
        return None
    factors = [b // a for a, b in zip([1, *bounds], bounds)]  # elementary axes, outer to inner
    used = {n for n, s in zip(names, in_shape) if s != 1}
    factor_names: list[str] = []
    left: list[str] = []
    sizes: list[tuple[str, int]] = []
    k, acc = 0, 1
    for name, s in zip(names, in_shape):
        if s == 1:
            left.append("1")
            continue
        group: list[int] = []
        target = acc * s
        while acc < target:
            acc *= factors[k]
            group.append(k)
            k += 1
        if len(group) == 1:
            factor_names.append(name)
            left.append(name)
            continue
        used.discard(name)
        parts = [_fresh(f"{name}{i + 1}", used) for i in range(len(group))]
        factor_names.extend(parts)
        left.append("(" + " ".join(parts) + ")")
        sizes.extend((p, factors[g]) for p, g in zip(parts[:-1], group[:-1]))
    right: list[str] = []
    out_names: list[str] = []
    taken = set(factor_names)
    k, acc = 0, 1
    for s in out_shape:
        if s == 1:
            right.append("1")
            out_names.append(_fresh("u", taken))
            continue
        group_names: list[str] = []
        target = acc * s
        while acc < target:
            acc *= factors[k]
            group_names.append(factor_names[k])
            k += 1
        _emit_group(group_names, right, out_names, taken)
    return f"{_side(left)} -> {_side(right)}", tuple(sizes), tuple(out_names)


# ------------------------------------------------------------------------------------------- per op


def _lhs(names: tuple[str, ...], shape: tuple[int, ...]) -> list[str]:
    return ["1" if s == 1 else n for n, s in zip(names, shape)]


def _permutation(op: Op, in_shape: tuple[int, ...]) -> list[int]:
    """The dim order of a permute / transpose / movedim (read off the strides of a marker layout)."""
    ndim = len(in_shape)
    _, order = step_layout(op, (in_shape, tuple(range(ndim))))
    return list(order)


def _reduced_dims(op: Op, ndim: int) -> set[int]:
    dim = op.args[0] if op.args else None
    if dim is None or dim == ():
        return set(range(ndim))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return {d % ndim if ndim else 0 for d in dims}


def _names_after_index(op: Op, names: tuple[str, ...], out_ndim: int) -> tuple[str, ...] | None:
    items = list(op.args)
    if any(isinstance(it, IndexTensor) for it in items):
        return None
    consuming = sum(1 for it in items if it is not None and it is not Ellipsis)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at : at + 1] = [slice(None)] * (len(names) - consuming)
    else:
        items += [slice(None)] * (len(names) - consuming)
    out: list[str] = []
    used = set(names)
    d = 0
    for it in items:
        if it is None:
            out.append(_fresh("u", used))
            continue
        if isinstance(it, slice):
            out.append(names[d])
        d += 1
    return tuple(out) if len(out) == out_ndim else None


def _pattern_names(side: str, fallback_ndim: int) -> tuple[str, ...]:
    """Axis names of the result of an einops pattern's right side (groups joined, ``1`` -> fresh)."""
    from einops.parsing import ParsedExpression

    try:
        parsed = ParsedExpression(side)
    except Exception:  # an unparsable pattern already failed when it ran
        return default_names(fallback_ndim)
    if parsed.has_ellipsis:
        return default_names(fallback_ndim)
    used: set[str] = set()
    out = []
    for group in parsed.composition:
        parts = [str(p) for p in group if isinstance(p, str)]
        out.append(_fresh("".join(parts) if parts else "u", used))
    return tuple(out) if len(out) == fallback_ndim else default_names(fallback_ndim)


def _none(note: str, out_names: tuple[str, ...]) -> EinopsEquivalent:
    return EinopsEquivalent("", "", note=note, out_names=out_names)


def _reshape_eq(in_shape: tuple[int, ...], out_shape: tuple[int, ...], names: tuple[str, ...]) -> EinopsEquivalent:
    found = reshape_pattern(in_shape, out_shape, names)
    if found is None:
        return _none(
            f"this reshape {list(in_shape)} -> {list(out_shape)} regroups elements across axis boundaries "
            "(no axis splits or merges into whole axes), so it takes two patterns: merge everything with "
            '"... -> (...)", then split again',
            default_names(len(out_shape)),
        )
    pattern, sizes, out_names = found
    return EinopsEquivalent("rearrange", pattern, sizes, out_names=out_names)


def _expand_eq(in_shape: tuple[int, ...], out_shape: tuple[int, ...], names: tuple[str, ...]) -> EinopsEquivalent:
    used = set(names)
    lead = len(out_shape) - len(in_shape)
    right: list[str] = []
    sizes: list[tuple[str, int]] = []
    out_names: list[str] = []
    for i, s in enumerate(out_shape):
        d = i - lead
        if d < 0 or (in_shape[d] == 1 and s != 1):
            name = _fresh("n" if d >= 0 else "r", used)
            right.append(name if s != 1 else "1")
            if s != 1:
                sizes.append((name, s))
            out_names.append(name)
        else:
            right.append("1" if s == 1 else names[d])
            out_names.append(names[d])
    pattern = f"{_side(_lhs(names, in_shape))} -> {_side(right)}"
    return EinopsEquivalent("repeat", pattern, tuple(sizes), out_names=tuple(out_names))


def _repeat_eq(op: Op, in_shape: tuple[int, ...], names: tuple[str, ...]) -> EinopsEquivalent:
    reps = tuple(op.args)
    lead = len(reps) - len(in_shape)
    used = set(names)
    right: list[str] = []
    sizes: list[tuple[str, int]] = []
    out_names: list[str] = []
    for i, r in enumerate(reps):
        d = i - lead
        base = names[d] if d >= 0 else None
        keep = [] if base is None or in_shape[d] == 1 else [base]
        if r != 1:
            rn = _fresh("r", used)
            sizes.append((rn, r))
            keep = [rn, *keep]
        _emit_group(keep, right, out_names, used)
    pattern = f"{_side(_lhs(names, in_shape))} -> {_side(right)}"
    return EinopsEquivalent("repeat", pattern, tuple(sizes), out_names=tuple(out_names))


def _reduce_eq(op: Op, in_shape: tuple[int, ...], names: tuple[str, ...]) -> EinopsEquivalent:
    dims = _reduced_dims(op, len(in_shape))
    keep = bool(op.kw("keepdim", False))
    right: list[str] = []
    out_names: list[str] = []
    for d, (n, s) in enumerate(zip(names, in_shape)):
        if d in dims:
            if keep:
                right.append("1")
                out_names.append(n)
        else:
            right.append("1" if s == 1 else n)
            out_names.append(n)
    pattern = f"{_side(_lhs(names, in_shape))} -> {_side(right)}"
    return EinopsEquivalent("reduce", pattern.rstrip(), reduction=_REDUCTIONS[op.name], out_names=tuple(out_names))


def _stack_eq(op: Op, in_shape: tuple[int, ...], names: tuple[str, ...]) -> EinopsEquivalent:
    from core.engine.expr import to_source

    others, dim = op.args
    d = dim % (len(in_shape) + 1)
    used = set(names)
    s = _fresh("s", used)
    left = [s, *_lhs(names, in_shape)]
    right_names = list(names)
    right_names.insert(d, s)
    right = ["1" if n != s and in_shape[names.index(n)] == 1 else n for n in right_names]
    operands = "[" + ", ".join(["x", *(to_source(o.ops, o.root) for o in others if isinstance(o, Operand))]) + "]"
    return EinopsEquivalent(
        "rearrange",
        f"{_side(left)} -> {_side(right)}",
        out_names=tuple(right_names),
        operands=operands,
        note="einops stacks a list along a new first axis, then moves it",
    )


def einops_equivalent(
    op: Op,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    in_names: tuple[str, ...] | None = None,
) -> EinopsEquivalent:
    """The einops form of a bound ``op`` that turned ``in_shape`` into ``out_shape``.

    ``in_names``: axis names of the input (default ``source_names``-style letters); the result's
    ``out_names`` name the output's axes for the next step.

    >>> einops_equivalent(Op("flatten", (1, 2)), (2, 4, 6), (2, 24), ("b", "l", "h")).pattern
    'b l h -> b (l h)'
    """
    in_shape, out_shape = tuple(in_shape), tuple(out_shape)
    names = _valid(in_names, len(in_shape))
    n, same_numel = op.name, math.prod(in_shape) == math.prod(out_shape)
    if n in _PERMUTES:
        order = _permutation(op, in_shape)
        out_names = tuple(names[i] for i in order)
        if order == list(range(len(in_shape))):
            return EinopsEquivalent("rearrange", f"{_side(_lhs(names, in_shape))} -> {_side(_lhs(names, in_shape))}",
                                    out_names=out_names, note="nothing moves")  # fmt: skip
        right = ["1" if in_shape[i] == 1 else names[i] for i in order]
        return EinopsEquivalent("rearrange", f"{_side(_lhs(names, in_shape))} -> {_side(right)}", out_names=out_names)
    if n in _RESHAPES or (n in _PARTS and same_numel):
        if n in _PARTS:
            eq = _reshape_eq(in_shape, out_shape, names)
            if eq.exists:
                return EinopsEquivalent(eq.function, eq.pattern, eq.sizes, note="keeps every element",
                                        out_names=eq.out_names)  # fmt: skip
            return eq
        return _reshape_eq(in_shape, out_shape, names)
    if n in _REDUCTIONS:
        return _reduce_eq(op, in_shape, names)
    if n == "expand":
        return _expand_eq(in_shape, out_shape, names)
    if n == "repeat":
        return _repeat_eq(op, in_shape, names)
    if n in ("rearrange", "reduce"):
        pattern = str(op.args[0])
        right = pattern.split("->", 1)[1] if "->" in pattern else ""
        sizes = tuple((str(k), int(v)) for k, v in op.kwargs)
        return EinopsEquivalent(
            n,
            pattern,
            sizes,
            reduction=str(op.args[1]) if n == "reduce" else "",
            note="written in einops already",
            out_names=_pattern_names(right, len(out_shape)),
        )
    if n == "stack":
        return _stack_eq(op, in_shape, names)
    keep = names if len(out_shape) == len(in_shape) else default_names(len(out_shape))
    if n == "contiguous":
        return _none(
            "a memory-only step (same shape, same data in the same reading order; it only lays the memory "
            "out in that order, and einops has no memory control)",
            names,
        )
    if n == "pad":
        return _none("padding adds new cells; einops only moves the existing elements", keep)
    if n == "cat":
        return _none("rearrange never joins tensors (einops.pack(...) concatenates along a `*` axis)", keep)
    if n == "select":
        d = op.args[0] % len(in_shape)
        return _none(
            "it keeps only part of the tensor; einops always keeps every element",
            tuple(x for i, x in enumerate(names) if i != d),
        )
    if n == "index":
        after = _names_after_index(op, names, len(out_shape))
        return _none(
            "it keeps only part of the tensor; einops always keeps every element (index before or after the rearrange)",
            after or default_names(len(out_shape)),
        )
    if n in _PARTS:
        return _none("it keeps only part of the tensor; einops always keeps every element", keep)
    return _none(f"`{n}` has none", keep)


def describe_names(names: tuple[str, ...]) -> str:
    """``"(b, l, h)"``."""
    return "(" + ", ".join(names) + ")"
