"""Plotly figures for the pooling comparison, built from plain arrays and records by pure functions.

- ``pca_scatter``: one strategy's texts in a 2-D / 3-D projection (PCA or t-SNE), one trace per label; the
  picked text and its nearest neighbours ringed.
- ``similarity_heatmap``: the ``(N, N)`` cosine matrix, rows grouped by label so blocks appear.
- ``token_pca_figure``: one text's token vectors across layers, one animation frame per layer.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from core.analysis.projection import Projection, pca

HEIGHT = 420
MARGIN = {"l": 50, "r": 10, "t": 40, "b": 40}
TEMPLATE = "plotly_white"
# Colour-blind-safe qualitative palette; labels get colours in sorted order, so a label keeps its
# colour in every strategy's plot.
PALETTE: tuple[str, ...] = tuple(qualitative.Safe)
UNLABELLED = "texts"
HOVER_CHARS = 120
HOVER_WRAP = 50


def label_colors(labels: Sequence[str] | None) -> dict[str, str]:
    """Map each distinct label (sorted) to a palette colour, cycling past the palette's length."""
    names = sorted(set(labels)) if labels is not None else [UNLABELLED]
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def hover_text(text: str, limit: int = HOVER_CHARS, width: int = HOVER_WRAP) -> str:
    """A text truncated to ``limit`` characters, HTML-escaped and wrapped with ``<br>`` for hover boxes."""
    short = text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
    return "<br>".join(html.escape(line, quote=False) for line in textwrap.wrap(short, width) or [""])


def group_order(names: Sequence[str]) -> list[int]:
    """Indices that put equal names next to each other, groups in order of first appearance.

    ``["b", "a", "b", "c", "a"] -> [0, 2, 1, 4, 3]``; all-distinct names keep their order.
    """
    first: dict[str, int] = {}
    for name in names:
        first.setdefault(name, len(first))
    return sorted(range(len(names)), key=lambda i: (first[names[i]], i))


PICKED_COLOR = "#111111"
NEIGHBOUR_COLOR = "#555555"


def pca_scatter(
    projection: Projection,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    title: str = "",
    *,
    picked: int | None = None,
    neighbours: Sequence[int] = (),
) -> go.Figure:
    """Scatter of a ``Projection`` (PCA or t-SNE) with ``(N, 2)`` or ``(N, 3)`` coords; one trace per label.

    Hover shows the label, the text's number and the (truncated, wrapped) text. Axis titles carry
    the explained variance, e.g. ``"PC1 (41.2%)"`` (``"t-SNE 1"`` for t-SNE). Every point's
    ``customdata`` is its row index in ``texts``, so a click event names the text. ``picked`` (a row
    index) gets a thick ring and ``neighbours`` thin ones, drawn as the last two traces ("nearest",
    "picked") with no legend entry and no hover; their ``customdata`` are the same row indices.
    """
    coords = projection.coords
    n, k = coords.shape
    if len(texts) != n or (labels is not None and len(labels) != n):
        raise ValueError(
            f"pca_scatter: coords of shape {coords.shape} but {len(texts)} texts and "
            f"{'no' if labels is None else len(labels)} labels; pass one of each per point"
        )
    bad = [i for i in (*neighbours, *([] if picked is None else [picked])) if not 0 <= i < n]
    if bad:
        raise ValueError(f"pca_scatter: point {bad[0]} does not exist; there are {n} points (0..{n - 1})")
    names = list(labels) if labels is not None else [UNLABELLED] * n
    colors = label_colors(labels)
    axis_titles = projection.axis_titles()
    fig = go.Figure()
    for name in sorted(set(names)):
        idx = [i for i in range(n) if names[i] == name]
        hover = [f"<b>{html.escape(name, quote=False)}</b> · #{i + 1}<br>{hover_text(texts[i])}" for i in idx]
        common = {
            "name": html.escape(name, quote=False),  # plotly renders a subset of HTML (links too) in the legend
            "mode": "markers",
            "hovertext": hover,
            "hovertemplate": "%{hovertext}<extra></extra>",
            "legendgroup": name,
            "customdata": idx,
        }
        if k == 3:
            fig.add_trace(
                go.Scatter3d(
                    x=coords[idx, 0],
                    y=coords[idx, 1],
                    z=coords[idx, 2],
                    marker={"size": 4, "color": colors[name], "opacity": 0.85},
                    **common,
                )
            )
        else:
            fig.add_trace(
                go.Scatter(
                    x=coords[idx, 0],
                    y=coords[idx, 1],
                    marker={
                        "size": 8,
                        "color": colors[name],
                        "opacity": 0.85,
                        "line": {"width": 0.5, "color": "white"},
                    },
                    **common,
                )
            )
    for ring, rows, size, width, color in (
        ("nearest", list(neighbours), 13, 1.5, NEIGHBOUR_COLOR),
        ("picked", [] if picked is None else [picked], 18, 3, PICKED_COLOR),
    ):
        if rows:
            fig.add_trace(_ring(coords, rows, ring, size, width, color))
    _style(fig, title)
    if k == 3:
        fig.update_layout(
            scene={
                "xaxis_title": axis_titles[0],
                "yaxis_title": axis_titles[1],
                "zaxis_title": axis_titles[2],
            }
        )
    else:
        fig.update_xaxes(title_text=axis_titles[0], zeroline=False)
        fig.update_yaxes(title_text=axis_titles[1], zeroline=False)
    # the legend at the figure's bottom edge (container coordinates: pixels from the edge, whatever the plot's
    # size), below the x-axis title in the bottom margin; in paper coordinates they overlapped after a resize
    legend = {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0}
    fig.update_layout(
        legend=legend if k != 3 else {"orientation": "h", "yanchor": "top", "y": -0.05, "x": 0},
        margin=dict(MARGIN, b=max(MARGIN.get("b", 0), 86)),
    )
    return fig


