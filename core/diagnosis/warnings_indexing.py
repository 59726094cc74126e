"""Warnings for integer indexing that drops an axis: the "last step" of a padded batch, and notes on what was taken.

- ``padded_last_step``: ``x[:, -1, :]`` (or an LSTM's ``h_n[-1]``) on a padded batch reads [PAD] for the shorter texts.
- ``axis_dropped`` (a note): which position or layer an integer index took.
"""

from __future__ import annotations

from core.diagnosis import axes as ax
from core.diagnosis.finding_tools import OpSite, checked, shorter
from core.diagnosis.reshape_axes import SEQUENCE_ROLES
from core.fixes import Fix
from core.records import Finding

GATHER_LAST = "x[torch.arange(x.shape[0]), lengths - 1]"


def op_findings(site: OpSite) -> list[Finding]:
    """Warnings and notes for op ``site.k`` when it is an integer index or select."""
    if site.op.name not in ("index", "select"):
        return []
    return _drop_findings(
        site.spec, site.stages, site.index, site.step, site.root, site.ops, site.k, site.s_in, site.a_in, site.info
    )


def _drop_findings(spec, stages, i, step, root, ops, k, s_in, a_in, info) -> list[Finding]:
    """``x[:, -1, :]`` on a padded batch (warning), and what an integer index dropped (a note)."""
    prev = stages[-2]
    drops = ax.index_drops(ops[k], s_in, a_in)
    lengths = tuple(info.get("lengths") or ())
    out: list[Finding] = []
    notes: list[str] = []
    for d, axis, idx in drops:
        size = s_in[d]
        last = idx in (-1, size - 1)
        if (
            axis.role == "tokens"
            and last
            and info.get("padded")
            and lengths
            and size == max(lengths)
            and root == "x"
            and k == 0
        ):
            out.append(_padded_last(spec, stages, i, step, ops, d, prev, lengths))
            continue
        if axis.role == "layers" and root in ("h_n", "c_n") and info.get("padded") and lengths and k == 0:
            found = _padded_state(spec, stages, i, step, root, lengths)
            if found is not None:
                out.append(found)
                continue
        if axis.role in SEQUENCE_ROLES:
            took = (
                "[CLS] (position 0, the first token of every text)"
                if idx == 0 and axis.role == "tokens"
                else (f"the last position ({axis.symbol} − 1 = {size - 1})" if last else f"position {idx % size}")
            )
            notes.append(f"drops {axis.label}: took {took}")
        elif axis.role == "layers":
            notes.append(f"drops {axis.label}: took {'the last layer' if last else f'entry {idx % size}'}")
    if notes:
        out.append(Finding("axis_dropped", f"`{step}` " + "; ".join(notes) + ".", severity="note", step_index=i))
    return out


def _padded_last(spec, stages, i, step, ops, d, prev, lengths) -> Finding:
    top = max(lengths)
    short = [n for n in lengths if n < top]
    rnn = prev.kind in ("lstm", "gru")
    what = (
        f"the {prev.kind.upper()} output after reading [PAD] tokens"
        if rnn
        else "a [PAD] token ([SEP] is last only for the longest text)"
    )
    msg = (
        f"`{step}` takes position {top - 1} (the last of {top}) for every text, but the batch is padded: "
        f"{shorter(short, lengths)} ({', '.join(map(str, short))} real tokens), so for "
        f"them this 'last step' is {what}. Take each text's own last real token with `{GATHER_LAST}`"
    )
    if rnn:
        msg += (
            ", or pack the batch (nn.utils.rnn.pack_padded_sequence) so that h_n[-1] holds each text's real last "
            "state — without packing, `h_n[-1]` is this same padded last step."
        )
    else:
        msg += ", or pool with the attention mask (pooling 'mean')."
    fix = None
    if d == 1 and len(ops) == 1 and prev.axes and prev.axes[0].role == "batch":
        cand = Fix(
            f"replace step {i + 1} by `{GATHER_LAST}` (each text's last real token)",
            "replace",
            index=i,
            step=GATHER_LAST,
        )
        fix = checked(spec, cand, stages[:-1], i)
    elif d == 0 and len(ops) == 1 and len(prev.axes) > 1 and prev.axes[1].role == "batch":
        src = "x[lengths - 1, torch.arange(x.shape[1])]"
        cand = Fix(f"replace step {i + 1} by `{src}` (each text's last real token)", "replace", index=i, step=src)
        fix = checked(spec, cand, stages[:-1], i)
    return Finding("padded_last_step", msg, fix, step_index=i)


def _padded_state(spec, stages, i, step, root, lengths) -> Finding | None:
    """``h_n[-1]`` of an LSTM/GRU run over a padded (unpacked) batch: the state after the [PAD] tokens."""
    rnn = next((s for s in reversed(stages[:-1]) if s.extra("h_n") is not None), None)
    if rnn is None or not any(a.role == "tokens" and s == max(lengths) for a, s in zip(rnn.axes, rnn.shape)):
        return None
    top = max(lengths)
    short = [n for n in lengths if n < top]
    params = dict(rnn.extra("params", ()))
    same = "" if params.get("bidirectional") else " — the same value as `x[:, -1, :]` of the output"
    msg = (
        f"`{step}` is the {rnn.kind.upper()}'s state after its last time step ({top}), but the batch is padded and "
        f"not packed: {shorter(short, lengths)} ({', '.join(map(str, short))} real tokens), "
        f"so for them {root} is the state after reading [PAD] tokens{same}. Take each text's own last real token "
        f"of the output with `{GATHER_LAST}`, or pack the batch (nn.utils.rnn.pack_padded_sequence) so that h_n "
        "holds each text's real last state."
    )
    fix = None
    prev = stages[-2]
    if prev is rnn and params.get("batch_first") and prev.axes[0].role == "batch":
        cand = Fix(
            f"replace step {i + 1} by `{GATHER_LAST}` (each text's last real token of the output)",
            "replace",
            index=i,
            step=GATHER_LAST,
        )
        fix = checked(spec, cand, stages[:-1], i)
    return Finding("padded_last_step", msg, fix, step_index=i)
