"""Fixes written back into the user's code: the diagnosis's own fix, in the user's names, re-imported to the
fixed Spec (apply_fix on the imported Spec) — or None when the code cannot carry it faithfully."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.code_import import import_code
from core.code_import.annotate import trace_code
from core.code_import.code_fix import fix_code, fix_text
from core.fixes import Fix, apply_fix
from core.spec import Spec

SEEDS = Path(__file__).resolve().parent / "seed_examples"
HEAD = "import torch\nimport torch.nn as nn\n"


def offered_fixes(code: str) -> list[Fix]:
    trace = trace_code(code).trace
    fixes = [trace.error.fix] if trace.error is not None and trace.error.fix is not None else []
    return fixes + [w.fix for s in trace.stages for w in s.warnings if w.fix is not None]


def changed_lines(old: str, new: str) -> list[str]:
    before = set(old.splitlines())
    return [line.strip() for line in new.splitlines() if line not in before]


@pytest.mark.parametrize(
    ("code", "op", "expected"),
    [
        ((SEEDS / "004_3.txt").read_text(), "replace", ["reshaped_output = bert_output.permute(0, 2, 1)"]),
        ((SEEDS / "000_3.txt").read_text(), "replace",
         ["reshaped_embeddings = tf.reshape(padded_embeddings, (32, 16, 6144))"]),
        ((SEEDS / "003_1.txt").read_text(), "delete_param",
         ["lstm_layer_last_state = nn.LSTM(input_size = 128, hidden_size = hidden_size, batch_first = True)"]),
        (HEAD + "out = torch.randn(32, 128, 768)\nconv = nn.Conv1d(in_channels=768, out_channels=512, kernel_size=3)\n"
         "y = conv(out)\n", "insert", ["out = out.permute(0, 2, 1)"]),
        (HEAD + "class Head(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
         "        self.lstm = nn.LSTM(input_size=384, hidden_size=64, batch_first=True)\n\n"
         "    def forward(self, x):\n        out, _ = self.lstm(x)\n        return out[:, -1, :]\n\n"
         "y = Head()(torch.randn(4, 10, 768))\n", "set_param",
         ["self.lstm = nn.LSTM(input_size=768, hidden_size=64, batch_first=True)"]),
    ],
    ids=["view-to-permute", "tf-reshape-width", "keras-argument", "insert-permute-before-conv", "lstm-input-size"],
)  # fmt: skip
def test_the_offered_fix_is_written_into_the_code(code, op, expected):
    fix = next(f for f in offered_fixes(code) if f.op == op)
    imported = import_code(code)
    new = fix_code(imported, fix)
    assert new is not None
    assert changed_lines(code, new) == expected
    fixed = Spec.from_dict(apply_fix(imported.spec.to_dict(), fix))
    assert import_code(new).spec.to_dict() == fixed.to_dict()
    after = trace_code(new).trace
    assert after.error is None and not any(w.code == "view_as_permute" for s in after.stages for w in s.warnings)


def test_a_fix_the_code_cannot_carry_gives_none():
    code = HEAD + "x = torch.randn(4, 6, 8)\nfc = nn.Linear(8, 2)\ny = fc(x.view(4, 8, 6))\n"  # two steps on one line
    imported = import_code(code)
    assert fix_code(imported, Fix("", "replace", index=0, step="x.permute(0, 2, 1)")) is None
    assert fix_code(imported, Fix("", "set", key="pooling", value="mean")) is None
    assert fix_code(imported, Fix("", "replace", index=1, step="lengths - 1")) is None  # no user name for it


def test_a_fix_is_kept_only_when_the_code_reimports_to_the_fixed_spec():
    code = HEAD + "x = torch.randn(4, 6, 8)\nx = x.view(4, 8, 6)\n"
    imported = import_code(code)
    new = fix_code(imported, Fix("", "replace", index=0, step="x.transpose(1, 2)"))
    assert new is not None and new.splitlines()[-1] == "x = x.transpose(1, 2)"
    assert fix_code(imported, Fix("", "replace", index=5, step="x.T")) is None  # no such step


SENTENCE_MEANS = """from transformers import AutoTokenizer, AutoModel
import torch
tok = AutoTokenizer.from_pretrained('sentence-transformers/all-MiniLM-L6-v2')
model = AutoModel.from_pretrained('sentence-transformers/all-MiniLM-L6-v2')
batch = tok(['short one', 'a much longer sentence with many more tokens in it'], padding=True, return_tensors='pt')
out = model(**batch).last_hidden_state
m = batch['attention_mask'].unsqueeze(-1)
emb = (out * m).sum(1) / m.sum(1)
emb2 = out.sum(1) / batch['attention_mask'].sum(1, keepdim=True)
plain = out.mean(dim=1)
mx = out.max(dim=1).values
print(emb.shape, emb2.shape, plain.shape, mx.shape)
"""
MASKED = "(out * batch['attention_mask'].unsqueeze(-1))"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (9, f"emb2 = {MASKED}.sum(1) / batch['attention_mask'].sum(1, keepdim=True)"),
        (10, f"plain = {MASKED}.sum(dim=1) / batch['attention_mask'].sum(dim=1, keepdim=True)"),
        (11, "mx = out.masked_fill(batch['attention_mask'].unsqueeze(-1) == 0, float('-inf')).max(dim=1).values"),
    ],
)
def test_an_unmasked_reduction_fix_is_written_with_the_codes_own_mask(line, expected):
    """The fix reads the pipeline's `mask`; the code has no such name: it is written as the code spells it."""
    imported = import_code(SENTENCE_MEANS)
    fix = next(f for f in offered_fixes(SENTENCE_MEANS) if imported.step_lines.get(f.index) == line)
    assert fix_text(imported, fix).startswith(f"replace line {line} by `{expected}`")
    new = fix_code(imported, fix)
    assert new is not None and changed_lines(SENTENCE_MEANS, new) == [expected]
    after = trace_code(new).trace
    assert not any(w.code == "unmasked_reduction" and s.step_index == fix.index for s in after.stages
                   for w in s.warnings)  # fmt: skip


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ((SEEDS / "004_3.txt").read_text(), "replace line 7 by `reshaped_output = bert_output.permute(0, 2, 1)`"),
        (HEAD + "out = torch.randn(32, 128, 768)\nconv = nn.Conv1d(in_channels=768, out_channels=512, kernel_size=3)\n"
         "y = conv(out)\n", "out = out.permute(0, 2, 1)"),
    ],
    ids=["replace", "insert"],
)  # fmt: skip
def test_fix_text_is_in_the_users_names(code, expected):
    imported = import_code(code)
    fix = offered_fixes(code)[0]
    text = fix_text(imported, fix)
    assert expected in text, text
    assert "x." not in text.replace("max.", "")
