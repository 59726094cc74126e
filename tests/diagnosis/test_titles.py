"""Every finding code that core/diagnosis can emit has a human title (found by parsing the package's source for
``Finding("code", …)``), and titles are words, not the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.diagnosis.titles import TITLES, finding_title

DIAGNOSIS = Path(__file__).resolve().parents[2] / "core" / "diagnosis"


def emitted_codes() -> set[str]:
    codes = set()
    for path in DIAGNOSIS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Finding"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                codes.add(node.args[0].value)
    return codes


def test_the_parser_finds_codes():
    assert {"view_as_permute", "padded_last_step", "random_weights"} <= emitted_codes()


@pytest.mark.parametrize("code", sorted(emitted_codes()))
def test_every_emitted_code_has_a_title(code):
    assert code in TITLES, f"add a human title for {code!r} to core/diagnosis/titles.py"
    title = finding_title(code)
    assert title != code and " " in title and (title[0].isupper() or title[0] == "[")


@pytest.mark.parametrize(("code", "title"), [("brand_new_check", "Brand new check"), ("", "Note"), ("x-y", "X y")])
def test_unknown_codes_still_read_as_words(code, title):
    assert finding_title(code) == title
