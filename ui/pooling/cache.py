"""Pooling page: the cached computations and figure specs, keyed by what they depend on.

``Source`` names one comparison (checkpoint, device, precision, texts, labels, layer, max_length); every
cache below is keyed by it, so switching strategies, 2-D / 3-D, PCA / t-SNE or the picked text never
encodes again, and a figure already drawn once is not rebuilt. Results are held with
``st.cache_resource`` (one shared object, no copy per rerun): they are plain, deterministic and never
mutated after they are built (figures are finished inside the builder).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import NamedTuple

import plotly.graph_objects as go
import streamlit as st

from core.analysis.comparison import Comparison, TokenLayers, compare_pooling, token_layers
from core.analysis.projection import Projection
from core.figures.pooling import pca_scatter, similarity_heatmap, token_pca_figure
from core.limits import deadline
from ui.common import get_checkpoint

PCA, TSNE = "PCA", "t-SNE"
HEATMAP_HEIGHT = 380
SCATTER_3D_HEIGHT = 560


class Source(NamedTuple):
    """What a comparison depends on (hashable: the cache key of everything on the page)."""

    checkpoint: str
    device: str
    half: bool
    texts: tuple[str, ...]
    labels: tuple[str, ...] | None
    layer: int
    max_length: int

    @property
    def digest(self) -> str:
        """A short stable name for these texts and labels: widgets whose options are the texts carry it in
        their key, so a new text set gets fresh widgets instead of a stale label (Streamlit keeps a keyed
        widget's value across option changes)."""
        h = hashlib.blake2b(digest_size=6)
        for part in (*self.texts, "\x00", *(self.labels or ())):
            h.update(part.encode("utf-8", "surrogatepass") + b"\x1f")
        return h.hexdigest()


@st.cache_resource(max_entries=4, show_spinner=False)
def comparison(src: Source) -> Comparison:
    """Every strategy at once (strategies are picked for display only, so switching never re-encodes)."""
    ckpt = get_checkpoint(src.checkpoint, src.device, src.half)
    bar = st.progress(0.0, text=f"Encoding {len(src.texts)} texts…")  # created and emptied in here: replay-safe
    try:
        with deadline():  # the server's time limit, checked between batches (core.limits)
            return compare_pooling(
                ckpt, src.texts, src.labels, None, src.layer, src.max_length, progress=lambda f, m: bar.progress(f, m)
            )
    finally:
        bar.empty()


@st.cache_resource(max_entries=64, show_spinner=False)
def tsne_projection(src: Source, strategy: str, dims: int) -> Projection:
    """t-SNE of one strategy's embeddings (seconds for hundreds of texts: only when asked for)."""
    from core.analysis.projection import tsne

    return tsne(comparison(src).embeddings[strategy], dims)


def projection(src: Source, strategy: str, method: str, dims: int) -> Projection:
    c = comparison(src)
    return c.projection(strategy, dims) if method == PCA else tsne_projection(src, strategy, dims)


def tsne_missing(src: Source, strategies: list[str], dims: int) -> list[str]:
    """The strategies whose t-SNE this session has not computed yet (session state remembers them)."""
    done = st.session_state.setdefault("po_tsne_done", set())
    return [s for s in strategies if (src, s, dims) not in done]


def compute_tsne(src: Source, strategies: list[str], dims: int, progress: Callable[[float, str], None]) -> None:
    """Compute the missing t-SNE maps one strategy at a time, reporting progress."""
    done = st.session_state.setdefault("po_tsne_done", set())
    for i, s in enumerate(strategies):
        progress(i / len(strategies), f"t-SNE {i + 1}/{len(strategies)}: {s}…")
        tsne_projection(src, s, dims)
        done.add((src, s, dims))
    progress(1.0, "t-SNE done")


@st.cache_resource(max_entries=128, show_spinner=False)
def scatter_figure(
    src: Source, strategy: str, method: str, dims: int, picked: int | None, neighbours: tuple[int, ...]
) -> go.Figure:
    c = comparison(src)
    proj = projection(src, strategy, method, dims)
    dim = c.embeddings[strategy].shape[1]
    title = f"{strategy} · {dim}-d"  # short: three maps share a row at 1024 px; the axes say the rest
    fig = pca_scatter(proj, c.texts, c.labels, title=title, picked=picked, neighbours=neighbours)
    if dims == 3:  # step the camera back so the axis titles fit
        fig.update_layout(height=SCATTER_3D_HEIGHT, scene={"camera": {"eye": {"x": 1.35, "y": 1.35, "z": 0.85}}})
    else:
        fig.update_layout(clickmode="event+select", dragmode="pan")
    return under_modebar(fig)


@st.cache_resource(max_entries=32, show_spinner=False)
def heatmap_figure(src: Source, strategy: str) -> go.Figure:
    c = comparison(src)
    names = list(c.labels) if c.labels else list(c.texts)
    fig = similarity_heatmap(c.similarity[strategy], names, title=strategy, texts=list(c.texts))
    fig.update_layout(height=HEATMAP_HEIGHT)  # the matrix is square: less height, less white space
    return under_modebar(fig)


@st.cache_resource(max_entries=32, show_spinner=False)
def tokens_of(checkpoint: str, device: str, half: bool, text: str, max_length: int) -> TokenLayers:
    return token_layers(get_checkpoint(checkpoint, device, half), text, max_length)


@st.cache_resource(max_entries=32, show_spinner=False)
def token_figure(checkpoint: str, device: str, half: bool, text: str, max_length: int) -> go.Figure:
    layers = tokens_of(checkpoint, device, half, text, max_length)
    fig = token_pca_figure(layers.vectors, layers.tokens, layers.names, title=f"{len(layers.tokens)} tokens")
    fig.update_layout(sliders=[{"x": 0.12, "len": 0.88}])  # leave room for the ▶ / ❚❚ buttons on the left
    return fig


def under_modebar(fig: go.Figure) -> go.Figure:
    """Move the title below the modebar row: in a third of a wide page they would overlap."""
    fig.update_layout(
        margin={"t": 64},
        title={"yref": "container", "y": 1.0, "yanchor": "top", "pad": {"t": 30}},
    )
    return fig


PNG_SCALE = 2


def chart_config(filename: str) -> dict:
    """Plotly modebar: the camera button saves a PNG under this name at PNG_SCALE x resolution (in the
    browser, by plotly.js itself: no server-side renderer such as kaleido is involved)."""
    return {
        "displaylogo": False,
        "modeBarButtonsToRemove": ["zoomIn2d", "zoomOut2d", "autoScale2d", "select2d", "lasso2d"],
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": PNG_SCALE},
    }
