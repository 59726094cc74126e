"""Spreadsheet-safe text cells, shared by every export that writes user text into a table file; and counts
written as words (``plural``), shared by the notes and the pages.

OWASP "CSV Injection" (owasp.org/www-community/attacks/CSV_Injection): a cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is read as a formula by spreadsheet programs (Excel, LibreOffice,
Google Sheets), which open .csv and .tsv files alike. Such a cell gets a leading ``'``: the spreadsheet shows
it as text, and every other reader (the csv module, the Embedding Projector) just sees one more character.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: one starting with = + - @ tab or CR gets a leading ``'``.

    Applied to every cell that holds user text (texts, labels), never to our numbers.

    >>> [safe_cell(v) for v in ("=1+2", "-1", "@SUM(A1)", "fine")]
    ["'=1+2", "'-1", "'@SUM(A1)", 'fine']
    """
    return "'" + value if value.startswith(FORMULA_START) else value


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``n`` and the noun in the right number: ``1 text``, ``2 texts``, ``0 texts``; ``many`` for irregular
    plurals (default: the noun + ``s``).

    >>> plural(1, "text"), plural(3, "label"), plural(2, "strategy", "strategies"), plural(1_500, "text")
    ('1 text', '3 labels', '2 strategies', '1,500 texts')
    """
    return f"{n:,} {noun if n == 1 else (many or noun + 's')}"


__all__ = ["FORMULA_START", "plural", "safe_cell"]
