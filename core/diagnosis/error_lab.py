"""From a pasted PyTorch error to chains on a synthetic tensor: the failing one and the fix, side by side.

    >>> lab = build_error_lab("RuntimeError: Given groups=1, weight of size [512, 768, 3], expected "
    ...                       "input[32, 128, 768] to have 768 channels, but got 128 channels instead")
    >>> lab.shape, [c.steps for c in lab.chains]        # (b, l, h): Conv1d wants (b, h, l)
    ((32, 128, 768), [('x',), ('x.view(32, 768, 128)',), ('x.permute(0, 2, 1)',)])

The shapes come from ``Explanation.numbers`` (core.diagnosis.explain). Where the message does not give the whole
input shape, a plausible one is chosen and ``shape_note`` says so. Layer steps are not part of the
expression language, so what a layer needs is a ``LayerCheck`` on each chain's result: seed 004's
``view`` passes it (right shape) and still scrambles the data, which the lineage shows.

Nothing here allocates a tensor, and a pasted message may describe any size: every chain is written in the
safe expression language (a size too large for a literal becomes ``x.size(i)``), so the lab draws a small
analogue of it (``core.lab.lineage.plan_drawing``); a chain that still cannot be parsed is dropped, with a
note, rather than drawn at the pasted size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.diagnosis.explain import Explanation, explain
from core.engine.parse import parse_expr
from core.errors import ExpressionRefused

__all__ = ["ErrorLab", "LabChain", "LayerCheck", "build_error_lab", "guess_input_shape"]

ILLUSTRATIVE = (2, 4, 6)  # (batch, tokens, hidden) when the message has no shape
HIDDEN_SIZES = (768, 1024, 384, 512, 256, 128, 64, 32)


@dataclass(frozen=True)
class LayerCheck:
    """What the layer after the chain reads, e.g. Conv1d(in_channels=768) reads dim 1 of a (batch, channels,
    length) input, and dim 0 of an unbatched (channels, length) one (``unbatched_dim``)."""

    layer: str
    dim: int
    size: int
    ranks: tuple[int, ...] = ()
    unbatched_dim: int | None = None

    def check(self, shape: tuple[int, ...]) -> tuple[bool, str]:
        """(accepted, one line saying why) for a chain's result ``shape``."""
        shape = tuple(shape)
        if self.ranks and len(shape) not in self.ranks:
            ranks = " or ".join(f"{r}-D" for r in self.ranks)
            return False, f"{self.layer} needs a {ranks} input; this is {len(shape)}-D {shape}"
        dim = self.dim
        if self.unbatched_dim is not None and self.ranks and len(shape) == min(self.ranks):
            dim = self.unbatched_dim
        if not -len(shape) <= dim < len(shape):
            return False, f"{self.layer} reads dim {dim}, which {shape} does not have"
        got = shape[dim]
        if got == self.size:
            return True, f"{self.layer} reads dim {dim}: {got} ✓ — it runs on {shape}"
        return False, f"{self.layer} reads dim {dim}: {got}, not {self.size} ✗ — the error you pasted"


@dataclass(frozen=True)
class LabChain:
    """One chain of the lab. role: ``failing``, ``wrong`` (runs, wrong data) or ``fixed``.

    compare: show the verdict against the lab's first fixed chain (same shape expected).
    """

    label: str
    role: str
    steps: tuple[str, ...]
    note: str = ""
    layer: LayerCheck | None = None
    compare: bool = False


@dataclass(frozen=True)
class ErrorLab:
    """An explanation plus (when the shapes can be inferred) chains to draw on a synthetic input."""

    explanation: Explanation
    shape: tuple[int, ...] | None = None
    shape_note: str = ""
    chains: tuple[LabChain, ...] = ()
    note: str = ""

    @property
    def fixed(self) -> LabChain | None:
        return next((c for c in self.chains if c.role == "fixed"), None)


def _args(values: list[int] | tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in values)


def _parses(step: str) -> bool:
    try:
        parse_expr(step)
    except ExpressionRefused:
        return False
    return True


def _view(shape: tuple[int, ...], perm: list[int]) -> str:
    """``x.view(...)`` with ``shape`` permuted by ``perm``: literal sizes, or ``x.size(i)`` when a size is too
    large for the expression language's literals (a pasted message may hold any number)."""
    literal = f"x.view({_args([shape[i] for i in perm])})"
    return literal if _parses(literal) else f"x.view({', '.join(f'x.size({i})' for i in perm)})"


def _move_perm(ndim: int, src: int, dst: int) -> list[int]:
    order = [i for i in range(ndim) if i != src]
    order.insert(dst, src)
    return order


