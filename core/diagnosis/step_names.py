"""The names a step reads, as diagnosis needs them: shape, axis meaning, the stage that bound each one, and the
stages its data passed through — so a warning judges the tensor a step really reads (``out`` of an LSTM three
steps back, ``emb`` fed to a Conv1d), not the previous stage.

The trace keeps one ``NameBook`` per run: ``start`` with the names a pipeline begins with (``x``, ``mask`` /
``attention_mask``, ``input_ids``, ``lengths``, ``labels``), then ``bind`` after every step. A name's *role* says
what it holds: ``source`` (the encoder output or the pooled vector), ``output`` / ``h_n`` / ``c_n`` (a layer's
output and an LSTM/GRU's final states, whatever the user called them), ``value`` (an expression's result),
``loss``, and the inputs ``mask``, ``input_ids``, ``lengths``, ``labels``.

Fixes are written back in the user's words: ``rename`` swaps names inside a step's text (``x`` -> ``out``) by
tokens, never by substring, and ``assignment`` keeps the step's targets (``last = …``).

    >>> rename("x[torch.arange(x.shape[0]), lengths - 1]", {"x": "out"})
    'out[torch.arange(out.shape[0]), lengths - 1]'
    >>> assignment(("out", ("h", "c")), "x.chunk(2)")
    'out, (h, c) = x.chunk(2)'
"""

from __future__ import annotations

import io
import keyword
import tokenize
from dataclasses import dataclass, field, replace
from typing import Any

from core.records import Axis, Stage

STATE_ROLES = ("h_n", "c_n")
NOT_DATA_ROLES = ("mask", "input_ids", "lengths", "labels", "loss")
_START_ROLES = {
    "mask": "mask",
    "attention_mask": "mask",
    "input_ids": "input_ids",
    "lengths": "lengths",
    "labels": "labels",
}


@dataclass(frozen=True)
class Named:
    """One name as a step found it.

    ``stage``: index (in ``trace.stages``) of the stage whose step bound it, None for a name the pipeline starts
    with other than ``x``; ``lineage``: the stages its data passed through (its own binding stage included).
    """

    name: str
    shape: tuple[int, ...]
    axes: tuple[Axis, ...]
    role: str
    stage: int | None = None
    lineage: frozenset[int] = frozenset()
    from_mask: bool = False  # computed from the attention mask (``m = mask.unsqueeze(-1).float()``)
    pad_fill: str | None = None  # masked like the mask: what it holds at every [PAD] position (see ``pad_fill``)

    @property
    def is_data(self) -> bool:
        """True for a tensor of features (not a mask, ids, lengths, labels, a loss or an RNN state)."""
        return self.role not in NOT_DATA_ROLES and self.role not in STATE_ROLES and not self.from_mask


