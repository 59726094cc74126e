"""Spec parsing: round trips, and every invalid spec gives a SpecError with a clear message."""

from __future__ import annotations

import json

import pytest

from core.errors import SpecError
from core.fixes import Fix, apply_fix
from core.spec import LayerKind, LayerStep, Pooling, Spec

GOOD = [
    {"shape": [32, 128, 768], "steps": ["x.permute(0, 2, 1)", {"conv1d": {"out_channels": 512, "kernel_size": 3}}]},
    {"texts": ["This movie was absolutely amazing!"], "pooling": "last4_concat", "seed": 3},
    {"texts": "one text as a string", "checkpoint": "random:bert-base", "max_length": 16, "layer": 2},
    {"shape": [4, 10, 64], "steps": [{"lstm": {"hidden_size": 8, "bidirectional": True, "batch_first": True}}]},
    {"texts": ["é 😀 中文 العربية"], "steps": [{"gru": {"hidden_size": 4}}, {"linear": {"out_features": 2}}]},
]


@pytest.mark.parametrize("data", GOOD)
def test_round_trip(data):
    spec = Spec.from_dict(data)
    again = Spec.from_dict(json.loads(spec.to_json()))
    assert again == spec


def test_layer_step_parsed():
    spec = Spec.from_dict(GOOD[0])
    assert spec.steps[0] == "x.permute(0, 2, 1)"
    assert spec.steps[1] == LayerStep(LayerKind.CONV1D, {"out_channels": 512, "kernel_size": 3})
    assert spec.pooling is Pooling.NONE


BAD = [
    ({}, "exactly one of 'texts'"),
    ({"texts": ["a"], "shape": [1, 2]}, "it has both"),
    ({"texts": []}, "'texts' is empty"),
    ({"texts": [1, 2]}, "list of strings"),
    ({"texts": ["a"], "colour": "red"}, "unknown spec key(s): colour"),
    ({"shape": [0, 3]}, "positive integers"),
    ({"shape": [32, 128, 768, 2, 2, 2, 2]}, "1 to 6"),
    ({"shape": [100000, 100000]}, "the limit is"),
    ({"shape": [2, 3], "steps": "x.T"}, "'steps' must be a list"),
    ({"shape": [2, 3], "steps": [""]}, "empty expression"),
    ({"shape": [2, 3], "steps": [{"transformer": {}}]}, "unknown layer 'transformer'"),
    ({"shape": [2, 3], "steps": [{"lstm": {"hidden_size": 4, "hiden": 3}}]}, "has no parameter 'hiden'"),
    ({"shape": [2, 3], "steps": [{"lstm": {}}]}, "lstm needs hidden_size"),
    ({"shape": [2, 3], "steps": [{"linear": {"out_features": "2"}}]}, "must be int"),
    ({"shape": [2, 3], "steps": [{"linear": {"out_features": 10**9}}]}, "out of range"),
    ({"shape": [2, 3], "steps": [{"lstm": {"hidden_size": 4}, "linear": {}}]}, "one key"),
    ({"texts": ["a"], "pooling": "avg"}, "unknown pooling 'avg'; choose one of: none, cls, mean"),
    ({"texts": ["a"], "max_length": 100000}, "'max_length' = 100000 is out of range"),
    ({"texts": ["a"], "layer": "last"}, "'layer' must be an integer"),
    ({"texts": ["a"] * 65}, "too many texts"),
    ({"shape": [2, 3], "steps": ["x"] * 33}, "too many steps"),
    ([1, 2], "a spec is a JSON object"),
    ({"texts": ["ok", "bad \ud800 surrogate"]}, "text 2 is not valid Unicode"),
    (
        {"shape": [2, 3], "steps": [{"lstm": {"hidden_size": 4, "units": "![x](http://evil/x.png)"}}]},
        "must be a plain value",
    ),
]


@pytest.mark.parametrize("data,fragment", BAD, ids=[b[1][:30] for b in BAD])
def test_invalid_spec(data, fragment):
    with pytest.raises(SpecError) as info:
        Spec.from_dict(data)
    assert fragment in str(info.value)


def test_invalid_json():
    with pytest.raises(SpecError, match="not valid JSON"):
        Spec.from_json("{'texts': ['single quotes']}")
    with pytest.raises(SpecError, match="not valid JSON"):
        Spec.from_json("[" * 100_000)


def test_keras_arguments_are_kept_for_diagnosis():
    spec = Spec.from_dict({"shape": [2, 3, 4], "steps": [{"lstm": {"hidden_size": 4, "return_sequences": False}}]})
    assert spec.steps[0].params["return_sequences"] is False


