"""CLI inputs that are not what they seem: devices, pipes and folders as files, outputs that cannot be
written (checked before the work, not after it), out-of-range options, hostile JSON, running out of memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core import cli as cli_module

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _one_line(r: subprocess.CompletedProcess, fragment: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in r.stderr


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


# --- what --spec / --texts-file name -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("which", "fragment"),
    [
        ("/dev/zero", "is not a regular file (a device, pipe or socket)"),  # the issue: "no such file"
        ("/dev/null", "is not a regular file"),
        ("FIFO", "is not a regular file"),  # the issue: "no such file" (reading it would block)
        ("FOLDER", "is a folder, not a file"),  # the issue: "no such file"
        ("/no/such/spec.json", "no such file: /no/such/spec.json"),
    ],
)
def test_spec_that_is_not_a_regular_file(which, fragment, fifo, tmp_path):
    path = {"FIFO": str(fifo), "FOLDER": str(tmp_path)}.get(which, which)
    start = time.perf_counter()
    _one_line(cli("trace", "--spec", path, timeout=60), fragment)
    assert time.perf_counter() - start < 60, "a FIFO must not be read (it would block)"


def test_texts_file_that_is_a_device_or_folder(tmp_path):
    for path, fragment in (("/dev/zero", "is not a regular file"), (str(tmp_path), "is a folder")):
        _one_line(cli("embed", "--texts-file", path, "--out", str(tmp_path / "o.npy"), timeout=60), fragment)


# --- embed output, checked before embedding ------------------------------------------------------------
@pytest.fixture
def texts_file(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("a first text\nand a second one\n")
    return path


@pytest.mark.parametrize(
    ("out", "extra", "fragment"),
    [
        ("/proc/embeddings.npy", [], "cannot write in /proc"),  # a read-only place (even for root)
        ("/proc/emb_folder", ["--pooling", "all"], "cannot write in /proc/emb_folder"),
        ("EXISTING_FILE", ["--pooling", "all"], "is an existing file; --pooling all writes a folder"),
        ("EXISTING_DIR", [], "is a folder; give a file name"),
        ("EXISTING_FILE/sub/x.npy", [], "(Not a directory)"),
    ],
)
def test_embed_output_problems_stop_before_any_work(out, extra, fragment, texts_file, tmp_path):
    """The issue: a read-only folder or an existing file failed after the whole run (~75 min for 49 MB)."""
    (tmp_path / "taken").write_text("x")
    (tmp_path / "adir.npy").mkdir()
    out = out.replace("EXISTING_FILE", str(tmp_path / "taken")).replace("EXISTING_DIR", str(tmp_path / "adir.npy"))
    r = cli("embed", "--texts-file", str(texts_file), "--out", out, *extra, timeout=120)
    _one_line(r, fragment)
    assert "loading" not in r.stdout + r.stderr, "refused before the model loaded"


@pytest.mark.slow
def test_embed_reports_the_file_it_really_wrote(texts_file, tmp_path):
    """The issue: --out data wrote data.npy but reported data."""
    r = cli(
        "embed", "--texts-file", str(texts_file), "--out", str(tmp_path / "data"), "--checkpoint", "random:bert-tiny"
    )
    assert r.returncode == 0, r.stderr
    assert f"wrote {tmp_path / 'data.npy'} (2, 128)" in r.stderr
    assert np.load(tmp_path / "data.npy").shape == (2, 128)
    assert not list(tmp_path.glob(".*tmp")), "no temporary file left behind"


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--token-budget", "0"], "--token-budget must be a positive number of tokens per batch"),  # the issue
        (["--token-budget", "-5"], "got -5; the default is 1536"),
        (["--max-length", "1"], "--max-length must be within 2..512"),
        (["--max-length", "0"], "--max-length must be within 2..512"),
    ],
)
def test_embed_options_out_of_range(option, fragment, texts_file, tmp_path):
    _one_line(
        cli("embed", "--texts-file", str(texts_file), "--out", str(tmp_path / "o"), *option, timeout=60), fragment
    )


# --- hostile JSON in a spec file -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"shape": [2, 3], "seed": ' + "9" * 5000 + "}", "more than 4,300 digits"),
        ('{"shape": [' + "1" * 4301 + "]}", "more than 4,300 digits"),
        ('{"shape": [2, 3], "steps": [{"lstm": {"hidden_size": 4, "dropout": NaN}}]}', "NaN is not a JSON number"),
        ('{"shape": [2, 3], "seed": -Infinity}', "-Infinity is not a JSON number"),
    ],
)
def test_hostile_json_in_a_spec_file(raw, fragment, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(raw)
    _one_line(cli("trace", "--spec", str(path), timeout=60), fragment)


# --- out of memory ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error",
    [
        MemoryError(),
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried"),
        RuntimeError("CUDA error: not enough memory"),
    ],
)
def test_out_of_memory_is_one_clear_line(error, monkeypatch, capsys, tmp_path):
    def boom(args):
        raise error

    monkeypatch.setattr(cli_module, "cmd_trace", boom)
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"shape": [2, 3]}))
    assert cli_module.main(["trace", "--spec", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ran out of memory") and "internal error" not in err and "\n" not in err


# --- texts files that hold nothing to embed ------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        "",  # the empty file: the reference wording
        "\n",
        "\n\n\n",  # the issue: three blank lines were embedded as three empty texts
        "  \n\t\n   ",
        "\r\n\r\n",  # Windows line ends
        "\ufeff\n\n",  # a byte-order mark and nothing else
        "\u200b\n\u2060 \n\u3000\n",  # zero-width space, word joiner, ideographic space: nothing visible
    ],
)
def test_embed_refuses_a_file_of_blank_lines_like_an_empty_file(content, monkeypatch, capsys, tmp_path):
    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded for a file without text")

    monkeypatch.setattr("core.model.checkpoints.load_checkpoint", no_model)
    path = tmp_path / "texts.txt"
    path.write_bytes(content.encode("utf-8"))
    assert cli_module.main(["embed", "--texts-file", str(path), "--out", str(tmp_path / "o.npy")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path} holds no text (one text per line)\n"
    assert not (tmp_path / "o.npy").exists()


def test_embed_keeps_blank_lines_between_texts_as_rows_and_says_so(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("first text\n\nthird text\n   \n")
    out = tmp_path / "o.npy"
    r = cli(
        "embed", "--texts-file", str(path), "--out", str(out), "--checkpoint", "random:bert-tiny", "--pooling", "cls"
    )
    assert r.returncode == 0, r.stderr
    assert np.load(out).shape == (4, 128)  # row i = line i
    assert f"note: line(s) 2, 4 of {path} are blank; each is embedded as an empty text" in r.stderr