def guess_input_shape(numel: int, target: list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """A plausible (batch, tokens, hidden) with ``numel`` elements, batch from the target's first size.

    >>> guess_input_shape(3145728, [32, 16, 6000])
    (32, 128, 768)
    """
    b = target[0] if target and target[0] > 0 and numel % target[0] == 0 else 1
    rest = numel // b
    for h in HIDDEN_SIZES:
        if rest % h == 0 and rest // h > 1:
            return (b, rest // h, h) if b > 1 else (rest // h, h)
    return (b, rest) if b > 1 else (numel,)


# ------------------------------------------------------------------------------------------- per kind


def _conv(e: Explanation) -> ErrorLab:
    n = e.numbers
    shape = tuple(n.get("input_shape") or ())
    exp, got = int(n.get("expected_channels", 0)), int(n.get("got_channels", 0))
    weight = n.get("weight_shape") or []
    nd = max(len(weight) - 2, 1)
    check = LayerCheck(f"Conv{nd}d(in_channels={exp})", 1, exp, (nd + 1, nd + 2), unbatched_dim=0)
    if not shape:
        return ErrorLab(e)
    failing = LabChain("as pasted: fails", "failing", ("x",), f"dim 1 holds {got}, not the {exp} channels", check)
    p = n.get("channels_at_dim")
    if p is None:
        return ErrorLab(
            e,
            shape,
            "the input shape from the message",
            (failing,),
            f"No dim has size {exp}: no reshape fixes this; build the layer with in_channels={got}.",
        )
    perm = _move_perm(len(shape), int(p), 1)
    wrong = LabChain(
        "right shape, scrambled data",
        "wrong",
        (_view(shape, perm),),
        "view keeps the memory order and only regroups it: the layer accepts the shape, but each "
        "channel row now mixes tokens and features",
        check,
        compare=True,
    )
    fixed = LabChain(
        "the fix",
        "fixed",
        (f"x.permute({_args(perm)})",),
        f"moves dim {p} to dim 1; every token keeps its own {exp} features",
        check,
    )
    return ErrorLab(e, shape, "the input shape from the message", (failing, wrong, fixed))


def _reshape(e: Explanation) -> ErrorLab:
    n = e.numbers
    target, numel = list(n.get("target_shape") or []), int(n.get("numel", 0))
    if not target or numel <= 0:
        return ErrorLab(e)
    shape = guess_input_shape(numel, target)
    failing = LabChain("as pasted: fails", "failing", (f"x.reshape({_args(target)})",), "the sizes do not multiply out")
    if "fitting_last_dim" in n and len(target) > 1:
        fix_steps = (f"x.reshape({_args(target[:-1])}, -1)",)
        note = f"-1 lets torch compute the last size: {n['fitting_last_dim']}"
    else:
        fix_steps = ("x.reshape(x.size(0), -1)",)
        note = "keep the batch size, let -1 take the rest"
    fixed = LabChain("the fix", "fixed", fix_steps, note)
    return ErrorLab(
        e,
        shape,
        f"the message gives only the element count ({numel:,}); drawn as {shape}, one input with that many",
        (failing, fixed),
    )


def _view_stride(e: Explanation) -> ErrorLab:
    failing = LabChain(
        "as pasted: fails",
        "failing",
        ("x.transpose(1, 2).view(x.size(0), -1)",),
        "after transpose the memory is not in reading order, so view cannot merge the dims",
    )
    fixed = LabChain(
        "the fix: reshape",
        "fixed",
        ("x.transpose(1, 2).reshape(x.size(0), -1)",),
        "reshape copies the elements into reading order (new memory), then merges",
    )
    also = LabChain(
        "also a fix: contiguous, then view",
        "fixed",
        ("x.transpose(1, 2).contiguous().view(x.size(0), -1)",),
        "the same copy, made explicit",
        compare=True,
    )
    return ErrorLab(
        e,
        ILLUSTRATIVE,
        f"the message gives no shape; drawn on an illustrative {ILLUSTRATIVE} (batch, tokens, hidden)",
        (failing, fixed, also),
    )


def _multiple_infer(e: Explanation) -> ErrorLab:
    failing = LabChain("as pasted: fails", "failing", ("x.reshape(-1, -1)",), "two -1: torch cannot split the rest")
    fixed = LabChain("the fix", "fixed", ("x.reshape(x.size(0), -1)",), "one -1, the other sizes written out")
    return ErrorLab(
        e,
        ILLUSTRATIVE,
        f"the message gives no shape; drawn on an illustrative {ILLUSTRATIVE} (batch, tokens, hidden)",
        (failing, fixed),
    )


def _linear(e: Explanation) -> ErrorLab:
    n = e.numbers
    a, b = (n.get("mat1") or [0, 0])[:2]
    c, d = (n.get("mat2") or [0, 0])[:2]
    shape = tuple(n.get("input_shape") or ())
    check = LayerCheck(f"Linear(in_features={c})", -1, c)
    if shape and len(shape) >= 3 and math.prod(shape[1:]) == c:
        return ErrorLab(
            e,
            shape,
            "the input shape you gave",
            (
                LabChain("as pasted: fails", "failing", ("x",), f"the last dim is {shape[-1]}, not {c}", check),
                LabChain("the fix", "fixed", ("x.flatten(1)",), f"merge all but the batch: {c} features", check),
            ),
        )
    if b > c and c > 0 and b % c == 0 and a > 0:
        k = b // c
        shape = (a, k, c)
        return ErrorLab(
            e,
            shape,
            f"{b:,} = {k} × {c}: drawn as a ({a}, {k}, {c}) (batch, tokens, hidden) input that was flattened",
            (
                LabChain(
                    "as pasted: fails",
                    "failing",
                    ("x.flatten(1)",),
                    f"flattening tokens × hidden gives {b:,} features per sample",
                    check,
                ),
                LabChain(
                    "the fix: mean over tokens",
                    "fixed",
                    ("x.mean(dim=1)",),
                    f"one {c}-vector per sample; every cell mixes all tokens",
                    check,
                ),
                LabChain("or: the first token ([CLS])", "fixed", ("x[:, 0]",), "keeps token 0's features", check),
            ),
        )
    return ErrorLab(
        e,
        note=f"No reshape of the input fixes this one: build the layer for your features, nn.Linear({b}, {d}).",
    )


def _rnn(e: Explanation) -> ErrorLab:
    n = e.numbers
    exp, got = int(n.get("expected_input_size", 0)), int(n.get("got_input_size", 0))
    check = LayerCheck(f"LSTM(input_size={exp})", -1, exp, (2, 3))
    shape = tuple(n.get("input_shape") or ())
    d = n.get("features_at_dim")
    note = "the input shape you gave"
    if not shape:
        shape, d = (2, exp, got), 1
        note = f"the message gives no batch size; drawn as (2, {exp}, {got}), a Conv1d-style (batch, channels, length)"
    if d is None or exp <= 0:
        return ErrorLab(e, note=f"Build the layer for this input: input_size={got}.")
    perm = _move_perm(len(shape), int(d), len(shape) - 1)
    return ErrorLab(
        e,
        shape,
        note,
        (
            LabChain("as pasted: fails", "failing", ("x",), f"the last dim is {shape[-1]}, not {exp}", check),
            LabChain(
                "right shape, scrambled data",
                "wrong",
                (_view(shape, perm),),
                "the LSTM accepts it, but every time step mixes features of different positions",
                check,
                compare=True,
            ),
            LabChain("the fix", "fixed", (f"x.permute({_args(perm)})",), f"moves the {exp} features last", check),
        ),
    )


_BUILDERS = {
    "conv_channels": _conv,
    "reshape_size": _reshape,
    "view_stride": _view_stride,
    "multiple_infer": _multiple_infer,
    "linear_mat": _linear,
    "rnn_input_size": _rnn,
}


def build_error_lab(message: str | Explanation) -> ErrorLab:
    """Explain ``message`` (an error line or a whole traceback) and build the chains that show it.

    Unrecognized or shape-less errors give an ``ErrorLab`` with no chains.
    """
    e = message if isinstance(message, Explanation) else explain(message)
    builder = _BUILDERS.get(e.kind) if e.recognized else None
    if builder is None:
        return ErrorLab(e)
    try:
        lab = builder(e)
    except (TypeError, ValueError, IndexError, KeyError):  # odd numbers in a hand-edited message
        return ErrorLab(e)
    return _drawable(lab)


MAX_NDIM = 6


def _drawable(lab: ErrorLab) -> ErrorLab:
    """The lab as built, or without chains (and a note) when it could not be drawn without allocating the
    pasted sizes: a chain outside the expression language, a rank or a size no tensor could have."""
    if not lab.chains or lab.shape is None:
        return lab
    shape = lab.shape
    steps = [s for c in lab.chains for s in c.steps]
    fits = len(shape) <= MAX_NDIM and all(isinstance(d, int) and 0 < d < 2**62 for d in shape)
    if fits and all(_parses(s) for s in steps):
        return lab
    note = (
        f"The sizes in this message ({_args(shape)}) are too large to draw step by step here; "
        "the explanation and fix above still apply. Try the same steps on a small shape in the lineage mode."
    )
    return ErrorLab(lab.explanation, note=" ".join(n for n in (lab.note, note) if n))
