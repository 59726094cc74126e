"""Crashes and silent changes from hostile input on the pages (issue 16, items 12 and 14): a synthetic shape
`2², 3`, a padding `²`, a link's layer the checkpoint does not have, a max_length below the special tokens."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.export.share import PARAM, spec_from_query
from tests.markdown_text import shown_all

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def _link(data: dict) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(data).encode(), 9)).decode().rstrip("=")


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    at.switch_page("pages/pipeline.py")  # the Overview is the default page at /
    return at.run()


def _url_spec(at: AppTest):
    return spec_from_query(at.query_params)


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


@pytest.mark.parametrize(
    ("field", "value", "used", "wording"),
    [
        ("max_length", 1, 2, "'max_length' = 1 is too small: BERT's tokenizer always adds [CLS] and [SEP]; 2 is used"),
        ("max_length", 600, 512, "'max_length' = 600 is out of range (2..512); 512 is used"),
        ("max_length", 100000, 512, "'max_length' = 100000 is out of range (2..512); 512 is used"),
        ("seed", -3, 0, "'seed' = -3 is out of range (0..2147483647); 0 is used"),
    ],
)
def test_one_setting_out_of_range_in_a_link_is_clamped_and_the_pipeline_kept(field, value, used, wording):
    """The shared texts and steps open; the one bad number is set to the nearest end of its range, and said."""
    shared = {"texts": ["a shared text", "a second text"], "steps": ["x.mean(1)"], field: value}
    at = _app({PARAM: _link(shared)})
    _ok(at)
    assert not at.error, "the link opens"
    assert wording in shown_all(at.warning) and "This shared link was opened with a setting adjusted" in shown_all(
        at.warning
    )
    assert at.text_area(key="pl_texts").value.splitlines() == ["a shared text", "a second text"]
    assert _url_spec(at).steps == ("x.mean(1)",) and getattr(_url_spec(at), field) == used
