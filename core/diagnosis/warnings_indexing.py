"""Warnings for an index that picks one position of the sequence: the "last step" of a padded batch or of a
bidirectional LSTM, and notes on what an integer index took.

- ``padded_last_step``: ``x[:, -1, :]`` on a padded batch reads [PAD] for the shorter texts (BERT output or an
  unpacked LSTM/GRU output, batch-first or seq-first, one or two directions).
- ``bidirectional_last_step``: ``x[:, -1, :]`` of a bidirectional LSTM's output: the backward half there has read
  one token (``x[:, 0, :]``: the forward half has).
- ``axis_dropped`` (a note): which position an integer index took.

Over any name: ``last = out[:, -1, :]`` three steps after the LSTM is judged against that LSTM (found on the data's
path, ``rnn_states.rnn_facts``), and its fix keeps ``last =`` and reads ``out``. The states ``h_n`` / ``c_n`` (or
the user's names for them) are judged in ``warnings_states``; an index on the batch axis in ``warnings_batch``.
"""

from __future__ import annotations

from typing import Any

from core.diagnosis import axes as ax
from core.diagnosis.finding_tools import OpSite, replace_fix, shorter
from core.diagnosis.reshape_axes import SEQUENCE_ROLES
from core.diagnosis.rnn_states import RnnFacts, final_state, gather_last, rnn_facts
from core.diagnosis.step_names import NOT_DATA_ROLES
from core.records import Finding

LAYER_KINDS = ("lstm", "gru", "conv1d", "linear")


def op_findings(site: OpSite) -> list[Finding]:
    """Warnings and notes for op ``site.k`` when it is an integer index or select on a sequence axis of ``x``."""
    if site.op.name not in ("index", "select") or site.is_state or site.role in NOT_DATA_ROLES:
        return []
    out: list[Finding] = []
    notes: list[str] = []
    for d, axis, idx in ax.index_drops(site.op, site.s_in, site.a_in):
        if axis.role not in SEQUENCE_ROLES:
            continue
        size = site.s_in[d]
        found = _position_finding(site, d, idx) if site.k == 0 else None
        if found is not None:
            out.append(found)
            continue
        last = idx in (-1, size - 1)
        took = (
            "[CLS] (position 0, the first token of every text)"
            if idx == 0 and axis.role == "tokens" and not _after_layer(site)
            else (f"the last position ({axis.symbol} − 1 = {size - 1})" if last else f"position {idx % size}")
        )
        notes.append(f"drops {axis.label}: took {took}")
    if notes:
        out.append(Finding("axis_dropped", f"`{site.step}` " + "; ".join(notes) + ".", severity="note",
                           step_index=site.index))  # fmt: skip
    return out


def _after_layer(site: OpSite) -> bool:
    """True when the indexed data went through a layer (so position 0 is no longer [CLS])."""
    named = site.named
    path = named.lineage if named is not None else range(len(site.stages) - 1)
    return any(site.stages[k].kind in LAYER_KINDS for k in path if k < len(site.stages) - 1)


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
    """``x[:, -1, :]`` (or ``x[-1]`` seq-first, ``last = out[:, -1, :]``) on a padded batch or on a bidirectional
    output. The LSTM/GRU is the one on the data's path; its halves are read only when the step reads its output
    as it left the layer (``rnn.is_prev``)."""
    size = site.s_in[d]
    pos = idx % size
    lengths = tuple(site.info.get("lengths") or ())
    padded = bool(site.info.get("padded")) and bool(lengths) and size == max(lengths)
    found = rnn_facts(site.stages, site.book, site.root)
    rnn = found if found is not None and found.is_prev else None
    path = found if found is not None and found.over_tokens and found.seq_len == size else rnn
    batch_dim = next((j for j, a in enumerate(site.a_in) if a.role == "batch"), None)
    feat = len(site.s_in) - 1
    if rnn is not None and rnn.bidirectional and site.s_in[feat] != 2 * rnn.half:
        rnn = None  # a layout we cannot read halves from
    if rnn is not None and rnn.bidirectional:
        fwd, bwd = _halves(site, feat, rnn.half)
        wrong_bwd = bwd and pos == size - 1 and size > 1
        wrong_fwd = fwd and pos == 0 and size > 1
        if padded and pos == size - 1:
            return _padded_last(site, d, lengths, rnn, rnn, batch_dim)
        if wrong_bwd or wrong_fwd:
            return _bidirectional_position(site, d, rnn, wrong_bwd)
        return None
    if padded and pos == size - 1:
        return _padded_last(site, d, lengths, path, rnn, batch_dim)
    return None


def _padded_last(
    site: OpSite,
    d: int,
    lengths: tuple[int, ...],
    path: RnnFacts | None,
    rnn: RnnFacts | None,
    batch_dim: int | None,
):
    """``path``: the LSTM/GRU the data went through (the wording); ``rnn``: the same when the step reads its output
    as it left the layer (its directions' halves)."""
    top = max(lengths)
    short = [n for n in lengths if n < top]
    if path is not None and rnn is None:
        what = f"computed from the {path.kind} output after reading [PAD] tokens"
    elif path is not None:
        what = f"the {path.kind} output after reading [PAD] tokens"
    else:
        what = "a [PAD] token ([SEP] is last only for the longest text)"
    batch_first = batch_dim == 0 if batch_dim is not None else d == 1
    directions, half = (rnn.directions, rnn.half) if rnn is not None else (1, 0)
    gather = gather_last(batch_first, directions, half, site.root)
    msg = (
        f"`{site.step}` takes position {top - 1} (the last of {top}) for every text, but the batch is padded: "
        f"{shorter(short, lengths)} ({', '.join(map(str, short))} real tokens), so for "
        f"them this 'last step' is {what}."
    )
    mixed = path is not None and rnn is None and path.bidirectional
    if rnn is not None and rnn.bidirectional:
        msg += (
            f" The output is bidirectional (forward {rnn.half} then backward {rnn.half} features): the forward "
            "half ends at each text's last real token (`lengths - 1`), the backward half at position 0, where it "
            f"has read the whole text. Take both: `{gather}`"
        )
    elif mixed:
        msg += (
            f" The {path.kind} is bidirectional and its two directions end at different positions: take each text's "
            f"final state from the {path.kind}'s own output (forward half at `lengths - 1`, backward half at "
            "position 0) before this step"
        )
    else:
        msg += f" Take each text's own last real token with `{gather}`"
    if path is not None:
        state = f"`{path.state}[-1]`" if path.state else "`h_n[-1]`"
        same = "is this same padded last step" if rnn is not None else "is the state after the [PAD] tokens too"
        msg += (
            ", or pack the batch (nn.utils.rnn.pack_padded_sequence) so that h_n holds each text's real last "
            f"state — without packing, {state} {same}."
        )
    else:
        msg += ", or pool with the attention mask (pooling 'mean')."
    fix = None
    if len(site.ops) == 1 and batch_dim is not None and {batch_dim, d} == {0, 1} and site.single and not mixed:
        fix = replace_fix(site.spec, site.stages[:-1], site.index, site.keep(gather), " (each text's last real token)")
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
        f"{rnn.state or 'h_n'}: `{rnn.both}` (the last layer's forward and backward states, (batch, {2 * rnn.half}))."
    )
    fix = None
    src = final_state(rnn, padded=False)
    if len(site.ops) == 1 and src is not None and site.single:
        fix = replace_fix(site.spec, site.stages[:-1], site.index, site.keep(src), " (both directions' final states)")
    return Finding("bidirectional_last_step", msg, fix, step_index=site.index)
