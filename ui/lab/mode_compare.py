"""Reshape Lab, Compare chains mode: two or three chains side by side, the verdict (same data or not), the
first differing cell and an optional layer check.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.diagnosis.error_lab import LayerCheck
from core.figures.lineage import colour_key
from core.lab.compare import differing_cells
from core.lab.drawing import plan_drawing
from core.lab.lineage import LineageStage, trace_lineage
from ui.lab.blocks import compact_stage, real_layouts, real_stage, step_message, verdict_banner, verdict_for
from ui.lab.source import LABELS, LabSource, fmt, set_values
from ui.safe_text import code, markdown

CONV1D_FIXES = ("x.transpose(1, 2)", "x.permute(0, 2, 1)", "x.view(32, 768, 128)")  # the Conv1d article's three
LAYER_CHOICES = ("no layer", "Conv1d (dim 1)", "Linear / LSTM (last dim)")  # short: read at 1024 px


def _load_conv1d_fixes() -> None:
    set_values(
        lab_source="a synthetic tensor",
        lab_shape="32, 128, 768",
        lab_n=3,
        lab_chain_A=CONV1D_FIXES[0],
        lab_chain_B=CONV1D_FIXES[1],
        lab_chain_C=CONV1D_FIXES[2],
        lab_layer=LAYER_CHOICES[1],
        lab_layer_size=768,
    )


def _layer_check(c1: Any, c2: Any) -> LayerCheck | None:
    choice = c1.selectbox(
        "Then a layer reads the result",
        LAYER_CHOICES,
        key="lab_layer",
        help="Conv1d reads its channels at dim 1; Linear and LSTM read the features on the last dim.",
    )
    if choice == LAYER_CHOICES[0]:
        return None
    size = int(c2.number_input("its input size", 1, 100_000, key="lab_layer_size"))
    if choice == LAYER_CHOICES[1]:
        return LayerCheck(f"Conv1d(in_channels={size})", 1, size, (2, 3), unbatched_dim=0)
    return LayerCheck(f"Linear(in_features={size})", -1, size)


def _diff_table(a: LineageStage, b: LineageStage, la: str, lb: str, limit: int = 6) -> None:
    cells = differing_cells(a, b)
    if not cells:
        return
    rows = []
    for cell in cells[:limit]:
        rows.append(
            {
                "cell": fmt(cell),
                f"{la} has": _src_text(a.source_index(cell), a.origin_at(cell)),
                f"{lb} has": _src_text(b.source_index(cell), b.origin_at(cell)),
            }
        )
    st.markdown(f"**Cell by cell ({lb} vs {la}, drawn tensor)** — {len(cells)} of {a.numel} cells differ:")
    st.dataframe(rows, hide_index=True, width="content")


def _src_text(idx: tuple[int, ...] | None, code: int) -> str:
    if idx is None:
        return "padding" if code == -1 else "mixed"
    return "x[" + ", ".join(map(str, idx)) + "]"


def compare_mode(src: LabSource) -> None:
    c0, c1, c2, c3, c4 = st.columns([1.5, 2.1, 0.9, 0.8, 1.1], vertical_alignment="bottom")
    c0.button(
        "Load the three Conv1d fixes",
        on_click=_load_conv1d_fixes,
        key="lab_seed004",
        icon=":material/science:",
        help="The article's three fixes before Conv1d(768, 512, 3) on a (32, 128, 768) BERT output: "
        "transpose, permute and view(32, 768, 128).",
        width="stretch",
    )
    check = _layer_check(c1, c2)
    n = c3.radio("Chains", (2, 3), horizontal=True, key="lab_n")
    all_stages = c4.toggle("Every stage", key="lab_all_stages", help="Draw the intermediate stages too.")
    cols = st.columns(n)
    chains: list[list[str]] = []
    for i in range(n):
        with cols[i]:
            text = st.text_area(f"Chain {LABELS[i]}", key=f"lab_chain_{LABELS[i]}", height=68)
            chains.append([line for line in (text or "").splitlines() if line.strip()])
    plan = plan_drawing(src.shape, chains)
    if not plan.ok:
        st.warning(markdown(plan.note))
        return
    if plan.scaled:
        st.caption(markdown(plan.note))
    lins = [trace_lineage(plan.drawn_shape, d, names=src.names) for d in plan.drawn_chains]
    for j in range(1, n):
        verdict_banner(verdict_for(plan, 0, j, ("A", LABELS[j])))
    st.caption(colour_key(src.shape, short=True))
    first_diff: dict[int, tuple[tuple[int, ...], ...]] = {}
    for j in range(1, n):
        cells = differing_cells(lins[0].final, lins[j].final) if lins[0].ok and lins[j].ok else ()
        if cells:
            first_diff[j] = (cells[0],)
            first_diff.setdefault(0, (cells[0],))
    cols = st.columns(n)
    for i in range(n):
        with cols[i]:
            lin = lins[i]
            real = real_layouts(plan, i)
            stages = lin.stages if all_stages else lin.stages[-1:]
            for s in stages:
                compact_stage(s, src, real_stage(plan, i, s.index), first_diff.get(i, ()), f"c{i}", n)
            if lin.error is not None:
                e = lin.error
                st.error(
                    f"{code(e.op_source)} {'is refused' if e.refused else 'fails'}: "
                    f"{markdown(step_message(plan, i, e.message))}"
                )
                if e.fix:
                    st.caption(f"Fix: {markdown(e.fix)}")
            elif check is not None:
                final = tuple(real[-1][0]) if real else lin.final.shape
                ok, why = check.check(final)
                (st.success if ok else st.warning)(why)
    for j in range(1, n):
        if j in first_diff:
            _diff_table(lins[0].final, lins[j].final, "A", LABELS[j])
