r"""User and link text inside Streamlit Markdown, shown as text: never a link, an image, HTML, LaTeX or colour.

Every string a visitor, a link, an uploaded file or a pasted error brought in goes through one of these
before it meets ``st.markdown`` / ``st.caption`` / ``st.info`` / ``st.error`` / widget labels:

- ``code(text)``: an inline code span it cannot break out of (the fence is longer than any run of
  backticks inside), for names, steps, shapes and file names;
- ``text(text)``: plain prose with every Markdown / LaTeX / directive character backslash-escaped.

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


def text(value: object, limit: int = MAX_CHARS) -> str:
    """``value`` as escaped Markdown prose: links, images, emphasis, HTML, $math$ and :colour[...] stay text."""
    return _PUNCT.sub(r"\\\1", _clean(value, limit))
