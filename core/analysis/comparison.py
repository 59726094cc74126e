"""Pooling comparison: every strategy from one forward pass, then PCA, similarity and separation scores.

The one core call of the pooling page. Everything in the returned ``Comparison`` is plain values and
numpy arrays, so it pickles (Streamlit's ``st.cache_data``) and exports (``export_zip``, ``export_csv``).

Example::

    >>> data = load_sample("sentiment")                                            # doctest: +SKIP
    >>> c = compare_pooling(load_checkpoint(), data.texts, data.labels)             # doctest: +SKIP
    >>> c.embeddings["mean"].shape, c.embeddings["last4_concat"].shape              # doctest: +SKIP
    ((40, 384), (40, 1536))                        # (texts, hidden) and (texts, 4·hidden)
    >>> c.projections_2d["mean"].coords.shape, c.similarity["mean"].shape            # doctest: +SKIP
    ((40, 2), (40, 40))
    >>> c.best                                                                       # doctest: +SKIP
    'mean'
"""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analysis.cells import safe_cell
from core.analysis.neighbours import Neighbour, nearest
from core.analysis.projection import Projection, pca
from core.analysis.samples import InputError, LabelledTexts, decode_upload, parse_csv, parse_labelled_text
from core.analysis.scores import (
    StrategyScore,
    best_strategy,
    cosine_similarity_matrix,
    fewest_per_label,
    majority_baseline,
    probe_note,
    score_table,
)
from core.errors import SpecError
from core.limits import current as current_limits
from core.model.checkpoints import Checkpoint
from core.model.embed import DEFAULT_TOKEN_BUDGET, embed_texts
from core.model.pooling import DESCRIPTIONS
from core.spec import Pooling

# every sentence-level strategy, in the order the page shows them
STRATEGIES: tuple[Pooling, ...] = tuple(p for p in Pooling if p is not Pooling.NONE)
Progress = Callable[[float, str], None]
# share of the progress bar given to encoding; the rest is PCA + scores
ENCODE_SHARE = 0.8
# the text columns of every table export: ``number`` is the page's #n (from 1, as the pickers show it),
# ``npy_row`` the same text's row in each .npy array (from 0, numpy's index)
TEXT_COLUMNS = ("number", "npy_row", "label", "text")


@dataclass(frozen=True)
class Comparison:
    """Every pooling strategy of one text set, from one forward pass per batch.

    Attributes:
        checkpoint: the checkpoint id, e.g. ``"bundled:all-MiniLM-L6-v2"``.
        texts: the N texts, in input order; labels: N labels, or None.
        layer: the hidden-states index that cls / mean / max read (0 = embeddings, -1 = last layer);
            layer_name: the same in words, e.g. ``"layer 6 (last)"``.
        max_length: truncation in tokens; lengths: real tokens per text (after truncation);
            truncated: how many texts max_length cut.
        strategies: the computed strategies' names, in ``STRATEGIES`` order.
        skipped: ``(strategy, reason)`` for the requested strategies the checkpoint cannot compute.
        embeddings: strategy -> ``(N, D)`` float32 (D = 4·hidden for last4_concat, else hidden).
        projections_2d, projections_3d: strategy -> ``Projection`` with ``(N, 2)`` / ``(N, 3)`` coords.
        similarity: strategy -> ``(N, N)`` float32 cosine similarity.
        scores: one ``StrategyScore`` per strategy (silhouette, probe accuracy, 2-D explained variance).
        best: the strategy with the highest probe accuracy (ties: silhouette), or None without labels.
        baseline: the majority-class baseline (share of the most common label), the accuracy a probe must beat;
            None without labels. fewest: ``(label, count)`` of the rarest label, or None.
        forward_passes: model forward calls made (one per batch); seconds_encode, seconds_total: timings.
        notes: plain-language remarks on what was not computed and why (e.g. too many labels for the probe).
    """

    checkpoint: str
    texts: tuple[str, ...]
    labels: tuple[str, ...] | None
    layer: int
    layer_name: str
    max_length: int
    lengths: tuple[int, ...]
    truncated: int
    strategies: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    embeddings: dict[str, np.ndarray]
    projections_2d: dict[str, Projection]
    projections_3d: dict[str, Projection]
    similarity: dict[str, np.ndarray]
    scores: tuple[StrategyScore, ...]
    best: str | None
    baseline: float | None
    fewest: tuple[str, int] | None
    forward_passes: int
    seconds_encode: float
    seconds_total: float
    notes: tuple[str, ...] = ()

    @property
    def n_texts(self) -> int:
        return len(self.texts)

    def score(self, strategy: str) -> StrategyScore:
        for row in self.scores:
            if row.strategy == strategy:
                return row
        raise KeyError(f"no scores for {strategy!r}; computed: {', '.join(self.strategies)}")

    def projection(self, strategy: str, dims: int = 2) -> Projection:
        """The ``(N, dims)`` PCA projection of one strategy (dims 2 or 3)."""
        if dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3, got {dims!r}")
        return (self.projections_2d if dims == 2 else self.projections_3d)[strategy]

    def neighbours(self, strategy: str, index: int, k: int = 5) -> list[Neighbour]:
        """The ``k`` texts nearest to text ``index`` by cosine similarity under ``strategy`` (itself excluded)."""
        return nearest(self.similarity[strategy], index, k)

    def table(self) -> list[dict[str, Any]]:
        """The score table as rows of plain values (one per strategy), for a dataframe."""
        return [
            {
                "strategy": s.strategy,
                "dim": s.dim,
                "probe accuracy": s.probe_accuracy,
                "± (folds)": s.probe_std,
                "silhouette": s.silhouette,
                "PCA 2-D variance": s.explained_variance_2d,
                "best": s.strategy == self.best,
                "what it is": DESCRIPTIONS[Pooling(s.strategy)],
            }
            for s in self.scores
        ]


