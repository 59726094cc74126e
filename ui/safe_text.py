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

import re

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


def markdown(value: object, limit: int = 4 * MAX_CHARS) -> str:
    r"""A core message with its backtick code spans kept (CommonMark pairing) and all other punctuation escaped.

    >>> print(markdown("use `x.permute(0, 2, 1)` [here](http://x)"))
    use `x.permute(0, 2, 1)` \[here\]\(http\:\/\/x\)
    """
    s = str(value)
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    out: list[str] = []
    pos = 0
    runs = list(_BACKTICKS.finditer(s))
    i = 0
    while i < len(runs):
        opener = runs[i]
        closer = next((r for r in runs[i + 1 :] if len(r.group()) == len(opener.group())), None)
        if closer is None:  # an unmatched run is literal text (CommonMark): escape it
            i += 1
            continue
        out.append(_escape(s[pos : opener.start()]))
        out.append(s[opener.start() : closer.end()])  # the code span, verbatim: nothing inside is interpreted
        pos = closer.end()
        i = runs.index(closer) + 1
    out.append(_escape(s[pos:]))
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
