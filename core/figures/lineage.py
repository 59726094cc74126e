"""Plotly figures of element lineage, built from ``LineageStage`` records by pure functions.

- ``stage_figure``: a stage as a grid of cells (one panel per leading index, 2-D inside), every cell
  coloured by its source element: hue by token (row of the source's last two dims), shade by feature
  (dark = feature 0). Padding is white, aggregates are grey. Hover shows the source index.
- ``memory_figure``: the stage's memory as a strip in address order (cells it does not read are faded)
  above the stage read row by row; equal strips = contiguous.

Colours depend only on the source shape, so a token has the same colour in every stage and every chain.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.lab.drawing import MAX_DRAW_CELLS
from core.lab.lineage import MIXED, PAD, LineageStage, unravel

__all__ = ["cell_color", "colour_key", "lineage_colorscale", "memory_figure", "stage_figure"]

PAD_COLOR = "#f1f3f5"
MIXED_COLOR = "#8d939e"
MAX_WIDTH = 1000  # px of cells per figure
MAX_HEIGHT = 560
MAX_CELL = 34
MIN_CELL = 7
TEXT_MIN_CELL = 22  # cells smaller than this get no label
FIG_FONT = 12  # the smallest text in a figure: legible from the back of a room on a 1024×768 projector
LABEL_CHAR_PX = 7.0  # width of one 12 px label character (digits and commas)
MARGIN = {"l": 34, "r": 8, "t": 30, "b": 8}
FONT = "Source Sans Pro, sans-serif"
HIGHLIGHT = "#111111"
MARK = "#d6336c"


# ---------------------------------------------------------------------------------------------- colours


def _row_feature(flat: int, source_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(row, rows, feature, features) of a source element: rows are the source's tokens (all batches)."""
    n = max(math.prod(source_shape), 1)
    h = source_shape[-1] if len(source_shape) >= 2 else 1
    return flat // h, max(n // h, 1), flat % h, h


def cell_color(flat: int, source_shape: tuple[int, ...]) -> str:
    """The colour of source element ``flat``: hue by token row (golden-angle steps), shade by feature."""
    if flat == PAD:
        return PAD_COLOR
    if flat == MIXED:
        return MIXED_COLOR
    r, _, f, h = _row_feature(flat, source_shape)
    return _rgb(r, f, h)


def _rgb(row: int, feature: int, features: int) -> str:
    hue = (row * 0.381966) % 1.0
    light = 0.55 if features == 1 else 0.30 + 0.52 * feature / (features - 1)
    r, g, b = colorsys.hls_to_rgb(hue, light, 0.72)
    return f"rgb({round(r * 255)},{round(g * 255)},{round(b * 255)})"


def _pos(z: float, n: int) -> float:
    return min(max((z + 2.5) / (n + 2), 0.0), 1.0)


def lineage_colorscale(source_shape: tuple[int, ...]) -> list[list]:
    """A colorscale for z = origin code over [-2.5, n - 0.5]: grey (mixed), white (pad), then per token
    a ramp from its dark to its light shade. Cells of the same token and feature get the same colour
    in every figure."""
    n = max(math.prod(source_shape), 1)
    _, rows, _, h = _row_feature(0, source_shape)
    scale: list[list] = [
        [0.0, MIXED_COLOR],
        [_pos(-1.5, n), MIXED_COLOR],
        [_pos(-1.5, n), PAD_COLOR],
        [_pos(-0.5, n), PAD_COLOR],
    ]
    for r in range(rows):
        lo, hi = r * h - 0.5, r * h + h - 0.5
        if h == 1:
            c = _rgb(r, 0, 1)
            scale += [[_pos(lo, n), c], [_pos(hi, n), c]]
        else:  # the ramp is linear, so cell f gets the colour of its shade at (f + 0.5) / h
            scale += [[_pos(lo, n), _rgb_at(r, -0.5, h)], [_pos(hi, n), _rgb_at(r, h - 0.5, h)]]
    scale[-1][0] = 1.0
    return scale


