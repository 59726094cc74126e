"""Reshape Lab blocks shared by the modes: a stage (grid, facts, memory strips), a compact stage for columns,
the failing step with its explanation, and the verdict of two chains.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import streamlit as st

from core.figures.lineage import memory_figure, stage_figure
from core.lab.compare import MAX_VERDICT_NUMEL, Verdict, compare_chains
from core.lab.drawing import DrawPlan
from core.lab.einops_view import EinopsEquivalent
from core.lab.lineage import Lineage, LineageStage, trace_lineage
from ui.lab.source import LabSource, fmt
from ui.safe_text import code, markdown

COLUMN_WIDTH = {1: 640, 2: 320, 3: 200}  # px of a grid per column: what 1024×768 with the sidebar open leaves
# (wider figures were squeezed by the browser, and their 12 px cell labels no longer fitted the cells)
LINEAGE_WIDTH = 360  # the grid in three fifths of a stage box
MEMORY_WIDTH = 600  # the memory strips across a stage box
MEMORY_BADGES = {
    "source": ("the input", "gray"),
    "view": ("view of the same memory", "blue"),
    "copy": ("copied: new memory", "orange"),
    "new": ("new tensor (computed)", "violet"),
}


# ----------------------------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class RealStage:
    """A drawn stage's facts at the real size (when the drawing is a scaled-down analogue)."""

    text: str
    layout: tuple[tuple[int, ...], tuple[int, ...]]
    einops: EinopsEquivalent | None


def real_stage(plan: DrawPlan, chain: int, index: int) -> RealStage | None:
    if not plan.scaled:
        return None
    try:
        return RealStage(
            plan.full_sources[chain][index], plan.full_layouts[chain][index], plan.full_einops[chain][index]
        )
    except IndexError:
        return None


def _einops_md(eq: EinopsEquivalent | None) -> str:
    if eq is None:
        return ""
    return f"`{eq.code}`" if eq.exists else html.escape(eq.code)


def _facts(stage: LineageStage, real: RealStage | None) -> str:
    shape = f"`{fmt(stage.shape)}`"
    strides = f"`{fmt(stage.strides)}`"
    if real is not None:
        shape = f"`{fmt(tuple(real.layout[0]))}` (drawn {shape})"
        strides = f"`{fmt(tuple(real.layout[1]))}` (drawn {strides})"
    lines = [
        f"**shape** {shape}",
        f"**strides** {strides}",
        f"**contiguous** {'yes ✓' if stage.contiguous else 'no ✗ (memory order ≠ reading order)'}",
    ]
    eq = real.einops if real is not None and real.einops is not None else stage.einops
    if eq is not None:
        lines.append(f"**einops** {_einops_md(eq)}")
    return "  \n".join(lines)


def _title(stage: LineageStage, real: RealStage | None) -> tuple[str, str]:
    """(the op as written at the real size, a 'drawn as' note when the drawn op reads differently)."""
    if stage.index == 0:
        return "x", ""
    text = real.text if real is not None else stage.source
    return text, (f"drawn as `{stage.source}`" if text != stage.source else "")


def stage_block(
    stage: LineageStage,
    src: LabSource,
    real: RealStage | None = None,
    show_memory: bool = True,
    key: str = "",
    highlight: tuple[tuple[int, ...], ...] = (),
) -> None:
    """One stage: the grid, its facts (shape, strides, contiguity, memory, einops) and the memory strips."""
    with st.container(border=True):
        text, drawn = _title(stage, real)
        label, color = MEMORY_BADGES[stage.memory]
        head = (
            "**x** — the input"
            if stage.index == 0
            else f"**{stage.index}.** {code(text)} — {markdown(stage.description)}"
        )
        st.markdown(f"{head} &nbsp; :{color}-badge[{label}]" + (f"  \n:gray[{drawn}]" if drawn else ""))
        left, right = st.columns([3, 2])
        with left:
            fig = stage_figure(
                stage, token_labels=src.token_labels, values=src.values, highlight=highlight, max_width=LINEAGE_WIDTH
            )
            st.plotly_chart(fig, width="content", key=f"{key}grid{stage.index}", config={"displayModeBar": False})
        with right:
            st.markdown(_facts(stage, real))
            if stage.memory == "copy":
                st.caption("New memory (its data_ptr differs from the stage before): the elements were copied.")
            elif stage.memory == "view" and stage.shares_source_memory:
                st.caption("Same memory as the input (same data_ptr); only shape/strides changed.")
        if show_memory and stage.numel:
            st.plotly_chart(
                memory_figure(stage, max_width=MEMORY_WIDTH),
                width="content",
                key=f"{key}mem{stage.index}",
                config={"displayModeBar": False},
            )