def supported(strategy: Pooling, ckpt: Checkpoint) -> str | None:
    """None when the checkpoint can compute ``strategy``, else the reason it cannot."""
    if strategy is Pooling.NONE:
        return "'none' keeps every token vector; the comparison needs one vector per text"
    if strategy is Pooling.POOLER and not ckpt.info.has_pooler:
        return "this checkpoint has no pooler layer"
    if strategy in (Pooling.LAST4_CONCAT, Pooling.LAST4_SUM) and ckpt.info.num_layers + 1 < 4:
        return f"needs 4 hidden-state entries; this model has {ckpt.info.num_layers + 1}"
    return None


def layer_name(layer: int, num_layers: int) -> str:
    """``0 -> "embeddings"``, ``-1`` or the last index -> ``"layer 6 (last)"``; raises SpecError if out of range."""
    n = num_layers + 1  # hidden_states = embeddings + one entry per layer
    if not -n <= layer < n:
        raise SpecError(
            f"layer {layer} does not exist: this model has {n} hidden-state entries "
            f"(0 = embeddings, 1..{num_layers} = transformer layers; negative counts from the end)"
        )
    index = layer % n
    if index == 0:
        return "embeddings (layer 0)"
    return f"layer {index}" + (" (last)" if index == num_layers else "")


