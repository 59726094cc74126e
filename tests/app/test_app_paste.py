"""Paste code on the Pipeline Explorer (AppTest): import, annotated lines, Apply fix into the code, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.export.share import spec_from_query
from tests.app.conftest import pick_checkpoint
from tests.markdown_text import shown
from ui.pipeline.paste import annotated_html

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "tests" / "code_import" / "seed_examples"
TIMEOUT = 120


def _app(open_box: bool = True) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/pipeline.py")  # the Overview is the default page at /
    at.run()
    if open_box:  # the box's content is drawn only while it is open (what a click on it does)
        at.session_state["pc_open"] = True
        at.run()
    return at


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


def test_undo_after_a_fix_puts_the_pasted_code_back():
    """Undo after Apply fix restores the pipeline AND the code the fix rewrote; no "written into your code" note
    is left behind."""
    at = _app()
    original = (SEEDS / "004_3.txt").read_text()
    at = _paste(at, original)
    _ok(at)
    before = spec_from_query(at.query_params).to_dict()
    at = at.button(key="pc_fix_0").click().run()
    assert at.text_area(key="pc_code").value != original
    at = at.button(key="pl_undo_btn").click().run()
    _ok(at)
    assert at.text_area(key="pc_code").value == original
    assert spec_from_query(at.query_params).to_dict() == before
    notes = [shown(i.value) for i in at.info]
    assert not any("written into your code" in n for n in notes), notes
    assert any("pasted code is back as it was" in n for n in notes), notes
    assert "⚠" in _html(at), "the annotations are the original code's again (the view line's warning)"


def _fixed(original: str) -> AppTest:
    """The seed's code pasted, imported, and its fix applied (written into the code)."""
    at = _paste(_app(), original)
    at = at.button(key="pc_fix_0").click().run()
    assert any("written into your code" in shown(i.value) for i in at.info)
    return at


def _notes(at: AppTest) -> list[str]:
    return [shown(i.value) for i in at.info]


def test_undo_keeps_code_edited_after_the_fix():
    original = (SEEDS / "004_3.txt").read_text()
    at = _fixed(original)
    edited = at.text_area(key="pc_code").value + "\n# my own line, typed after the fix\n"
    at.text_area(key="pc_code").set_value(edited).run()
    at = at.button(key="pl_undo_btn").click().run()
    _ok(at)
    assert at.text_area(key="pc_code").value == edited, "an edit made after the fix is never thrown away"
    assert any("edited after the fix, so it stays" in n for n in _notes(at)), _notes(at)
    assert not any("written into your code" in n for n in _notes(at))


def test_undo_of_a_fix_that_never_touched_the_code_leaves_code_typed_since_alone():
    at = _app()
    at = at.button(key="pl_fix_w0").click().run()  # the default pipeline's warning: a fix, no pasted code
    _ok(at)
    at.text_area(key="pc_code").set_value("x = torch.randn(2, 3)\n").run()
    at = at.button(key="pl_undo_btn").click().run()
    _ok(at)
    assert at.text_area(key="pc_code").value == "x = torch.randn(2, 3)\n"
    assert any("Undone: Apply fix" in n for n in _notes(at)), _notes(at)
    assert not any("pasted code" in n for n in _notes(at)), "nothing to say about code the fix never touched"


@pytest.mark.parametrize("how", ["reset", "browser back"])
def test_no_fix_note_outlives_its_pipeline(how):
    """After Reset or the browser's Back, the "fix is written into your code" note is gone: it described the
    pipeline that was replaced."""
    original = (SEEDS / "004_3.txt").read_text()
    at = _paste(_app(), original)
    imported = dict(at.query_params)
    at = at.button(key="pc_fix_0").click().run()
    if how == "reset":
        at = at.button(key="pl_reset").click().run()
    else:
        at.query_params.clear()
        at.query_params.update(imported)  # what the browser's Back button does to the query string
        at.run()
    _ok(at)
    assert not any("written into your code" in n for n in _notes(at)), _notes(at)


