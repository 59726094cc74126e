"""Labelled text sets for the pooling comparison: bundled samples and parsers for pasted / uploaded input.

The data files live beside this module in ``core/analysis/sample_sets/`` (``<name>.tsv``,
one ``label<TAB>text`` a line).

Example::

    >>> data = load_sample("sentiment")
    >>> len(data.texts), sorted(set(data.labels))
    (40, ['negative', 'positive'])
    >>> parse_labelled_text("pos\\tGreat film\\nneg\\tDull film").labels
    ('pos', 'neg')
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.analysis.cells import plural

MAX_TEXTS = 500
MAX_CHARS_PER_TEXT = 2000
MAX_UPLOAD_BYTES = 2_000_000

SAMPLES_DIR = Path(__file__).with_name("sample_sets")

SAMPLE_SETS: dict[str, str] = {
    "sentiment": "40 short reviews of films, products and restaurants: 20 positive, 20 negative.",
    "topics": "40 sentences, 10 each about sports, cooking, technology and finance.",
}


class InputError(ValueError):
    """Pasted or uploaded texts that cannot be used; the message says what is wrong and the limit or fix."""


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with optional labels, ready to encode.

    Attributes:
        texts: the texts, in input order, each at most ``MAX_CHARS_PER_TEXT`` characters.
        labels: one label per text (same order), or None when the input had no labels.
        notes: plain-language remarks about what was changed on the way in (blank lines skipped,
            long texts truncated); empty when the input was used as given.
    """

    texts: tuple[str, ...]
    labels: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self.texts):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels; they must match")

    @property
    def label_set(self) -> tuple[str, ...]:
        """The distinct labels, sorted (empty when unlabelled)."""
        return tuple(sorted(set(self.labels))) if self.labels is not None else ()


def load_sample(name: str) -> LabelledTexts:
    """Load a bundled sample set by name (a key of ``SAMPLE_SETS``)."""
    if name not in SAMPLE_SETS:
        raise InputError(f"unknown sample set {name!r}; choose one of: {', '.join(sorted(SAMPLE_SETS))}")
    return parse_labelled_text((SAMPLES_DIR / f"{name}.tsv").read_text(encoding="utf-8"))


# byte-order marks, longest first (UTF-32 LE starts with the UTF-16 LE mark)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def text_encoding(data: bytes) -> str:
    """The encoding of uploaded text: from its byte-order mark (UTF-8, UTF-16 and UTF-32, as Excel's "Unicode
    Text" and "CSV UTF-8" save them), UTF-16 without a mark when every other byte of ASCII-range text is NUL,
    else UTF-8."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    head = data[:4000]
    pairs = len(head) // 2
    if pairs >= 2:
        odd_nuls, even_nuls = head[1::2].count(0), head[0::2].count(0)
        if odd_nuls >= 0.6 * pairs and even_nuls == 0:
            return "utf-16-le"
        if even_nuls >= 0.6 * pairs and odd_nuls == 0:
            return "utf-16-be"
    return "utf-8"


def _utf8_error_at(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


def decode_upload(data: bytes) -> str:
    """Check an uploaded file's size and bytes and decode it (UTF-8, or UTF-16 / UTF-32; see ``text_encoding``).

    Raises ``InputError``: too big, empty, binary (NUL characters in the decoded text) or not decodable.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(
            f"the file is too big: {len(data) / 1e6:.1f} MB; the limit is "
            f"{MAX_UPLOAD_BYTES / 1e6:.1f} MB ({MAX_UPLOAD_BYTES:,} bytes). Upload fewer or shorter texts."
        )
    if not data.strip():
        raise InputError("the file is empty (no bytes, or only whitespace)")
    encoding = text_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if b"\x00" in data and encoding == "utf-8":
            raise InputError(
                "the file looks binary (it contains NUL bytes), not text: upload a .csv / .txt file"
            ) from None
        also = (
            f", nor {encoding.upper()} though it starts like it (bad byte at {exc.start})"
            if encoding != "utf-8"
            else ""
        )
        position = exc.start if encoding == "utf-8" else _utf8_error_at(data)
        raise InputError(
            f"the file is not UTF-8 text (bad byte at position {position}){also}: "
            "save it as 'CSV UTF-8' or plain UTF-8 text and upload again"
        ) from None
    if "\x00" in text:
        raise InputError("the file looks binary (it contains NUL bytes), not text: upload a .csv / .txt file")
    if not text.strip():
        raise InputError("the file is empty (no bytes, or only whitespace)")
    return text


