"""Pipeline Explorer tables as light HTML: the stage table and the torchinfo-style layer summary.

Plain HTML tables (no data-grid library to load on the first view) that wrap long cells instead of being
cut off at the right; every cell is HTML-escaped.
"""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from core.summary import human_bytes, megabytes, summarize

TABLE_STYLE = """
<style>
.pl-table {width: 100%; border-collapse: collapse; font-size: 14px; table-layout: auto;}
.pl-table th {text-align: left; font-weight: 600; color: #3d4450; background: #f4f6fb; padding: 5px 8px;
  border-bottom: 1px solid #d8dce6; white-space: nowrap;}
.pl-table td {padding: 4px 8px; border-bottom: 1px solid #eef0f4; vertical-align: top; white-space: nowrap;}
.pl-table td.num, .pl-table th.num {text-align: right;}
.pl-table td.mono {font-family: "Source Code Pro", monospace; font-size: 13px; white-space: normal;
  overflow-wrap: anywhere; min-width: 12ch; max-width: 28ch;}
.pl-table td.shape {font-family: "Source Code Pro", monospace; font-size: 13px;}
.pl-table td.prose {white-space: normal; min-width: 14ch;}
.pl-table td.warn {color: #a0520a; white-space: normal; min-width: 24ch;}
.pl-table tfoot td {font-weight: 600; border-top: 2px solid #d8dce6; border-bottom: none;}
.pl-wrap {overflow-x: auto;}
</style>
"""


def _cell(value: Any, cls: str = "") -> str:
    attr = f" class='{cls}'" if cls else ""
    return f"<td{attr}>{html.escape(str(value))}</td>"


def _table(head: list[tuple[str, str, str]], body: list[str], foot: str = "") -> str:
    """``head``: (title, css class, hover help) per column; ``body``: ready <tr> rows."""
    ths = "".join(
        f"<th class='{cls}' title='{html.escape(help_text, quote=True)}'>{html.escape(title)}</th>"
        for title, cls, help_text in head
    )
    return (
        f"{TABLE_STYLE}<div class='pl-wrap'><table class='pl-table'><thead><tr>{ths}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody>{foot}</table></div>"
    )


def stage_rows(trace: Any) -> list[dict[str, Any]]:
    """One plain row per stage (what the table shows; also used by tests)."""
    rows = []
    for s in trace.stages:
        source = s.source.split("  #")[0]
        rows.append(
            {
                "stage": s.title,
                "step": source if len(source) <= 70 else source[:69] + "…",
                "shape": str(tuple(s.shape)),
                "axes": " · ".join(s.axis_labels),
                "dtype": s.dtype,
                "device": s.device,
                "strides": str(tuple(s.strides)),
                "contiguous": s.contiguous,
                "size": human_bytes(s.bytes),
                "warnings": " | ".join(w.message for w in s.warnings),
            }
        )
    return rows


def stage_table(trace: Any) -> None:
    """Shape, axes, dtype, device, strides, contiguity and bytes of every stage."""
    rows = stage_rows(trace)
    warned = any(r["warnings"] for r in rows)
    head = [
        ("stage", "", ""),
        ("step", "", "the step's source text"),
        ("shape", "", ""),
        ("axes", "", "what each dimension means"),
        ("dtype", "", ""),
        ("device", "", ""),
        ("strides", "", "elements to skip per dimension"),
        ("contiguous", "", "memory order matches the shape"),
        ("bytes", "num", "numel × element size"),
    ]
    if warned:
        head.append(("warnings", "", ""))
    body = []
    for r in rows:
        cells = [
            _cell(r["stage"]),
            _cell(r["step"], "mono"),
            _cell(r["shape"], "shape"),
            _cell(r["axes"], "prose"),
            _cell(r["dtype"]),
            _cell(r["device"]),
            _cell(r["strides"], "shape"),
            _cell("✓" if r["contiguous"] else "✗ no"),
            _cell(r["size"], "num"),
        ]
        if warned:
            cells.append(_cell(r["warnings"], "warn"))
        body.append(f"<tr>{''.join(cells)}</tr>")
    st.html(_table(head, body))


def summary_table(trace: Any) -> None:
    """torchinfo's view of the pipeline: per step layer, shapes, parameters and output memory; totals below."""
    s = summarize(trace.stages)
    if not s.rows:
        st.caption("No steps yet: the summary lists each step's layer, shapes, parameters and output memory.")
        return
    head = [
        ("#", "num", "step number"),
        ("layer", "", "torch.nn layer, or the expression"),
        ("input shape", "", ""),
        ("output shape", "", ""),
        ("param #", "num", "parameters (all trainable)"),
        ("output memory", "num", "the output tensor: numel × element size"),
    ]
    body = []
    for r in s.rows:
        layer = r.layer if r.layer not in ("expression", "pooling") else r.source
        body.append(
            "<tr>"
            + _cell(r.step if r.step is not None else "–", "num")
            + _cell(layer, "mono" if r.layer == "expression" else "prose")
            + _cell(str(list(r.input_shape)), "shape")
            + _cell(str(list(r.output_shape)), "shape")
            + _cell(f"{r.params:,}" if r.has_params else "--", "num")
            + _cell(human_bytes(r.output_bytes), "num")
            + "</tr>"
        )
    foot = (
        "<tfoot><tr><td></td><td colspan='3'>Total params (trainable / non-trainable: "
        f"{s.trainable_params:,} / {s.non_trainable_params:,})</td>"
        f"<td class='num'>{s.total_params:,}</td><td></td></tr></tfoot>"
    )
    st.html(_table(head, body, foot))
    st.caption(
        f"As torchinfo counts them (MB = 10⁶ bytes): input size {megabytes(s.input_bytes):.2f} MB · "
        f"forward/backward pass size {megabytes(s.pass_bytes):.2f} MB (twice the outputs of the layers with "
        f"parameters) · params size {megabytes(s.param_bytes):.2f} MB · estimated total "
        f"{megabytes(s.total_bytes):.2f} MB. The encoder (BERT) is the input here, not a row."
    )
    with st.expander("As text (torchinfo layout)"):
        st.code(s.text(), language=None)
