"""Export in the TensorFlow Embedding Projector's format: ``vectors.tsv`` + ``metadata.tsv`` per strategy.

The projector (projector.tensorflow.org, "Load" -> step 1 vectors, step 2 metadata) reads:

- ``vectors.tsv``: one vector per line, the D values separated by tabs, no header;
- ``metadata.tsv``: one line per vector in the same order; with more than one column the first line is
  the header (here ``text<TAB>label``). A tab or line break inside a text would shift every later row, so
  they become spaces. People also open this .tsv in a spreadsheet: a cell starting with ``=``, ``+``, ``-``
  or ``@`` gets a leading ``'`` (``core.analysis.cells.safe_cell``, the rule of the .csv export), which the
  projector shows as one more character of the text.

Example::

    >>> files = projector_files(comparison)                                          # doctest: +SKIP
    >>> sorted(files)[:2]                                                             # doctest: +SKIP
    ['cls/metadata.tsv', 'cls/vectors.tsv']
    >>> files["mean/vectors.tsv"].decode().count("\\n") == comparison.n_texts         # doctest: +SKIP
    True
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping, Sequence

import numpy as np

from core.analysis.cells import safe_cell

METADATA_HEADER = ("text", "label")
NO_LABEL = "(none)"
_BREAKS = re.compile(r"[\t\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")  # everything str.splitlines() splits on, and tab


def vectors_tsv(X: np.ndarray) -> bytes:
    """``(N, D)`` array -> N lines of D tab-separated values; 9 significant digits, so float32 reads back exactly."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"vectors_tsv: expected an (N, D) array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("vectors_tsv: the embeddings hold nan or inf, which the projector cannot read")
    buf = io.StringIO()
    np.savetxt(buf, X, fmt="%.9g", delimiter="\t", newline="\n")  # %.9g: every float32 round-trips
    return buf.getvalue().encode("utf-8")


def one_line(text: str) -> str:
    """A text as one metadata cell: tabs and line breaks become single spaces; a formula-looking start
    (``=``, ``+``, ``-``, ``@`` after the spaces are stripped) gets a leading ``'`` (``safe_cell``)."""
    return safe_cell(_BREAKS.sub(" ", text).strip()) or " "


def metadata_tsv(texts: Sequence[str], labels: Sequence[str] | None) -> bytes:
    """Header ``text<TAB>label``, then one line per text (label ``(none)`` without labels)."""
    if labels is not None and len(labels) != len(texts):
        raise ValueError(f"metadata_tsv: {len(texts)} texts but {len(labels)} labels")
    rows = ["\t".join(METADATA_HEADER)]
    for i, text in enumerate(texts):
        label = labels[i] if labels is not None else NO_LABEL
        rows.append(f"{one_line(text)}\t{one_line(label)}")
    return ("\n".join(rows) + "\n").encode("utf-8")


def projector_files(
    embeddings: Mapping[str, np.ndarray], texts: Sequence[str], labels: Sequence[str] | None
) -> dict[str, bytes]:
    """``{"<strategy>/vectors.tsv": ..., "<strategy>/metadata.tsv": ...}`` for every strategy, in order.

    Each strategy's ``(N, D)`` array must have one row per text.
    """
    meta = metadata_tsv(texts, labels)
    files: dict[str, bytes] = {}
    for strategy, X in embeddings.items():
        if np.asarray(X).shape[0] != len(texts):
            raise ValueError(f"projector_files: {strategy} has {np.asarray(X).shape[0]} rows for {len(texts)} texts")
        files[f"{strategy}/vectors.tsv"] = vectors_tsv(X)
        files[f"{strategy}/metadata.tsv"] = meta
    return files


README = """Embedding Projector files, one pair per pooling strategy.

Open https://projector.tensorflow.org, press "Load", then choose <strategy>/vectors.tsv in step 1 and
<strategy>/metadata.tsv in step 2. Colour by "label"; search by "text". Row i of both files is text i.
"""


def projector_zip(embeddings: Mapping[str, np.ndarray], texts: Sequence[str], labels: Sequence[str] | None) -> bytes:
    """The ``projector_files`` in a zip, with a README saying how to load them."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.txt", README)
        for name, data in projector_files(embeddings, texts, labels).items():
            zf.writestr(name, data)
    return buf.getvalue()


__all__ = ["METADATA_HEADER", "metadata_tsv", "one_line", "projector_files", "projector_zip", "vectors_tsv"]