def test_closed_box_draws_nothing_inside_and_keeps_the_pasted_code():
    at = _app(open_box=False)
    _ok(at)
    assert "pc_code" not in [t.key for t in at.text_area]
    assert len(at.get("file_uploader")) == 0  # the first view loads no uploader
    at.session_state["pc_open"] = True
    at.run()
    at.text_area(key="pc_code").set_value("x = torch.randn(2, 3)\n").run()
    at.session_state["pc_open"] = False  # closed: the text area is not drawn...
    at.run()
    _ok(at)
    assert "pc_code" not in [t.key for t in at.text_area]
    at.session_state["pc_open"] = True  # ...and reopened, the code is still there
    at.run()
    assert at.text_area(key="pc_code").value == "x = torch.randn(2, 3)\n"


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
    pick_checkpoint(at, "bundled:all-MiniLM-L6-v2")
    _ok(at)
    assert any("the code was read for random:bert-base" in shown(i.value) for i in at.info)
    at = at.button(key="pc_reread").click().run()
    _ok(at)
    assert spec_from_query(at.query_params).to_dict()["steps"][0]["lstm"]["input_size"] == 384
    assert not any("the code was read for" in str(i.value) for i in at.info)


def test_fix_rows_and_refusals_show_user_text_once_escaped():
    from tests.code_import.test_code_fix import SENTENCE_MEANS

    at = _paste(_app(), SENTENCE_MEANS)
    _ok(at)
    rows = [shown(m.value) for m in at.markdown if "fix:" in shown(m.value)]
    assert any(
        "Line 11: warning — fix: replace line 11 by mx = out.masked_fill(batch['attention_mask'].unsqueeze(-1) == 0, "
        "float('-inf')).max(dim=1).values" in r
        for r in rows
    ), rows
    assert not any("&quot;" in r or "**" in r or "`" in r for r in rows)
    page = _html(at)
    assert "<code>" in page and "&amp;quot;" not in page
    at = _paste(at, "def broken(:\n")
    _ok(at)
    errors = [shown(e.value) for e in at.error]
    assert any(e.startswith("The code was refused: ") for e in errors) and not any("**" in e for e in errors)


def test_after_an_edit_the_code_keeps_its_last_annotation():
    at = _paste(_app(), (SEEDS / "004_3.txt").read_text())
    box = next(t for t in at.text_input if t.value == "x.view(32, 768, 128)")
    at = box.set_value("x.permute(0, 2, 1)").run()
    _ok(at)
    assert any("The shapes below are your code's as imported" in shown(i.value) for i in at.info)
    page = _html(at)
    assert "(32, 768, 128)" in page and "not reached" not in page


CONV_ON_TOKENS = """import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer

tok = AutoTokenizer.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
bert = AutoModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
batch = tok(["a cat sat", "dogs bark"], padding=True, return_tensors="pt")
out = bert(**batch).last_hidden_state
conv = nn.Conv1d(384, 64, 3)
y = conv(out)
"""


def test_a_kept_annotation_does_not_point_to_an_apply_fix_button_it_lacks():
    """While the pipeline runs something else (edited, or Back), the code keeps its last annotation; its fix is
    still explained, but "press Apply fix below" only where this run shows the button."""
    at = _paste(_app(), CONV_ON_TOKENS)
    _ok(at)
    assert "press <b>Apply fix</b> below" in _html(at) and at.button(key="pc_fix_0")
    at.number_input(key=next(n.key for n in at.number_input if n.label == "out_channels")).set_value(32).run()
    _ok(at)
    page = _html(at)
    assert "The shapes below are your code's as imported" in " ".join(shown(i.value) for i in at.info)
    assert "<b>Fix:</b> insert" in page and "Apply fix" not in page
    assert not [b for b in at.button if b.key and b.key.startswith("pc_fix_")]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("big.py", b"x = 1\n" * 1_600_006, "big.py is 9,600,036 bytes: over the limit of 200,000 characters"),
        ("long.py", b"#" * 200_001, "long.py is 200,001 characters long: over the limit of 200,000 characters"),
        ("h10_binary.py", b"\xff\xfe\x00binary", "h10_binary.py is not UTF-8 text: nothing was imported."),
    ],
)
def test_an_upload_is_refused_by_its_real_size_before_it_is_read(name, data, expected):
    from ui.pipeline.paste import MAX_UPLOAD_BYTES, UPLOAD_LIMIT_MB, read_upload

    reads = []

    def read() -> bytes:
        reads.append(1)
        return data

    kind, message = read_upload(name, len(data), read)
    assert kind == "error" and message.startswith(expected), message
    assert reads == ([] if len(data) > MAX_UPLOAD_BYTES else [1])  # a file too large is never read
    assert UPLOAD_LIMIT_MB * 1_000_000 >= MAX_UPLOAD_BYTES > (UPLOAD_LIMIT_MB - 1) * 1_000_000
    assert read_upload("ok.py", 12, lambda: "x = 1  # é\n".encode()) == "x = 1  # é\n"
