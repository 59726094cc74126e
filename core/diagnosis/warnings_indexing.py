"""Warnings for an index that picks one position of the sequence: the "last step" of a padded batch or of a
bidirectional LSTM, and notes on what an integer index took.

- ``padded_last_step``: ``x[:, -1, :]`` on a padded batch reads [PAD] for the shorter texts (BERT output or an
  unpacked LSTM/GRU output, batch-first or seq-first, one or two directions).
- ``bidirectional_last_step``: ``x[:, -1, :]`` of a bidirectional LSTM's output: the backward half there has read
  one token (``x[:, 0, :]``: the forward half has).
- ``axis_dropped`` (a note): which position an integer index took.

The states ``h_n`` / ``c_n`` are judged in ``warnings_states``; an index on the batch axis in ``warnings_batch``.
"""

from __future__ import annotations

from typing import Any

from core.diagnosis import axes as ax
from core.diagnosis.finding_tools import OpSite, replace_fix, shorter
from core.diagnosis.reshape_axes import SEQUENCE_ROLES
from core.diagnosis.rnn_states import BOTH_DIRECTIONS, RnnFacts, final_state, gather_last, rnn_facts
from core.records import Finding

LAYER_KINDS = ("lstm", "gru", "conv1d", "linear")


def op_findings(site: OpSite) -> list[Finding]:
    """Warnings and notes for op ``site.k`` when it is an integer index or select on a sequence axis of ``x``."""
    if site.op.name not in ("index", "select") or site.root in ("h_n", "c_n"):
        return []
    out: list[Finding] = []
    notes: list[str] = []
    for d, axis, idx in ax.index_drops(site.op, site.s_in, site.a_in):
        if axis.role not in SEQUENCE_ROLES:
            continue
        size = site.s_in[d]
        found = _position_finding(site, d, idx) if site.root == "x" and site.k == 0 else None
        if found is not None:
            out.append(found)
            continue
        last = idx in (-1, size - 1)
        took = (
            "[CLS] (position 0, the first token of every text)"
            if idx == 0 and axis.role == "tokens" and not any(s.kind in LAYER_KINDS for s in site.stages[:-1])
            else (f"the last position ({axis.symbol} − 1 = {size - 1})" if last else f"position {idx % size}")
        )
        notes.append(f"drops {axis.label}: took {took}")
    if notes:
        out.append(Finding("axis_dropped", f"`{site.step}` " + "; ".join(notes) + ".", severity="note",
                           step_index=site.index))  # fmt: skip
    return out


def _halves(site: OpSite, feat: int, half: int) -> tuple[bool, bool]:
    """Which halves (forward ``[:half]``, backward ``[half:]``) of the feature dim ``feat`` the index keeps."""
    items = _items(site.op, len(site.s_in))
    item = items[feat] if feat < len(items) else slice(None)
    if not isinstance(item, slice):
        return True, True
    kept = range(*item.indices(site.s_in[feat]))
    return any(i < half for i in kept), any(i >= half for i in kept)


def _items(op: Any, ndim: int) -> list[Any]:
    """The index items of an ``index`` op, one per input dim (``...`` expanded, None dropped)."""
    if op.name == "select":
        d = op.args[0] % ndim
        return [slice(None)] * d + [op.args[1]] + [slice(None)] * (ndim - d - 1)
    items = [it for it in op.args if it is not None]
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at : at + 1] = [slice(None)] * (ndim - (len(items) - 1))
    return items + [slice(None)] * (ndim - len(items))