def compare_pooling(
    ckpt: Checkpoint,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    strategies: Sequence[Pooling | str] | None = None,
    layer: int = -1,
    max_length: int = 256,
    progress: Progress | None = None,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    max_flops: float | None = None,
) -> Comparison:
    """Embed ``texts`` with every requested strategy from ONE forward pass per batch, then project and score.

    ``strategies`` None means all of ``STRATEGIES``; those the checkpoint cannot compute (pooler on a
    model without one, last-4 strategies on a 2-layer model) are listed in ``skipped`` instead.
    ``layer`` is the hidden-states entry cls / mean / max read. ``progress(fraction, message)`` is
    called as batches finish and as each strategy is scored. ``max_flops``: the encoding's work budget
    (None: the server's ``work_flops``, see ``core.limits``); over it, BudgetExceeded before anything runs.
    """
    start = time.perf_counter()
    texts = tuple(texts)
    if not texts:
        raise InputError("no texts to compare: give at least one text")
    labels = tuple(labels) if labels is not None else None
    if labels is not None and len(labels) != len(texts):
        raise InputError(f"{len(texts)} texts but {len(labels)} labels; give one label per text")
    name = layer_name(layer, ckpt.info.num_layers)
    wanted = _strategies(strategies)
    skipped = tuple((s.value, why) for s in wanted if (why := supported(s, ckpt)) is not None)
    runnable = [s for s in wanted if supported(s, ckpt) is None]
    if not runnable:
        reasons = "; ".join(f"{s}: {why}" for s, why in skipped)
        raise SpecError(f"none of the chosen strategies can run on {ckpt.info.id} ({reasons})")

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(max(fraction, 0.0), 1.0), message)

    def encoded(done: int, total: int) -> None:
        report(done / total * ENCODE_SHARE, f"Encoding: {done}/{total} texts")

    report(0.0, f"Encoding {len(texts)} texts…")
    calls_before = ckpt.forward_calls
    work = current_limits().work_flops if max_flops is None else max_flops
    pooled = embed_texts(ckpt, texts, runnable, max_length, layer, token_budget, encoded, max_flops=work)
    forward_passes = ckpt.forward_calls - calls_before
    seconds_encode = time.perf_counter() - start
    lengths, truncated = _lengths(ckpt, texts, max_length)

    embeddings = {s.value: pooled[s] for s in runnable}  # each (N, D) float32, input order
    proj2: dict[str, Projection] = {}
    proj3: dict[str, Projection] = {}
    sims: dict[str, np.ndarray] = {}
    rows: list[StrategyScore] = []
    for i, (s, X) in enumerate(embeddings.items()):
        report(ENCODE_SHARE + (1 - ENCODE_SHARE) * i / len(embeddings), f"PCA and scores: {s}")
        proj2[s] = pca(X, 2)  # (N, D) -> (N, 2)
        proj3[s] = pca(X, 3)  # (N, D) -> (N, 3)
        sims[s] = cosine_similarity_matrix(X).astype(np.float32)  # (N, D) -> (N, N)
        rows += score_table({s: X}, labels)  # silhouette, cross-validated probe, 2-D variance
    scores = tuple(rows)
    report(1.0, "Done")
    return Comparison(
        checkpoint=ckpt.info.id,
        texts=texts,
        labels=labels,
        layer=layer,
        layer_name=name,
        max_length=max_length,
        lengths=lengths,
        truncated=truncated,
        strategies=tuple(embeddings),
        skipped=skipped,
        embeddings=embeddings,
        projections_2d=proj2,
        projections_3d=proj3,
        similarity=sims,
        scores=scores,
        best=best_strategy(scores),
        baseline=majority_baseline(labels),
        fewest=fewest_per_label(labels),
        forward_passes=forward_passes,
        seconds_encode=seconds_encode,
        seconds_total=time.perf_counter() - start,
        notes=tuple(n for n in (probe_note(labels),) if n),
    )


@dataclass(frozen=True)
class TokenLayers:
    """One text's token vectors at every layer, for the token-level PCA view.

    tokens: the T word pieces (special tokens included); vectors: one ``(T, hidden)`` float32 array per
    hidden-states entry (embeddings first); names: ``"embeddings"``, ``"layer 1"``, ...
    """

    text: str
    tokens: tuple[str, ...]
    vectors: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    truncated: int


def token_layers(ckpt: Checkpoint, text: str, max_length: int = 256) -> TokenLayers:
    """``text`` -> its ``(T, hidden)`` token vectors at each of the L+1 hidden-states entries (one pass)."""
    from core.model.encoding import encode

    enc = encode(ckpt, (text,), max_length, attentions=False)
    n = enc.lengths[0]  # one text: no padding, but slice anyway
    vectors = tuple(h[0, :n].float().cpu().numpy() for h in enc.hidden_states)  # (1, T, H) -> (T, H)
    names = tuple("embeddings" if i == 0 else f"layer {i}" for i in range(len(vectors)))
    return TokenLayers(text, enc.tokens[0][:n], vectors, names, enc.truncated[0])


