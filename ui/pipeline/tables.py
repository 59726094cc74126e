"""Pipeline Explorer tables as light HTML: the stage table and the torchinfo-style layer summary.

Plain HTML tables (no data-grid library to load on the first view) that wrap long cells instead of being
cut off at the right: code wraps only between tokens, a stage's warnings take a full-width row under it, and
the table scrolls sideways inside its box as the last resort. Every cell is HTML-escaped.
"""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from core.diagnosis.titles import finding_title
from core.figures.html_text import code_breaks
from core.summary import human_bytes, megabytes, summarize
from ui.safe_text import html_message

MAX_STEP_CHARS = 160  # a longer step is shortened in the table (whole on hover; the shape flow shows it all)
TABLE_STYLE = """
<style>
.pl-wrap {overflow-x: auto; max-width: 100%;}
.pl-table {width: 100%; border-collapse: collapse; font-size: 14px; table-layout: auto;}
.pl-table th {text-align: left; font-weight: 600; color: #3d4450; background: #f4f6fb; padding: 5px 6px;
  border-bottom: 1px solid #d8dce6; white-space: nowrap;}
.pl-table td {padding: 4px 6px; border-bottom: 1px solid #eef0f4; vertical-align: top; white-space: nowrap;}
.pl-table td.num, .pl-table th.num {text-align: right;}
.pl-table td.name {white-space: normal; min-width: 6.5ch;}
.pl-table td.mono {font-family: "Source Code Pro", monospace; font-size: 13px; white-space: normal;
  overflow-wrap: normal; word-break: normal; min-width: 14ch; max-width: 36ch;}
.pl-table td.shape {font-family: "Source Code Pro", monospace; font-size: 13px;}
.pl-table td.shape span {font-family: "Source Sans", sans-serif; font-size: 13px;}
.pl-table td.shape span.ok {color: #5c6370;}
.pl-table td.shape span.no {color: #a0520a; font-weight: 600;}
.pl-table td.prose {white-space: normal; overflow-wrap: normal; min-width: 12ch;}
.pl-table tr.has-warn td {border-bottom: none;}
.pl-table tr.pl-warn td {white-space: normal; overflow-wrap: normal; color: #8a4508; padding: 0 6px 6px 6px;}
.pl-table tr.pl-warn div {background: #fff8e6; border-left: 3px solid #e8a33d; border-radius: 3px;
  padding: 3px 8px; margin: 2px 0;}
.pl-table tr.pl-warn code {font-family: "Source Code Pro", monospace; font-size: 13px; color: #5c3a0b;
  background: #fdebc8; padding: 0 3px; border-radius: 3px; overflow-wrap: normal;}
.pl-table caption {caption-side: bottom; text-align: left; color: #5c6370; font-size: 13px; padding-top: 4px;}
.pl-table tfoot td {font-weight: 600; border-top: 2px solid #d8dce6; border-bottom: none;}
</style>
"""


def html_cell(value: Any, cls: str = "") -> str:
    attr = f" class='{cls}'" if cls else ""
    return f"<td{attr}>{html.escape(str(value))}</td>"


def _code_cell(value: Any, cls: str = "mono", full: str = "") -> str:
    """Code that wraps only between tokens (``code_breaks``), never inside a name: ``batch_fir / st`` is gone.
    ``full``: the whole text on hover, when ``value`` was shortened."""
    title = f" title='{html.escape(full, quote=True)}'" if full and full != value else ""
    return f"<td class='{cls}'{title}>{code_breaks(value)}</td>"


