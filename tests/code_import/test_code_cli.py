"""CLI contract for code: ``trace --code FILE.py`` and ``import-code FILE.py``.

The same JSON and exit codes as ``trace --spec`` (0 ran, 1 a step failed, 2 nothing ran: one stderr line,
no traceback), plus ``lines``: one entry per statement with line, stage, status and reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).resolve().parent / "seed_examples"
STATUSES = {"stage", "no tensor effect", "not understood"}


def write(tmp_path: Path, code: str, name: str = "snippet.py") -> str:
    path = tmp_path / name
    path.write_text(code, encoding="utf-8")
    return str(path)


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_trace_code_ok_exit_0_with_lines(capsys):
    code, out, err = run_main(capsys, "trace", "--code", str(SEEDS / "004_2.txt"))
    assert code == 0, err
    data = json.loads(out)
    assert {"stages", "warnings", "error", "lines"} <= set(data)
    assert [s["shape"] for s in data["stages"]] == [[32, 128, 768], [32, 768, 128], [32, 512, 126]]
    for line in data["lines"]:
        assert {"line", "stage", "status", "reason"} <= set(line)
        assert line["status"] in STATUSES
    permute = next(x for x in data["lines"] if x["reason"].startswith("step 1"))
    assert permute["stage"] == 1 and permute["shape"] == [32, 768, 128]


def test_trace_code_failing_step_exit_1_json_still_printed(capsys):
    code, out, _ = run_main(capsys, "trace", "--code", str(SEEDS / "000_3.txt"))
    assert code == 1
    data = json.loads(out)
    assert "invalid for input of size 3145728" in data["error"]["message"]
    failing = [x for x in data["lines"] if x["error"]]
    assert len(failing) == 1 and failing[0]["stage"] is None and failing[0]["step"] == 1


def test_import_code_prints_the_spec_only(capsys):
    code, out, _ = run_main(capsys, "import-code", str(SEEDS / "004_3.txt"))
    assert code == 0
    assert json.loads(out) == {
        "shape": [32, 128, 768],
        "steps": ["x.view(32, 768, 128)", {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}],
        "seed": 0,
    }


def test_import_code_checkpoint_override(capsys):
    code, out, _ = run_main(capsys, "import-code", str(SEEDS / "001_1.txt"), "--checkpoint", "bundled:all-MiniLM-L6-v2")
    assert code == 0
    spec = json.loads(out)
    assert spec["checkpoint"] == "bundled:all-MiniLM-L6-v2"
    assert spec["steps"][0]["lstm"]["input_size"] == 384  # self.bert.config.hidden_size of the bundled model


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("import os\nprint('hi')\n", "nothing to trace in"),
        ("def f(:\n", "not valid Python"),
        ("x = 1\n" * 40_000, "the limit is 200,000"),
        ("", "the paste is empty"),
    ],
)
def test_nothing_usable_or_refused_exit_2_one_line(tmp_path, capsys, code, fragment):
    path = write(tmp_path, code)
    for args in (("trace", "--code", path), ("import-code", path)):
        rc, out, err = run_main(capsys, *args)
        assert rc == 2 and out == ""
        assert fragment in err and err.count("\n") == 1 and err.startswith("error: ")
        assert "Traceback" not in err


def test_checkpoint_flag_needs_code(capsys, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"shape": [2, 3], "steps": []}))
    rc, _, err = run_main(capsys, "trace", "--spec", str(spec), "--checkpoint", "random:bert-tiny")
    assert rc == 2 and "--checkpoint goes with --code" in err


def test_missing_file_exit_2(capsys):
    rc, _, err = run_main(capsys, "import-code", "/no/such/file.py")
    assert rc == 2 and "no such file: /no/such/file.py" in err


def test_subprocess_stdin_and_console_script_contract():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    code = "import torch\nx = torch.randn(4, 6, 8)\ny = x.transpose(1, 2)\n"
    r = subprocess.run(
        [sys.executable, "-m", "core", "trace", "--code", "-"],
        cwd=ROOT,
        env=env,
        input=code,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [x["status"] for x in data["lines"]] == ["no tensor effect", "stage", "stage"]
    assert data["lines"][2]["shape"] == [4, 8, 6]
