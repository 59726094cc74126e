"""core.analysis.samples: bundled sample sets and the parsers for pasted text and uploaded CSV."""

from __future__ import annotations

import pytest

from core.analysis.samples import (
    MAX_CHARS_PER_TEXT,
    MAX_TEXTS,
    MAX_UPLOAD_BYTES,
    SAMPLE_SETS,
    InputError,
    LabelledTexts,
    load_sample,
    parse_csv,
    parse_labelled_text,
)


@pytest.mark.parametrize("name", sorted(SAMPLE_SETS))
def test_sample_sets_load(name):
    data = load_sample(name)
    assert 36 <= len(data.texts) <= 44
    assert data.labels is not None and len(data.labels) == len(data.texts)
    assert len(data.label_set) >= 2
    assert len(set(data.texts)) == len(data.texts), "duplicate texts"
    assert data.notes == ()
    counts = {label: data.labels.count(label) for label in data.label_set}
    assert len(set(counts.values())) == 1, f"unbalanced labels: {counts}"
    assert all(4 <= len(text.split()) <= 40 for text in data.texts)


def test_unknown_sample_lists_choices():
    with pytest.raises(InputError, match="unknown sample set 'nope'; choose one of: sentiment, topics"):
        load_sample("nope")


@pytest.mark.parametrize(
    ("raw", "texts", "labels"),
    [
        ("pos\tGreat film\nneg\tDull film\n", ("Great film", "Dull film"), ("pos", "neg")),
        ("Great film\n\n  Dull film  \n", ("Great film", "Dull film"), None),
        ("a\tone\tstill text\n", ("one\tstill text",), ("a",)),
        ("\ufeffonly one line", ("\ufeffonly one line",), None),
    ],
)
def test_parse_labelled_text_good(raw, texts, labels):
    data = parse_labelled_text(raw)
    assert data.texts == texts
    assert data.labels == labels


def test_blank_lines_skipped_with_note():
    data = parse_labelled_text("one\n\n   \ntwo\n")
    assert data.texts == ("one", "two")
    assert data.notes == ("2 blank lines skipped",)


def test_invisible_lines_are_blank_too():
    data = parse_labelled_text("one\n\u200b\n\ufeff \ntwo\u200b\n")
    assert data.texts == ("one", "two\u200b")  # a text with letters keeps its characters
    assert data.notes == ("2 blank lines skipped",)


def test_csv_rows_with_an_invisible_text_are_skipped():
    data = parse_csv("text,label\n\u200b,pos\nfine,neg\n".encode())
    assert data.texts == ("fine",) and data.labels == ("neg",)
    assert data.notes == ("1 row with an empty 'text' skipped",)
    with pytest.raises(InputError, match="no texts: the CSV has a header row but no data rows"):
        parse_csv("text\n\u200b\n\u3000\n".encode())


def test_long_text_truncated_with_note():
    data = parse_labelled_text("short\n" + "x" * (MAX_CHARS_PER_TEXT + 5))
    assert len(data.texts[1]) == MAX_CHARS_PER_TEXT
    assert data.notes == (f"1 text longer than {MAX_CHARS_PER_TEXT:,} characters was cut to that length (#2)",)


LONG = "x" * (MAX_CHARS_PER_TEXT + 1)


@pytest.mark.parametrize(
    ("parse", "raw", "cut"),
    [
        # blank lines are not texts: the long texts are the page's #3 and #4, on input lines 6 and 8
        (parse_labelled_text, f"a\n\nb\n\n  \n{LONG}\n\n{LONG}\n", "#3, #4"),
        (parse_labelled_text, f"p\ta\n\np\t{LONG}\n", "#2"),
        # a CSV's header, an empty-text row and a blank row are not texts either
        (parse_csv, f"label,text\nx,a\ny,\n\nx,{LONG}\n".encode(), "#2"),
    ],
)
def test_truncation_note_names_texts_by_the_pages_numbers(parse, raw, cut):
    """The note says ``#n`` as the page's pickers do: the n-th text kept, from 1, whatever blank lines came
    before (the input's line numbers would disagree with the page as soon as a blank line is skipped)."""
    data = parse(raw)
    (note,) = [n for n in data.notes if "cut to that length" in n]
    assert note.endswith(f"({cut})")
    for ref in cut.split(", "):
        assert len(data.texts[int(ref[1:]) - 1]) == MAX_CHARS_PER_TEXT


