"""Reshape Lab page through Streamlit's AppTest: every mode, presets, predict-first, the three Conv1d fixes,
pasted errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.export.share import PARAM, encode_spec
from core.spec import Spec
from tests.markdown_text import shown_all

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "reshape-lab.py")
TIMEOUT = 120


def _page(**state) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception[0].value if at.exception else ""


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def _charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_defaults_draw_the_input_and_the_permute():
    at = _page()
    _ok(at)
    md = _texts(at.markdown)
    assert "**x** — the input" in md and "x.permute(0, 2, 1) — " in shown_all(at.markdown)
    assert 'rearrange(x, "b l h -> b h l")' in md
    assert "view of the same memory" in md
    assert _charts(at) == 4  # two grids, two memory strips


def test_through_app_navigation():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/reshape-lab.py").run()
    _ok(at)
    assert any("Reshape Lab" in t.value for t in at.title)
    assert "x.permute(0, 2, 1)" in shown_all(at.markdown)


def test_preset_view_after_permute_fails_and_shows_the_reshape_copy():
    at = _page()
    at.selectbox(key="lab_preset").set_value("permute, then view (fails: not contiguous)").run()
    _ok(at)
    assert at.text_area(key="lab_steps").value == "x.permute(0, 2, 1)\nx.view(x.size(0), -1)"
    errors = _texts(at.error)
    assert "view size is not compatible" in errors and "step 2" in errors
    md = _texts(at.markdown)
    assert "With `.reshape` instead" in md and "copied: new memory" in md
    assert any("reshape" in i.value for i in at.info)  # the fix


def test_every_preset_runs_without_an_exception():
    from ui.lab import PRESETS

    at = _page()
    for name in PRESETS:
        at.selectbox(key="lab_preset").set_value(name).run()
        _ok(at)
        assert _charts(at) >= 2, name


def test_predict_first_hides_the_result_until_the_guess():
    at = _page(lab_predict=True)
    _ok(at)
    assert _charts(at) == 2  # only the input (grid + memory)
    assert "type the shape you expect" in _texts(at.info)
    at.text_input(key="lab_guess").set_value("2, 4, 6").run()
    assert "Not quite: you guessed (2, 4, 6), the result is (2, 6, 4)." in _texts(at.error)
    assert _charts(at) == 4
    at.text_input(key="lab_guess").set_value("(2, 6, 4)").run()
    assert "Right: (2, 6, 4)." in _texts(at.success)
    at.text_input(key="lab_guess").set_value("two by six").run()
    assert "is not a shape" in _texts(at.warning)


def test_a_large_shape_is_drawn_as_an_analogue_with_real_facts():
    at = _page(lab_shape="32, 128, 768", lab_steps="x.view(32, 768, 128)")
    _ok(at)
    info = shown_all(at.info)
    assert "drawn as (2, 4, 8)" in info and "Drawn steps: x.view(2, 8, 4)" in info
    md = _texts(at.markdown)
    assert "x.view(32, 768, 128) — " in shown_all(at.markdown) and "`(32, 768, 128)` (drawn `(2, 8, 4)`)" in md
    assert 'rearrange(x, "b l (h1 h2) -> b (l h1) h2", h1=6)' in md


def test_bad_shape_and_refused_steps_say_so():
    at = _page(lab_shape="2, x")
    _ok(at)
    assert "is not a shape" in _texts(at.error)
    at = _page(lab_steps="__import__('os').system('ls')")
    _ok(at)
    assert "is refused" in _texts(at.error)
    at = _page(lab_shape="32, 128, 768", lab_steps="x[:, 100]")
    _ok(at)
    assert "no small analogue" in _texts(at.warning)


def test_compare_defaults_give_both_verdicts():
    at = _page(lab_mode="Compare chains")
    _ok(at)
    assert "identical: same shape, same data" in _texts(at.success)
    assert "same shape, different data" in _texts(at.error)
    assert _charts(at) == 3


def test_seed_004_button_puts_the_three_examples_on_one_screen():
    at = _page(lab_mode="Compare chains")
    at.button(key="lab_seed004").click().run()
    _ok(at)
    assert at.text_input(key="lab_shape").value == "32, 128, 768"
    assert [at.text_area(key=f"lab_chain_{c}").value for c in "ABC"] == [
        "x.transpose(1, 2)",
        "x.permute(0, 2, 1)",
        "x.view(32, 768, 128)",
    ]
    errors, successes = _texts(at.error), _texts(at.success)
    assert "same shape, different data" in errors and "The first is cell (0, 0, 1)" in errors
    assert "A has x[0, 1, 0] there, C has x[0, 0, 1]" in errors
    assert "identical: same shape, same data" in successes
    assert successes.count("Conv1d(in_channels=768) reads dim 1: 768 ✓") == 3
    assert _charts(at) == 3
    table = at.dataframe[0].value
    assert list(table.columns) == ["cell", "A has", "C has"] and table.iloc[0]["cell"] == "(0, 0, 1)"
    at.toggle(key="lab_all_stages").set_value(True).run()
    _ok(at)
    assert _charts(at) == 6


def test_compare_two_chains_and_a_failing_chain():
    at = _page(lab_mode="Compare chains", lab_n=2, lab_chain_B="x.view(5, -1)")
    _ok(at)
    assert "cannot compare: B fails" in _texts(at.warning)
    assert "is invalid for input of size 48" in _texts(at.error)


def test_explain_example_buttons():
    from ui.lab import ERROR_EXAMPLES

    at = _page(lab_mode="Explain an error")
    _ok(at)
    for label in ERROR_EXAMPLES:
        at.button(key=f"lab_ex_{label}").click().run()
        _ok(at)
        assert "Recognized:" in _texts(at.success), label
        assert _charts(at) >= 2, label


def test_pasted_traceback_builds_the_failing_and_fixed_chains():
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/home/me/train.py", line 12, in <module>\n'
        "    out = head(x.flatten(1))\n"
        '  File "/usr/lib/python3/site-packages/torch/nn/modules/linear.py", line 125, in forward\n'
        "    return F.linear(input, self.weight, self.bias)\n"
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (32x98304 and 768x2)\n"
    )
    at = _page(lab_mode="Explain an error", lab_error=traceback)
    _ok(at)
    assert "Matrix multiply / Linear" in _texts(at.success)
    md = _texts(at.markdown)
    assert "as pasted: fails" in md and "the fix: mean over tokens" in md
    assert "Linear(in_features=768) reads dim -1: 98304, not 768" in _texts(at.warning)
    assert "drawn as (2, 4, 8)" in shown_all(at.info)  # scaled down for drawing, and said so


@pytest.mark.parametrize("paste", ["hello there", "x" * 1_000_000], ids=["words", "1MB"])
def test_garbage_paste_is_not_recognized_without_hanging(paste):
    start = time.perf_counter()
    at = _page(lab_mode="Explain an error", lab_error=paste)
    _ok(at)
    assert time.perf_counter() - start < 60
    assert "Not recognized." in _texts(at.warning)
    assert _charts(at) == 0


def test_lesson_link_opens_its_shape_and_steps():
    spec = Spec.from_dict({"shape": [32, 10, 64], "steps": ["x.reshape(32, 10 * 64)", {"linear": {"out_features": 2}}]})
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params[PARAM] = encode_spec(spec)
    at.run()
    _ok(at)
    assert at.text_input(key="lab_shape").value == "32, 10, 64"
    assert at.text_area(key="lab_steps").value == "x.reshape(32, 10 * 64)"
    info = _texts(at.info)
    assert "Opened from a link" in info and "1 step(s) from the first layer step on are left out" in info
    at.text_area(key="lab_steps").set_value("x.flatten(1)").run()  # the link does not overwrite edits
    assert at.text_area(key="lab_steps").value == "x.flatten(1)"


def test_a_broken_link_warns():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params[PARAM] = "not-a-link!"
    at.run()
    _ok(at)
    assert "The link could not be opened" in _texts(at.warning)


def test_real_bert_source_is_a_small_readable_slice():
    at = _page(lab_source="a real BERT output", lab_checkpoint="random:bert-tiny", lab_tokens=5, lab_features=4)
    _ok(at)
    captions = _texts(at.caption)
    assert "first 5 tokens × first 4 features: (2, 5, 4)" in captions
    grid = at.get("plotly_chart")[0].proto.spec
    assert "[CLS]" in grid and "value" in grid  # hover names the token and shows the real value
