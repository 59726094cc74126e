"""What a reader sees of a Markdown body: the tests compare messages as shown, since user text is escaped.

``shown(body)`` renders ``body`` with markdown-it (CommonMark, the reference parser; tables and strikethrough
on, as in Streamlit) and returns the visible text, so ``\\[x\\]`` and ``[x]`` both read ``[x]``.
"""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_INLINE = re.compile(r"</?(?:code|em|strong|a|span|del|s)\b[^>]*>")
_TAG = re.compile(r"<[^>]+>")


def shown(body: object) -> str:
    """The text a reader sees (tags dropped, entities decoded, invisible word joiners dropped, lines joined)."""
    rendered = _INLINE.sub("", _MD.render(str(body)))
    return " ".join(html.unescape(_TAG.sub(" ", rendered)).replace("\u2060", "").split())


def shown_all(elements) -> str:
    """Every element's shown text, one per line (for AppTest element lists)."""
    return "\n".join(shown(e.value) for e in elements)