def _ring(coords: np.ndarray, rows: list[int], name: str, size: int, width: float, color: str) -> go.BaseTraceType:
    """Open circles around ``rows`` of ``coords`` (N, 2 or 3): drawn on top, no legend, no hover."""
    common = {"name": name, "mode": "markers", "showlegend": False, "hoverinfo": "skip", "customdata": rows}
    if coords.shape[1] == 3:
        return go.Scatter3d(
            x=coords[rows, 0],
            y=coords[rows, 1],
            z=coords[rows, 2],
            marker={"size": size / 2, "symbol": "circle-open", "color": color, "line": {"width": width}},
            **common,
        )
    return go.Scatter(
        x=coords[rows, 0],
        y=coords[rows, 1],
        marker={"size": size, "symbol": "circle-open", "color": color, "line": {"width": width, "color": color}},
        **common,
    )


def similarity_heatmap(
    S: np.ndarray,
    labels_or_texts: Sequence[str],
    title: str = "",
    *,
    texts: Sequence[str] | None = None,
) -> go.Figure:
    """Heatmap of an ``(N, N)`` similarity matrix on a fixed -1..1 diverging scale.

    ``labels_or_texts`` names the rows: labels (rows are grouped so same-label blocks appear, with a
    tick per label and lines between blocks) or, without labels, the texts themselves (order kept).
    ``texts``, when given, are shown in the hover next to the labels. ``fig.layout.meta["order"]``
    holds the row order used, so ``z == S[order][:, order]``.
    """
    S = np.asarray(S, dtype=np.float64)
    n = len(labels_or_texts)
    if S.shape != (n, n) or (texts is not None and len(texts) != n):
        raise ValueError(
            f"similarity_heatmap: matrix of shape {S.shape} but {n} row names"
            + (f" and {len(texts)} texts" if texts is not None else "")
            + "; pass an (N, N) matrix and N names"
        )
    names = list(labels_or_texts)
    order = group_order(names)
    grouped = len(set(names)) < n

    def row_name(i: int) -> str:
        snippet = texts[i] if texts is not None else ("" if grouped else names[i])
        snippet = snippet if len(snippet) <= 40 else snippet[:39] + "…"
        tag = f" [{names[i]}]" if grouped else ""
        return html.escape(f"#{i + 1}{tag} {snippet}".strip(), quote=False)

    axis = [row_name(i) for i in order]
    fig = go.Figure(
        go.Heatmap(
            z=S[np.ix_(order, order)],  # (N, N) rows and columns reordered by group
            x=axis,
            y=axis,
            zmin=-1.0,
            zmax=1.0,
            zmid=0.0,
            colorscale="RdBu_r",
            colorbar={"title": {"text": "cosine", "side": "right"}, "thickness": 12},
            hovertemplate="%{y}<br>%{x}<br>cosine %{z:.3f}<extra></extra>",
        )
    )
    _style(fig, title)
    fig.update_layout(meta={"order": order})
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_xaxes(constrain="domain")
    if grouped:
        ordered = [names[i] for i in order]
        starts = [p for p in range(n) if p == 0 or ordered[p] != ordered[p - 1]]
        ends = [*starts[1:], n]
        ticks = {
            "tickmode": "array",
            "tickvals": [axis[(a + b - 1) // 2] for a, b in zip(starts, ends, strict=True)],
            "ticktext": [_short(ordered[a], 20) for a in starts],
        }
        fig.update_xaxes(showticklabels=False)  # symmetric: the row labels name the groups; rotated column
        fig.update_yaxes(**ticks)  # labels overlapped each other in a third of a 1024 px page
        # one list of lines between blocks, set once: add_vline / add_hline re-validate every shape on each
        # call, so 250 labels (498 lines) took ~56 s per heatmap that way
        line = {"color": "black", "width": 1}
        shapes = [
            {"type": "line", "xref": xref, "yref": yref, "x0": x0, "x1": x1, "y0": y0, "y1": y1, "line": line}
            for p in starts[1:]
            for xref, yref, x0, x1, y0, y1 in (
                ("x", "y domain", p - 0.5, p - 0.5, 0, 1),  # vertical
                ("x domain", "y", 0, 1, p - 0.5, p - 0.5),  # horizontal
            )
        ]
        fig.update_layout(shapes=shapes)
    else:
        show = n <= 30
        fig.update_xaxes(showticklabels=False)
        fig.update_yaxes(
            showticklabels=show,
            tickmode="array",
            tickvals=axis,
            ticktext=[_short(names[i], 25) for i in order],
        )
    return fig


def token_pca_figure(
    token_vectors_per_layer: Sequence[np.ndarray],
    tokens: Sequence[str],
    layer_names: Sequence[str] | None = None,
    title: str = "",
) -> go.Figure:
    """Animated 2-D PCA of ONE text's token vectors across layers.

    ``token_vectors_per_layer``: L arrays of shape ``(tokens, hidden)``; ``tokens``: the T word pieces.
    PCA is fitted once on all layers stacked, ``(L*T, H) -> (L*T, 2)``, so axes are comparable across
    frames; axis ranges are fixed. One frame (and slider step) per layer; ``layer_names`` default to
    ``"layer 0"``, ``"layer 1"``, ...
    """
    if len(token_vectors_per_layer) == 0:
        raise ValueError("token_pca_figure: no layers given; pass one (tokens, hidden) array per layer")
    arrays = [np.asarray(a, dtype=np.float64) for a in token_vectors_per_layer]
    t = len(tokens)
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 2 or arrays[0].shape[0] != t:
        raise ValueError(
            f"token_pca_figure: expected {len(arrays)} arrays of shape ({t}, hidden) for {t} tokens; "
            f"got shapes {sorted(shapes)}"
        )
    n_layers = len(arrays)
    names = list(layer_names) if layer_names is not None else [f"layer {i}" for i in range(n_layers)]
    if len(names) != n_layers:
        raise ValueError(f"token_pca_figure: {len(names)} layer names for {n_layers} layers")

    stacked = np.concatenate(arrays, axis=0)  # L x (T, H) -> (L*T, H)
    proj = pca(stacked, 2)
    coords = proj.coords.reshape(n_layers, t, 2)  # (L*T, 2) -> (L, T, 2)
    x_range, y_range = (_padded_range(coords[..., j]) for j in (0, 1))
    labels = [html.escape(tok, quote=False) for tok in tokens]

    def layer_trace(i: int) -> go.Scatter:
        return go.Scatter(
            x=coords[i, :, 0],
            y=coords[i, :, 1],
            mode="markers+text",
            text=labels,
            textposition="top center",
            textfont={"size": 12},
            marker={
                "size": 9,
                "color": list(range(t)),
                "colorscale": "Viridis",
                "cmin": 0,
                "cmax": max(t - 1, 1),
                "line": {"width": 0.5, "color": "white"},
            },
            customdata=list(range(t)),
            hovertemplate=f"%{{text}} (position %{{customdata}})<br>{html.escape(names[i])}<extra></extra>",
            showlegend=False,
        )

    frames = [go.Frame(data=[layer_trace(i)], name=names[i]) for i in range(n_layers)]
    still = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    fig = go.Figure(data=[layer_trace(0)], frames=frames)
    _style(fig, title)
    axis_titles = proj.axis_titles()
    fig.update_xaxes(title_text=axis_titles[0], range=x_range, zeroline=False)
    fig.update_yaxes(title_text=axis_titles[1], range=y_range, zeroline=False)
    fig.update_layout(
        height=HEIGHT + 80,
        margin=dict(MARGIN, b=90),
        sliders=[
            {
                "active": 0,
                "currentvalue": {"prefix": ""},
                "pad": {"t": 30},
                "steps": [{"method": "animate", "label": name, "args": [[name], still]} for name in names],
            }
        ],
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0,
                "y": -0.12,
                "xanchor": "right",
                "yanchor": "top",
                "pad": {"r": 10, "t": 30},
                "showactive": False,
                "buttons": [
                    {
                        "label": "▶",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": 700, "redraw": False},
                                "fromcurrent": True,
                                "transition": {"duration": 300},
                            },
                        ],
                    },
                    {"label": "❚❚", "method": "animate", "args": [[None], still]},
                ],
            }
        ],
    )
    return fig


def _style(fig: go.Figure, title: str) -> None:
    fig.update_layout(
        template=TEMPLATE,
        height=HEIGHT,
        margin=MARGIN,
        title={"text": html.escape(title, quote=False), "x": 0.0, "xanchor": "left", "font": {"size": 14}}
        if title
        else None,
        hoverlabel={"align": "left"},
    )


def _short(text: str, limit: int) -> str:
    return html.escape(text if len(text) <= limit else text[: limit - 1] + "…", quote=False)


def _padded_range(values: np.ndarray, pad: float = 0.08) -> list[float]:
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo if hi > lo else 1.0
    return [lo - pad * span, hi + pad * span]
