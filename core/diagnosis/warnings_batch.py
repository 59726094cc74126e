"""Warnings for a step that loses the batch axis: one row per text is what every later layer and the loss assume.

- ``batch_axis_mixed``: a reshape that mixes the batch with another axis — ``h_n.view(batch, -1)`` on
  (num_layers·D, batch, H) puts two texts' states in one row; ``h_n.reshape(-1, H)`` folds layers·directions into
  the batch (2·batch rows). Found from the data: the index of the text each element came from, reshaped alike.
- ``batch_axis_dropped``: an integer index on the batch axis (``h_n[:, -2, :]``, assuming batch_first for h_n,
  keeps one text), or a reduction over it (``x.mean(dim=0)`` averages the texts together).

A batch of one text is never judged: there is nothing to mix.
"""

from __future__ import annotations

import math
from typing import Any

from core.diagnosis import axes as ax
from core.diagnosis.finding_tools import OpSite, labels, render, replace_fix, shape_str
from core.diagnosis.reshape_axes import SEQUENCE_ROLES, permuted_view, reshape_report
from core.diagnosis.rnn_states import RnnFacts, final_state, gather_last, rnn_facts
from core.records import Finding

RESHAPES = ("reshape", "view", "flatten", "unflatten")
REDUCTIONS = ("mean", "sum", "amax", "amin")
_MAX_DETAIL = 2**22  # elements: above this the message skips the row-by-row detail


def batch_dim(site: OpSite) -> int | None:
    """The batch axis of the op's input when it holds more than one text."""
    return next((d for d, a in enumerate(site.a_in) if a.role == "batch" and site.s_in[d] > 1), None)


def mixes_batch(site: OpSite) -> bool:
    """True when op ``site.k`` is a reshape that mixes the batch axis with another (this module warns about it)."""
    b = batch_dim(site)
    if b is None or site.op.name not in RESHAPES:
        return False
    rep = reshape_report(site.s_in, site.a_in, site.s_out)
    held = [j for j, src in enumerate(rep.sources) if b in src]
    if any(rep.axes[j].role == "mixed" for j in held):
        return True
    if any(k < b and site.s_in[k] > 1 for j in held for k in rep.sources[j]):
        return True  # folded under an axis in front of it: (layers·directions·batch, H)
    # merged with an axis after it, behind another axis: (2, B, H) -> (2, B·H), one row per direction
    return any(
        len([k for k in rep.sources[j] if site.s_in[k] > 1]) > 1 and any(site.s_out[i] > 1 for i in range(j))
        for j in held
    )


def op_findings(site: OpSite) -> list[Finding]:
    """Warnings for op ``site.k`` when it mixes or drops the batch axis."""
    b = batch_dim(site)
    if b is None:
        return []
    name = site.op.name
    if name in RESHAPES and mixes_batch(site):
        return [_mixed(site, b)]
    if name in ("index", "select"):
        hit = [(d, idx) for d, _, idx in ax.index_drops(site.op, site.s_in, site.a_in) if d == b]
        if hit:
            return [_indexed(site, b, hit[0][1])]
    if name in REDUCTIONS or name == "reduce":
        out_axes = site.axes[site.k + 1]
        if not any(a.role == "batch" for a in out_axes):
            return [_reduced(site, b)]
    return []


def _rows_detail(site: OpSite, b: int, j: int) -> str:
    """What dim ``j`` of the result holds, text by text (from an index tensor of the text each element came from)."""
    import torch

    s_in, s_out = site.s_in, site.s_out
    if math.prod(s_in) > _MAX_DETAIL:
        return ""
    n = s_in[b]
    view = [1] * len(s_in)
    view[b] = n
    text = torch.arange(n).view(view).expand(s_in).reshape(s_out)  # the text each element came from
    rows = text.movedim(j, 0).reshape(s_out[j], -1)
    first = sorted(set(rows[0].tolist()))
    if len(first) > 1:
        shown = ", ".join(map(str, first[:3])) + (", …" if len(first) > 3 else "")
        return f"entry 0 of dim {j} holds values of texts {shown}, not one text"
    before = [i for i in range(j) if s_out[i] > 1]
    if before and s_out[j] % n == 0 and s_out[j] > n:
        return (
            f"every entry of dim {before[0]} holds all {n} texts side by side in dim {j} ({n} × {s_out[j] // n} "
            "values): a row is no longer one text"
        )
    if s_out[j] > n and s_out[j] % n == 0:
        reps = s_out[j] // n
        return (
            f"dim {j} has {s_out[j]} rows for {n} texts: {reps} blocks of the {n} texts, one block per entry of "
            f"{' · '.join(a.name for k, a in enumerate(site.a_in) if k < b and s_in[k] > 1)}"
        )
    return ""


