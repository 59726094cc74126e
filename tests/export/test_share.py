"""Share links: round trips of real specs, and every hostile or broken link refused with a clear SpecError."""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from pathlib import Path

import pytest

from core.errors import SpecError
from core.export.share import (
    MAX_JSON_BYTES,
    MAX_LINK_CHARS,
    PARAM,
    decode_spec,
    decode_spec_clamped,
    encode_spec,
    spec_from_query,
    spec_to_query,
)
from core.spec import DEFAULT_CHECKPOINT, Spec

DEFAULT = {
    "texts": ["This movie was absolutely amazing!", "The plot was confusing."],
    "steps": [
        {"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}},
        "x[:, -1, :]",
        {"linear": {"out_features": 2}},
    ],
}
ROUND_TRIPS = {
    "default": DEFAULT,
    "unicode": {"texts": ["Ça a l'air génial ! 🎬", "日本語のテキスト", 'emoji 👩‍🔬 and "quotes"\nnewline']},
    "random_ckpt": {"texts": ["hi"], "checkpoint": "random:bert-tiny", "pooling": "mean", "layer": 1, "seed": 7},
    "hub_id": {"texts": ["hi"], "checkpoint": "bert-base-uncased", "max_length": 16},
    "synthetic": {
        "shape": [32, 128, 768],
        "steps": ["x.permute(0, 2, 1)", {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}],
    },
    "all_layers": {
        "shape": [4, 10, 64],
        "steps": [
            "x.transpose(1, 2)",
            {"conv1d": {"out_channels": 32, "kernel_size": 3, "padding": "same", "bias": False}},
            "x.transpose(1, 2)",
            {"gru": {"hidden_size": 16, "batch_first": True, "bidirectional": True, "dropout": 0.0}},
            {"lstm": {"hidden_size": 8, "proj_size": 4, "batch_first": True}},
            "h_n[-1]",
            {"linear": {"in_features": 4, "out_features": 3, "bias": True}},
        ],
        "title": "every layer kind",
    },
    "foreign_param": {"texts": ["a"], "steps": [{"lstm": {"hidden_size": 8, "return_sequences": True}}]},
    "no_truncation": {"texts": ["a"], "max_length": None},
}


def _pack(obj, raw: bytes | None = None) -> str:
    data = raw if raw is not None else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(zlib.compress(data)).decode().rstrip("=")


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_round_trip(name):
    spec = Spec.from_dict(ROUND_TRIPS[name])
    query = spec_to_query(spec)
    assert list(query) == [PARAM]
    value = query[PARAM]
    assert all(c.isalnum() or c in "-_" for c in value), "the value must be URL-safe as is"
    back = spec_from_query(query)
    assert back == spec
    assert back.to_dict() == spec.to_dict()
    assert back.title == spec.title


def test_links_are_compact():
    assert len(encode_spec(Spec.from_dict(DEFAULT))) < 300


def test_repeated_parameter_uses_the_last_value_and_other_params_are_ignored():
    a, b = encode_spec(Spec.from_dict(DEFAULT)), encode_spec(Spec.from_dict(ROUND_TRIPS["synthetic"]))
    assert spec_from_query({PARAM: [a, b], "utm_source": "mail", "embed": "true"}).shape == (32, 128, 768)


BAD_LINKS = {
    "missing": ({}, "has no 'spec' parameter"),
    "empty": ({PARAM: ""}, "value is empty"),
    "empty_list": ({PARAM: []}, "value is empty"),
    "garbage_chars": ({PARAM: "not base64!!"}, "characters outside base64url"),
    "bad_base64_length": ({PARAM: "abcde"}, "not valid base64url"),
    "not_zlib": ({PARAM: base64.urlsafe_b64encode(b"hello world").decode().rstrip("=")}, "not zlib-compressed"),
    "too_long": ({PARAM: "A" * (MAX_LINK_CHARS + 1)}, "the shared link is too long"),
    "not_json": ({PARAM: _pack(None, b"{not json")}, "not valid JSON"),
    "not_utf8": ({PARAM: _pack(None, b"\xff\xfe\x00")}, "not UTF-8"),
    "json_list": ({PARAM: _pack([1, 2, 3])}, "expected a JSON object, got list"),
    "json_string": ({PARAM: _pack("texts")}, "expected a JSON object, got str"),
    "unknown_key": ({PARAM: _pack({"texts": ["a"], "exec": "rm -rf /"})}, "unknown spec key(s): exec"),
    "both_sources": ({PARAM: _pack({"texts": ["a"], "shape": [1, 2, 3]})}, "exactly one of 'texts'"),
    "wrong_type": ({PARAM: _pack({"texts": ["a"], "layer": "last"})}, "'layer' must be an integer"),
    "bad_layer_param": (
        {PARAM: _pack({"texts": ["a"], "steps": [{"lstm": {"hidden_size": 8, "__class__": 1}}]})},
        "lstm has no parameter '__class__'",
    ),
    "local_path": ({PARAM: _pack({"texts": ["a"], "checkpoint": "/etc/secret-model"})}, "not a local folder"),
    "relative_path": ({PARAM: _pack({"texts": ["a"], "checkpoint": "../models/x"})}, "not a local folder"),
    "lone_surrogate": ({PARAM: _pack(None, b'{"texts": ["bad \\ud800 text"]}')}, "not valid Unicode"),
    "huge_shape": ({PARAM: _pack({"shape": [100000, 100000, 100000]})}, "the limit is"),
    "truncated": ({PARAM: encode_spec(Spec.from_dict(DEFAULT))[:-12]}, "damaged"),
}


@pytest.mark.parametrize("name", list(BAD_LINKS))
def test_bad_links_are_refused_with_a_clear_message(name):
    params, wording = BAD_LINKS[name]
    with pytest.raises(SpecError) as info:
        spec_from_query(params)
    assert wording in str(info.value)


def test_zip_bomb_is_refused_before_it_expands():
    bomb = base64.urlsafe_b64encode(zlib.compress(b'{"texts": ["' + b"a" * 10_000_000 + b'"]}', 9)).decode()
    bomb = bomb.rstrip("=")
    assert len(bomb) < MAX_LINK_CHARS, "the bomb must pass the length cap to test the size cap"
    with pytest.raises(SpecError, match=r"expands to more than \d+ KiB"):
        decode_spec(bomb)


def test_decompressed_cap_is_exact():
    third = MAX_JSON_BYTES // 3
    ok = json.dumps({"texts": ["a" * (third - 100)] * 3}).encode()
    too_big = json.dumps({"texts": ["a" * (third + 10)] * 3}).encode()
    assert len(ok) <= MAX_JSON_BYTES < len(too_big)
    assert decode_spec(_pack(None, ok)).texts[0].startswith("aaa")
    with pytest.raises(SpecError, match="expands to more than"):
        decode_spec(_pack(None, too_big))


def test_deeply_nested_json_is_refused():
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(SpecError, match=r"not valid JSON|nested too deeply"):
        decode_spec(_pack(None, deep))


def test_hostile_expressions_pass_the_link_but_are_refused_by_the_trace():
    """A link carries expression text; the whitelist refuses it before anything runs."""
    from core.errors import ExpressionRefused
    from core.trace import run_spec

    hostile = {"shape": [2, 3, 4], "steps": ["__import__('os').system('echo pwned')"]}
    spec = spec_from_query({PARAM: _pack(hostile)})
    with pytest.raises(ExpressionRefused, match="step 1"):
        run_spec(spec)


def test_too_large_to_share():
    rng = random.Random(0)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(6)) for _ in range(4000)]
    spec = Spec.from_dict({"texts": [" ".join(words[i : i + 100]) for i in range(0, 4000, 100)]})
    with pytest.raises(SpecError, match="too large to share as a link"):
        spec_to_query(spec)


