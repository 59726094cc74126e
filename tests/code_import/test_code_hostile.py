"""Hostile pastes: refused or reported line by line, in well under a second, and nothing of them runs.

The expression language's hostile table (tests/engine/test_expr_hostile.py) is pasted as code lines, and
a table of code-shaped attacks is added: imports of os / subprocess, ``__import__``, ``open``, attribute
walks to ``__globals__``, ``eval`` / ``exec``, a 5 MB paste, 10,000 statements, deeply nested expressions,
recursion, huge numbers. Tripwires on ``open``, ``os.system``, ``subprocess.Popen``, ``torch.load``,
``exec``/``eval`` and ``compile`` record any call: there must be none.
"""

from __future__ import annotations

import builtins
import importlib.util
import os
import subprocess
import time
from pathlib import Path

import pytest
import torch

from core.code_import import CodeRefused, LineStatus, import_code
from core.code_import.annotate import trace_code
from core.errors import SpecError

# run one failing trace before any tripwire replaces open(): every lazy import of the trace is loaded
trace_code("import torch\nx = torch.randn(2, 3)\ny = x.reshape(4)\n")

_spec = importlib.util.spec_from_file_location(
    "expr_hostile", Path(__file__).resolve().parents[1] / "engine" / "test_expr_hostile.py"
)
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)  # type: ignore[union-attr]
EXPRESSION_HOSTILE: list[str] = _mod.HOSTILE

PRELUDE = "import torch\nimport torch.nn.functional as F\nx = torch.randn(32, 128, 768)\n"

# code-shaped attacks -> a fragment of the reason on the line that carries them
CODE_HOSTILE = {
    "import os\nos.system('rm -rf /')": "`import os` reaches the operating system",
    "import subprocess\nsubprocess.run(['ls'])": "`import subprocess` reaches the operating system",
    "from os import system\nsystem('ls')": "`from os import …` reaches the operating system",
    "import os.path as p\np.exists('/')": "`import os.path` reaches the operating system",
    "from subprocess import Popen as P\nP('ls')": "`from subprocess import …`",
    "import builtins\nbuiltins.open('f')": "`import builtins`",
    "__import__('os').system('ls')": "`__import__`",
    "open('/etc/passwd').read()": "`open` reaches outside the tensors",
    "with open('/etc/passwd') as fh:\n    data = fh.read()": "`open` reaches outside the tensors",
    "y = x.__class__.__init__.__globals__['os']": "`__globals__` is one of Python's internals",
    "().__class__.__bases__[0].__subclasses__()": "`__subclasses__` is one of Python's internals",
    "eval('1 + 1')": "`eval`",
    "exec('import os')": "`exec`",
    "compile('1', 'f', 'exec')": "`compile`",
    "getattr(torch, 'load')('f')": "`getattr`",
    "torch.load('model.pt')": "torch.load reads a file",
    "y = torch.hub.load('repo', 'model')": "torch.hub downloads code",
    "f = lambda: __import__('os')\nf()": "`__import__`",
    "@os.system\ndef f():\n    pass": "`os` is not defined",
    "s = f'{x.__class__}'": "`__class__`",
    "ｅｖａｌ('1')": "`eval`",  # NFKC: the parser reads full-width letters as eval
    "globals()['x'] = 1": "`globals`",
    "def f(n):\n    return f(n)\ny = f(x)": "more than 12 deep",
    "while True:\n    pass": "while loops are not unrolled",
    "y = 'a' * 10**9": "too long",
    "y = 10**10**10": "too large",
    "y = [0] * 10**9": "list of more than",
    "for i in range(10**9):\n    pass": "more than the importer unrolls",
    "y = x.reshape(10**100)": "too large",
    "y = x" + ".T" * 200: "nested more than 60 levels deep",
    "import ctypes\nctypes.CDLL(None)": "`import ctypes` reaches the operating system",
    "import pickle\npickle.loads(b'')": "`import pickle`",
    "from importlib import import_module\nimport_module('os')": "`from importlib import …`",
    "import sys\nsys.modules['os'].system('ls')": "`import sys`",
    "breakpoint()": "`breakpoint`",
}
WHOLE_PASTE = {
    "5 MB": ("x = 1\n" * 900_000, "the limit is 200,000"),
    "10,000 statements": ("\n".join(f"a{i} = {i}" for i in range(10_000)), "the paste has 10,000 lines"),
    "10,000 statements on one line": ("; ".join(f"a{i} = {i}" for i in range(10_000)), "the limit is 20,000"),
    "3,000 statements on 600 lines": (
        "\n".join("; ".join(f"a{i}_{j} = {j}" for j in range(5)) for i in range(600)),
        "the paste has 3,000 statements; the limit is 2,000",
    ),
    "brackets": ("y = " + "(" * 100 + "x" + ")" * 100, "brackets nested more than 40 deep"),
    "unary chain": ("y = " + "-" * 100_000 + "x", "the limit is 20,000"),
    "unary chain under the line limit": ("y = " + "-" * 19_000 + "x", "nested too deeply to read"),
    "attribute chain": ("y = x" + ".a" * 60_000, "the limit is 20,000"),
    "binop chain": ("y = " + " + ".join(["x"] * 40_000), "the limit is 20,000"),
    "binop chain over lines": ("y = (x\n" + "+ x\n" * 4_900 + ")", "nested too deeply to read"),
    "long line": ("y = '" + "a" * 30_000 + "'", "line 1 is 30,006 characters long; the limit is 20,000"),
    "NUL byte": ("x = 1\0", "NUL bytes"),
    "not Python": ("def f(:\n  pass", "line 1: not valid Python"),
    "indentation": ("".join(" " * i + "if x:\n" for i in range(120)) + " " * 120 + "pass\n", "not valid Python"),
    "empty": ("   \n\n", "the paste is empty"),
}


