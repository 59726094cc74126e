"""Crashes and silent changes from hostile input on the pages (issue 16, items 12 and 14): a synthetic shape
`2², 3`, a padding `²`, a link's layer the checkpoint does not have, a max_length below the special tokens."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.export.share import PARAM
from tests.markdown_text import shown, shown_all

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def _link(data: dict) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(data).encode(), 9)).decode().rstrip("=")


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    at.switch_page("pages/pipeline.py")  # the Overview is the default page at /
    return at.run()


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception[0].value if at.exception else ""


@pytest.mark.parametrize("shape", ["2², 3", "2, 3³", "٣, 4", "2, ½"])  # the issue: `2², 3` crashed the page
def test_unicode_digits_in_a_synthetic_shape(shape):
    at = _app({PARAM: _link({"shape": [2, 3], "steps": ["x.transpose(0, 1)"]})})
    at.text_input(key="pl_shape").set_value(shape).run()
    _ok(at)
    assert any("is not a list of positive integers" in c.value for c in at.code)


def test_unicode_digit_as_conv_padding():
    at = _app({PARAM: _link({"shape": [2, 4, 8], "steps": [{"conv1d": {"out_channels": 2, "kernel_size": 3}}]})})
    at.text_input(key="pl_p0_padding").set_value("²").run()
    _ok(at)


@pytest.mark.parametrize(("layer", "shown_layer"), [(64, 6), (-64, 6), (7, 6)])
def test_a_links_layer_the_model_lacks_is_said_not_wrapped(layer, shown_layer):
    """The issue: "layer": 64 silently became layer 1 (64 mod 7) on the 6-layer bundled model."""
    at = _app({PARAM: _link({"texts": ["a short text"], "layer": layer})})
    _ok(at)
    warnings = shown_all(at.warning)
    assert f"The link asks for layer {layer}, but this checkpoint has hidden states 0..6" in warnings
    assert at.slider(key="pl_layer_v6").value == shown_layer


@pytest.mark.parametrize(("layer", "value"), [(-1, 6), (2, 2), (-7, 0), (6, 6)])
def test_layers_the_model_has_are_taken_silently(layer, value):
    at = _app({PARAM: _link({"texts": ["a short text"], "layer": layer})})
    _ok(at)
    assert at.slider(key="pl_layer_v6").value == value
    assert "The link asks for layer" not in shown_all(at.warning)


def test_max_length_widget_starts_at_the_special_tokens():
    at = _app()
    assert at.number_input(key="pl_max_length").min == 2


def test_max_length_1_in_a_link_is_a_clean_message():
    at = _app({PARAM: _link({"texts": ["word " * 900], "max_length": 1})})
    _ok(at)
    text = shown_all(at.error)
    assert "This shared link could not be opened" in text and "max_length' = 1 is too small" in text
    assert shown(at.error[0].value)