def test_a_local_folder_checkpoint_cannot_be_shared():
    spec = Spec.from_dict({"texts": ["a"], "checkpoint": "/home/me/my-bert"})
    with pytest.raises(SpecError, match="not a local folder"):
        spec_to_query(spec)


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "share_links_v1.json"
OLD_LINKS = json.loads(FIXTURES.read_text(encoding="utf-8"))["links"]


@pytest.mark.parametrize("entry", OLD_LINKS, ids=lambda e: e["link_value"][:12])
def test_links_made_before_the_layout_change_still_open(entry, tiny_ckpt):
    spec = decode_spec(entry["link_value"])
    assert spec.to_dict() == entry["spec"]
    from core.trace import run_spec

    if spec.checkpoint == DEFAULT_CHECKPOINT:
        spec = spec.replace(checkpoint="random:bert-tiny")  # the quick loop stays off the real model
    trace = run_spec(spec, checkpoint=tiny_ckpt if spec.checkpoint == "random:bert-tiny" else None)
    assert len(trace.stages) >= 1
    assert trace.ok or trace.error.step_index is not None  # a failing lesson-style link fails at its step


@pytest.mark.parametrize(
    ("field", "value", "used"),
    [
        ("max_length", 1, 2),
        ("max_length", 0, 2),
        ("max_length", 513, 512),
        ("layer", -100, -64),
        ("layer", 65, 64),
        ("seed", -1, 0),
        ("seed", 2**40, 2**31 - 1),
    ],
)
def test_clamped_decoding_sets_an_out_of_range_setting_to_the_nearest_end(field, value, used):
    """What the app opens: the strict decoder refuses the link; the clamped one keeps everything else of it."""
    link = _pack({**DEFAULT, field: value})
    with pytest.raises(SpecError):
        decode_spec(link)
    spec, notes = decode_spec_clamped(link)
    assert getattr(spec, field) == used and spec.steps == Spec.from_dict(DEFAULT).steps
    assert spec.texts == tuple(DEFAULT["texts"])
    assert (
        len(notes) == 1 and notes[0].startswith(f"'{field}' = {value} is ") and notes[0].endswith(f"; {used} is used")
    )


@pytest.mark.parametrize("data", [DEFAULT, {**DEFAULT, "max_length": 64, "layer": -2, "seed": 7}])
def test_clamped_decoding_of_a_valid_link_is_the_strict_one(data):
    link = _pack(data)
    assert decode_spec_clamped(link) == (decode_spec(link), ())


@pytest.mark.parametrize("bad", [{**DEFAULT, "max_length": "64"}, {**DEFAULT, "texts": []}, {**DEFAULT, "seed": True}])
def test_clamped_decoding_clamps_numbers_only(bad):
    with pytest.raises(SpecError):
        decode_spec_clamped(_pack(bad))