class Tripwires(list):
    """Calls to side-effect functions (os.system, Popen, open, torch.load …) and the code passed to exec/eval.

    torch and the standard library build some functions with exec (namedtuple, dataclasses): those run, and
    their source is recorded; the test checks that none of it is the paste's.
    """

    def __init__(self) -> None:
        super().__init__()
        self.executed: list[str] = []
        self.opened: list[str] = []

    def ran(self, code: str) -> bool:
        """Did any exec/eval run a line of ``code``, or any open() read a file the code names?"""
        lines = [line.strip() for line in code.splitlines() if len(line.strip()) > 6 and not line.startswith("import")]
        if any(line in str(src) for src in self.executed for line in lines):
            return True
        return any(f"'{path}'" in code or f'"{path}"' in code for path in self.opened)


@pytest.fixture
def tripwires(monkeypatch):
    """Record any call to functions with side effects while importing and tracing."""
    calls = Tripwires()

    def trap(name):
        return lambda *a, **k: calls.append(name)

    def recorder(real):
        def run(source, *a, **k):
            calls.executed.append(source if isinstance(source, str) else repr(source))
            return real(source, *a, **k)

        return run

    real_open = builtins.open

    def opener(file, *a, **k):
        calls.opened.append(str(file))
        return real_open(file, *a, **k)

    for name in ("breakpoint", "input"):
        monkeypatch.setattr(builtins, name, trap(name))
    monkeypatch.setattr(builtins, "open", opener)
    monkeypatch.setattr(builtins, "exec", recorder(builtins.exec))
    monkeypatch.setattr(builtins, "eval", recorder(builtins.eval))
    for name in ("system", "remove", "popen", "execv"):
        monkeypatch.setattr(os, name, trap(f"os.{name}"))
    monkeypatch.setattr(subprocess, "Popen", trap("Popen"))
    monkeypatch.setattr(subprocess, "run", trap("subprocess.run"))
    monkeypatch.setattr(torch, "load", trap("torch.load"))
    return calls


@pytest.mark.parametrize("expr", EXPRESSION_HOSTILE, ids=[repr(s[:40]) for s in EXPRESSION_HOSTILE])
def test_expression_hostile_table_as_a_code_line(expr, tripwires):
    code = PRELUDE + f"y = {expr}\n"
    start = time.perf_counter()
    try:
        result = import_code(code)
    except CodeRefused as e:  # not Python at all ("import os" as an expression, "x; y" …)
        assert "\n" not in str(e) and len(str(e)) < 400
        assert tripwires == [] and not tripwires.ran(code)
        return
    assert time.perf_counter() - start < 1.0
    line = result.note_at(4)
    assert line is not None
    if line.status is LineStatus.STAGE:  # the language accepted it: the trace either runs it or refuses it
        try:
            trace_code(code, imported=result)
        except SpecError as e:
            assert "\n" not in str(e)
    assert tripwires == [] and not tripwires.ran(code)


@pytest.mark.parametrize("code", list(CODE_HOSTILE), ids=[repr(c[:40]) for c in CODE_HOSTILE])
def test_code_shaped_attack_is_reported_on_its_line(code, tripwires):
    start = time.perf_counter()
    result = import_code(PRELUDE + code)
    assert time.perf_counter() - start < 1.0
    reasons = [n.reason for n in result.lines if n.status is LineStatus.NOT_UNDERSTOOD]
    assert any(CODE_HOSTILE[code] in r for r in reasons), reasons
    if result.spec is not None:
        trace_code(PRELUDE + code, imported=result)
    assert tripwires == [] and not tripwires.ran(PRELUDE + code)


@pytest.mark.parametrize("name", list(WHOLE_PASTE))
def test_whole_paste_is_refused_quickly_with_one_line(name, tripwires):
    code, fragment = WHOLE_PASTE[name]
    start = time.perf_counter()
    with pytest.raises(CodeRefused) as err:
        import_code(code)
    assert time.perf_counter() - start < 1.0
    message = str(err.value)
    assert fragment in message and "\n" not in message and len(message) < 400
    assert tripwires == [] and not tripwires.ran(code[:2000])


def test_refused_lines_do_not_stop_the_rest():
    result = import_code("import os\n" + PRELUDE + "y = x.transpose(1, 2)\nos.system('ls')\n")
    assert result.spec is not None and result.spec.to_dict()["steps"] == ["x.transpose(1, 2)"]
    reasons = {n.line: n.reason for n in result.lines if n.status is LineStatus.NOT_UNDERSTOOD}
    assert reasons[1].startswith("refused: `import os`")
    assert "`os` comes from code not understood on line 1" in reasons[6]


def test_nothing_usable_says_why():
    result = import_code("import os\nprint('hello')\n")
    assert result.spec is None
    assert "no tensor to trace" in result.problem


def test_the_tripwires_can_fail(tripwires, tmp_path):
    builtins.exec("value_of_the_paste = 1 + 1", {})
    os.system("echo never")
    assert tripwires == ["os.system"] and tripwires.ran("value_of_the_paste = 1 + 1")
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    with builtins.open(secret) as fh:
        fh.read()
    assert tripwires.ran(f"data = open('{secret}').read()")