# --- input -----------------------------------------------------------------------------------------
def read_upload(filename: str, data: bytes) -> LabelledTexts:
    """An uploaded file -> texts and labels. ``.csv``: a ``text`` column and optional ``label`` column;
    anything else (``.tsv`` / ``.txt``): one ``label<TAB>text`` (or plain text) per line.

    Raises ``InputError`` with a plain message (wrong columns, empty, binary, too big, too many texts).
    """
    if filename.lower().endswith(".csv"):
        return parse_csv(data)
    return parse_labelled_text(decode_upload(data))


# --- export ----------------------------------------------------------------------------------------
def export_zip(c: Comparison) -> bytes:
    """A zip with one ``<strategy>.npy`` ``(N, D)`` float32 per strategy, ``texts.tsv`` (``TEXT_COLUMNS``;
    cells neutralised by ``safe_cell``) and ``info.json`` (checkpoint, layer, max_length, scores)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for s, X in c.embeddings.items():
            npy = io.BytesIO()
            np.save(npy, X)
            zf.writestr(f"{s}.npy", npy.getvalue())
        rows = io.StringIO()
        writer = csv.writer(rows, delimiter="\t", lineterminator="\r\n")  # RFC 4180: a CR or LF in a cell is quoted
        writer.writerow(TEXT_COLUMNS)
        for i, text in enumerate(c.texts):
            writer.writerow([i + 1, i, safe_cell(c.labels[i] if c.labels else ""), safe_cell(text)])
        zf.writestr("texts.tsv", rows.getvalue())
        zf.writestr("info.json", json.dumps(_info(c), indent=2, ensure_ascii=False))
    return buf.getvalue()


def export_csv(c: Comparison) -> bytes:
    """One CSV row per text: ``TEXT_COLUMNS``, then ``<strategy>_<j>`` for every dimension j of every
    strategy (e.g. ``mean_0 … mean_383``). UTF-8; label and text cells neutralised by ``safe_cell``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180: a CR or LF in a cell is quoted
    header = list(TEXT_COLUMNS)
    for s, X in c.embeddings.items():
        header += [f"{s}_{j}" for j in range(X.shape[1])]
    writer.writerow(header)
    blocks = list(c.embeddings.values())
    for i, text in enumerate(c.texts):
        values = [f"{v:.7g}" for X in blocks for v in X[i].tolist()]
        writer.writerow([i + 1, i, safe_cell(c.labels[i] if c.labels else ""), safe_cell(text), *values])
    return buf.getvalue().encode("utf-8")


def _info(c: Comparison) -> dict[str, Any]:
    return {
        "checkpoint": c.checkpoint,
        "layer": c.layer,
        "layer_name": c.layer_name,
        "max_length": c.max_length,
        "texts": c.n_texts,
        "truncated_texts": c.truncated,
        "strategies": {s: list(X.shape) for s, X in c.embeddings.items()},
        "skipped": dict(c.skipped),
        "majority_baseline": c.baseline,
        "best": c.best,
        "scores": [row.__dict__ for row in c.scores],
    }


def _strategies(strategies: Sequence[Pooling | str] | None) -> list[Pooling]:
    if strategies is None:
        return list(STRATEGIES)
    chosen = {Pooling.parse(s.value if isinstance(s, Pooling) else s) for s in strategies}
    if not chosen:
        raise SpecError(f"choose at least one pooling strategy: {', '.join(s.value for s in STRATEGIES)}")
    if Pooling.NONE in chosen:
        raise SpecError("'none' keeps every token vector; the comparison needs one vector per text")
    return [s for s in STRATEGIES if s in chosen]


def _lengths(ckpt: Checkpoint, texts: tuple[str, ...], max_length: int) -> tuple[tuple[int, ...], int]:
    limit = min(max_length or ckpt.info.max_positions, ckpt.info.max_positions)
    with ckpt.lock:
        full = ckpt.tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    return tuple(min(len(ids), limit) for ids in full), sum(len(ids) > limit for ids in full)


__all__ = [
    "STRATEGIES",
    "TEXT_COLUMNS",
    "Comparison",
    "TokenLayers",
    "compare_pooling",
    "export_csv",
    "export_zip",
    "layer_name",
    "read_upload",
    "supported",
    "token_layers",
]
