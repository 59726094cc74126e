"""Plotly figures for the Pipeline Explorer, built from stage records and plain arrays by pure functions.

- ``shape_flow``: one row per stage; each dimension is a labelled segment (``tokens L=9``) coloured by
  its axis role, width ~ log2(size), so a permute visibly reorders the colours and a flatten merges them.
- ``sequence_heatmap``: a ``(rows, cols)`` matrix, e.g. LSTM outputs ``(hidden, time steps)`` or Conv1d
  outputs ``(channels, positions)`` of the first text.
- ``logits_bar``: final ``(batch, classes)`` scores per text, with softmax probabilities in the hover.
- ``attention_heatmap``: one head's ``(L, L)`` attention, query tokens down, key tokens across.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.records import Stage

TEMPLATE = "plotly_white"
MARGIN = {"l": 10, "r": 10, "t": 36, "b": 10}
# One colour per axis role (colour-blind-friendly, Okabe-Ito-like); a role keeps its colour everywhere.
ROLE_COLORS: dict[str, str] = {
    "batch": "#7f8c9a",
    "tokens": "#0072b2",
    "time": "#56b4e9",
    "hidden": "#e69f00",
    "features": "#d55e00",
    "channels": "#009e73",
    "positions": "#5ac8a8",
    "classes": "#cc79a7",
    "directions": "#a07cc5",
    "layers": "#8c6d46",
    "mixed": "#b33c3c",
    "other": "#b9c0ca",
}
ROLE_ORDER = tuple(ROLE_COLORS)
ROW_HEIGHT = 46
ERROR_COLOR = "#c92a2a"
LABEL_CHARS = 26
CHAR_PX = 7.0  # average width of a 12 px label character


def role_color(role: str) -> str:
    """The colour of an axis role; unknown roles share the "other" grey."""
    return ROLE_COLORS.get(role, ROLE_COLORS["other"])


def segment_width(size: int) -> float:
    """Width of a dimension's segment: 1.6 + log2(size), so sizes 1..1024 span 1.6..11.6 units."""
    return 1.6 + math.log2(max(int(size), 1))


def stage_label(stage: Stage) -> str:
    """Row title of a stage: ``step 2 · x.transpose(1, 2)``, or ``step 3 → w`` with the names its step bound
    (source shortened to one line)."""
    source = stage.source.split("#")[0].strip() if stage.kind == "source" else stage.source
    source = source if len(source) <= LABEL_CHARS else source[: LABEL_CHARS - 1] + "…"
    return f"<b>{html.escape(stage.title)}</b><br><span style='font-size:12px;color:#555'>{html.escape(source)}</span>"


def segment_text(name: str, symbol: str, size: int, width_px: float) -> str:
    """The label that fits a segment: ``tokens L=9``, else ``L=9``, else nothing (the hover has it)."""
    for text in (f"{name} {symbol}={size}", f"{symbol}={size}", f"{size}"):
        if len(text) * CHAR_PX + 6 <= width_px:
            return text
    return ""