def _rgb_at(row: int, f: float, h: int) -> str:
    hue = (row * 0.381966) % 1.0
    light = 0.30 + 0.52 * f / (h - 1)
    r, g, b = colorsys.hls_to_rgb(hue, min(max(light, 0.0), 1.0), 0.72)
    return f"rgb({round(r * 255)},{round(g * 255)},{round(b * 255)})"


def colour_key(source_shape: tuple[int, ...], short: bool = False) -> str:
    """One sentence that says how to read the colours for this source."""
    if len(source_shape) < 2:
        return "Colour = where the element came from (one hue per position). White = padding, grey = an aggregate."
    if short:
        return (
            "Colour = the source element: hue = token, shade = feature (dark = feature 0). Cell labels read "
            "token,feature. White = padding, grey = aggregate."
        )
    return (
        "Colour = where the element came from: hue = token (each row of the input's last two dims has its own "
        "hue), shade = feature (dark = feature 0, light = the last). White = padding, grey = an aggregate of "
        "several elements. Labels read token,feature; hover for the full index."
    )


# ---------------------------------------------------------------------------------------------- labels


def _labels_fit(labels: Sequence[Sequence[str]], px: float) -> bool:
    """Cell labels are drawn only when the longest fits its cell at FIG_FONT (never shrunk, never overlapping)."""
    longest = max((len(t) for row in labels for t in row), default=0)
    return px >= TEXT_MIN_CELL and longest * LABEL_CHAR_PX + 4 <= px


def _label(code: int, source_shape: tuple[int, ...]) -> str:
    if code == PAD:
        return "pad"
    if code == MIXED:
        return "mix"
    idx = unravel(code, source_shape)
    if len(idx) >= 2:
        return f"{idx[-2]},{idx[-1]}"
    return str(idx[0]) if idx else "•"


def _source_text(code: int, source_shape: tuple[int, ...], token_labels: Sequence[Sequence[str]] | None) -> str:
    idx = unravel(code, source_shape)
    text = f"x[{', '.join(map(str, idx))}]"
    if len(idx) >= 2:
        token = idx[-2]
        tok = ""
        if token_labels is not None and len(idx) == 3 and idx[0] < len(token_labels):
            row = token_labels[idx[0]]
            tok = f" {row[token]!r}" if token < len(row) else ""
        text += f"  token {token}{tok}, feature {idx[-1]}"
    return text


def _hover(
    stage: LineageStage,
    flat: int,
    token_labels: Sequence[Sequence[str]] | None,
    values: np.ndarray | None,
) -> str:
    cell = unravel(flat, stage.shape)
    head = f"cell ({', '.join(map(str, cell))})" if cell else "the value"
    code = stage.origin[flat]
    if code == PAD:
        return f"{head}<br>padding: no source element"
    if code == MIXED:
        members = stage.members_of(flat)
        if not members:
            return f"{head}<br>mixed: aggregates several elements"
        shown = "<br>".join(
            "  " + _source_text(m, stage.source_shape, token_labels).split("  ")[0] for m in members[:6]
        )
        more = f"<br>  … and {len(members) - 6} more" if len(members) > 6 else ""
        return f"{head}<br>mixed: aggregates {len(members)} elements<br>{shown}{more}"
    text = f"{head}<br>from {_source_text(code, stage.source_shape, token_labels)}"
    if values is not None and 0 <= code < values.size:
        text += f"<br>value {float(values.reshape(-1)[code]):.4g}"
    return text


# ---------------------------------------------------------------------------------------------- layout


def _panels(shape: tuple[int, ...]) -> tuple[list[tuple[int, ...]], int, int]:
    """Leading indices of the panels and the (rows, cols) of every panel's grid."""
    if len(shape) == 0:
        return [()], 1, 1
    if len(shape) == 1:
        return [()], 1, shape[0]
    lead = shape[:-2]
    return [tuple(int(i) for i in idx) for idx in np.ndindex(*lead)] if lead else [()], shape[-2], shape[-1]


def _extent(prows: int, pcols: int, rows: int, cols: int, gap: float) -> tuple[float, float]:
    """Width and height of a panel grid, in cells (gaps included)."""
    return pcols * cols + (pcols - 1) * gap, prows * rows + (prows - 1) * gap * 1.4


