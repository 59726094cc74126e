"""bertviz's model view as one plotly figure: every layer × head of one text as small multiples.

All ``layers × heads`` attention matrices are tiled into ONE heatmap (rows = layers, columns = heads,
NaN gaps between tiles), so even bert-base's 144 heads cost one trace, not 144 subplots. On top:

- padding (attention mask 0) shaded grey in every tile, query rows and key columns;
- a small orange mark above the [CLS] and [SEP] key columns of every tile (the stripes many heads show);
- one invisible point at the centre of every tile carrying ``customdata = [layer, head]`` (1-based layer,
  0-based head), with a hover distance of half a tile: a click anywhere on a tile names that tile (the
  closest centre), and the page enlarges that head.

``fig.layout.meta`` holds ``{"layers", "heads", "tokens", "length", "cell"}``.

    >>> fig = attention_model_view(weights, tokens, length=9)   # weights (layers, heads, L, L)   # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

SPECIAL_TOKENS = ("[CLS]", "[SEP]", "<s>", "</s>")
PAD_TOKENS = ("[PAD]", "<pad>")
GAP = 2  # empty cells between tiles
SPECIAL_COLOR = "#e8590c"
PAD_SHADE = "rgba(120, 126, 138, 0.55)"
MAX_CELLS = 1_500_000  # layers × heads × L²: above this the model view is refused (the page says why)
TILE_PX = (40, 72)  # smallest and largest tile edge in pixels
MAX_WIDTH_PX = 680  # fits the main column at 1024 px with the sidebar open


def model_view_cells(layers: int, heads: int, length: int) -> int:
    """How many attention weights the model view would draw."""
    return layers * heads * length * length


def attention_model_view(weights: Any, tokens: Sequence[str], length: int | None = None, title: str = "") -> go.Figure:
    """Small multiples of one text's attention: ``weights`` ``(layers, heads, L, L)``, rows = query tokens.

    ``tokens``: the L word pieces (padding included); ``length``: real tokens (the rest is padding), default L.
    Raises ValueError for a wrong shape, a token count that does not match, or more than ``MAX_CELLS`` weights.
    """
    w = np.asarray(weights.detach().float().cpu().numpy() if hasattr(weights, "detach") else weights, np.float32)
    if w.ndim != 4 or w.shape[2] != w.shape[3]:
        raise ValueError(f"attention_model_view: expected (layers, heads, L, L) weights, got shape {w.shape}")
    n_layers, n_heads, L, _ = w.shape
    if len(tokens) != L:
        raise ValueError(f"attention_model_view: {len(tokens)} tokens for attention over {L} positions")
    if model_view_cells(n_layers, n_heads, L) > MAX_CELLS:
        raise ValueError(
            f"attention_model_view: {n_layers} layers × {n_heads} heads × {L}² = "
            f"{model_view_cells(n_layers, n_heads, L):,} weights is too many to draw at once "
            f"(limit {MAX_CELLS:,}); use fewer tokens"
        )
    n = L if length is None else int(length)
    if not 0 < n <= L:
        raise ValueError(f"attention_model_view: length {n} outside 1..{L}")
    step = L + GAP
    grid = np.full((n_layers * step - GAP, n_heads * step - GAP), np.nan, dtype=np.float32)
    shade = np.full_like(grid, np.nan)
    for layer in range(n_layers):
        for head in range(n_heads):
            r, c = layer * step, head * step
            grid[r : r + L, c : c + L] = w[layer, head]  # (L, L) tile: rows = queries, columns = keys
            if n < L:
                shade[r + n : r + L, c : c + L] = 1.0  # padding queries
                shade[r : r + L, c + n : c + L] = 1.0  # padding keys
    cell = float(np.clip(MAX_WIDTH_PX / (n_heads * step), TILE_PX[0] / step, TILE_PX[1] / step))  # px per weight
    width = max(round(n_heads * step * cell) + 130, 360)
    height = round(n_layers * step * cell) + 110
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            zmin=0.0,
            zmax=1.0,
            colorscale="Blues",
            showscale=True,
            colorbar={"thickness": 10, "title": {"text": "weight"}, "len": 0.6},
            hoverinfo="skip",
            name="attention",
        )
    )
    if n < L:
        fig.add_trace(
            go.Heatmap(
                z=shade,
                colorscale=[[0, PAD_SHADE], [1, PAD_SHADE]],
                showscale=False,
                hoverinfo="skip",
                name="padding",
            )
        )
    special = [i for i, t in enumerate(tokens[:n]) if t in SPECIAL_TOKENS]
    if special:
        xs = [head * step + i for head in range(n_heads) for i in special]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[-1.2] * len(xs),
                mode="markers",
                marker={"symbol": "triangle-down", "size": 6, "color": SPECIAL_COLOR},
                hoverinfo="skip",
                showlegend=False,
                name="[CLS] / [SEP]",
            )
        )
    centres = [(layer, head) for layer in range(n_layers) for head in range(n_heads)]
    fig.add_trace(
        go.Scatter(
            x=[head * step + (L - 1) / 2 for _, head in centres],
            y=[layer * step + (L - 1) / 2 for layer, _ in centres],
            mode="markers",
            marker={"size": 6, "color": "rgba(0,0,0,0.01)", "line": {"width": 0}},
            customdata=[[layer + 1, head] for layer, head in centres],
            hovertemplate="layer %{customdata[0]}, head %{customdata[1]}<br>click to enlarge<extra></extra>",
            showlegend=False,
            name="tiles",
        )
    )
    fig.update_xaxes(
        tickmode="array",
        tickvals=[h * step + (L - 1) / 2 for h in range(n_heads)],
        ticktext=[f"head {h}" if n_heads <= 12 else str(h) for h in range(n_heads)],
        side="top",
        showgrid=False,
        zeroline=False,
        range=[-0.5 - 0.5, n_heads * step - GAP - 0.5 + 0.5],
        tickfont={"size": 12},
    )
    fig.update_yaxes(
        tickmode="array",
        tickvals=[layer * step + (L - 1) / 2 for layer in range(n_layers)],
        ticktext=[f"layer {layer + 1}" for layer in range(n_layers)],
        autorange=False,
        range=[n_layers * step - GAP - 0.5 + 0.5, -2.2],
        showgrid=False,
        zeroline=False,
        tickfont={"size": 12},
    )
    fig.update_layout(
        template="plotly_white",
        width=width,
        height=height,
        margin={"l": 70, "r": 10, "t": 70 if title else 40, "b": 10},
        title={"text": html.escape(title), "x": 0, "font": {"size": 14}} if title else None,
        clickmode="event+select",
        hovermode="closest",
        hoverdistance=int(L * cell / 2) + 4,  # anywhere on a tile is closest to that tile's centre
        dragmode=False,
        meta={"layers": n_layers, "heads": n_heads, "tokens": L, "length": n, "cell": round(cell, 2)},
        plot_bgcolor="white",
    )
    return fig


def token_ticks(tokens: Sequence[str], length: int | None = None, limit: int = 12) -> list[str]:
    """Tick labels for an attention heatmap: [CLS]/[SEP] in orange and bold, padding in grey italics."""
    n = len(tokens) if length is None else length
    out = []
    for i, tok in enumerate(tokens):
        text = html.escape(tok if len(tok) <= limit else tok[: limit - 1] + "…")
        if i >= n or tok in PAD_TOKENS:
            out.append(f"<i><span style='color:#8a909c'>{text}</span></i>")
        elif tok in SPECIAL_TOKENS:
            out.append(f"<b><span style='color:{SPECIAL_COLOR}'>{text}</span></b>")
        else:
            out.append(text)
    return out


__all__ = ["MAX_CELLS", "attention_model_view", "model_view_cells", "token_ticks"]