@dataclass
class NameBook:
    """Every name the pipeline holds, kept up to date by the trace (``bind`` after each step).

    ``inputs[k]``: the names the step of stage ``k`` read (its root first), as it found them.
    """

    names: dict[str, Named] = field(default_factory=dict)
    inputs: dict[int, tuple[Named, ...]] = field(default_factory=dict)
    mask: Any = None  # the (batch, tokens) attention mask the pipeline starts with, if any

    @classmethod
    def start(cls, stages: list[Stage], env: dict[str, Any], axes: dict[str, tuple[Axis, ...]]) -> NameBook:
        """The names a pipeline begins with: ``x`` is the last stage (source or pooling)."""
        book = cls(mask=env.get("mask", env.get("attention_mask")))
        lineage = frozenset(range(len(stages)))
        for name, value in env.items():
            shape = _shape(value)
            role = "source" if name == "x" else _START_ROLES.get(name, "value")
            stage = len(stages) - 1 if name == "x" else None
            book.names[name] = Named(name, shape, _fit(axes.get(name, ()), shape), role, stage,
                                     lineage if name == "x" else frozenset(), role == "mask")  # fmt: skip
        return book

    def get(self, name: str | None) -> Named | None:
        return self.names.get(name) if name is not None else None

    def bind(
        self,
        stage: int,
        reads: list[str],
        binds: dict[str, Any],
        axes: dict[str, tuple[Axis, ...]],
        side: dict[str, Any] | None = None,
        kind: str = "expr",
        before: dict[str, Any] | None = None,
    ) -> None:
        """Record the names a step bound at stage ``stage``, having read ``reads`` (root first).

        ``side``: a layer's ``h_n`` / ``c_n`` (a bound value that *is* one of them gets that role); ``kind``:
        ``"expr"`` (role ``value``), ``"loss"`` or a layer kind (role ``output``). A step that only renames
        (``hidden = x``, ``out = output``) binds the very same tensor: the new name keeps what the old one held
        (``before``: the values as the step found them).
        """
        read = tuple(self.names[n] for n in dict.fromkeys(reads) if n in self.names)
        self.inputs[stage] = read
        lineage = frozenset({stage}).union(*(n.lineage for n in read))
        states = {id(v): k for k, v in (side or {}).items() if k in STATE_ROLES}
        held = {id((before or {}).get(n)): n for n in reads if n in (before or {})}
        masked = kind == "expr" and bool(read) and (read[0].from_mask or read[0].role == "mask")
        # data derived from the mask (``scores.masked_fill(mask == 0, -inf)``, then ``softmax``) may be masked like it
        from_mask = kind == "expr" and any(n.role == "mask" or n.from_mask or n.pad_fill for n in read)
        for name, value in binds.items():
            same = held.get(id(value))
            if kind == "expr" and same is not None and same in self.names:  # an alias of a name read
                self.names[name] = replace(self.names[same], name=name)
                continue
            if kind == "expr":
                role = "value"
            elif kind == "loss":
                role = "loss"
            else:
                role = states.get(id(value), "output")
            shape = _shape(value)
            fitted = _fit(axes.get(name, ()), shape)
            fill = pad_fill(value, fitted, self.mask) if from_mask and not masked else None
            self.names[name] = Named(name, shape, fitted, role, stage, lineage, masked, fill)

    def holding(self, stage: int, role: str) -> str | None:
        """The name that still holds stage ``stage``'s ``role`` value (``"h_n"``, ``"output"``), the user's own
        name first (``h`` of ``out, (h, c)``) and ``x`` / ``h_n`` / ``c_n`` last."""
        found = [n.name for n in self.names.values() if n.stage == stage and n.role == role]
        found.sort(key=lambda n: (n in ("x", "h_n", "c_n"), n))
        return found[0] if found else None

    def with_axes(self, name: str, axes: tuple[Axis, ...]) -> None:
        if name in self.names:
            self.names[name] = replace(self.names[name], axes=_fit(axes, self.names[name].shape))


PAD_FILL_LIMIT = 1e4
"""A score at most -1e4 is a masked one: softmax gives it weight 0 (``(1 - mask) * -1e9``, ``-10000.0`` in BERT's
extended attention mask; ``masked_fill(mask == 0, float("-inf"))``)."""


def pad_fill(value: Any, axes: tuple[Axis, ...], mask: Any) -> str | None:
    """What a tensor holds at every [PAD] position of ``mask`` (batch, tokens): ``"zero"`` (weights after a masked
    softmax, ``x * mask``), ``"low"`` (≤ -1e4: masked scores before a softmax or a max), ``"high"`` (≥ 1e4), or None
    (data there, no padding, or no (batch, tokens) dims to read).

    The dims are found by their meaning (``batch`` and ``tokens`` axes), else by size when exactly one dim has the
    mask's batch size and one its length.
    """
    from core.engine.evaluate import first

    data = first(value)
    shape = tuple(getattr(data, "shape", ()))
    mshape = tuple(getattr(mask, "shape", ()))
    if len(mshape) != 2 or len(shape) < 2 or not getattr(data, "is_floating_point", lambda: False)():
        return None
    roles = [a.role for a in axes] if len(axes) == len(shape) else []
    b = next((d for d, r in enumerate(roles) if r == "batch"), None)
    t = next((d for d, r in enumerate(roles) if r == "tokens"), None)
    if b is None or t is None:
        bs = [d for d, n in enumerate(shape) if n == mshape[0]]
        ts = [d for d, n in enumerate(shape) if n == mshape[1] and d not in bs]
        b, t = (bs[0], ts[0]) if len(bs) == 1 and len(ts) == 1 else (None, None)
    if b is None or t is None or b == t or (shape[b], shape[t]) != mshape:
        return None
    pads = mask == 0
    if not bool(pads.any()):
        return None
    at = data.movedim((b, t), (0, 1))[pads]  # (number of [PAD] positions, …)
    if bool((at == 0).all()):
        return "zero"
    if bool((at <= -PAD_FILL_LIMIT).all()):
        return "low"
    if bool((at >= PAD_FILL_LIMIT).all()):
        return "high"
    return None


def step_input(step: Any, book: NameBook | None) -> Named | None:
    """The tensor a step works on, as it found it: a layer's or loss's ``input``, an expression's root."""
    from core.spec import LayerStep, LossStep

    if book is None:
        return None
    if isinstance(step, (LayerStep, LossStep)):
        return book.get(step.input)
    if isinstance(step, str):
        from core.engine.parse import parse_statement

        try:
            return book.get(parse_statement(step).expr.root)
        except Exception:
            return None
    return None