def shape_flow(stages: Sequence[Stage], error: Any = None, title: str = "", plot_px: float = 300) -> go.Figure:
    """The shape of every stage as a row of coloured dimension segments.

    ``stages``: trace stages, first at the top. ``error``: an optional ``ShapeError``; it adds a red
    last row ``✗ step k`` with torch's message, so the failure sits where the next stage would be.
    Non-contiguous stages are hatched; each row's shape tuple sits in a column on the right.
    ``plot_px`` is the expected width of the bars area: labels that would not fit a segment are
    shortened (``L=9``) or left to the hover.
    ``fig.layout.meta`` holds ``{"rows": n, "roles": [...]}``.
    """
    per_role: dict[str, dict[str, list[Any]]] = {}
    totals: list[float] = []
    span = max([sum(segment_width(d) + 0.15 for d in s.shape) for s in stages] + [8.0])
    px_per_unit = plot_px / span
    for row, stage in enumerate(stages):
        start = 0.0
        strides = stage.strides or (None,) * len(stage.shape)
        for dim, size in enumerate(stage.shape):
            axis = stage.axes[dim] if dim < len(stage.axes) else None
            role = axis.role if axis is not None else "other"
            role = role if role in ROLE_COLORS else "other"
            name = axis.name if axis is not None else f"dim {dim}"
            symbol = axis.symbol if axis is not None else f"d{dim}"
            width = segment_width(size)
            d = per_role.setdefault(role, {k: [] for k in ("x", "base", "y", "text", "hover", "pattern")})
            d["x"].append(width)
            d["base"].append(start)
            d["y"].append(row)
            d["text"].append(html.escape(segment_text(name, symbol, size, width * px_per_unit)))
            formula = f"<br>{html.escape(axis.formula)}" if axis is not None and axis.formula else ""
            d["hover"].append(
                f"<b>{html.escape(stage.title)}</b> · dim {dim}<br>{html.escape(name)} ({html.escape(symbol)}) = {size}"
                f"<br>stride {strides[dim] if dim < len(strides) else '?'} · role {role}{formula}"
            )
            d["pattern"].append("" if stage.contiguous else "/")
            start += width + 0.15
        totals.append(start)
    fig = go.Figure()
    for role in ROLE_ORDER:
        if role not in per_role:
            continue
        d = per_role[role]
        fig.add_trace(
            go.Bar(
                name=role,
                orientation="h",
                x=d["x"],
                base=d["base"],
                y=d["y"],
                text=d["text"],
                textposition="inside",
                insidetextanchor="middle",
                textangle=0,
                textfont={"color": "white", "size": 12},
                hovertext=d["hover"],
                hovertemplate="%{hovertext}<extra></extra>",
                marker={
                    "color": role_color(role),
                    "line": {"color": "white", "width": 1},
                    "pattern": {"shape": d["pattern"], "fgcolor": "rgba(255,255,255,0.55)", "size": 6},
                },
                width=0.62,
                cliponaxis=False,
            )
        )
    rows = len(stages)
    width = max([*totals, 8.0])
    ticks = [stage_label(s) for s in stages]
    shape_texts = [str(tuple(stage.shape)) for stage in stages]
    for row, text in enumerate(shape_texts):
        fig.add_annotation(
            x=1,
            xref="paper",
            xshift=8,
            y=row,
            text=f"<b>{html.escape(text)}</b>",
            showarrow=False,
            xanchor="left",
            font={"size": 12, "color": "#1f2430"},
        )
    for row, stage in enumerate(stages):
        if stage.kind == "loss":  # a loss value has no dims to draw: its logits vs targets, and the value
            value = stage.extra("value")
            text = f"{stage.extra('logits')} vs {stage.extra('target')}"
            text += f" → <b>{value:.4g}</b>" if value is not None else ""
            fig.add_annotation(
                x=0, y=row, text=text, showarrow=False, xanchor="left", font={"size": 12, "color": "#e8590c"}
            )
    right_margin = int(16 + CHAR_PX * max([len(t) for t in shape_texts] + [6]))
    if error is not None:
        step_no = (error.step_index + 1) if getattr(error, "step_index", None) is not None else "?"
        message = " ".join(str(getattr(error, "message", error)).split()[:40])
        lines = textwrap.wrap(message, 46) or ["this step fails"]
        if len(lines) > 2:
            lines = [lines[0], lines[1][:45] + "…"]
        fig.add_annotation(
            x=0,
            y=rows,
            text="✗ " + "<br>".join(html.escape(line) for line in lines),
            showarrow=False,
            xanchor="left",
            align="left",
            font={"size": 12, "color": ERROR_COLOR},
            bgcolor="#fff5f5",
            bordercolor=ERROR_COLOR,
            borderpad=5,
        )
        step_text = _short(str(getattr(error, "step", "")), LABEL_CHARS)
        ticks.append(
            f"<b style='color:{ERROR_COLOR}'>✗ step {step_no}</b><br>"
            f"<span style='font-size:12px;color:{ERROR_COLOR}'>{step_text}</span>"
        )
        rows += 1
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(range(rows)),
        ticktext=ticks,
        range=[rows - 0.5 + (0.4 if error is not None else 0.0), -0.6],  # room below the two-line error box
        showgrid=False,
        zeroline=False,
        automargin=True,
    )
    fig.update_xaxes(visible=False, range=[-0.1, width + 0.1])
    fig.update_layout(
        template=TEMPLATE,
        barmode="overlay",
        height=70 + ROW_HEIGHT * max(rows, 1) + 40 + (20 if error is not None else 0),
        margin=dict(MARGIN, t=36 if title else 8, b=8, r=right_margin),
        title={"text": html.escape(title), "x": 0, "font": {"size": 14}} if title else None,
        legend={"orientation": "h", "yanchor": "top", "y": -0.02, "x": 0, "title": {"text": "axis role "}},
        hoverlabel={"align": "left"},
        # a segment label that does not fit at 12 px is hidden (the hover has it), never shrunk to ~5 px
        uniformtext={"minsize": 12, "mode": "hide"},
        meta={"rows": len(stages), "roles": [r for r in ROLE_ORDER if r in per_role]},
        bargap=0.3,
    )
    return fig