# what a blank line is made of: whitespace, control characters and invisible format characters (zero-width space
# U+200B, word joiner U+2060, the byte-order mark U+FEFF...): Unicode general categories Zs, Zl, Zp, Cc and Cf
_INVISIBLE = frozenset(("Zs", "Zl", "Zp", "Cc", "Cf"))


def is_blank(text: str) -> bool:
    """True when ``text`` shows nothing: only whitespace, control or invisible format characters (or nothing).

    ``str.strip()`` alone keeps a line of zero-width spaces or a stray byte-order mark, which would become an
    "empty" text that looks like nothing to the person who typed it.

    >>> [is_blank(t) for t in ("", "  \t", "\u200b\ufeff", " a ", "\u3000")]
    [True, True, True, False, True]
    """
    stripped = text.strip()
    return not stripped or all(unicodedata.category(ch) in _INVISIBLE for ch in stripped)


def parse_labelled_text(raw: str) -> LabelledTexts:
    """Parse pasted text: one ``label<TAB>text`` per line, or one plain text per line (no labels).

    Either every non-blank line has a label or none has. Blank lines are skipped (with a note);
    texts over ``MAX_CHARS_PER_TEXT`` characters are truncated (with a note).
    """
    if "\x00" in raw:
        raise InputError("the input contains NUL characters: it looks binary, not text")
    if len(raw.encode("utf-8", errors="replace")) > MAX_UPLOAD_BYTES:
        raise InputError(f"the input is too big; the limit is {MAX_UPLOAD_BYTES:,} bytes")
    lines = raw.splitlines()
    rows = [(number, line) for number, line in enumerate(lines, start=1) if not is_blank(line)]
    if not rows:
        raise InputError("no texts: the input is empty or has only blank lines; enter one text per line")
    _check_count(len(rows), "lines")

    with_tab = [number for number, line in rows if "\t" in line]
    labelled = bool(with_tab)
    if labelled and len(with_tab) != len(rows):
        missing = [number for number, line in rows if "\t" not in line]
        raise InputError(
            f"mixed input: some lines are 'label<TAB>text' but line(s) {_some(missing)} have no tab; "
            "give every line a label or none"
        )

    texts: list[str] = []
    labels: list[str] = []
    for number, line in rows:
        if labelled:
            label, text = line.split("\t", 1)
            label, text = label.strip(), text.strip()
            if is_blank(label):
                raise InputError(f"line {number} has an empty label before the tab")
            if is_blank(text):
                raise InputError(f"line {number} has a label ({label!r}) but no text after the tab")
            labels.append(label)
        else:
            text = line.strip()
        texts.append(text)

    notes = []
    if len(rows) != len(lines):
        notes.append(f"{plural(len(lines) - len(rows), 'blank line')} skipped")
    return _finish(texts, labels if labelled else None, notes)


