r"""User and link text inside Streamlit Markdown, shown as text: never a link, an image, HTML, LaTeX or colour.

Every string a visitor, a link, an uploaded file or a pasted error brought in goes through one of these
before it meets ``st.markdown`` / ``st.caption`` / ``st.info`` / ``st.error`` / widget labels:

- ``code(text)``: an inline code span it cannot break out of (the fence is longer than any run of
  backticks inside), for names, steps, shapes and file names;
- ``text(text)``: plain prose with every Markdown / LaTeX / directive character backslash-escaped, and bare
  URLs / e-mail addresses kept from being autolinked;
- ``markdown(message)``: a message from core (an explanation, a fix, a refusal) that quotes code in
  backticks and may quote user text anywhere: its code spans stay code, everything else is escaped. A user's
  stray backtick can only move where a code span ends, never open a link, an image, HTML or math.

    >>> code("x.view(`1`)")
    '`` x.view(`1`) ``'
    >>> print(text("*hi* [link](u) $x$"))
    \*hi\* \[link\]\(u\) \$x\$
"""

from __future__ import annotations

import html
import re

from core.figures.html_text import code_breaks

# CommonMark: any ASCII punctuation may be backslash-escaped; escaping all of them leaves nothing to interpret
_PUNCT = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_BACKTICKS = re.compile(r"`+")
_SPACE = re.compile(r"\s+")
MAX_CHARS = 2000


def _clean(value: object, limit: int) -> str:
    s = _SPACE.sub(" ", str(value)).strip()  # one line: a newline could start a block (heading, list, table)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def code(value: object, limit: int = MAX_CHARS) -> str:
    """``value`` as an inline code span, whatever backticks it holds (nothing inside is interpreted)."""
    s = _clean(value, limit)
    if not s:
        return '""'
    fence = "`" * (max((len(m) for m in _BACKTICKS.findall(s)), default=0) + 1)
    return f"{fence} {s} {fence}"  # the padding spaces are stripped by Markdown; they keep ` off the fence


def code_spans(value: str) -> list[tuple[bool, str]]:
    """``value`` cut into ``(is_code, piece)`` parts by CommonMark's pairing of backtick runs: a run opens a
    code span that the next run of the same length closes (``piece`` keeps its backticks); an unmatched run is
    literal text. The one rule behind ``markdown`` and ``html_message``.

    >>> code_spans("use `x.t()` or ``a`b``, not ` alone")
    [(False, 'use '), (True, '`x.t()`'), (False, ' or '), (True, '``a`b``'), (False, ', not ` alone')]
    """
    out: list[tuple[bool, str]] = []
    pos = 0
    runs = list(_BACKTICKS.finditer(value))
    i = 0
    while i < len(runs):
        opener = runs[i]
        closer = next((r for r in runs[i + 1 :] if len(r.group()) == len(opener.group())), None)
        if closer is None:  # an unmatched run is literal text (CommonMark)
            i += 1
            continue
        if opener.start() > pos:
            out.append((False, value[pos : opener.start()]))
        out.append((True, value[opener.start() : closer.end()]))
        pos = closer.end()
        i = runs.index(closer) + 1
    if pos < len(value) or not out:
        out.append((False, value[pos:]))
    return out


def markdown(value: object, limit: int = 4 * MAX_CHARS) -> str:
    r"""A core message with its backtick code spans kept (CommonMark pairing) and all other punctuation escaped.

    A word joiner (U+2060) after a URL scheme keeps GFM from autolinking the escaped text:

    >>> markdown("use `x.permute(0, 2, 1)` [here](http://x)")
    'use `x.permute(0, 2, 1)` \\[here\\]\\(http\u2060\\:\\/\\/x\\)'
    """
    s = str(value)
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    # a code span verbatim: nothing inside is interpreted; everything else escaped
    return "".join(piece if is_code else _escape(piece) for is_code, piece in code_spans(s))


def html_message(value: object, limit: int = 4 * MAX_CHARS, breaks: bool = True) -> str:
    """A core message as HTML for our own HTML blocks (the stage table): everything HTML-escaped first, then
    each backtick code span (the pairing of ``markdown``) becomes ``<code>``; with ``breaks`` a code span may
    wrap only between tokens (``code_breaks``).

    >>> html_message("use `x[:, -1]` <b>not</b> `a`")
    'use <code>x[:, -1]</code> &lt;b&gt;not&lt;/b&gt; <code>a</code>'
    """
    s = str(value)
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    out = []
    for is_code, piece in code_spans(s):
        if not is_code:
            out.append(html.escape(piece))
            continue
        inner = piece.strip("`")
        if inner.startswith(" ") and inner.endswith(" ") and inner.strip():
            inner = inner[1:-1]  # CommonMark: one padding space each side is stripped
        out.append(f"<code>{code_breaks(inner) if breaks else html.escape(inner)}</code>")
    return "".join(out)


# GitHub-flavoured Markdown (Streamlit's) turns bare URLs and e-mail addresses into links even when their
# punctuation is escaped; an invisible WORD JOINER after the scheme, "www" or "@" keeps them plain text.
_AUTOLINK = re.compile(r"(?i)(\b(?:https?|ftp|mailto|xmpp)(?=:)|\bwww(?=\.)|@)")
WORD_JOINER = "\u2060"


def _unlink(s: str) -> str:
    return _AUTOLINK.sub(lambda m: m.group(1) + WORD_JOINER, s)


def _escape(s: str) -> str:
    s = _PUNCT.sub(r"\\\1", _unlink(s))
    return s.replace("\n", "  \n")  # a newline stays a line break, never a block start


def text(value: object, limit: int = MAX_CHARS) -> str:
    """``value`` as escaped Markdown prose: links, images, emphasis, HTML, $math$ and :colour[...] stay text."""
    return _PUNCT.sub(r"\\\1", _unlink(_clean(value, limit)))