def _cell_px(w_cells: float, h_cells: float, max_width: float, max_height: float) -> float:
    return max(MIN_CELL, min(MAX_CELL, max_width / max(w_cells, 1), max_height / max(h_cells, 1)))


def _grid(
    n_panels: int, shape: tuple[int, ...], rows: int, cols: int, max_width: float, max_height: float
) -> tuple[int, int]:
    """Panel rows and columns: 4-D stages use their two leading dims; others put the panels side by side
    unless wrapping them makes the cells at least a quarter larger (then readable labels fit)."""
    if len(shape) == 4 and shape[0] * shape[1] == n_panels:
        return shape[0], shape[1]
    gap = 1.2 if n_panels > 1 else 0.0
    best, best_px = n_panels, -1.0
    for per_row in range(n_panels, 0, -1):
        prows = math.ceil(n_panels / per_row)
        px = _cell_px(*_extent(prows, per_row, rows, cols, gap), max_width, max_height)
        if px > best_px * 1.25:
            best, best_px = per_row, px
    return math.ceil(n_panels / best), best


def _crop(stage: LineageStage, max_cells: int) -> tuple[list[tuple[int, ...]], int, int, str]:
    panels, rows, cols = _panels(stage.shape)
    note = ""
    per_panel = max(rows * cols, 1)
    if len(panels) * per_panel > max_cells:
        keep = max(1, max_cells // per_panel)
        if keep < len(panels):
            note = f"showing the first {keep} of {len(panels)} panels"
            panels = panels[:keep]
        if rows * cols > max_cells:
            rows = max(1, max_cells // max(cols, 1))
            cols = min(cols, max_cells)
            note = (note + "; " if note else "showing ") + f"the first {rows} × {cols} cells of each panel"
    return panels, rows, cols, note


def stage_figure(
    stage: LineageStage,
    *,
    token_labels: Sequence[Sequence[str]] | None = None,
    values: np.ndarray | None = None,
    highlight: Sequence[tuple[int, ...]] = (),
    marks: Sequence[tuple[int, ...]] = (),
    title: str = "",
    max_cells: int = MAX_DRAW_CELLS,
    max_width: int = MAX_WIDTH,
    max_height: int = MAX_HEIGHT,
) -> go.Figure:
    """The stage as cells coloured by source; one panel per leading index (``x[0]``, ``x[1]``...).

    ``highlight``: cells outlined in black (e.g. the first cell where two chains differ);
    ``marks``: cells outlined thinly in red (every differing cell). ``values``: the real source tensor,
    so hover also shows each element's value.
    """
    panels, rows, cols, note = _crop(stage, max_cells)
    prows, pcols = _grid(len(panels), stage.shape, rows, cols, max_width, max_height)
    gap = 1.2 if len(panels) > 1 else 0.0
    w_cells, h_cells = _extent(prows, pcols, rows, cols, gap)
    px = _cell_px(w_cells, h_cells, max_width, max_height)
    titled = len(stage.shape) >= 3
    plot_w, plot_h = w_cells * px, h_cells * px
    fig = make_subplots(
        rows=prows,
        cols=pcols,
        subplot_titles=[f"[{', '.join(map(str, p))}]" for p in panels] if titled else None,
        horizontal_spacing=(gap * px / plot_w) if pcols > 1 else 0.0,
        vertical_spacing=(gap * 1.4 * px / plot_h) if prows > 1 else 0.0,
    )
    n = max(math.prod(stage.source_shape), 1)
    scale = lineage_colorscale(stage.source_shape)
    origin = np.asarray(stage.origin, dtype=np.int64).reshape(stage.shape) if stage.shape else np.asarray(stage.origin)
    hi_set = {tuple(c) for c in highlight}
    mark_set = {tuple(c) for c in marks} - hi_set
    for k, lead in enumerate(panels):
        pr, pc = k // pcols + 1, k % pcols + 1
        if len(stage.shape) == 0:
            block = origin.reshape(1, 1)
        elif len(stage.shape) == 1:
            block = origin.reshape(1, -1)[:, :cols]
        else:
            block = origin[lead][:rows, :cols]
        flat_index = np.zeros(block.shape, dtype=np.int64)
        for r in range(block.shape[0]):
            for c in range(block.shape[1]):
                cell = _cell_of(stage.shape, lead, r, c)
                flat_index[r, c] = int(np.ravel_multi_index(cell, stage.shape)) if stage.shape else 0
        hover = [[_hover(stage, int(flat_index[r, c]), token_labels, values) for c in range(block.shape[1])]
                 for r in range(block.shape[0])]  # fmt: skip
        labels = [[_label(int(v), stage.source_shape) for v in row] for row in block]
        show_text = _labels_fit(labels, px)
        fig.add_trace(
            go.Heatmap(
                z=block.astype(float),
                zmin=-2.5,
                zmax=n - 0.5,
                colorscale=scale,
                showscale=False,
                xgap=1,
                ygap=1,
                text=labels,
                texttemplate="%{text}" if show_text else None,
                textfont={"size": FIG_FONT},
                customdata=hover,
                hovertemplate="%{customdata}<extra></extra>",
            ),
            row=pr,
            col=pc,
        )
        for cells, color, width in ((hi_set, HIGHLIGHT, 3), (mark_set, MARK, 1.5)):
            xs, ys = [], []
            for cell in cells:
                where = _panel_pos(stage.shape, cell)
                if where is not None and where[0] == lead and where[1] < rows and where[2] < cols:
                    ys.append(where[1])
                    xs.append(where[2])
            if xs:
                fig.add_trace(
                    go.Scatter(
                        x=xs,
                        y=ys,
                        mode="markers",
                        marker={
                            "symbol": "square-open",
                            "size": px * (0.95 if width > 2 else 0.78),
                            "color": color,
                            "line": {"width": width, "color": color},
                        },
                        hoverinfo="skip",
                        showlegend=False,
                    ),
                    row=pr,
                    col=pc,
                )
        ticks = px >= 18  # a 12 px two-digit tick needs ~16 px
        fig.update_xaxes(
            range=[-0.5, block.shape[1] - 0.5],
            showgrid=False,
            zeroline=False,
            showticklabels=ticks and pr == prows,
            side="bottom",
            tickfont={"size": FIG_FONT, "color": "#6b7280"},
            dtick=1 if block.shape[1] <= 24 else 4,
            fixedrange=True,
            row=pr,
            col=pc,
        )
        fig.update_yaxes(
            range=[block.shape[0] - 0.5, -0.5],
            showgrid=False,
            zeroline=False,
            showticklabels=ticks and pc == 1 and block.shape[0] > 1,
            tickfont={"size": FIG_FONT, "color": "#6b7280"},
            dtick=1 if block.shape[0] <= 24 else 4,
            fixedrange=True,
            row=pr,
            col=pc,
        )
    for ann in fig.layout.annotations:  # the panel titles: small and close to their panel
        ann.font = {"size": FIG_FONT, "color": "#4b5563", "family": FONT}
        ann.yshift = -2
    top = MARGIN["t"] + (12 if titled else 0)
    bottom = MARGIN["b"] + (16 if px >= 18 else 0)
    head = title + (f"  ({note})" if note else "")
    fig.update_layout(
        width=int(plot_w + MARGIN["l"] + MARGIN["r"]),
        height=int(plot_h + top + bottom),
        margin={**MARGIN, "t": top, "b": bottom},
        template="plotly_white",
        font={"family": FONT},
        title={"text": head, "font": {"size": FIG_FONT + 1}, "x": 0, "xanchor": "left", "y": 0.995, "yanchor": "top"}
        if head
        else None,
        plot_bgcolor="#ffffff",
        hoverlabel={"font": {"size": 12, "family": "Source Code Pro, monospace"}},
    )
    return fig


def _cell_of(shape: tuple[int, ...], lead: tuple[int, ...], r: int, c: int) -> tuple[int, ...]:
    if len(shape) == 0:
        return ()
    if len(shape) == 1:
        return (c,)
    return (*lead, r, c)


def _panel_pos(shape: tuple[int, ...], cell: tuple[int, ...]) -> tuple[tuple[int, ...], int, int] | None:
    if len(cell) != len(shape):
        return None
    if len(shape) == 0:
        return (), 0, 0
    if len(shape) == 1:
        return (), 0, cell[0]
    return tuple(cell[:-2]), cell[-2], cell[-1]


# ---------------------------------------------------------------------------------------------- memory


def _what(code: int, source_shape: tuple[int, ...]) -> str:
    if code == PAD:
        return "padding"
    if code == MIXED:
        return "an aggregate"
    return f"x[{', '.join(map(str, unravel(code, source_shape)))}]"


def memory_figure(stage: LineageStage, *, max_cells: int = 1024, max_width: int = MAX_WIDTH) -> go.Figure:
    """Two strips: the memory the stage reads in address order, and the stage read row by row.

    When the stage is contiguous both strips are the same; after a permute they differ, which is why a
    ``view`` that merges the permuted dims cannot exist.
    """
    storage = np.asarray(stage.storage, dtype=np.int64)[:max_cells]
    used = np.asarray(stage.storage_used, dtype=bool)[:max_cells]
    reading = np.asarray(stage.origin, dtype=np.int64)[:max_cells]
    length = max(storage.size, reading.size, 1)
    px = max(2.0, min(26.0, max_width / length))
    n = max(math.prod(stage.source_shape), 1)
    scale = lineage_colorscale(stage.source_shape)
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.42)
    mem_hover = [
        f"memory slot {stage.storage_offset + i}<br>{_what(int(v), stage.source_shape)}"
        + ("" if used[i] else "<br>(not read by this stage)")
        for i, v in enumerate(storage)
    ]
    read_hover = [
        f"element {i} in reading order = cell {unravel(i, stage.shape)}<br>{_what(int(v), stage.source_shape)}"
        for i, v in enumerate(reading)
    ]
    rows = (("memory", storage, mem_hover), ("reading order", reading, read_hover))
    for k, (_, codes, hover) in enumerate(rows, start=1):
        texts = [[_label(int(v), stage.source_shape) for v in codes]]
        fig.add_trace(
            go.Heatmap(
                z=codes.astype(float).reshape(1, -1),
                zmin=-2.5,
                zmax=n - 0.5,
                colorscale=scale,
                showscale=False,
                xgap=1 if px >= 5 else 0,
                text=texts,
                texttemplate="%{text}" if _labels_fit(texts, px) else None,
                textfont={"size": FIG_FONT},
                customdata=[hover],
                hovertemplate="%{customdata}<extra></extra>",
            ),
            row=k,
            col=1,
        )
        fig.update_xaxes(range=[-0.5, length - 0.5], visible=False, fixedrange=True, row=k, col=1)
        fig.update_yaxes(visible=False, fixedrange=True, row=k, col=1)
    if (~used).any():
        fig.add_trace(
            go.Heatmap(
                z=(~used).astype(float).reshape(1, -1),
                zmin=0,
                zmax=1,
                colorscale=[[0, "rgba(255,255,255,0)"], [1, "rgba(255,255,255,0.78)"]],
                showscale=False,
                hoverinfo="skip",
                xgap=1 if px >= 5 else 0,
            ),
            row=1,
            col=1,
        )
    contiguous = storage.size == reading.size and bool(used.all()) and np.array_equal(storage, reading)
    verdict = (
        "same order in memory and in reading order: contiguous"
        if contiguous
        else "memory order ≠ reading order: not contiguous"
        if used.all()
        else "faded slots are memory this stage does not read"
    )
    label = {"xref": "paper", "yref": "paper", "x": 0, "xanchor": "left", "yanchor": "bottom", "showarrow": False}
    fig.update_layout(
        width=int(length * px + MARGIN["l"] + MARGIN["r"]),
        height=150,
        margin={"l": MARGIN["l"], "r": MARGIN["r"], "t": 24, "b": 4},
        template="plotly_white",
        font={"family": FONT, "size": FIG_FONT},
        annotations=[
            {**label, "y": 1.0, "text": f"<b>memory</b>, in address order — {verdict}", "font": {"size": FIG_FONT}},
            {**label, "y": 0.33, "text": "<b>reading order</b>: the stage read row by row", "font": {"size": FIG_FONT}},
        ],
    )
    return fig
