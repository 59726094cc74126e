"""Files stay small enough to read in one sitting: no module in core/, ui/ or pages/ over 600 lines, except data
tables (modules that are mostly one literal: a catalog, a rule table), which are named here with the reason."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 600
DATA_TABLES: dict[str, str] = {}  # "core/x.py": "why it is a table, not logic"


def oversized(root: Path, limit: int = LIMIT) -> dict[str, int]:
    """Every .py under core/, ui/ and pages/ of ``root`` with more than ``limit`` lines, not a named data table."""
    out = {}
    for folder in ("core", "ui", "pages"):
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > limit and rel not in DATA_TABLES:
                out[rel] = n
    return out


def test_no_module_over_the_limit():
    assert oversized(ROOT) == {}, f"split these by concept (or name them as data tables): {oversized(ROOT)}"


def test_the_check_sees_a_long_file(tmp_path: Path):
    (tmp_path / "core" / "engine").mkdir(parents=True)
    (tmp_path / "core" / "engine" / "long.py").write_text("x = 1\n" * (LIMIT + 1))
    (tmp_path / "core" / "short.py").write_text("x = 1\n" * LIMIT)
    assert oversized(tmp_path) == {"core/engine/long.py": LIMIT + 1}


def test_named_tables_exist():
    assert [p for p in DATA_TABLES if not (ROOT / p).is_file()] == []