def shorten_code(source: str, limit: int = MAX_STEP_CHARS) -> str:
    """``source`` when it has at most ``limit`` characters, else cut after its last space or comma before the
    limit (never inside a name or a number) and ended with `` …``; the table shows the whole text on hover.

    >>> shorten_code("x.view(4, 32, 16)", 12)
    'x.view(4, …'
    """
    if len(source) <= limit:
        return source
    head = source[: limit - 1]
    cut = max(head.rfind(" "), head.rfind(","))
    return (head[: cut + 1] if cut > limit // 2 else head).rstrip() + " …"


def _strides_cell(strides: str, contiguous: bool) -> str:
    """The strides, and under them whether the memory order matches the shape (one column, not two)."""
    note = "<span class='ok'>✓ contiguous</span>" if contiguous else "<span class='no'>✗ not contiguous</span>"
    return f"<td class='shape'>{html.escape(strides)}<br>{note}</td>"


def html_table(head: list[tuple[str, str, str]], body: list[str], foot: str = "", caption: str = "") -> str:
    """``head``: (title, css class, hover help) per column; ``body``: ready <tr> rows; ``caption``: ready HTML.

    The wrapper scrolls sideways when the table cannot fit (a very long name): the last resort, never a cut."""
    ths = "".join(
        f"<th class='{cls}' title='{html.escape(help_text, quote=True)}'>{html.escape(title)}</th>"
        for title, cls, help_text in head
    )
    cap = f"<caption>{caption}</caption>" if caption else ""
    return (
        f"{TABLE_STYLE}<div class='pl-wrap'><table class='pl-table'>{cap}<thead><tr>{ths}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody>{foot}</table></div>"
    )


def stage_rows(trace: Any) -> list[dict[str, Any]]:
    """One plain row per stage (what the table shows; also used by tests). ``findings``: (title, message) pairs."""
    rows = []
    for s in trace.stages:
        source = s.source.split("  #")[0]
        rows.append(
            {
                "stage": s.title,
                "step": shorten_code(source),
                "source": source,
                "shape": str(tuple(s.shape)),
                "axes": " · ".join(s.axis_labels),
                "dtype": s.dtype,
                "device": s.device,
                "strides": str(tuple(s.strides)),
                "contiguous": s.contiguous,
                "size": human_bytes(s.bytes),
                "warnings": " | ".join(w.message for w in s.warnings),
                "findings": [(finding_title(w.code), w.message) for w in s.warnings],
            }
        )
    return rows


def stage_table_html(trace: Any) -> str:
    """The stage table's HTML: shape, axes, strides and contiguity (one column), and bytes of every stage.

    dtype and device get a column only where they change along the pipeline; otherwise one line under the
    table says them (a column repeating ``float32`` / ``cpu`` on every row only squeezes the others). A
    stage's warnings are a full-width row right under it (not a narrow column): the finding's title, then
    its message with its code spans as ``<code>`` (HTML-escaped first: messages quote user text).
    """
    rows = stage_rows(trace)
    dtypes = list(dict.fromkeys(r["dtype"] for r in rows))
    devices = list(dict.fromkeys(r["device"] for r in rows))
    per_row = [c for c, values in (("dtype", dtypes), ("device", devices)) if len(values) > 1]
    head = [
        ("stage", "", ""),
        ("step", "", "the step's source text"),
        ("shape", "", ""),
        ("axes", "", "what each dimension means"),
        *[(c, "", "") for c in per_row],
        ("strides", "", "elements to skip per dimension; contiguous = the memory order matches the shape"),
        ("bytes", "num", "numel × element size"),
    ]
    body = []
    for r in rows:
        cells = [
            html_cell(r["stage"], "name"),
            _code_cell(r["step"], full=r["source"]),
            html_cell(r["shape"], "shape"),
            html_cell(r["axes"], "prose"),
            *[html_cell(r[c]) for c in per_row],
            _strides_cell(r["strides"], r["contiguous"]),
            html_cell(r["size"], "num"),
        ]
        warned = bool(r["findings"])
        row_class = " class='has-warn'" if warned else ""
        body.append(f"<tr{row_class}>{''.join(cells)}</tr>")
        if warned:
            notes = "".join(
                f"<div>⚠ <b>{html.escape(title)}</b> — {html_message(message)}</div>"
                for title, message in r["findings"]
            )
            body.append(f"<tr class='pl-warn'><td></td><td colspan='{len(head) - 1}'>{notes}</td></tr>")
    same = {c: html.escape(v[0]) for c, v in (("dtype", dtypes), ("device", devices)) if len(v) == 1}
    caption = {
        2: f"Every stage is {same.get('dtype')} on {same.get('device')}.",
        1: f"Every stage's {next(iter(same), '')}: {next(iter(same.values()), '')}.",
    }.get(len(same), "")
    return html_table(head, body, caption=caption)


def stage_table(trace: Any) -> None:
    """Shape, axes, strides, contiguity and bytes of every stage, its warnings under it (``stage_table_html``)."""
    st.html(stage_table_html(trace))


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
        ("param #", "num", "parameters"),
        ("trainable", "", "torchinfo's column: True when every parameter requires grad, -- for none"),
        ("output memory", "num", "the output tensor: numel × element size"),
    ]
    body = []
    for r in s.rows:
        layer = r.layer if r.layer not in ("expression", "pooling") else r.source
        body.append(
            "<tr>"
            + html_cell(r.step if r.step is not None else "–", "num")
            + (_code_cell(layer) if r.layer == "expression" else html_cell(layer, "prose"))
            + html_cell(str(list(r.input_shape)), "shape")
            + html_cell(str(list(r.output_shape)), "shape")
            + html_cell(f"{r.params:,}" if r.has_params else "--", "num")
            + html_cell(r.trainable_text, "")
            + html_cell(human_bytes(r.output_bytes), "num")
            + "</tr>"
        )
    foot = (
        "<tfoot><tr><td></td><td colspan='3'>Total params (trainable / non-trainable: "
        f"{s.trainable_params:,} / {s.non_trainable_params:,})</td>"
        f"<td class='num'>{s.total_params:,}</td><td></td><td></td></tr></tfoot>"
    )
    st.html(html_table(head, body, foot))
    st.caption(
        f"As torchinfo counts them (MB = 10⁶ bytes): input size {megabytes(s.input_bytes):.2f} MB · "
        f"forward/backward pass size {megabytes(s.pass_bytes):.2f} MB (twice the outputs of the layers with "
        f"parameters) · params size {megabytes(s.param_bytes):.2f} MB · estimated total "
        f"{megabytes(s.total_bytes):.2f} MB. The encoder (BERT) is the input here, not a row."
    )
    with st.expander("As text (torchinfo layout)"):
        st.code(s.text(), language=None)
