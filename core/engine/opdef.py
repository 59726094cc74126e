"""The machinery of the op table (``core.engine.catalog``): parameter records, the signature mini-language and
the builders of torch calls (a method, a function, keyword arguments by torch's names, picks of tuples).

Signature mini-language: ``"dim:int=0|axis, *keepdim:bool=False"`` -- name, kind, default (none = required),
``|`` keyword aliases, a leading ``*`` for a parameter kept in ``Op.kwargs`` rather than ``Op.args``.

    >>> [(p.name, p.kind, p.default, p.aliases, p.kw) for p in _sig("dim:dims=None|axis, *keepdim:bool=False")]
    [('dim', 'dims', None, ('axis',), False), ('keepdim', 'bool', False, (), True)]
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REQ = "<required>"
PAD_MODES = ("constant", "reflect", "replicate", "circular")
REDUCTIONS = ("mean", "sum", "max", "min", "prod", "any", "all")


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


def sizes_call(name: str) -> Callable[..., Any]:
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


def reducer_call(name: str) -> Callable[..., Any]:
    return lambda t, a, k: _reduce(t, a, {**k, "_name": name})


def piece_call(name: str) -> Callable[..., Any]:
    def call(t: Any, a: tuple, k: dict) -> Any:
        out = getattr(t, name)(a[0], a[1])
        return out if len(a) < 3 or a[2] is None else out[a[2]]

    return call


def kw_call(name: str, *params: str, func: str | None = None) -> Callable[..., Any]:
    """Call a torch method (or function) passing the canonical args by their torch names."""
    target = _func(_full(func)) if func else None

    def call(t: Any, a: tuple, k: dict) -> Any:
        kwargs = {p: v for p, v in zip(params, a)}
        kwargs.update(k)
        if target is not None:
            return target(t, (), kwargs)
        return getattr(t, name)(**kwargs)

    return call


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


def binary_call(sym: str) -> Callable[..., Any]:
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


RANDOM_CTORS = ("randn", "rand")


def random_ctor_seed(name: str, shape: tuple[int, ...]) -> int:
    """The seed of a random constructor's own CPU generator: CRC-32 of ``"randn(2, 3)"`` (name and shape).

    The same constructor of the same shape draws the same values on every run (share links, exports, tests
    agree); torch's global generator is never touched.

    >>> random_ctor_seed("randn", (2, 3)) == __import__("zlib").crc32(b"randn(2, 3)")
    True
    """
    import zlib

    return zlib.crc32(f"{name}{tuple(shape)}".encode())


def ctor_call(name: str) -> Callable[..., Any]:
    def call(t: Any, a: tuple, k: dict) -> Any:
        import torch

        k = {key: v for key, v in k.items() if key != "requires_grad"}  # inference only
        fn = getattr(torch, name)
        if name == "arange":
            start, end, step = a
            return fn(start, **k) if end is None else fn(start, end, step, **k)
        if name == "eye":
            return fn(a[0], **k) if a[1] is None else fn(a[0], a[1], **k)
        if name in RANDOM_CTORS and str(k.get("device")) != "meta":
            device = k.pop("device", None)
            generator = torch.Generator().manual_seed(random_ctor_seed(name, tuple(a[0])))
            return (
                fn(*a, generator=generator, **k).to(device) if device is not None else fn(*a, generator=generator, **k)
            )
        return fn(*a, **k)

    return call


def repeat_interleave_call(t: Any, a: tuple, k: dict) -> Any:
    import torch

    if a[0] is None:  # torch.repeat_interleave(repeats): the indices, each repeated
        return torch.repeat_interleave(t, **k)
    return t.repeat_interleave(a[0], dim=a[1], **k)
