"""Paste code on the Pipeline Explorer (AppTest): import, annotated lines, Apply fix into the code, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.export.share import spec_from_query
from tests.markdown_text import shown
from ui.pipeline.paste import annotated_html

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "tests" / "code_import" / "seed_examples"
TIMEOUT = 120


def _app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/pipeline.py")  # the Overview is the default page at /
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception[0].value if at.exception else ""


def _html(at: AppTest) -> str:
    return "".join(str(getattr(e, "proto", e)) for e in at.get("html"))


def _paste(at: AppTest, code: str) -> AppTest:
    at.text_area(key="pc_code").set_value(code)
    return at.button(key="pc_go").click().run()


@pytest.fixture(scope="module")
def pasted() -> AppTest:
    at = _app()
    _ok(at)
    return _paste(at, (SEEDS / "004_3.txt").read_text())


def test_paste_imports_the_pipeline_and_annotates_every_line(pasted):
    _ok(pasted)
    spec = spec_from_query(pasted.query_params)
    assert spec.shape == (32, 128, 768)
    assert spec.to_dict()["steps"][0] == "x.view(32, 768, 128)"
    page = _html(pasted)
    assert "(32, 128, 768)" in page and "(32, 768, 128)" in page and "(32, 512, 126)" in page
    assert "⚠" in page  # the warning on the view line
    assert any("Imported your code" in str(i.value) for i in pasted.info)


def test_apply_fix_edits_pipeline_and_code(pasted):
    at = pasted.button(key="pc_fix_0").click().run()
    _ok(at)
    code = at.text_area(key="pc_code").value
    assert "reshaped_output = bert_output.permute(0, 2, 1)" in code and ".view(32, 768, 128)" not in code
    assert spec_from_query(at.query_params).to_dict()["steps"][0] == "x.permute(0, 2, 1)"
    assert any("written into your code (line 7)" in shown(i.value) for i in at.info)
    assert "⚠" not in _html(at)


def test_nothing_to_trace_and_refused_pastes_say_why():
    at = _app()
    at = _paste(at, "import os\nos.system('echo hi')\n")
    _ok(at)
    assert any("Nothing to trace in this code" in shown(e.value) for e in at.error)
    at = _paste(at, "x = 1\n" * 40_000)
    _ok(at)
    assert any("The code was refused" in shown(e.value) and "200,000" in shown(e.value) for e in at.error)


def test_tensorflow_paste_runs_translated():
    at = _paste(_app(), (SEEDS / "000_1.txt").read_text())
    _ok(at)
    assert spec_from_query(at.query_params).shape == (32, 128, 768)
    page = _html(at)
    assert "(32, 16, 6144)" in page and "translated: tf.reshape" in page


def test_annotated_html_escapes_code_and_reasons():
    from core.code_import import import_code

    imported = import_code("import torch\nx = torch.randn(2, 3)  # <script>alert(1)</script>\ny = x.T\n")
    from core.code_import.annotate import LineShape

    page = annotated_html(imported.source, [LineShape(n) for n in imported.lines])
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_switching_the_checkpoint_offers_to_read_the_code_again():
    at = _paste(_app(), (SEEDS / "001_2.txt").read_text())
    _ok(at)
    assert spec_from_query(at.query_params).checkpoint == "random:bert-base"
    at.selectbox(key="pc_checkpoint").set_value("bundled:all-MiniLM-L6-v2").run()
    _ok(at)
    spec = spec_from_query(at.query_params)
    assert spec.checkpoint == "bundled:all-MiniLM-L6-v2"
    assert spec.to_dict()["steps"][0]["lstm"]["input_size"] == 384  # self.bert.config.hidden_size, re-read
    assert "(1, 10, 384)" in _html(at)


def test_changing_the_sidebar_checkpoint_offers_a_re_read():
    at = _paste(_app(), (SEEDS / "001_2.txt").read_text())
    at.selectbox(key="model_choice").set_value("bundled:all-MiniLM-L6-v2").run()
    _ok(at)
    assert any("the code was read for random:bert-base" in shown(i.value) for i in at.info)
    at = at.button(key="pc_reread").click().run()
    _ok(at)
    assert spec_from_query(at.query_params).to_dict()["steps"][0]["lstm"]["input_size"] == 384
    assert not any("the code was read for" in str(i.value) for i in at.info)
