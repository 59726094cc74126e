"""Warnings for reshape/view/flatten/unflatten steps that run but scramble the data.

- ``view_as_permute``: ``x.view(32, 768, 128)`` on (B, L, H) has the shape of ``x.permute(0, 2, 1)``, not its data.
- ``reshape_cuts_axis``: the new dims cut through an axis (a block ends part-way through one token's values).
"""

from __future__ import annotations

import math

from core.diagnosis.finding_tools import OpSite, checked, labels, render, shape_str, singular
from core.diagnosis.reshape_axes import SEQUENCE_ROLES, reshape_report
from core.fixes import Fix
from core.records import Finding

RESHAPES = ("reshape", "view", "flatten", "unflatten")


def op_findings(site: OpSite) -> list[Finding]:
    """Warnings for op ``site.k`` when it is a reshape-family op."""
    from core.engine.ops import Op

    if site.op.name not in RESHAPES:
        return []
    s_in, a_in, s_out, ops, k = site.s_in, site.a_in, site.s_out, site.ops, site.k
    spec, stages, i, step = site.spec, site.stages, site.index, site.step
    rep = reshape_report(s_in, a_in, s_out)
    perm = _as_permutation(s_in, s_out) if rep.mixed else None
    if perm is not None:
        new_ops = (*ops[:k], Op("permute", perm), *ops[k + 1 :])
        return [_view_as_permute(spec, stages, i, step, s_in, a_in, s_out, perm, render(new_ops, site.root))]
    if rep.cuts:
        return [_reshape_cut(spec, stages, i, step, site.root, ops, k, s_in, a_in, s_out, rep.cuts[0])]
    return []


def _as_permutation(s_in: tuple[int, ...], s_out: tuple[int, ...]) -> tuple[int, ...] | None:
    """A non-identity permutation p with ``s_out == s_in[p]`` (dims of size 1 ignored), preferring few moves."""
    if len(s_in) != len(s_out) or s_in == s_out or sorted(s_in) != sorted(s_out):
        return None
    perm: list[int] = []
    used: set[int] = set()
    for j, size in enumerate(s_out):
        options = [d for d, s in enumerate(s_in) if s == size and d not in used]
        pick = j if j in options else options[0]
        perm.append(pick)
        used.add(pick)
    return tuple(perm)


def _view_as_permute(spec, stages, i, step, s_in, a_in, s_out, perm, new_source) -> Finding:
    perm_src = f"x.permute({', '.join(map(str, perm))})"
    moved = [j for j, p in enumerate(perm) if p != j]
    meant = ", ".join(f"dim {j} should be {a_in[perm[j]].label}" for j in moved)
    msg = (
        f"`{step}` gives {shape_str(s_out)}, the same shape as `{perm_src}`, but not the same data: view/reshape "
        f"keeps the memory order and only re-cuts it, so the {labels(a_in)} numbers are scrambled across the "
        f"new dims ({meant}, but each now holds a run of consecutive memory that cuts across "
        f"{' and '.join(a_in[p].name for p in sorted(set(perm[j] for j in moved)))}). The run succeeds; the "
        "meaning does not. To swap axes use permute or transpose."
    )
    fix = Fix(f"replace step {i + 1} by `{new_source}`", "replace", index=i, step=new_source)
    return Finding("view_as_permute", msg, checked(spec, fix, stages[:-1], i), step_index=i)


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