FIXES = [
    (Fix("", "insert", index=0, step="x.T"), ["x.T", "x.flatten(1)", {"linear": {"out_features": 2}}]),
    (Fix("", "replace", index=0, step="x.T"), ["x.T", {"linear": {"out_features": 2}}]),
    (Fix("", "delete", index=0), [{"linear": {"out_features": 2}}]),
    (
        Fix("", "set_param", index=1, param="in_features", value=8),
        ["x.flatten(1)", {"linear": {"out_features": 2, "in_features": 8}}],
    ),
    (Fix("", "delete_param", index=1, param="out_features"), ["x.flatten(1)", {"linear": {}}]),
]


@pytest.mark.parametrize("fix,steps", FIXES, ids=[f[0].op for f in FIXES])
def test_apply_fix(fix, steps):
    spec = {"shape": [2, 4], "steps": ["x.flatten(1)", {"linear": {"out_features": 2}}]}
    assert apply_fix(spec, fix)["steps"] == steps
    assert spec["steps"][0] == "x.flatten(1)", "apply_fix must not modify its input"


def test_apply_fix_bad_index():
    with pytest.raises(SpecError, match="the spec has 1 steps"):
        apply_fix({"shape": [2], "steps": ["x"]}, Fix("", "delete", index=4))
    assert apply_fix({"texts": ["a"]}, Fix("", "set", key="pooling", value="mean"))["pooling"] == "mean"


LSTM_PARAMS = {"hidden_size": 8, "batch_first": True}


def test_layer_sibling_keys_round_trip_and_default_to_the_old_form():
    raw = {"lstm": LSTM_PARAMS, "input": "pooled", "output": "out, (h, c)", "h0": "torch.zeros(1, 2, 8)",
           "c0": "torch.zeros(1, 2, 8)"}  # fmt: skip
    spec = Spec.from_dict({"shape": [2, 5, 8], "steps": [raw]})
    step = spec.steps[0]
    assert (step.input, step.output, step.targets, step.names) == ("pooled", "out, (h, c)", ("out", ("h", "c")),
                                                                    ("out", "h", "c"))  # fmt: skip
    assert spec.to_dict()["steps"] == [raw]
    assert Spec.from_dict(spec.to_dict()) == spec
    plain = Spec.from_dict({"shape": [2, 5, 8], "steps": [{"lstm": LSTM_PARAMS}]})
    assert plain.to_dict()["steps"] == [{"lstm": LSTM_PARAMS}], "old specs serialise exactly as before"
    assert plain.steps[0].names == ("x", "h_n", "c_n")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"output": "out, h"}, '\'output\' of lstm must be "out" or "out, (h_n, c_n)"'),
        ({"output": "a.b"}, "'output' must be names such as"),
        ({"output": "x[0]"}, "'output' must be names such as"),
        ({"output": ""}, "'output' must be a non-empty string"),
        ({"input": "1x"}, "'input' must be a name"),
        ({"input": 3}, "'input' must be a non-empty string"),
        ({"h0": "torch.zeros(1, 2, 8)"}, "an LSTM takes both initial states: give 'h0' and 'c0'"),
        ({"h0": "x" * 501, "c0": "x"}, "at most 500 characters"),
    ],
)
def test_layer_sibling_keys_are_checked(extra, needle):
    with pytest.raises(SpecError) as err:
        Spec.from_dict({"shape": [2, 5, 8], "steps": [{"lstm": LSTM_PARAMS, **extra}]})
    assert needle in str(err.value)


def test_initial_states_belong_to_recurrent_layers():
    with pytest.raises(SpecError, match="'h0' / 'c0' are initial states of an LSTM or GRU, not of linear"):
        Spec.from_dict({"shape": [2, 8], "steps": [{"linear": {"out_features": 2}, "h0": "x"}]})
    with pytest.raises(SpecError, match="a GRU has no cell state; give 'h0' only"):
        Spec.from_dict({"shape": [2, 5, 8], "steps": [{"gru": LSTM_PARAMS, "h0": "x", "c0": "x"}]})
    with pytest.raises(SpecError, match='\'output\' of gru must be "out" or "out, h_n"'):
        Spec.from_dict({"shape": [2, 5, 8], "steps": [{"gru": LSTM_PARAMS, "output": "out, (h, c)"}]})
    with pytest.raises(SpecError, match="one key \\(lstm, gru, conv1d, linear\\) and optionally input, output, h0, c0"):
        Spec.from_dict({"shape": [2, 5, 8], "steps": [{"output": "y"}]})