def parse_csv(data: bytes) -> LabelledTexts:
    """Parse an uploaded CSV with a ``text`` column and an optional ``label`` column (case-insensitive).

    UTF-8 (with or without BOM), UTF-16 or UTF-32; comma, semicolon or tab separated (taken from the header row).
    Rows with an empty text are skipped (with a note).
    """
    raw = decode_upload(data)
    header_line = next((line for line in raw.splitlines() if not is_blank(line)), "")
    delimiter = max(",;\t", key=header_line.count) if any(c in header_line for c in ",;\t") else ","
    try:
        table = [row for row in csv.reader(io.StringIO(raw, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}") from None

    numbered = [(number, row) for number, row in enumerate(table, start=1) if not all(is_blank(c) for c in row)]
    if not numbered:
        raise InputError("the file is empty: expected a header row with a 'text' column and at least one row")
    _, header = numbered[0]
    columns = [c.strip().lower() for c in header]
    found = ", ".join(repr(c.strip()) for c in header)
    if columns.count("text") != 1 or columns.count("label") > 1:
        problem = "two 'text' columns" if columns.count("text") > 1 else "no 'text' column"
        if columns.count("label") > 1:
            problem = "two 'label' columns"
        raise InputError(f"wrong columns: {problem}. Expected 'text' and optionally 'label' (any case); found: {found}")
    text_col = columns.index("text")
    label_col = columns.index("label") if "label" in columns else None

    body = numbered[1:]
    if not body:
        raise InputError("no texts: the CSV has a header row but no data rows")
    _check_count(len(body), "rows")

    texts: list[str] = []
    labels: list[str] = []
    skipped = 0
    for number, row in body:
        text = row[text_col].strip() if text_col < len(row) else ""
        if is_blank(text):
            skipped += 1
            continue
        if label_col is not None:
            label = row[label_col].strip() if label_col < len(row) else ""
            if is_blank(label):
                raise InputError(
                    f"line {number} has a text but an empty 'label'; fill it in or remove the label column"
                )
            labels.append(label)
        texts.append(text)
    if not texts:
        raise InputError("no texts: every row's 'text' cell is empty")
    notes = [f"{plural(skipped, 'row')} with an empty 'text' skipped"] if skipped else []
    return _finish(texts, labels if label_col is not None else None, notes)


def _check_count(count: int, what: str) -> None:
    if count > MAX_TEXTS:
        raise InputError(f"too many texts: {count} {what}; the limit is {MAX_TEXTS}. Use a smaller subset")


def _finish(texts: list[str], labels: list[str] | None, notes: list[str]) -> LabelledTexts:
    """Cut long texts and add the notes that speak of texts by the page's numbers: ``#n`` = the n-th text
    kept, from 1 (blank lines and skipped rows are not counted), as in the pickers and ``texts.tsv``."""
    long = [i + 1 for i, t in enumerate(texts) if len(t) > MAX_CHARS_PER_TEXT]
    if long:
        texts = [t[:MAX_CHARS_PER_TEXT] for t in texts]
        notes.append(
            f"{plural(len(long), 'text')} longer than {MAX_CHARS_PER_TEXT:,} characters "
            f"{'was' if len(long) == 1 else 'were'} cut to that length ({_some(long, prefix='#')})"
        )
    if labels is not None:
        note = conflicting_labels_note(texts, labels)
        if note:
            notes.append(note)
    return LabelledTexts(texts=tuple(texts), labels=tuple(labels) if labels is not None else None, notes=tuple(notes))


def conflicting_labels_note(texts: Sequence[str], labels: Sequence[str], limit: int = 5) -> str | None:
    """A note naming the texts (``#n``, from 1) that are the same text with different labels, or None.

    No pooling can separate identical texts: they are one point in every map and they hold every strategy's
    probe accuracy and silhouette down. (The note quotes no user text: it is shown as Markdown.)

    >>> conflicting_labels_note(["Same.", "Same.", "Other.", "Same."], ["pos", "neg", "neg", "pos"])[:52]
    'The same text has different labels: #1 = #2 = #4. Id'
    """
    where: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        where.setdefault(t, []).append(i)
    groups = [rows for rows in where.values() if len({labels[i] for i in rows}) > 1]
    if not groups:
        return None
    shown = "; ".join(" = ".join(f"#{i + 1}" for i in rows) for rows in groups[:limit])
    more = f"; and {plural(len(groups) - limit, 'more group')}" if len(groups) > limit else ""
    return (
        f"The same text has different labels: {shown}{more}. Identical texts are one point in every map, and no "
        "pooling strategy can separate them, so they hold every score down."
    )


def _some(numbers: Iterable[int], limit: int = 5, prefix: str = "") -> str:
    numbers = list(numbers)
    shown = ", ".join(f"{prefix}{n}" for n in numbers[:limit])
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")