def to_numpy(values: Any) -> np.ndarray:
    """A tensor (any device / dtype) or array-like as a float64 numpy array."""
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def sequence_heatmap(
    tensor_2d: Any,
    title: str,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[str] | None = None,
    y_ticks: Sequence[str] | None = None,
) -> go.Figure:
    """Heatmap of a ``(rows, cols)`` matrix: rows go down the y axis, columns along x.

    For LSTM outputs of one text pass ``(hidden, time)`` with the word pieces as ``x_ticks``; for
    Conv1d outputs ``(channels, positions)``. Colours diverge around 0 on a symmetric scale.
    Ticks are positions with ``ticktext`` so repeated word pieces do not merge.
    """
    z = to_numpy(tensor_2d)
    if z.ndim != 2:
        raise ValueError(f"sequence_heatmap: expected a 2-D (rows, cols) matrix, got shape {z.shape}")
    rows, cols = z.shape
    finite = z[np.isfinite(z)]
    bound = float(np.abs(finite).max()) if finite.size else 1.0
    bound = bound or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(cols)),
            y=list(range(rows)),
            zmin=-bound,
            zmax=bound,
            zmid=0.0,
            colorscale="RdBu_r",
            colorbar={"thickness": 12},
            hovertemplate=f"{html.escape(x_label)} %{{x}}<br>{html.escape(y_label)} %{{y}}<br>"
            "value %{z:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        height=int(min(440, max(260, 140 + 2 * rows))),
        margin=dict(MARGIN, l=60, b=60),
        title={"text": html.escape(title), "x": 0, "font": {"size": 14}},
    )
    fig.update_xaxes(title_text=x_label, showgrid=False)
    fig.update_yaxes(title_text=y_label, autorange="reversed", showgrid=False)
    if x_ticks is not None and len(x_ticks) == cols:
        fig.update_xaxes(
            tickmode="array", tickvals=list(range(cols)), ticktext=[_short(t, 12) for t in x_ticks], tickangle=-45
        )
    if y_ticks is not None and len(y_ticks) == rows:
        fig.update_yaxes(tickmode="array", tickvals=list(range(rows)), ticktext=[_short(t, 14) for t in y_ticks])
    return fig


def logits_bar(values: Any, texts: Sequence[str] | None = None, title: str = "Final output per text") -> go.Figure:
    """Grouped bars of a ``(batch, classes)`` (or ``(classes,)``) output; hover adds softmax probabilities."""
    z = to_numpy(values)
    if z.ndim == 1:
        z = z[None, :]
    if z.ndim != 2:
        raise ValueError(f"logits_bar: expected (batch, classes) or (classes,), got shape {z.shape}")
    shifted = z - z.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    classes = [f"class {k}" for k in range(z.shape[1])]
    palette = ("#3b5bdb", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7f8c9a", "#8c6d46")
    fig = go.Figure()
    for i in range(z.shape[0]):
        name = f"#{i + 1} " + _short(texts[i], 28) if texts is not None and i < len(texts) else f"#{i + 1}"
        fig.add_trace(
            go.Bar(
                name=name,
                x=classes,
                y=z[i],
                customdata=probs[i],
                marker={"color": palette[i % len(palette)]},
                hovertemplate="%{x}<br>logit %{y:.4f}<br>softmax %{customdata:.3f}<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(
        template=TEMPLATE,
        barmode="group",
        height=320,
        margin=dict(MARGIN, l=50, b=40),
        title={"text": html.escape(title), "x": 0, "font": {"size": 14}},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 1, "xanchor": "right"},
        yaxis_title="value",
    )
    return fig


def attention_heatmap(attn: Any, tokens: Sequence[str], title: str = "") -> go.Figure:
    """One head's ``(L, L)`` attention: row = query token, column = key token; rows sum to 1."""
    z = to_numpy(attn)
    if z.ndim != 2 or z.shape[0] != z.shape[1] or z.shape[0] != len(tokens):
        raise ValueError(f"attention_heatmap: expected ({len(tokens)}, {len(tokens)}) weights, got shape {z.shape}")
    n = len(tokens)
    ticks = [_short(t, 12) for t in tokens]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(n)),
            y=list(range(n)),
            zmin=0.0,
            zmax=1.0,
            colorscale="Blues",
            colorbar={"thickness": 12, "title": {"text": "weight"}},
            customdata=[[[ticks[r], ticks[c]] for c in range(n)] for r in range(n)],
            hovertemplate="query %{customdata[0]} → key %{customdata[1]}<br>weight %{z:.3f}<extra></extra>",
        )
    )
    size = int(min(620, max(320, 120 + 26 * n)))
    fig.update_layout(
        template=TEMPLATE,
        height=size,
        width=size + 40,
        margin=dict(MARGIN, l=90, b=90),
        title={"text": html.escape(title), "x": 0, "font": {"size": 14}} if title else None,
    )
    fig.update_xaxes(
        tickmode="array", tickvals=list(range(n)), ticktext=ticks, tickangle=-45, title_text="key", showgrid=False
    )
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(range(n)),
        ticktext=ticks,
        autorange="reversed",
        title_text="query",
        showgrid=False,
    )
    return fig


def _short(text: str, limit: int = 40) -> str:
    text = str(text)
    return html.escape(text if len(text) <= limit else text[: limit - 1] + "…")
