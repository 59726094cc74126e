"""``explain()``: find the exception in a paste, try the rule table on it, return an :class:`Explanation`.

At most ``MAX_SCAN_CHARS`` of the input are scanned and every pattern is linear-time, so a 1 MB paste of junk
returns ``recognized=False`` in milliseconds. Pure Python: no torch import.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from core.diagnosis.explain.context import Ctx, make_ctx
from core.diagnosis.explain.formatting import MAX_SIZE_DIGITS, OversizedNumber
from core.diagnosis.explain.kinds import KINDS
from core.diagnosis.explain.record import Explanation
from core.diagnosis.explain.rules import RULES

__all__ = ["MAX_SCAN_CHARS", "explain", "explain_exception"]

MAX_SCAN_CHARS = 20_000
"""Only the last this-many characters of a paste are scanned (the final exception is at the end)."""

_MAX_BLOCKS = 12  # exception blocks of a chained traceback that are tried, last first

# An exception header at the start of a line: "RuntimeError: ...", "einops.EinopsError: ...".
_HEADER = re.compile(
    r"^[ \t]{0,40}(?P<type>(?:[A-Za-z_]\w{0,60}\.){0,6}[A-Za-z_]\w{0,60}"
    r"(?:Error|Exception|Warning|Refused)):[ \t]?",
    re.MULTILINE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]{0,20}[A-Za-z]")


_FRAMES_CHARS = 4_000  # the traceback's last frames (file lines, source lines, carets) fit in this
_FILE = re.compile(r"File [\"']?(?P<path>[^\n\"',]{0,300})")
_TORCH_INTERNALS = re.compile(r"[/\\]torch[/\\](?:nn|_|autograd|functional|overrides)")


def _blocks(text: str) -> tuple[list[tuple[str, str, str]], str]:
    """The exception blocks ``(type, message, last frame)`` of a paste, last first, and the text before the first.

    The last frame is the traceback text right before the exception header, from its last ``File`` line outside
    torch (``_last_frame``): it names the file and shows the source line that raised.
    """
    headers = list(_HEADER.finditer(text))
    if not headers:
        return [], text
    blocks = []
    for i, h in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        blocks.append((h["type"], text[h.end() : end], _last_frame(text, h.start())))
    return blocks[::-1][:_MAX_BLOCKS], text[: headers[0].start()]


def _last_frame(text: str, end: int) -> str:
    """The traceback from its last frame outside torch's own modules to ``end`` (the exception header).

    ``F.embedding`` or ``Module._call_impl`` frames are skipped, so that a lookup that fails inside torch is
    attributed to the model line that called it (``self.position_embeddings(position_ids)``).
    """
    before = text[max(0, end - _FRAMES_CHARS) : end]
    frames = list(_FILE.finditer(before))
    if not frames:
        return before[-600:]
    outside = [f for f in frames if not _TORCH_INTERNALS.search(f["path"])]
    return before[(outside or frames)[-1].start() :]


def _match(block: str, ctx: Ctx) -> tuple[str, str, str, dict[str, Any]] | None:
    """(kind, explanation, fix, numbers) of the first row of the table that applies to ``block``.

    Raises:
        _Oversized: the row's message quotes a number no tensor size can be (see ``formatting.num``).
    """
    for rule in RULES:
        m = rule.search(block, ctx.frames)
        if m:
            try:
                expl, fix, numbers = rule.handler(m, ctx)
            except OversizedNumber as exc:
                raise _Oversized(rule.kind, exc.digits) from exc
            return rule.kind, expl, fix, numbers
    return None


class _Oversized(Exception):
    def __init__(self, kind: str, digits: int) -> None:
        super().__init__(kind, digits)
        self.kind, self.digits = kind, digits


_LONG_NUMBER = re.compile(rf"\d{{{MAX_SIZE_DIGITS + 1},}}")


def _elide(m: re.Match[str]) -> str:
    return f"{m[0][:4]}…({len(m[0]):,} digits)"


def _oversized(found: _Oversized, line: str) -> Explanation:
    """Not recognized: the wording is known (``found.kind``) but a number in it is longer than any tensor size."""
    expl = (
        f"We found `{line[:200]}`, which reads like “{KINDS.get(found.kind, found.kind)}”, but it quotes a size of "
        f"{found.digits:,} digits. No tensor has such a size (torch sizes and indices are 64-bit integers, at most "
        f"{MAX_SIZE_DIGITS} digits), so the message was edited or garbled and we cannot explain its numbers."
    )
    fix = (
        "Paste the message exactly as Python printed it, and print `x.shape` right before the failing line to see "
        "the real sizes."
    )
    return Explanation(False, "unrecognized", expl, fix, {"digits": found.digits}, message=line)


def _first_line(block: str, limit: int = 300) -> str:
    line = block.strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


_NOT_RECOGNIZED = (
    "This doesn't look like a PyTorch shape error we know. We explain: Conv1d/Conv2d channel or rank "
    "mismatches and kernels longer than the input; LSTM/GRU input_size, rank and initial states (h0/c0); "
    "pack_padded_sequence lengths; losses (batch sizes, BCE target shapes, one-hot targets, class dim, class ids "
    "out of range, CUDA device-side asserts); texts "
    "longer than a model's positions; "
    "Linear / matmul 'mat1 and mat2 shapes cannot be multiplied' and bmm sizes; broadcasting and expand; "
    "view/reshape (stride, element count, several -1); permute, dim and index out of range, index tensors of "
    "different lengths; cat/stack "
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
    ctx = make_ctx(context)
    blocks, before = _blocks(text)
    candidates = [(b, frame) for _, b, frame in blocks] + ([(before, "")] if before.strip() else [])
    for block, frame in candidates:
        try:
            found = _match(block, replace(ctx, frames=frame))
        except _Oversized as exc:
            return _oversized(exc, _first_line(_LONG_NUMBER.sub(_elide, block)))
        if found:
            kind, expl, fix, numbers = found
            return Explanation(True, kind, expl, fix, numbers, message=_first_line(block))
    last = ""
    if blocks:
        typ, body, _ = blocks[0]
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
