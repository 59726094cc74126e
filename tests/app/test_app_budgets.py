"""The server's budgets on the pages: refused before the weights load, stopped at the time limit."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.errors import BudgetExceeded
from core.export.share import PARAM
from core.model import checkpoints
from core.model.encoding import EncoderSize, check_before_loading, encoder_size, encoder_size_of
from tests.markdown_text import shown_all

ROOT = Path(__file__).resolve().parents[2]


def _link(data: dict) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(data).encode(), 9)).decode().rstrip("=")


def test_sizes_by_name_equal_the_loaded_models(tiny_ckpt):
    assert encoder_size_of("random:bert-tiny") == encoder_size(tiny_ckpt)
    assert encoder_size_of("random:bert-large") == EncoderSize("random:bert-large", 24, 1024, 4096, 512)
    assert encoder_size_of("bundled:all-MiniLM-L6-v2") == EncoderSize("bundled:all-MiniLM-L6-v2", 6, 384, 1536, 512)
    assert encoder_size_of("bert-base-uncased") is None and encoder_size_of("random:nope") is None


def test_bert_large_on_64_long_texts_is_refused_before_it_loads(monkeypatch):
    """The issue: random:bert-large on 64 x 512 tokens ran past 200 s and could not be cancelled."""
    monkeypatch.setattr(checkpoints, "_load", lambda *a: pytest.fail("no weights may load"))
    with pytest.raises(BudgetExceeded, match=r"random:bert-large over 64 text\(s\) x 512 tokens .* TFLOP"):
        check_before_loading("random:bert-large", ["word " * 600] * 64, 512)
    with pytest.raises(BudgetExceeded, match=r"bundled:all-MiniLM-L6-v2 over 64 text\(s\) x 512 tokens"):
        check_before_loading("bundled:all-MiniLM-L6-v2", ["word " * 600] * 64, 512)
    check_before_loading("random:bert-large", ["a short text"] * 2, 512)  # small: fine
    check_before_loading("some-org/model", ["word " * 600] * 64, 512)  # unknown size: checked once loaded


def test_the_page_refuses_before_loading_and_keeps_the_editor(loads):
    spec = {"texts": ["word " * 600] * 64, "checkpoint": "random:bert-large", "max_length": 512}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params[PARAM] = _link(spec)
    at.switch_page("pages/pipeline.py").run()
    assert not at.exception
    assert "random:bert-large" not in loads
    assert "Refused: nothing ran." in shown_all(at.error)
    assert any("TFLOP of work; the server's limit for one run is 500.0 GFLOP" in c.value for c in at.code)
    at.text_area(key="pl_texts").set_value("one short text").run()  # the visitor can fix it
    assert not at.exception and loads[-1] == "random:bert-large"
    assert any("Runs: final shape" in s.value for s in at.success)


def test_the_page_stops_a_run_at_the_time_limit(monkeypatch):
    monkeypatch.setenv("SHAPE_EXPLORER_TIME_SECONDS", "0.000001")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params[PARAM] = _link({"texts": ["a text no other test encodes: time limit"], "steps": []})
    at.switch_page("pages/pipeline.py").run()
    assert not at.exception
    assert "Stopped: the run was too long for this server." in shown_all(at.error)
    assert any("time limit (1e-06 s) and was stopped before the encoder" in c.value for c in at.code)
