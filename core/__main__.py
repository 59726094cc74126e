"""``python -m core ...``: see core.cli (the console script ``shape-explorer`` is the same)."""

from core.cli import run

run()