def _mixed(site: OpSite, b: int) -> Finding:
    rep = reshape_report(site.s_in, site.a_in, site.s_out)
    held = [j for j, src in enumerate(rep.sources) if b in src]
    others = [k for j in held for k in rep.sources[j] if k != b and site.s_in[k] > 1]
    others = [k for k in others if k < b] or others  # the axes in front of the batch are the culprits
    with_what = " and ".join(dict.fromkeys(site.a_in[k].label for k in others)) or "another axis"
    detail = _rows_detail(site, b, held[0])
    root_note = ""
    if site.root in ("h_n", "c_n") and b != 0:
        root_note = (
            f" {site.root} is (num_layers·num_directions, batch, hidden) even with batch_first=True (batch_first "
            "applies to the input and output only), so its batch is dim 1."
        )
    msg = (
        f"`{site.step}` turns {shape_str(site.s_in)} {labels(site.a_in)} into {shape_str(site.s_out)}, mixing the "
        f"batch axis with {with_what}: view/reshape keeps the memory order, where {site.a_in[b].label} is not "
        f"first{', so ' + detail if detail else ''}. Every later step and the loss read one row per text.{root_note}"
    )
    src = _rearranged(site, b)
    fix = None
    if src is not None:
        msg += f" Rearrange instead: `{src}`."
        if src.startswith(("torch.cat", "x[", "h_n[")):
            why = " (one final state per text)"
        elif site.s_out[held[0]] > site.s_in[b]:
            why = " (batch first, then merge)"
        else:
            why = " (one row per text)"
        fix = replace_fix(site.spec, site.stages[:-1], site.index, src, why)
    return Finding("batch_axis_mixed", msg, fix, step_index=site.index)


def _rearranged(site: OpSite, b: int) -> str | None:
    """The step with the batch-mixing op replaced by a rearrangement that keeps one row per text."""
    from core.engine.ops import Op

    ops, k = site.ops, site.k
    pv = permuted_view(site.s_in, site.s_out)
    if pv is not None and pv.perm[0] == b:
        sizes = site.op.args if site.op.name in ("reshape", "view") else site.s_out
        moved: tuple[Any, ...] = (Op("permute", pv.perm),)
        if pv.merged:
            moved += (Op("reshape", tuple(sizes)),)
        return render((*ops[:k], *moved, *ops[k + 1 :]), site.root)
    facts = rnn_facts(site.stages)
    if site.root == "h_n" and k == 0 and len(ops) == 1 and facts is not None:
        return final_state(facts, bool(site.info.get("padded")))  # one final state per text
    if b == 0:
        return None  # the batch is already first: the new sizes themselves split it, no reordering helps
    order = tuple([b, *(d for d in range(len(site.s_in)) if d != b)])
    if all(site.a_in[d].role in SEQUENCE_ROLES for d in range(b) if site.s_in[d] > 1):
        # (l, b, h) -> (l·b, h): rows token-major; batch first, then the same merge: (b, l, h) -> (b·l, h)
        sizes = site.op.args if site.op.name in ("reshape", "view") else site.s_out
        new: tuple[Any, ...] = (Op("permute", order), Op("reshape", tuple(sizes)))
    else:
        new = (Op("permute", order), Op("flatten", (1, -1)))  # (…, b, …) -> (b, …) -> (b, rest)
    return render((*ops[:k], *new, *ops[k + 1 :]), site.root)


def _indexed(site: OpSite, b: int, idx: int) -> Finding:
    n = site.s_in[b]
    root_note = ""
    if site.root in ("h_n", "c_n"):
        root_note = (
            f" {site.root} is (num_layers·num_directions, batch, hidden) even with batch_first=True (batch_first "
            "applies to the input and output only): its layers·directions are dim 0."
        )
    msg = (
        f"`{site.step}` indexes dim {b} of {site.root} {labels(site.a_in)} {shape_str(site.s_in)} with {idx}: that "
        f"is the batch axis, so it keeps text {idx % n} only and drops the other {n - 1}.{root_note}"
    )
    src = _index_moved(site, b, idx)
    fix = None
    if src is not None:
        msg += f" Index the {'layers·directions' if site.root in ('h_n', 'c_n') else 'sequence'} axis instead: `{src}`."
        fix = replace_fix(site.spec, site.stages[:-1], site.index, src, " (keeps every text)")
    return Finding("batch_axis_dropped", msg, fix, step_index=site.index)


def _index_moved(site: OpSite, b: int, idx: int) -> str | None:
    """The pick the step most likely meant, on the right axis, and safe on a padded or bidirectional output."""
    if site.k != 0 or len(site.ops) != 1:
        return None
    facts: RnnFacts | None = rnn_facts(site.stages)
    padded = bool(site.info.get("padded"))
    if site.root in ("h_n", "c_n"):
        if facts is None:
            return None
        size = site.s_in[0]
        if facts.bidirectional or padded or not -size <= idx < size:
            return final_state(facts, padded) if site.root == "h_n" else None
        return f"{site.root}[{idx}]"
    if site.root != "x":
        return None
    t = next((d for d, a in enumerate(site.a_in) if a.role in SEQUENCE_ROLES), None)
    if t is None or idx not in (0, -1):
        return None
    rnn = facts if facts is not None and facts.is_prev else None
    if rnn is not None and (rnn.bidirectional or (padded and idx == -1)):
        return final_state(rnn, padded)
    if padded and idx == -1 and {b, t} == {0, 1}:
        return gather_last(b == 0)
    items = ", ".join(str(idx) if d == t else ":" for d in range(t + 1))
    return f"x[{items}]"


def _reduced(site: OpSite, b: int) -> Finding:
    n = site.s_in[b]
    word = {"mean": "averages", "sum": "sums", "amax": "takes the maximum", "amin": "takes the minimum"}.get(
        site.op.name, "reduces"
    )
    t = next((d for d, a in enumerate(site.a_in) if a.role in SEQUENCE_ROLES), None)
    hint = f" For one vector per text, reduce over {site.a_in[t].label} (dim {t}) instead." if t is not None else ""
    msg = (
        f"`{site.step}` {word} over the batch axis (dim {b}, {n} texts): the texts are merged into one, and every "
        f"later step sees a single sample instead of {n}.{hint}"
    )
    return Finding("batch_axis_dropped", msg, None, step_index=site.index)