def _position_finding(site: OpSite, d: int, idx: int) -> Finding | None:
    """``x[:, -1, :]`` (or ``x[-1]`` seq-first) on a padded batch or on a bidirectional output."""
    size = site.s_in[d]
    pos = idx % size
    lengths = tuple(site.info.get("lengths") or ())
    padded = bool(site.info.get("padded")) and bool(lengths) and size == max(lengths)
    rnn = rnn_facts(site.stages)
    rnn = rnn if rnn is not None and rnn.is_prev and site.k == 0 else None
    batch_dim = next((j for j, a in enumerate(site.a_in) if a.role == "batch"), None)
    feat = len(site.s_in) - 1
    if rnn is not None and rnn.bidirectional and site.s_in[feat] != 2 * rnn.half:
        rnn = None  # a layout we cannot read halves from
    if rnn is not None and rnn.bidirectional:
        fwd, bwd = _halves(site, feat, rnn.half)
        wrong_bwd = bwd and pos == size - 1 and size > 1
        wrong_fwd = fwd and pos == 0 and size > 1
        if padded and pos == size - 1:
            return _padded_last(site, d, lengths, rnn, batch_dim)
        if wrong_bwd or wrong_fwd:
            return _bidirectional_position(site, d, rnn, wrong_bwd)
        return None
    if padded and pos == size - 1:
        return _padded_last(site, d, lengths, rnn, batch_dim)
    return None


def _padded_last(site: OpSite, d: int, lengths: tuple[int, ...], rnn: RnnFacts | None, batch_dim: int | None):
    prev = site.stages[-2]
    top = max(lengths)
    short = [n for n in lengths if n < top]
    what = (
        f"the {prev.kind.upper()} output after reading [PAD] tokens"
        if rnn is not None
        else "a [PAD] token ([SEP] is last only for the longest text)"
    )
    batch_first = batch_dim == 0 if batch_dim is not None else d == 1
    directions, half = (rnn.directions, rnn.half) if rnn is not None else (1, 0)
    gather = gather_last(batch_first, directions, half)
    msg = (
        f"`{site.step}` takes position {top - 1} (the last of {top}) for every text, but the batch is padded: "
        f"{shorter(short, lengths)} ({', '.join(map(str, short))} real tokens), so for "
        f"them this 'last step' is {what}."
    )
    if rnn is not None and rnn.bidirectional:
        msg += (
            f" The output is bidirectional (forward {rnn.half} then backward {rnn.half} features): the forward "
            "half ends at each text's last real token (`lengths - 1`), the backward half at position 0, where it "
            f"has read the whole text. Take both: `{gather}`"
        )
    else:
        msg += f" Take each text's own last real token with `{gather}`"
    if rnn is not None:
        msg += (
            ", or pack the batch (nn.utils.rnn.pack_padded_sequence) so that h_n holds each text's real last "
            "state — without packing, `h_n[-1]` is this same padded last step."
        )
    else:
        msg += ", or pool with the attention mask (pooling 'mean')."
    fix = None
    if len(site.ops) == 1 and batch_dim is not None and {batch_dim, d} == {0, 1}:
        fix = replace_fix(site.spec, site.stages[:-1], site.index, gather, " (each text's last real token)")
    return Finding("padded_last_step", msg, fix, step_index=site.index)


def _bidirectional_position(site: OpSite, d: int, rnn: RnnFacts, backward: bool) -> Finding:
    size = site.s_in[d]
    kind = rnn.kind
    if backward:
        pos_text = f"the last position ({size - 1})"
        wrong = (
            "the backward half runs from the end of the text, so at the last position it has read one token; "
            f"the forward half there has read all {size}"
        )
    else:
        pos_text = "position 0"
        wrong = (
            "the forward half starts at the beginning, so at position 0 it has read one token; the backward "
            f"half there has read all {size}"
        )
    msg = (
        f"`{site.step}` takes {pos_text} of a bidirectional {kind}'s output, whose last dim is "
        f"2 × {rnn.half}: forward then backward. {wrong[0].upper() + wrong[1:]}. Each direction's final state is "
        f"at its own end: the forward half at the last position, the backward half at position 0 — both are in "
        f"h_n: `{BOTH_DIRECTIONS}` (the last layer's forward and backward states, (batch, {2 * rnn.half}))."
    )
    fix = None
    src = final_state(rnn, padded=False)
    if len(site.ops) == 1 and src is not None:
        fix = replace_fix(site.spec, site.stages[:-1], site.index, src, " (both directions' final states)")
    return Finding("bidirectional_last_step", msg, fix, step_index=site.index)
