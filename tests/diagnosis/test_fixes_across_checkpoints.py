"""Issue 12: every fix offered is applied and re-run on the random presets and on the bundled model (slow) — the
same kinds as the synthetic tables, at real hidden sizes (128, 256, 384) and real token counts."""

from __future__ import annotations

import pytest

from core.fixes import apply_fix
from core.spec import Spec
from core.trace import run_spec

SHORT_LONG = ["a b", "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"]
THREE = ["short one", "a somewhat longer text with many more words in it", "mid length text here"]
BI = {"hidden_size": 8, "batch_first": True, "bidirectional": True}

# (id, spec without checkpoint, finding code or error kind)
CASES = [
    ("mean-4-and-18", {"texts": SHORT_LONG, "steps": ["x.mean(dim=1)"]}, "unmasked_reduction"),
    (
        "sum-after-lstm",
        {"texts": THREE, "steps": [{"lstm": {"hidden_size": 8, "batch_first": True}}, "x.sum(dim=1)"]},
        "unmasked_reduction",
    ),
    ("padded-bilstm-last", {"texts": THREE, "steps": [{"lstm": BI}, "x[:, -1, :]"]}, "padded_last_step"),
    (
        "padded-seq-first-gru-h_n",
        {"texts": THREE, "steps": ["x.transpose(0, 1)", {"gru": {"hidden_size": 8}}, "h_n[-1]"]},
        "padded_last_step",
    ),
    (
        "bilstm-h_n-last-one-text",
        {"texts": ["one text only"], "steps": [{"lstm": BI}, "h_n[-1]"]},
        "bidirectional_last_step",
    ),
    ("view-as-transpose", {"texts": THREE, "steps": ["x.view(x.shape[0], x.shape[2], -1)"]}, "view_as_permute"),
    (
        "h_n-view-batch",
        {"texts": THREE, "steps": [{"lstm": {**BI, "num_layers": 2}}, "h_n.view(3, -1)"]},
        "batch_axis_mixed",
    ),
    (
        "conv-768",
        {"texts": THREE, "steps": [{"conv1d": {"in_channels": 768, "out_channels": 4, "kernel_size": 3}}]},
        "conv_channels",
    ),
    (
        "class-ids-into-bce",
        {
            "texts": THREE,
            "labels": [2, 0, 1],
            "pooling": "mean",
            "steps": [{"linear": {"out_features": 3}}, {"loss": {"kind": "BCEWithLogitsLoss"}}],
        },
        "loss_target_size",
    ),
    (
        "h0-last-batch",
        {"texts": THREE, "steps": [{"gru": {"hidden_size": 8, "batch_first": True}, "h0": "torch.zeros(1, 32, 8)"}]},
        "rnn_hidden",
    ),
]


def _check(data: dict, code: str, ckpt) -> None:
    trace = run_spec(Spec.from_dict(data), ckpt, device="cpu")
    if trace.error is not None:
        assert trace.error.kind == code, (trace.error.kind, trace.error.message)
        fix = trace.error.fix
    else:
        found = [w for w in trace.warnings if w.code == code]
        assert len(found) == 1, [w.to_dict() for w in trace.warnings]
        fix = found[0].fix
    assert fix is not None
    fixed = run_spec(Spec.from_dict(apply_fix(data, fix)), ckpt, device="cpu")
    assert fixed.ok, (fixed.error.message, fixed.error.explanation)
    assert not [w for w in fixed.warnings if w.severity == "warning"], [w.to_dict() for w in fixed.warnings]


@pytest.fixture(scope="module")
def mini():
    from core.model.checkpoints import load_checkpoint

    return load_checkpoint("random:bert-mini", "cpu")


@pytest.mark.parametrize("sid,data,code", CASES, ids=[c[0] for c in CASES])
def test_fix_clears_it_on_random_bert_mini(sid, data, code, mini):
    _check({**data, "checkpoint": "random:bert-mini"}, code, mini)


@pytest.mark.slow
@pytest.mark.parametrize("sid,data,code", CASES, ids=[c[0] for c in CASES])
def test_fix_clears_it_on_the_bundled_model(sid, data, code, real_ckpt):
    _check(data, code, real_ckpt)
