"""ui.server: the launcher loads the default model into the pages' own cache before serving."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_preload_fills_the_cache_the_pages_read(monkeypatch, capsys):
    import core.model.checkpoints as checkpoints
    from core.spec import DEFAULT_CHECKPOINT
    from ui import server
    from ui.common import get_checkpoint

    get_checkpoint.clear()
    server.preload()
    assert "default model ready" in capsys.readouterr().err
    ckpt = get_checkpoint(DEFAULT_CHECKPOINT, "auto", False)

    def no_second_load(*args, **kwargs):
        raise AssertionError("the page loaded the model again")

    monkeypatch.setattr(checkpoints, "load_checkpoint", no_second_load)
    assert get_checkpoint(DEFAULT_CHECKPOINT, "auto", False) is ckpt  # what the first visitor's page gets
    calls = ckpt.forward_calls
    from core.spec import Spec
    from core.trace import run_spec
    from ui.pipeline.state import DEFAULT_SPEC

    run_spec(Spec.from_dict(DEFAULT_SPEC), checkpoint=ckpt)
    assert ckpt.forward_calls == calls, "the default pipeline's encoder output is already memoised"


def test_preload_failure_is_reported_not_raised(monkeypatch, capsys):
    from ui import server
    from ui.common import get_checkpoint

    def broken(*args, **kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr("ui.common.load_checkpoint", broken)
    get_checkpoint.clear()
    server.preload()  # the server still starts; the first visitor loads the model instead
    assert "preload skipped (OSError: disk on fire)" in capsys.readouterr().err
    get_checkpoint.clear()


@pytest.mark.slow
def test_preload_leaves_the_collector_a_small_heap():
    """After the preload the long-lived heap (torch, transformers, the model) is frozen, so Streamlit's
    gc.collect(2) after every script run walks only new objects (a separate process: freezing is global)."""
    import json
    import os
    import subprocess
    import sys

    probe = (
        "import gc, json\n"
        "from ui import server\n"
        "server.preload()\n"
        "print(json.dumps({'frozen': gc.get_freeze_count(), 'tracked': len(gc.get_objects())}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    assert counts["frozen"] > 100_000  # torch + transformers + the model
    assert counts["tracked"] < counts["frozen"] / 20, counts