def _shape(value: Any) -> tuple[int, ...]:
    from core.engine.evaluate import first

    return tuple(getattr(first(value), "shape", ()))


def _fit(axes: tuple[Axis, ...], shape: tuple[int, ...]) -> tuple[Axis, ...]:
    from core.diagnosis.axes import fit

    return fit(tuple(axes), tuple(shape))


# ------------------------------------------------------------------------------------ writing fixes back


def rename(source: str, names: dict[str, str]) -> str:
    """``source`` with the names in ``names`` replaced, token by token: an attribute (``.x``), a keyword argument
    (``x=``) and text inside strings are left alone. Returns ``source`` unchanged when it does not tokenize."""
    names = {k: v for k, v in names.items() if k != v}
    if not names:
        return source
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source
    lines = source.splitlines(keepends=True) or [""]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits: list[tuple[int, int, str]] = []
    for k, tok in enumerate(tokens):
        if tok.type != tokenize.NAME or tok.string not in names or keyword.iskeyword(tok.string):
            continue
        before = tokens[k - 1].string if k else ""
        after = tokens[k + 1].string if k + 1 < len(tokens) else ""
        if before == "." or after == "=":
            continue
        start = offsets[tok.start[0] - 1] + tok.start[1]
        end = offsets[tok.end[0] - 1] + tok.end[1]
        edits.append((start, end, names[tok.string]))
    out = source
    for start, end, new in reversed(edits):
        out = out[:start] + new + out[end:]
    return out


def targets_text(targets: Any) -> str:
    """Python's spelling of a statement's targets: ``"w"``, ``"values, indices"``, ``"out, (h, c)"``."""
    if isinstance(targets, str):
        return targets
    return ", ".join(t if isinstance(t, str) else f"({targets_text(t)})" for t in targets)


def assignment(targets: Any, expr: str) -> str:
    """The step ``expr`` bound to ``targets`` (None: a bare step, whose result becomes ``x``)."""
    return expr if targets is None else f"{targets_text(targets)} = {expr}"


def value_text(step: str) -> str | None:
    """The expression of a step as written (the right-hand side of ``a = …``); None for ``a += …`` or bad text."""
    import ast

    try:
        tree = ast.parse(step.strip())
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(tree.body) != 1:
        return None
    node = tree.body[0]
    if isinstance(node, ast.Expr):
        return ast.get_source_segment(step.strip(), node.value)
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        return ast.get_source_segment(step.strip(), node.value)
    return None


def statement_targets(step: str) -> Any:
    """The targets of an expression step (None for a bare one, or one that does not parse)."""
    from core.engine.parse import parse_statement

    try:
        return parse_statement(step).targets
    except Exception:
        return None


def reads(step: Any) -> set[str]:
    """Every name a step reads: an expression's names, a layer's input and h0 / c0, a loss's input and target."""
    from core.engine.parse import names_read, parse_statement
    from core.spec import LayerStep, LossStep

    texts: list[str] = []
    out: set[str] = set()
    if isinstance(step, str):
        texts = [step]
    elif isinstance(step, LayerStep):
        out.add(step.input)
        texts = [t for t in (step.h0, step.c0) if t]
    elif isinstance(step, LossStep):
        out.add(step.input)
        texts = [step.target] if isinstance(step.target, str) else []
    for text in texts:
        try:
            out |= names_read(parse_statement(text))
        except Exception:
            continue
    return out


def binds(step: Any) -> tuple[str, ...]:
    """The names a step binds (``x`` for a bare expression or a default layer; ``loss`` for a loss step)."""
    from core.engine.parse import parse_statement
    from core.spec import LayerStep, LossStep

    if isinstance(step, LayerStep):
        return step.names
    if isinstance(step, LossStep):
        return ("loss",)
    try:
        return parse_statement(step).names
    except Exception:
        return ()


def read_later(steps: tuple[Any, ...], after: int, name: str) -> bool:
    """True when a step after ``after`` reads ``name`` before any step binds it again."""
    for step in steps[after + 1 :]:
        if name in reads(step):
            return True
        if name in binds(step):
            return False
    return False


def fresh(name: str, taken: set[str], suffix: str) -> str:
    """``emb_t``, or ``emb_t2``… — a name no step uses yet."""
    new = f"{name}_{suffix}"
    k = 2
    while new in taken:
        new, k = f"{name}_{suffix}{k}", k + 1
    return new
