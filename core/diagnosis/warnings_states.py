"""Warnings and notes for an LSTM/GRU's final states ``h_n`` / ``c_n`` picked by an index.

``h_n`` is (num_layers·D, batch, H): entry ``2·l`` is layer l's forward direction, ``2·l + 1`` its backward one
(``core.diagnosis.rnn_states``).

- ``bidirectional_last_step``: ``h_n[-1]`` of a bidirectional LSTM is the backward direction only.
- ``padded_last_step``: on a padded, unpacked batch ``h_n`` is the state after the [PAD] tokens.
- ``batch_axis_mixed``: ``torch.cat([h_n[-2], h_n[-1]], dim=0)`` stacks the directions into the batch.
- ``axis_dropped`` (a note): which layer and direction was taken — ``torch.cat([h_n[-2], h_n[-1]], dim=1)`` keeps
  both directions of the last layer.
"""

from __future__ import annotations

from typing import Any

from core.diagnosis import axes as ax
from core.diagnosis.finding_tools import OpSite, replace_fix, shorter
from core.diagnosis.rnn_states import BOTH_DIRECTIONS, RnnFacts, final_state, rnn_facts
from core.records import Finding


def op_findings(site: OpSite) -> list[Finding]:
    """Findings for op ``site.k`` when it takes entries of ``h_n`` / ``c_n`` along layers·directions."""
    if site.op.name not in ("index", "select") or site.root not in ("h_n", "c_n") or site.k != 0:
        return []
    drops = [(d, idx) for d, axis, idx in ax.index_drops(site.op, site.s_in, site.a_in) if axis.role == "layers"]
    facts = rnn_facts(site.stages)
    if not drops or facts is None:
        return []
    size = site.s_in[0]
    entries = [drops[0][1] % size]
    cat = site.ops[1] if len(site.ops) > 1 and site.ops[1].name == "cat" else None
    if cat is not None:
        more = [_entry(o, site.root, size) for o in cat.args[0]]
        entries = entries + more if None not in more else entries
    lengths = tuple(site.info.get("lengths") or ())
    padded = bool(site.info.get("padded")) and bool(lengths) and facts.over_tokens and facts.seq_len == max(lengths)
    if cat is not None and len(entries) > 1 and _cat_dim(cat, site) == 0:
        return [_stacked_into_batch(site, facts, entries)]
    if padded:
        whole = len(site.ops) == 1 or (cat is not None and len(site.ops) == 2 and len(entries) > 1)
        return [_padded_state(site, facts, lengths, whole)]
    last_layer = {size - 2, size - 1} if facts.bidirectional else {size - 1}
    if facts.bidirectional and entries == [size - 1] and len(site.ops) == 1:
        return [_backward_only(site, facts)]
    words = [facts.entry(e) for e in entries]
    if len(entries) > 1 and set(entries) == last_layer and facts.bidirectional:
        text = f"keeps both directions of {facts.layer(size - 1)}: forward and backward concatenated"
    elif len(entries) > 1:
        text = "took " + " and ".join(words)
    elif facts.bidirectional and entries[0] == size - 2:
        text = f"took {words[0]} only (its backward state is `{site.root}[-1]`)"
    else:
        text = f"took {words[0]}"
    return [Finding("axis_dropped", f"`{site.step}` drops layers·directions: {text}.", severity="note",
                    step_index=site.index)]  # fmt: skip


def _entry(operand: Any, root: str, size: int) -> int | None:
    """The h_n entry an operand such as ``h_n[-1]`` takes, or None when it is anything else."""
    if operand.root != root or len(operand.ops) != 1 or operand.ops[0].name not in ("index", "select"):
        return None
    op = operand.ops[0]
    first = op.args[0] if op.name == "index" and op.args else (op.args[1] if op.name == "select" else None)
    if op.name == "select" and op.args[0] != 0:
        return None
    if isinstance(first, bool) or not isinstance(first, int):
        return None
    return first % size


def _cat_dim(cat: Any, site: OpSite) -> int:
    ndim = len(site.shapes[2]) if len(site.shapes) > 2 else 2
    return cat.args[1] % ndim


def _backward_only(site: OpSite, facts: RnnFacts) -> Finding:
    size = site.s_in[0]
    msg = (
        f"`{site.step}` is the last entry of {site.root}, whose {size} entries are "
        f"{', '.join(facts.entry(e) for e in range(size))}: it is the backward direction of the last layer only — "
        f"half the final state ({facts.half} of 2 × {facts.half}), the half that read the text from right to left. "
        f"For the final state of both directions use `{BOTH_DIRECTIONS}` -> (batch, {2 * facts.half})."
    )
    fix = replace_fix(site.spec, site.stages[:-1], site.index, BOTH_DIRECTIONS, " (forward and backward final states)")
    return Finding("bidirectional_last_step", msg, fix, step_index=site.index)


def _stacked_into_batch(site: OpSite, facts: RnnFacts, entries: list[int]) -> Finding:
    b = site.s_in[1] if len(site.s_in) == 3 else 0
    n = len(entries)
    src = site.step.replace("dim=0", "dim=1") if "dim=0" in site.step else None
    msg = (
        f"`{site.step}` concatenates {n} states along dim 0, the batch axis: the result has {n * b} rows for {b} "
        f"texts — rows 0..{b - 1} are {facts.entry(entries[0])}, rows {b}..{2 * b - 1} {facts.entry(entries[1])}"
        f". Every later step and the loss see {n * b} samples. Concatenate along the features instead (dim=1): "
        f"(batch, {n} × {facts.half})."
    )
    fix = replace_fix(site.spec, site.stages[:-1], site.index, src, " (one row per text)") if src else None
    return Finding("batch_axis_mixed", msg, fix, step_index=site.index)


def _padded_state(site: OpSite, facts: RnnFacts, lengths: tuple[int, ...], whole: bool) -> Finding:
    """``h_n[-1]`` of an LSTM/GRU run over a padded (unpacked) batch: the state after the [PAD] tokens."""
    top = max(lengths)
    short = [n for n in lengths if n < top]
    last = "x[:, -1, :]" if facts.batch_first else "x[-1]"
    same = "" if facts.bidirectional else f" — the same value as `{last}` of the output"
    src = final_state(facts, padded=True)
    msg = (
        f"`{site.step}` is the {facts.kind}'s state after its last time step ({top}), but the batch is padded and "
        f"not packed: {shorter(short, lengths)} ({', '.join(map(str, short))} real tokens), "
        f"so for them {site.root} is the state after reading [PAD] tokens{same}."
    )
    if facts.bidirectional:
        msg += (
            " Bidirectional: the forward half ends at each text's last real token (`lengths - 1`), the backward "
            "half at position 0."
        )
    take = f"`{src}`" if src else "`lengths - 1` (and position 0 for the backward half)"
    msg += (
        f" Take each text's own last real token of the output with {take}, or pack the batch "
        "(nn.utils.rnn.pack_padded_sequence) so that h_n holds each text's real last state."
    )
    fix = None
    if src is not None and whole:
        fix = replace_fix(site.spec, site.stages[:-1], site.index, src, " (each text's last real token of the output)")
    return Finding("padded_last_step", msg, fix, step_index=site.index)
