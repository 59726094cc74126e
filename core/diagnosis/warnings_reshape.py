"""Warnings for reshape/view/flatten/unflatten steps that run but scramble the data.

- ``view_as_permute``: ``x.view(32, 768, 128)`` on (B, L, H) has the shape of ``x.permute(0, 2, 1)``, not its data;
  so does ``x.view(100, 6, 12)`` on (100, 12, 6) although 12 = 2 × 6 would also read as a regrouping, and
  ``x.view(-1, 6, 12)`` on (20, 30, 12, 6) (a merge after the swap). Decided by the data, not by the sizes:
  ``reshape_axes.permuted_view`` compares the element order with the permuted order on index tensors.
- ``reshape_cuts_axis``: the new dims cut through an axis (a block ends part-way through one token's values).
"""

from __future__ import annotations

import math

from core.diagnosis.finding_tools import OpSite, checked, labels, render, replace_fix, shape_str, singular
from core.diagnosis.reshape_axes import SEQUENCE_ROLES, PermutedView, reshape_report
from core.fixes import Fix
from core.records import Finding

RESHAPES = ("reshape", "view", "flatten", "unflatten")


def op_findings(site: OpSite) -> list[Finding]:
    """Warnings for op ``site.k`` when it is a reshape-family op (a batch-mixing one is ``warnings_batch``'s)."""
    from core.diagnosis.warnings_batch import mixes_batch

    if site.op.name not in RESHAPES or mixes_batch(site):
        return []
    s_in, a_in, s_out, ops, k = site.s_in, site.a_in, site.s_out, site.ops, site.k
    rep = reshape_report(s_in, a_in, s_out)
    if rep.permuted is not None:
        return [_view_as_permute(site, rep.permuted)]
    if rep.cuts:
        return [_reshape_cut(site.spec, site.stages, site.index, site.step, site.root, ops, k, s_in, a_in, s_out,
                             rep.cuts[0])]  # fmt: skip
    return []


def _view_as_permute(site: OpSite, pv: PermutedView) -> Finding:
    """The step has the shape of ``x.permute(...)`` (maybe merged) but the memory order's data."""
    from core.engine.ops import Op

    _s_in, a_in, s_out, i = site.s_in, site.a_in, site.s_out, site.index
    sizes = site.op.args if site.op.name in ("reshape", "view") else s_out
    new: tuple = (Op("permute", pv.perm),) + ((Op("reshape", tuple(sizes)),) if pv.merged else ())
    if pv.split is not None:
        new = (Op("reshape", pv.split), *new)
    new_source = render((*site.ops[: site.k], *new, *site.ops[site.k + 1 :]), site.root)
    meant = pv.source(site.root, tuple(sizes))
    moved = sorted(set(pv.moved))
    names = " and ".join(a_in[d].label for d in moved) if pv.split is None else labels(a_in)
    if pv.merged or pv.split is not None:
        want = ""
    else:
        want = " (" + ", ".join(f"dim {j} should be {a_in[pv.perm[j]].label}" for j in moved) + ")"
    op = site.op.name
    msg = (
        f"`{site.step}` gives {shape_str(s_out)}, the same shape as `{meant}`, but not the same data: "
        f"{op} keeps the memory order and only re-cuts it, so the {labels(a_in)} numbers are scrambled across "
        f"the new dims{want}: each row now holds a run of consecutive memory that cuts across {names}. The run "
        "succeeds; the meaning does not. To swap axes use permute or transpose."
    )
    fix = replace_fix(site.spec, site.stages[:-1], i, new_source)
    return Finding("view_as_permute", msg, fix, step_index=i)


def _reshape_cut(spec, stages, i, step, root, ops, k, s_in, a_in, s_out, cut) -> Finding:
    from core.engine.ops import Op

    d = cut.dim
    inner = " × ".join(a.name for a in a_in[d + 1 :]) or "values"
    unit = math.prod(s_in[d + 1 :])
    msg = (
        f"`{step}` turns {shape_str(s_in)} {labels(a_in)} into {shape_str(s_out)}, but the new dims cut through "
        f"{a_in[d].name}: {cut.describe()}. A block of {cut.boundary:,} values ends part-way through one "
        f"{singular(a_in[d].name)}'s {unit:,} {inner} values, so that {singular(a_in[d].name)} is split across two "
        "rows and every later row is shifted."
    )
    fix = None
    if (
        a_in[d].role in SEQUENCE_ROLES
        and d < len(s_in) - 1
        and s_out[:d] == s_in[:d]
        and len(s_out) == d + 2
        and ops[k].name != "flatten"
    ):
        steps_n, length = s_out[d], s_in[d]
        padded = -(-length // steps_n) * steps_n
        width = (padded // steps_n) * unit
        pad = (0, 0) * (len(s_in) - 1 - d) + (0, padded - length)
        name = ops[k].name if ops[k].name in ("reshape", "view") else "reshape"
        new_ops = (*ops[:k], Op("pad", (pad,)), Op(name, (*s_out[:d], steps_n, width)), *ops[k + 1 :])
        new_source = render(new_ops, root)
        msg += (
            f" Pad {a_in[d].name} to a multiple of {steps_n} first ({length} → {padded} with `F.pad`) and use "
            f"the width that keeps whole {a_in[d].name}: {padded // steps_n} × {unit:,} = {width:,}."
        )
        cand = Fix(
            f"replace step {i + 1} by `{new_source}` (pad {a_in[d].name} {length} → {padded}, then {width:,} wide)",
            "replace",
            index=i,
            step=new_source,
        )
        fix = checked(spec, cand, stages[:-1], i)
    return Finding("reshape_cuts_axis", msg, fix, step_index=i)
