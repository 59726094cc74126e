"""Specs and links that crashed (issue 16, item 12): integers beyond Python's 4,300-digit limit, NaN /
Infinity, max_length below the tokenizer's two special tokens. Each is a SpecError with a clear message."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from core.errors import SpecError
from core.export.share import PARAM, spec_from_query
from core.spec import Spec, load_json
from core.trace import run_spec

BIG = "9" * 5000


def _link(raw: str) -> dict[str, str]:
    return {PARAM: base64.urlsafe_b64encode(zlib.compress(raw.encode())).decode().rstrip("=")}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"shape": [2, 3], "seed": ' + BIG + "}", "more than 4,300 digits"),  # the issue: ValueError escaped
        ('{"shape": [' + BIG + "]}", "more than 4,300 digits"),
        ('{"texts": ["a"], "layer": -' + BIG + "}", "more than 4,300 digits"),
        ('{"shape": [2, 3], "steps": [{"linear": {"out_features": ' + BIG + "}}]}", "more than 4,300 digits"),
        ('{"shape": [2, 3], "seed": NaN}', "NaN is not a JSON number"),
        ('{"shape": [2, 3], "steps": [{"lstm": {"hidden_size": 2, "dropout": Infinity}}]}', "Infinity is not"),
        ('{"shape": [2, 3]' + "}" * 3, "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_hostile_json_in_a_link_or_a_spec(raw, fragment):
    with pytest.raises(SpecError, match=r"^the shared link is damaged: .*" + fragment.replace("(", r"\(")):
        spec_from_query(_link(raw))
    with pytest.raises(SpecError, match=fragment.replace("(", r"\(")):
        Spec.from_json(raw)


def test_large_but_legal_integers_are_range_errors_not_crashes():
    with pytest.raises(SpecError, match=r"'seed' = 9{20} is out of range"):
        spec_from_query(_link('{"shape": [2], "seed": ' + "9" * 20 + "}"))
    assert load_json('{"n": ' + "9" * 4300 + "}")["n"] > 0, "4,300 digits is still a number"


@pytest.mark.parametrize("value", [1, 0])
def test_max_length_below_the_special_tokens_is_refused(value):
    """The issue: max_length 1 (allowed by widget and spec) crashed a long text at 512 positions."""
    with pytest.raises(SpecError, match=rf"'max_length' = {value} is too small: .*2 special tokens.*use 2\.\.512"):
        Spec.from_dict({"texts": ["a"], "max_length": value})
    with pytest.raises(SpecError, match="too small"):
        spec_from_query(_link(json.dumps({"texts": ["a"], "max_length": value})))


def test_max_length_2_runs_a_long_text_and_counts_the_cut_truthfully(tiny_ckpt):
    spec = Spec.from_dict({"texts": ["word " * 2000, "hi"], "max_length": 2, "checkpoint": "random:bert-tiny"})
    trace = run_spec(spec, checkpoint=tiny_ckpt)
    assert trace.ok and trace.stages[0].shape == (2, 2, 128)  # [CLS] [SEP]: no crash at 512 positions
    assert trace.encoding.truncated == (2000, 1)  # "hi" really lost its one token
    short = run_spec(spec.replace(texts=["hi"], max_length=3), checkpoint=tiny_ckpt)
    assert short.encoding.truncated == (0,), "a text that fits is not said to be cut"
