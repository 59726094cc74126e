"""The architecture as a test: imports run downward only, no circles, core/ stays UI-free.

The layers (README "Architecture"), top to bottom; each may import what is listed for it and nothing
above it.  Every ``import`` counts, also those inside functions: a lazy import is still a dependency.
The checker is run on the real tree and, to show it can fail, on small synthetic trees.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GROUND = {"core.spec", "core.loss_step", "core.records", "core.errors", "core.fixes", "core.limits", "core"}

# unit -> the units it may import (besides itself).  A unit is a core sub-package, a ground-floor module,
# core.trace / core.cli, ui, pages or app.
ALLOWED: dict[str, set[str]] = {
    "core.errors": set(),
    "core.fixes": {"core.errors"},
    "core.records": {"core.errors", "core.fixes"},
    "core.spec": {"core.errors", "core.loss_step"},
    "core.loss_step": {"core.errors"},
    "core.limits": {"core.errors"},
    "core.engine": GROUND,
    "core.model": GROUND,
    "core.diagnosis": GROUND | {"core.engine", "core.model"},
    "core.trace": GROUND | {"core.engine", "core.model", "core.diagnosis"},
    "core.analysis": GROUND | {"core.model"},
    "core.lab": GROUND | {"core.engine", "core.diagnosis"},
    "core.teaching": GROUND | {"core.engine", "core.model", "core.diagnosis", "core.trace"},
    "core.export": GROUND | {"core.engine", "core.model", "core.diagnosis", "core.trace"},
    "core.code_import": GROUND | {"core.engine", "core.model", "core.diagnosis", "core.trace", "core.export"},
    "core.room": GROUND | {"core.teaching"},
    "core.figures": GROUND | {"core.lab", "core.analysis"},
    "core.summary": GROUND,
    "core.cli": {
        "core",
        *GROUND,
        "core.engine",
        "core.model",
        "core.diagnosis",
        "core.trace",
        "core.analysis",
        "core.lab",
        "core.teaching",
        "core.export",
        "core.code_import",
        "core.room",
    },
    "core.__main__": {"core.cli"},
}
ALLOWED["core"] = set()
EVERY_CORE_UNIT = set(ALLOWED) - {"core.__main__"}
ALLOWED["ui"] = EVERY_CORE_UNIT | {"core.figures"}
ALLOWED["pages"] = ALLOWED["ui"] | {"ui"}
ALLOWED["app"] = ALLOWED["ui"] | {"ui"}
UI_LIBRARIES = ("streamlit", "ui", "pages")
NO_TORCH_AT_MODULE_LEVEL = ("core.figures",)


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str:
    """The layer unit a module belongs to: ``core.engine.expr`` -> ``core.engine``."""
    parts = module.split(".")
    if parts[0] in ("ui", "pages", "app"):
        return parts[0]
    if len(parts) >= 2 and f"core.{parts[1]}" in ALLOWED:
        return f"core.{parts[1]}"
    return module


def imports_of(path: Path, module: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            out.append((base, node.lineno, id(node) in top))
            # ``from core import trace`` names a module: count it as importing core.trace
            out += [(f"{base}.{a.name}", node.lineno, id(node) in top) for a in node.names]
    return out


def project_modules(root: Path) -> dict[str, Path]:
    mods = {}
    for folder in ("core", "ui", "pages"):
        for path in (root / folder).rglob("*.py") if (root / folder).exists() else ():
            mods[module_name(path, root)] = path
    if (root / "app.py").exists():
        mods["app"] = root / "app.py"
    return mods


def violations(root: Path) -> list[str]:
    """Every forbidden import under ``root`` (a checkout or a synthetic tree), one line each."""
    mods = project_modules(root)
    problems: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        unit = unit_of(mod)
        where = f"{path.relative_to(root)}"
        for target, line, top_level in imports_of(path, mod):
            head = target.split(".")[0]
            if unit.startswith("core") and head in UI_LIBRARIES:
                problems.append(f"{where}:{line}: core imports {target} (core never imports streamlit, ui or pages)")
                continue
            if unit.startswith("core.figures") and head == "torch" and top_level:
                problems.append(f"{where}:{line}: figures import torch at module level")
            if target not in mods and not any(m.startswith(target + ".") for m in mods):
                continue  # a third-party module, or a name imported from a project module
            if target not in mods:
                continue  # a package's name used as ``from core import x``: the submodule entry counts
            graph[mod].add(target)
            other = unit_of(target)
            if other != unit and other not in ALLOWED.get(unit, set()):
                problems.append(f"{where}:{line}: {unit} may not import {other} ({target})")
    problems += [f"import circle: {' -> '.join(c)}" for c in circles(graph)]
    return problems


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each closed into a readable loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append([*sorted(group), sorted(group)[0]])

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_project_has_no_forbidden_import_and_no_circle():
    assert violations(ROOT) == []


def test_every_core_folder_is_a_known_layer():
    folders = {p.name for p in (ROOT / "core").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert {f"core.{f}" for f in folders} <= set(ALLOWED), "add the new folder to ALLOWED and README Architecture"


def test_readme_architecture_lists_every_folder():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    folders = [p for p in (ROOT / "core").iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    for folder in [*folders, ROOT / "ui", ROOT / "pages"]:
        assert f"{folder.relative_to(ROOT)}/" in section, f"README Architecture does not list {folder.name}/"


# --------------------------------------------------------------- the checker fails where it must


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


BASE = {
    "core/__init__.py": "",
    "core/errors.py": "",
    "core/spec.py": "from core.errors import SpecError\n",
    "core/engine/__init__.py": "",
    "core/engine/expr.py": "from core.spec import Spec\n",
    "core/diagnosis/__init__.py": "",
    "core/diagnosis/findings.py": "from core.engine.expr import run\n",
    "core/trace.py": "from core.diagnosis import findings\n",
    "core/figures/__init__.py": "",
    "core/figures/pipeline.py": "def f():\n    import torch\n",
    "ui/__init__.py": "",
    "ui/common.py": "import streamlit as st\nfrom core.trace import run_spec\n",
    "pages/pipeline.py": "from ui import common\n",
}


def test_checker_accepts_a_clean_synthetic_tree(tmp_path):
    assert violations(_tree(tmp_path, BASE)) == []


@pytest.mark.parametrize(
    ("file", "text", "expected"),
    [
        ("core/diagnosis/findings.py", "from core.trace import run_spec\n", "core.diagnosis may not import core.trace"),
        ("core/engine/expr.py", "def f():\n    from core.diagnosis import findings\n", "may not import core.diagnosis"),
        ("core/spec.py", "import streamlit as st\n", "core never imports streamlit"),
        ("core/engine/expr.py", "from ui.common import x\n", "core never imports streamlit, ui or pages"),
        ("core/figures/pipeline.py", "import torch\n", "figures import torch at module level"),
        ("core/errors.py", "from core.spec import Spec\n", "core.errors may not import core.spec"),
        ("ui/common.py", "from pages import pipeline\n", "ui may not import pages"),
    ],
)
def test_checker_reports_a_forbidden_import(tmp_path, file, text, expected):
    found = violations(_tree(tmp_path, {**BASE, file: text}))
    assert any(expected in line for line in found), found


def test_checker_reports_a_circle_within_one_layer(tmp_path):
    files = {**BASE, "core/engine/ops.py": "from core.engine.expr import run\n"}
    files["core/engine/expr.py"] = "from core.engine import ops\n"
    found = violations(_tree(tmp_path, files))
    assert "import circle: core.engine.expr -> core.engine.ops -> core.engine.expr" in found
