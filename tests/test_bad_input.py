"""Bad input never crashes: empty, huge, exotic scripts — clear messages, truncation reported."""

from __future__ import annotations

import pytest

from core.errors import SpecError
from core.model.encoding import encode
from core.spec import Spec
from core.trace import run_spec


def test_empty_text_list_and_empty_string(tiny_ckpt):
    with pytest.raises(SpecError, match="'texts' is empty"):
        Spec.from_dict({"texts": []})
    trace = run_spec(Spec.from_dict({"texts": [""], "checkpoint": "random:bert-tiny"}), checkpoint=tiny_ckpt)
    assert trace.final.shape == (1, 2, 128)  # [CLS] [SEP]
    assert trace.encoding.tokens[0] == ("[CLS]", "[SEP]")


def test_100kb_text_is_truncated_with_a_note(tiny_ckpt):
    text = "shape " * 17_000  # ~100 kB
    spec = Spec.from_dict({"texts": [text[:100_000]], "checkpoint": "random:bert-tiny", "max_length": 128})
    trace = run_spec(spec, checkpoint=tiny_ckpt)
    assert trace.final.shape == (1, 128, 128)
    assert trace.encoding.truncated[0] > 16_000
    notes = [w for w in trace.warnings if w.code == "truncated"]
    assert notes and "max_length=128" in notes[0].message


@pytest.mark.parametrize(
    "text", ["😀🎉 emoji only", "中文文本的形状", "مرحبا بالعالم", "עברית", "a\u200bb\u0000c", "\n\t  "]
)
def test_exotic_scripts(tiny_ckpt, text):
    enc = encode(tiny_ckpt, (text,), 32)
    assert enc.tokens[0][0] == "[CLS]" and enc.lengths[0] >= 2
    trace = run_spec(
        Spec.from_dict({"texts": [text], "checkpoint": "random:bert-tiny", "pooling": "mean"}), checkpoint=tiny_ckpt
    )
    assert trace.final.shape == (1, 128)


def test_encoder_output_is_cached(tiny_ckpt):
    texts = ("cache me", "and me too")
    before = tiny_ckpt.forward_calls
    for steps in (["x.mean(1)"], ["x[:, 0, :]"], [{"lstm": {"hidden_size": 4}}]):
        run_spec(
            Spec.from_dict({"texts": list(texts), "checkpoint": "random:bert-tiny", "steps": steps}),
            checkpoint=tiny_ckpt,
        )
    assert tiny_ckpt.forward_calls == before + 1


@pytest.mark.parametrize(
    ("max_length", "code", "severity"), [(2, "no_words_left", "warning"), (3, "truncated", "note")]
)
def test_max_length_that_leaves_no_word_is_a_warning(tiny_ckpt, max_length, code, severity):
    """max_length=2 leaves [CLS] [SEP] of every text: a warning that says so, not a truncation note."""
    spec = Spec.from_dict(
        {"texts": ["a short text", "another one here"], "checkpoint": "random:bert-tiny", "max_length": max_length}
    )
    trace = run_spec(spec, checkpoint=tiny_ckpt)
    (finding,) = [w for w in trace.warnings if w.code in ("no_words_left", "truncated")]
    assert (finding.code, finding.severity) == (code, severity)
    if code == "no_words_left":
        assert trace.encoding.tokens[0] == ("[CLS]", "[SEP]")
        assert "leaves only the special tokens ([CLS] and [SEP])" in finding.message
        assert "Raise max_length in the sidebar" in finding.message