def failure_block(lin: Lineage, plan: DrawPlan, src: LabSource, key: str = "") -> None:
    """The failing step: torch's message, the explanation, the fix and, for view, the reshape that copies."""
    err = lin.error
    if err is None:
        return
    where = f"step {err.line + 1} {code(err.op_source)}"
    shape = f" on {fmt(err.input_shape)}" if err.input_shape is not None else ""
    kind = "is refused" if err.refused else "fails"
    real = plan.full_errors[0] if plan.scaled and plan.full_errors else ""
    if real and real != err.message:
        st.error(f"**Step {err.line + 1} {code(plan.chains[0][err.line])} {kind}:** {markdown(real)}")
        st.caption(f"On the drawn analogue: {where}{shape}: {markdown(err.message)}")
    else:
        st.error(f"**{where} {kind}{shape}:** {markdown(err.message)}")
    if err.explanation:
        st.markdown(f"**Why:** {markdown(err.explanation)}")
    if err.fix:
        st.info(f"**Fix:** {markdown(err.fix)}")
    if err.alternative:
        steps = [*lin.steps[: err.line], *err.alternative]
        alt = trace_lineage(plan.drawn_shape, steps, names=src.names)
        if alt.ok:
            st.markdown(
                f"**With `.reshape` instead** (`{err.alternative[0]}`): reshape cannot make a view either, so it "
                "**copies** the elements into reading order. The copy has new memory (a different data_ptr), and "
                "its memory strip now matches the reading order."
            )
            first_new = next((s for s in alt.stages if s.line >= err.line), None)
            for s in alt.stages:
                if first_new is not None and s.index >= first_new.index:
                    stage_block(s, src, None, True, key=f"{key}alt")  # drawn sizes: the copy is what matters


def step_message(plan: DrawPlan, chain: int, drawn: str) -> str:
    """The failing step's message at the real size (the drawn analogue's in brackets when it differs)."""
    real = plan.full_errors[chain] if plan.scaled and chain < len(plan.full_errors) else ""
    return f"{real} (drawn: {drawn})" if real and real != drawn else drawn


def real_layouts(plan: DrawPlan, chain: int) -> tuple:
    return plan.full_layouts[chain] if plan.scaled and chain < len(plan.full_layouts) else ()


# -------------------------------------------------------------------------------- verdict of two chains


@st.cache_data(max_entries=64, show_spinner=False)
def _verdict(shape: tuple[int, ...], a: tuple, b: tuple, labels: tuple[str, str]) -> Verdict:
    return compare_chains(shape, list(a), list(b), labels)


def verdict_for(plan: DrawPlan, i: int, j: int, labels: tuple[str, str]) -> Verdict:
    """On the real shape when small enough, else on the drawn analogue (said in the verdict)."""
    if math.prod(plan.shape) <= MAX_VERDICT_NUMEL:
        return _verdict(plan.shape, plan.chains[i], plan.chains[j], labels)
    v = _verdict(plan.drawn_shape, plan.drawn_sources[i], plan.drawn_sources[j], labels)
    return Verdict(**{**v.__dict__, "scaled": True})


def verdict_banner(v: Verdict) -> None:
    text = f"**{v.headline}** — {v.detail}"
    if v.scaled:
        text += f" (computed on the drawn {fmt(v.on_shape)} analogue)"
    if v.kind == "identical":
        st.success(text, icon=":material/check_circle:")
    elif v.kind == "same_shape_different_data":
        st.error(text, icon=":material/warning:")
    else:
        st.warning(text, icon=":material/info:")
    if v.memory:
        st.caption(v.memory)


# ----------------------------------------------------------------------------- compact stage (a column)


def compact_stage(
    stage: LineageStage,
    src: LabSource,
    real: RealStage | None,
    highlight: tuple[tuple[int, ...], ...],
    key: str,
    columns: int = 3,
) -> None:
    shape = fmt(tuple(real.layout[0])) if real is not None else fmt(stage.shape)
    text, drawn = _title(stage, real)
    head = "x (input)" if stage.index == 0 else code(text)
    contiguous = "contiguous" if stage.contiguous else "not contiguous"
    label, color = MEMORY_BADGES[stage.memory]
    st.markdown(f"{head} → **{shape}** · {contiguous} · :{color}-badge[{label}]")
    hl = highlight if stage.index and highlight and stage.shape and len(highlight[0]) == len(stage.shape) else ()
    width = COLUMN_WIDTH.get(columns, 270)
    fig = stage_figure(
        stage, token_labels=src.token_labels, values=src.values, highlight=hl, max_width=width, max_height=330
    )
    st.plotly_chart(fig, width="content", key=f"{key}g{stage.index}", config={"displayModeBar": False})
    eq = real.einops if real is not None and real.einops is not None else stage.einops
    notes = [drawn] if drawn else []
    if eq is not None:
        notes.append(f"einops: {_einops_md(eq)}")
    if notes:
        st.caption("  \n".join(notes))
