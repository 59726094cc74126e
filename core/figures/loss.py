"""The loss stage as a figure: logits and targets side by side, row by row, with each row's loss.

Pure plotly from plain arrays (no torch here): ``logits`` (N, C) or (N,), ``target`` (N,) class ids, (N, K) rows or
(N,) values, ``per_sample`` (N,) — the loss with reduction='none' — or None. Class-id targets are also marked on the
logits (a ring on the target class of every row), so a wrong label column or a shifted class is visible.

    >>> fig = loss_figure([[2.0, -1.0], [0.5, 0.1]], [0, 1], [0.05, 0.9], "CrossEntropyLoss", 0.475)
    >>> [t.type for t in fig.data]
    ['heatmap', 'scatter', 'heatmap', 'bar']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MAX_ROWS = 24
MAX_COLS = 40


def _grid(values: Any) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    return a


def loss_figure(
    logits: Any,
    target: Any,
    per_sample: Any,
    kind: str,
    value: float | None,
    row_names: list[str] | None = None,
) -> go.Figure:
    """Three panels: logits (rows × classes), targets, loss per row; the first ``MAX_ROWS`` rows."""
    lg = _grid(logits)
    tg_raw = np.asarray(target)
    class_ids = tg_raw.ndim == 1 and lg.shape[1] > 1 and kind in ("CrossEntropyLoss", "NLLLoss")
    tg = _grid(tg_raw)
    n = min(lg.shape[0], MAX_ROWS)
    names = (row_names or [f"row {r}" for r in range(lg.shape[0])])[:n]
    lg, tg = lg[:n, :MAX_COLS], tg[: min(tg.shape[0], n), :MAX_COLS]
    ps = None if per_sample is None else np.asarray(per_sample, dtype=float).reshape(-1)[:n]
    show_loss = ps is not None and ps.shape[0] == n
    cols = 3 if show_loss else 2
    fig = make_subplots(
        rows=1,
        cols=cols,
        shared_yaxes=True,
        column_widths=[0.5, 0.25, 0.25][:cols] if show_loss else [0.6, 0.4],
        horizontal_spacing=0.04,
        subplot_titles=[
            f"logits {tuple(np.asarray(logits).shape)}",
            f"targets {tuple(tg_raw.shape)}" + (" (class ids)" if class_ids else ""),
            "loss per row",
        ][:cols],
    )
    y = names
    fig.add_trace(
        go.Heatmap(
            z=lg,
            y=y,
            x=[str(c) for c in range(lg.shape[1])],
            colorscale="RdBu",
            zmid=0,
            showscale=False,
            text=np.round(lg, 2),
            texttemplate="%{text}" if lg.size <= 240 else None,
            hovertemplate="%{y}, class %{x}: %{z:.3f}<extra>logit</extra>",
        ),
        row=1,
        col=1,
    )
    ids = tg[:, 0].astype(int) if class_ids else np.array([], dtype=int)
    inside = [(c, y[r]) for r, c in enumerate(ids) if r < len(y) and 0 <= c < lg.shape[1]]
    fig.add_trace(
        go.Scatter(
            x=[str(c) for c, _ in inside],
            y=[r for _, r in inside],
            mode="markers",
            marker={"symbol": "circle-open", "size": 24, "color": "#f08c00", "line": {"width": 3}},
            hovertemplate="%{y}: target class %{x}<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Heatmap(
            z=tg,
            y=y[: tg.shape[0]],
            x=[str(c) for c in range(tg.shape[1])] if tg.shape[1] > 1 else ["target"],
            colorscale="Greens",
            showscale=False,
            text=_cell_text(tg),
            texttemplate="%{text}" if tg.size <= 240 else None,
            hovertemplate="%{y}: %{z}<extra>target</extra>",
        ),
        row=1,
        col=2,
    )
    if show_loss:
        fig.add_trace(
            go.Bar(
                x=ps,
                y=y,
                orientation="h",
                marker_color="#e8590c",
                hovertemplate="%{y}: %{x:.4f}<extra>loss</extra>",
                showlegend=False,
            ),
            row=1,
            col=3,
        )
    more = f" · first {n} of {np.asarray(logits).shape[0]} rows" if np.asarray(logits).shape[0] > n else ""
    title = f"nn.{kind}" + (f" = {value:.4f}" if value is not None else "") + more
    fig.update_layout(
        title={"text": title, "x": 0.0, "font": {"size": 15}},
        height=150 + 26 * n,
        margin={"l": 10, "r": 10, "t": 60, "b": 30},
        plot_bgcolor="white",
    )
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_xaxes(type="category", row=1, col=1)
    fig.update_xaxes(type="category", row=1, col=2)
    fig.update_xaxes(title_text="class" if lg.shape[1] > 1 else "", row=1, col=1)
    return fig


def _cell_text(a: np.ndarray) -> np.ndarray:
    """Whole numbers without a decimal point (class ids, 0/1 rows), others to 2 decimals."""
    if np.all(a == np.round(a)):
        return a.astype(int).astype(str)
    return np.char.mod("%.2f", a)