def test_the_same_text_with_two_labels_gets_a_note():
    data = parse_labelled_text("pos\tSame text.\nneg\tSame text.\npos\tSame text.\nneg\tOther text.\npos\tOther text.")
    (note,) = data.notes
    assert note.startswith("The same text has different labels: #1 = #2 = #3; #4 = #5.")
    assert parse_labelled_text("pos\tSame.\npos\tSame.\nneg\tOther.").notes == ()  # duplicates, one label: fine
    assert parse_labelled_text("Same.\nSame.").notes == ()  # no labels, no conflict
    many = "\n".join(f"{lab}\ttext {i}" for i in range(7) for lab in ("a", "b"))
    assert parse_labelled_text(many).notes[0].endswith("#9 = #10; and 2 more groups. " + note.split(". ", 1)[1])


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "only blank lines"),
        ("\n  \n\t\n", "only blank lines"),
        ("\u200b\n\ufeff\n\u2060\u3000\n", "only blank lines"),  # nothing visible: zero-width characters, BOM
        ("pos\t\u200b\n", "line 1 has a label ('pos') but no text"),
        ("\u200b\ttext\n", "line 1 has an empty label"),
        ("pos\tgood\njust text\n", "line(s) 2 have no tab"),
        ("\tno label\n", "line 1 has an empty label"),
        ("pos\t   \n", "line 1 has a label ('pos') but no text"),
        ("ok\x00text", "NUL characters"),
        ("\n".join(f"text {i}" for i in range(MAX_TEXTS + 1)), f"501 lines; the limit is {MAX_TEXTS}"),
    ],
)
def test_parse_labelled_text_bad(raw, fragment):
    with pytest.raises(InputError) as info:
        parse_labelled_text(raw)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("data", "texts", "labels"),
    [
        (b"text,label\nGreat film,pos\nDull film,neg\n", ("Great film", "Dull film"), ("pos", "neg")),
        (b"Label,TEXT\npos,Great film\n", ("Great film",), ("pos",)),
        ("\ufefftext\nCaf\u00e9 au lait\n".encode(), ("Caf\u00e9 au lait",), None),
        (b'id,text\n1,"Hello, world"\n2,"multi\nline"\n', ("Hello, world", "multi\nline"), None),
        (b"text;label\nGut;pos\n", ("Gut",), ("pos",)),
        (b"text\tlabel\nGood\tpos\n", ("Good",), ("pos",)),
        (b"text,label\r\nA,x\r\n,\r\nB,y\r\n", ("A", "B"), ("x", "y")),
    ],
)
def test_parse_csv_good(data, texts, labels):
    parsed = parse_csv(data)
    assert parsed.texts == texts
    assert parsed.labels == labels


def test_csv_empty_text_rows_skipped_with_note():
    assert parse_csv(b"text,label\nA,x\n,y\nB,x\n").notes == ("1 row with an empty 'text' skipped",)


def rows(n: int) -> bytes:
    return ("text\n" + "".join(f"text number {i}\n" for i in range(n))).encode()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"sentence,y\nhello,1\n", "wrong columns: no 'text' column. Expected 'text' and optionally 'label'"),
        (b"sentence,y\nhello,1\n", "found: 'sentence', 'y'"),
        (b"text,Text\na,b\n", "two 'text' columns"),
        (b"text,label,label\na,b,c\n", "two 'label' columns"),
        (b"", "the file is empty"),
        (b"\n\n  \n", "the file is empty"),
        (b"text\n", "header row but no data rows"),
        (b"text,label\n,x\n", "every row's 'text' cell is empty"),
        (b"text,label\nhello,\n", "line 2 has a text but an empty 'label'"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks binary (it contains NUL bytes)"),
        (b"text\ncaf\xe9\n", "not UTF-8 text (bad byte at position 8)"),
        (b"text\n" + b"x" * 10_000_000, "too big: 10.0 MB; the limit is 2.0 MB"),
        (rows(MAX_TEXTS + 1), f"too many texts: 501 rows; the limit is {MAX_TEXTS}"),
    ],
)
def test_parse_csv_bad(data, fragment):
    with pytest.raises(InputError) as info:
        parse_csv(data)
    assert fragment in str(info.value)


def test_limits_exactly_at_the_edge_pass():
    assert len(parse_csv(rows(MAX_TEXTS)).texts) == MAX_TEXTS
    assert MAX_UPLOAD_BYTES == 2_000_000


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


def test_labelled_texts_is_frozen_and_checked():
    data = LabelledTexts(texts=("a",), labels=("x",))
    with pytest.raises(AttributeError):
        data.texts = ()  # type: ignore[misc]
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        LabelledTexts(texts=("a", "b"), labels=("x",))
