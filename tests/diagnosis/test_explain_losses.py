"""explain() on the training side (issue 12): losses and targets, packing lengths, position limits, index tensors.

Every issue example is a row with its right answer (kind, the cause named in the explanation, the fix with the
message's numbers). The other rows raise the error with the installed torch / transformers, so the patterns are
checked against their real wording, and where a fix is code, the test runs that code and checks it now works.
"""

from __future__ import annotations

import time
import traceback
import warnings
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.diagnosis.explain import KINDS, explain


def _message(fn: Callable[[], object]) -> str:
    """Run ``fn``, which must raise; return ``"TypeName: message"`` as a traceback's last line shows it."""
    try:
        fn()
    except Exception as exc:  # whatever torch raises
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError("expected the call to raise")


def _format_exc(fn: Callable[[], object]) -> str:
    try:
        fn()
    except Exception:
        return traceback.format_exc()
    raise AssertionError("expected the call to raise")


def _warning(fn: Callable[[], object]) -> str:
    """Run ``fn``, which must warn; return ``"UserWarning: message"``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    assert caught, "expected a warning"
    w = caught[-1]
    return f"{w.category.__name__}: {w.message}"


def _check(e, kind: str, fragments: list[str], numbers: dict | None = None, absent: tuple[str, ...] = ()) -> None:
    assert e.recognized, e.message
    assert e.kind == kind, (e.kind, e.explanation)
    assert kind in KINDS
    text = e.explanation + "\n" + e.fix
    for frag in fragments:
        assert frag in text, (frag, text)
    for frag in absent:
        assert frag not in text, (frag, text)
    for key, value in (numbers or {}).items():
        assert e.numbers.get(key) == value, (key, e.numbers)


# ------------------------------------------------------------------------------------------ issue examples

ISSUE = [
    (
        "bce_columns",
        "ValueError: Target size (torch.Size([16, 3])) must be the same as input size (torch.Size([16, 4]))",
        "loss_target_size",
        ["4 outputs per text, the targets 3 columns", "out_features=3", "num_labels=3", "fix the label columns"],
        {"num_outputs": 4, "num_labels": 3, "cause": "label_columns"},
    ),
    (
        "bce_class_ids",
        "ValueError: Target size (torch.Size([16])) must be the same as input size (torch.Size([16, 2]))",
        "loss_target_size",
        ["class ids", "CrossEntropyLoss", "labels.long()", "nn.Linear(hidden, 1)", "logits.squeeze(1)"],
        {"cause": "class_ids", "num_outputs": 2},
    ),
    (
        "bce_deprecated",
        "ValueError: Using a target size (torch.Size([16])) that is different to the input size "
        "(torch.Size([16, 2])) is deprecated. Please ensure they have the same size.",
        "loss_target_size",
        ["BCELoss", "class ids", "CrossEntropyLoss", "logits.squeeze(1)"],
        {"cause": "class_ids"},
    ),
    (
        "multi_target",
        "RuntimeError: 0D or 1D target tensor expected, multi-target not supported",
        "multi_target",
        ["ONE class id per row", "multi-hot", "BCEWithLogitsLoss", "labels.argmax(dim=1)"],
        {},
    ),
    (
        "loss_batch_per_token",
        "ValueError: Expected input batch_size (8) to match target batch_size (512).",
        "loss_batch",
        ["512 = 8 × 64", "one per token", "(8, 64, C)", "logits.view(-1, C)", "labels.view(-1)", "-100"],
        {"factor": 64, "causes": ["per_token_labels", "one_hot_flattened"]},
    ),
    (
        "h0_last_batch",
        "RuntimeError: Expected hidden[0] size (1, 8, 300), got [1, 32, 300]",
        "rnn_hidden",
        ["last, smaller batch", "torch.zeros(1, x.size(0), 300", "breaks every full batch of 32", "batch_first=True"],
        {"causes": ["last_batch", "axes_mixup"], "state": "h0"},
    ),
    (
        "libtorch_cell",
        "RuntimeError: Expected cell size (1, 8, 300), got [1, 32, 300]",
        "rnn_hidden",
        ["c0", "last, smaller batch", "torch.zeros(1, x.size(0), 300"],
        {"causes": ["last_batch", "axes_mixup"], "state": "c0"},
    ),
    (
        "pack_2d_lengths",
        "RuntimeError: 'lengths' argument should be a 1D CPU int64 tensor, but got 2D cpu Long tensor",
        "pack_lengths",
        ["ONE number per text", "attention mask itself", "attention_mask.sum(1).cpu()"],
        {"ndim": 2},
    ),
    (
        "index_broadcast",
        "IndexError: shape mismatch: indexing tensors could not be broadcast together with shapes [13], [2]",
        "index_broadcast",
        ["[13] and [2]", "element by element", "(seq_len, batch, hidden)", "x[lengths - 1, torch.arange(x.shape[1])]"],
        {"index_shapes": [[13], [2]]},
    ),
    (
        "bilstm_linear",
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x256 and 128x2)",
        "linear_mat",
        ["256 = 2 × 128", "bidirectional", "2 × hidden_size = 256", "nn.Linear(2 * 128, 2)"],
        {"cause": "bidirectional"},
    ),
]


@pytest.mark.parametrize(("message", "kind", "fragments", "numbers"), [r[1:] for r in ISSUE], ids=[r[0] for r in ISSUE])
def test_issue_example(message, kind, fragments, numbers):
    _check(explain(message), kind, fragments, numbers)


def test_h0_fix_is_not_the_hard_coded_batch():
    e = explain("RuntimeError: Expected hidden[0] size (1, 8, 300), got [1, 32, 300]")
    assert "`torch.zeros(1, 8, 300)`" not in e.fix  # it would break every full batch of 32
    assert e.fix.index("x.size(0)") < e.fix.index("batch_first=True"), "rebuilding from x comes first"


def test_bilstm_explanation_leads_with_the_directions_not_a_flatten():
    e = explain("RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x256 and 128x2)")
    assert "tensor was flattened" not in e.explanation
    assert e.fix.index("2 × hidden_size") < e.fix.index("flattened")


def test_position_limit_issue_numbers_through_bert_embeddings():
    """700 tokens into a BERT with 512 positions (a tiny random BERT: 1 layer, hidden 8), the real traceback."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(
        vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16
    )
    model = transformers.BertModel(cfg).eval()
    ids = torch.randint(0, 50, (2, 700))
    tb = _format_exc(lambda: model(input_ids=ids, token_type_ids=torch.zeros_like(ids)))
    assert "The size of tensor a (700) must match the size of tensor b (512) at non-singleton dimension 1" in tb
    e = explain(tb)
    _check(
        e,
        "position_limit",
        ["700 tokens", "512 position embeddings", "truncation=True, max_length=512", "windows", "BERT"],
        {"tokens": 700, "max_position_embeddings": 512},
        absent=("mask.unsqueeze(-1)",),
    )
    # the fix: 512 tokens go through
    assert model(input_ids=ids[:, :512]).last_hidden_state.shape == (2, 512, 8)


def test_same_broadcast_line_without_the_frames_is_broadcasting():
    e = explain(
        "RuntimeError: The size of tensor a (700) must match the size of tensor b (512) at non-singleton dimension 1"
    )
    assert e.kind == "broadcast"
    assert "mask.unsqueeze(-1)" in e.fix and "truncation=True, max_length=512" in e.fix  # a hint, not the answer
    tb = _format_exc(lambda: torch.randn(2, 700, 8) * torch.ones(2, 512, 1))  # a real broadcast in user code
    assert explain(tb).kind == "broadcast"


# ------------------------------------------------------------------------------------ losses, real torch


LOSSES = [
    (
        "bce_columns_real",
        lambda: F.binary_cross_entropy_with_logits(torch.randn(8, 5), torch.rand(8, 2)),
        "loss_target_size",
        ["5 outputs per text, the targets 2 columns", "out_features=2", "5 0/1 entries"],
        {"num_outputs": 5, "num_labels": 2},
    ),
    (
        "bce_columns_real_2",
        lambda: nn.BCEWithLogitsLoss()(torch.randn(32, 6), torch.rand(32, 7)),
        "loss_target_size",
        ["out_features=7", "num_labels=7"],
        {"num_outputs": 6, "num_labels": 7},
    ),
    (
        "bce_class_ids_real",
        lambda: nn.BCEWithLogitsLoss()(torch.randn(32, 2), torch.randint(0, 2, (32,)).float()),
        "loss_target_size",
        ["class ids", "nn.CrossEntropyLoss()(logits, labels.long())", "nn.Linear(hidden, 1)"],
        {"cause": "class_ids"},
    ),
    (
        "bce_class_ids_5",
        lambda: F.binary_cross_entropy_with_logits(torch.randn(4, 5), torch.randint(0, 5, (4,)).float()),
        "loss_target_size",
        ["class ids", "CrossEntropyLoss", "F.one_hot(labels, 5).float()"],
        {"cause": "class_ids", "num_outputs": 5},
    ),
    (
        "bce_class_id_column",
        lambda: F.binary_cross_entropy_with_logits(torch.randn(4, 3), torch.randint(0, 3, (4, 1)).float()),
        "loss_target_size",
        ["class ids", "F.one_hot(labels, 3)"],
        {"cause": "class_ids"},
    ),
    (
        "bce_squeeze",
        lambda: F.binary_cross_entropy_with_logits(torch.randn(8, 1), torch.rand(8)),
        "loss_target_size",
        ["(batch, 1) against (batch,)", "logits.squeeze(1)"],
        {"cause": "squeeze"},
    ),
    (
        "bce_batch",
        lambda: F.binary_cross_entropy_with_logits(torch.randn(8, 3), torch.rand(24, 3)),
        "loss_target_size",
        ["batch dims differ (8 vs 24)", "24 = 8 × 3"],
        {},
    ),
    (
        "bceloss_deprecated_real",
        lambda: F.binary_cross_entropy(torch.rand(16, 2), torch.rand(16)),
        "loss_target_size",
        ["BCELoss", "class ids", "BCEWithLogitsLoss on the raw logits"],
        {"cause": "class_ids"},
    ),
    (
        "bceloss_deprecated_columns",
        lambda: F.binary_cross_entropy(torch.rand(4, 3), torch.rand(4, 2)),
        "loss_target_size",
        ["3 outputs per text, the targets 2 columns", "out_features=2"],
        {"num_labels": 2},
    ),
    (
        "multi_hot_long_into_ce",
        lambda: F.cross_entropy(torch.randn(8, 3), torch.randint(0, 2, (8, 3))),
        "multi_target",
        ["class probabilities", "Long", "labels.argmax(dim=1)", "BCEWithLogitsLoss"],
        {"target_dtype": "Long"},
    ),
    (
        "multi_hot_into_nll",
        lambda: F.nll_loss(torch.randn(4, 5).log_softmax(1), torch.randint(0, 2, (4, 5)).float()),
        "multi_target",
        ["ONE class id per row", "labels.argmax(dim=1)"],
        {},
    ),
    (
        "one_hot_into_ce_module",
        lambda: nn.CrossEntropyLoss()(torch.randn(6, 4), F.one_hot(torch.tensor([0, 1, 2, 3, 0, 1]), 4)),
        "multi_target",
        ["one-hot", "labels.argmax(dim=1)"],
        {},
    ),
    (
        "loss_batch_per_token_real",
        lambda: F.cross_entropy(torch.randn(8, 3), torch.randint(0, 3, (512,))),
        "loss_batch",
        ["512 = 8 × 64", "one per token", "(8, 64, C)"],
        {"causes": ["per_token_labels", "one_hot_flattened"]},
    ),
    (
        "loss_batch_per_token_128",
        lambda: F.cross_entropy(torch.randn(4, 9), torch.randint(0, 9, (512,))),
        "loss_batch",
        ["512 = 4 × 128", "(4, 128, C)", "labels must be (4,)"],
        {"factor": 128, "causes": ["per_token_labels", "one_hot_flattened"]},
    ),
    (
        "loss_batch_one_hot_flattened",
        lambda: F.cross_entropy(torch.randn(4, 5), F.one_hot(torch.tensor([0, 1, 4, 2]), 5).view(-1)),
        "loss_batch",
        ["20 = 4 × 5", "one-hot", "labels.argmax(dim=1)", "(4,) long"],
        {"causes": ["one_hot_flattened", "per_token_labels"]},
    ),
    (
        "loss_batch_bidirectional_h_n",
        lambda: F.cross_entropy(torch.randn(6, 2), torch.tensor([0, 1, 1])),
        "loss_batch",
        ["6 = 2 × 3", "bidirectional h_n", "torch.cat([h_n[-2], h_n[-1]], dim=1)"],
        {"causes": ["states_in_batch"]},
    ),
    (
        "loss_batch_layers_directions",
        lambda: F.nll_loss(torch.randn(12, 2), torch.tensor([0, 1, 1])),
        "loss_batch",
        ["12 = 4 × 3", "num_layers × num_directions = 4"],
        {"causes": ["states_in_batch", "per_token_logits"]},
    ),
    (
        "loss_batch_per_token_logits",
        lambda: F.cross_entropy(torch.randn(4 * 20, 3), torch.tensor([0, 1, 2, 1])),
        "loss_batch",
        ["80 = 4 × 20", "every one of 20 tokens", "Pool to one vector per text"],
        {"causes": ["per_token_logits", "states_in_batch"]},
    ),
    (
        "loss_batch_unrelated",
        lambda: F.cross_entropy(torch.randn(8, 3), torch.tensor([0, 1, 2, 1, 0])),
        "loss_batch",
        ["8 predictions", "5 targets", "different batches", "x.size(0)"],
        {"causes": ["different_batches"]},
    ),
    (
        "class_dim_tokens",
        lambda: F.cross_entropy(torch.randn(8, 64, 3), torch.randint(0, 3, (8, 64))),
        "loss_class_dim",
        ["(8, 64, 3) = (batch, tokens, classes)", "logits.view(-1, 3)", "8 × 64 = 512", "logits.permute(0, 2, 1)"],
        {"num_classes": 3, "tokens": 64},
    ),
    (
        "class_dim_tokens_2",
        lambda: nn.CrossEntropyLoss()(torch.randn(2, 10, 5), torch.randint(0, 5, (2, 10))),
        "loss_class_dim",
        ["(2, 10, 5)", "logits.view(-1, 5)", "2 × 10 = 20"],
        {"num_classes": 5, "tokens": 10},
    ),
]


@pytest.mark.parametrize(
    ("trigger", "kind", "fragments", "numbers"), [r[1:] for r in LOSSES], ids=[r[0] for r in LOSSES]
)
def test_loss_errors_from_real_torch(trigger, kind, fragments, numbers):
    _check(explain(_message(trigger)), kind, fragments, numbers)


@pytest.mark.parametrize(
    ("output", "target", "grid", "fix"),
    [
        ((8, 1), (8,), [8, 8], "output.squeeze(-1)"),
        ((16, 1), (16,), [16, 16], "output.squeeze(-1)"),
        ((5,), (5, 1), [5, 5], "target.squeeze(-1)"),
    ],
)
def test_regression_broadcast_warning(output, target, grid, fix):
    msg = _warning(lambda: F.mse_loss(torch.randn(*output), torch.randn(*target)))
    assert msg.startswith("UserWarning: Using a target size")
    e = explain(msg)
    _check(e, "loss_target_size", [fix, "silent bug"], {"broadcast_shape": grid})
    out, tgt = torch.randn(*output), torch.randn(*target)
    fixed = F.mse_loss(out.squeeze(-1), tgt) if "output" in fix else F.mse_loss(out, tgt.squeeze(-1))
    assert fixed.shape == ()  # no warning path: equal shapes
    assert (out.squeeze(-1) if "output" in fix else tgt.squeeze(-1)).shape == ((tgt if "output" in fix else out).shape)


def test_the_offered_loss_fixes_run():
    """Each fix above, written as code, works on the same tensors."""
    logits, labels = torch.randn(8, 64, 3), torch.randint(0, 3, (8, 64))
    assert F.cross_entropy(logits.view(-1, 3), labels.view(-1)).shape == ()  # per-token labels, flattened
    assert F.cross_entropy(logits.permute(0, 2, 1), labels).shape == ()  # classes moved to dim 1
    one_hot = F.one_hot(torch.tensor([0, 1, 4, 2]), 5)
    assert F.cross_entropy(torch.randn(4, 5), one_hot.argmax(dim=1)).shape == ()
    multi_hot = torch.randint(0, 2, (8, 3))
    assert nn.BCEWithLogitsLoss()(torch.randn(8, 3), multi_hot.float()).shape == ()
    ids = torch.randint(0, 2, (32,))
    assert nn.CrossEntropyLoss()(torch.randn(32, 2), ids.long()).shape == ()
    assert nn.BCEWithLogitsLoss()(torch.randn(32, 1).squeeze(1), ids.float()).shape == ()
    lstm = nn.LSTM(16, 8, bidirectional=True, batch_first=True)
    _, (h_n, _) = lstm(torch.randn(3, 5, 16))
    assert F.cross_entropy(nn.Linear(16, 2)(torch.cat([h_n[-2], h_n[-1]], dim=1)), torch.tensor([0, 1, 1])).shape == ()


# ------------------------------------------------------------------------------------------------ packing


def _pack(x, lengths, **kw):
    return nn.utils.rnn.pack_padded_sequence(x, lengths, **kw)


MASK = torch.tensor([[1] * 10, [1] * 7 + [0] * 3, [1] * 4 + [0] * 6, [1] * 2 + [0] * 8])

PACKING = [
    (
        "mask_as_lengths",
        lambda: _pack(torch.randn(4, 10, 8), MASK, batch_first=True),
        ["2-D", "attention mask itself", "attention_mask.sum(1).cpu()"],
        {"ndim": 2, "device": "cpu"},
    ),
    (
        "mask_as_lengths_3d",
        lambda: _pack(torch.randn(2, 5, 8), torch.ones(2, 5, 1, dtype=torch.long), batch_first=True),
        ["3-D", "attention_mask.sum(1).cpu()"],
        {"ndim": 3},
    ),
    (
        "lengths_on_another_device",
        lambda: _pack(torch.randn(4, 10, 8), torch.tensor([10, 7, 4, 2], device="meta"), batch_first=True),
        ["on meta", "`.cpu()`"],
        {"ndim": 1, "device": "meta"},
    ),
    (
        "lengths_count_batch_first",
        lambda: _pack(torch.randn(4, 10, 8), MASK.sum(1)),
        ["4 lengths for a batch of 10", "batch_first=True"],
        {"lengths_count": 4, "batch_size": 10},
    ),
    (
        "lengths_count_wrong_batch",
        lambda: _pack(torch.randn(6, 9, 8), torch.tensor([9, 8, 7]), batch_first=True),
        ["3 lengths for a batch of 6", "attention_mask.sum(1).cpu()"],
        {"lengths_count": 3, "batch_size": 6},
    ),
    (
        "lengths_unsorted",
        lambda: _pack(torch.randn(4, 10, 8), torch.tensor([4, 10, 2, 7]), batch_first=True),
        ["longest first", "enforce_sorted=False"],
        {},
    ),
    (
        "lengths_zero",
        lambda: _pack(torch.randn(3, 10, 8), torch.tensor([10, 4, 0]), batch_first=True),
        ["empty sequence", "mask.sum(0)", "attention_mask.sum(1).cpu()"],
        {},
    ),
]


@pytest.mark.parametrize(("trigger", "fragments", "numbers"), [r[1:] for r in PACKING], ids=[r[0] for r in PACKING])
def test_pack_padded_sequence_errors(trigger, fragments, numbers):
    _check(explain(_message(trigger)), "pack_lengths", fragments, numbers)


def test_the_offered_packing_fixes_run():
    x = torch.randn(4, 10, 8)
    lengths = MASK.sum(1).cpu()  # the fix for a 2-D mask
    assert lengths.shape == (4,) and lengths.dtype == torch.int64
    packed = _pack(x, lengths, batch_first=True)  # batch_first=True: the fix for the count error
    assert packed.batch_sizes[0] == 4
    assert _pack(x, torch.tensor([4, 10, 2, 7]), batch_first=True, enforce_sorted=False).batch_sizes[0] == 4


# -------------------------------------------------------------------------------------- position limits


def _tiny(kind: str, positions: int):
    transformers = pytest.importorskip("transformers")
    if kind == "distilbert":
        cfg = transformers.DistilBertConfig(
            vocab_size=50, dim=8, n_layers=1, n_heads=2, hidden_dim=16, max_position_embeddings=positions
        )
        return transformers.DistilBertModel(cfg).eval()
    config, model = {"bert": ("BertConfig", "BertModel"), "roberta": ("RobertaConfig", "RobertaModel")}[kind]
    cfg = getattr(transformers, config)(
        vocab_size=50,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=positions,
    )
    return getattr(transformers, model)(cfg).eval()


@pytest.mark.parametrize(
    ("kind", "positions", "tokens", "kwargs", "usable", "fragments"),
    [
        ("bert", 16, 20, "token_type_ids", 16, ["20 tokens", "16 position embeddings", "BERT"]),  # broadcast
        ("bert", 16, 20, "", 16, ["20 tokens", "16 position embeddings"]),  # expand of the token_type_ids buffer
        ("bert", 32, 45, "", 32, ["45 tokens", "32 position embeddings"]),
        ("distilbert", 16, 24, "", 16, ["24 tokens", "DistilBERT"]),
        ("roberta", 18, 20, "", 16, ["RoBERTa numbers positions from 2", "18 positions hold 16 tokens"]),
    ],
)
def test_position_limit_from_a_real_traceback(kind, positions, tokens, kwargs, usable, fragments):
    model = _tiny(kind, positions)
    ids = torch.randint(3, 50, (2, tokens))
    extra = {"token_type_ids": torch.zeros_like(ids)} if kwargs else {}
    tb = _format_exc(lambda: model(input_ids=ids, **extra))
    e = explain(tb)
    _check(e, "position_limit", [*fragments, f"max_length={usable}", "truncation=True"], {"max_tokens": usable})
    assert model(input_ids=ids[:, :usable]).last_hidden_state.shape[:2] == (2, usable)  # truncating fixes it


def test_position_lookup_in_the_embedding_table():
    """An older model wording: nn.Embedding's 'index out of range in self' below the position lookup."""
    table = nn.Embedding(16, 4)

    class Embeddings(nn.Module):
        def forward(self, position_ids):
            return self.position_embeddings(position_ids)

    emb = Embeddings()
    emb.position_embeddings = table
    tb = _format_exc(lambda: emb(torch.arange(20)))
    assert tb.rstrip().endswith("IndexError: index out of range in self")
    _check(explain(tb), "position_limit", ["max_position_embeddings", "truncation=True"])
    words = nn.Embedding(10, 4)
    tb = _format_exc(lambda: words(torch.tensor([12])))  # a token id, not a position: still a vocabulary error
    assert explain(tb).kind == "embedding_index"


# ------------------------------------------------------------------------------------------ index tensors


def _last_real_step_seq_first(seq_len: int, batch: int):
    out, _ = nn.LSTM(8, 8)(torch.randn(seq_len, batch, 8))  # (L, B, H): no batch_first
    lengths = torch.randint(1, seq_len + 1, (batch,))
    return out, lengths


@pytest.mark.parametrize(("seq_len", "batch"), [(13, 2), (20, 3), (7, 5)])
def test_index_broadcast_seq_first(seq_len, batch):
    out, lengths = _last_real_step_seq_first(seq_len, batch)
    msg = _message(lambda: out[torch.arange(out.shape[0]), lengths - 1])
    e = explain(msg, {"input_shape": tuple(out.shape)})
    _check(
        e,
        "index_broadcast",
        [f"[{seq_len}] and [{batch}]", "x[lengths - 1, torch.arange(x.shape[1])]", f"dim 0 has the {seq_len}"],
        {"index_shapes": [[seq_len], [batch]]},
    )
    picked = out[lengths - 1, torch.arange(out.shape[1])]  # the fix
    assert picked.shape == (batch, 8)
    for b in range(batch):
        assert torch.equal(picked[b], out[lengths[b] - 1, b])


def test_index_broadcast_other_shapes():
    msg = _message(lambda: torch.randn(4, 10, 8)[torch.arange(4), torch.tensor([1, 2, 3]), torch.tensor([1, 2])])
    e = explain(msg)
    _check(e, "index_broadcast", ["[4] and [3] and [2]", "same shape"], {"index_shapes": [[4], [3], [2]]})
    msg = _message(lambda: torch.randn(4, 10, 8)[torch.ones(4, 10).long(), torch.tensor([1, 2, 3])])
    _check(explain(msg), "index_broadcast", ["[4, 10] and [3]"])


# ------------------------------------------------------------------------------------------ BiLSTM → Linear


@pytest.mark.parametrize(("cls", "hidden", "out"), [(nn.LSTM, 8, 2), (nn.GRU, 64, 5), (nn.LSTM, 100, 3)])
def test_linear_after_bidirectional(cls, hidden, out):
    rnn = cls(16, hidden, batch_first=True, bidirectional=True)
    y, _ = rnn(torch.randn(4, 7, 16))
    msg = _message(lambda: nn.Linear(hidden, out)(y[:, -1, :]))
    e = explain(msg)
    _check(
        e,
        "linear_mat",
        [f"{2 * hidden} = 2 × {hidden}", "bidirectional", f"nn.Linear(2 * {hidden}, {out})"],
        {"cause": "bidirectional"},
    )
    assert "tensor was flattened" not in e.explanation
    assert nn.Linear(2 * hidden, out)(y[:, -1, :]).shape == (4, out)  # the fix


def test_linear_after_bidirectional_in_a_trace():
    from core.fixes import apply_fix
    from core.spec import Spec
    from core.trace import run_spec

    spec = {
        "shape": [4, 10, 16],
        "steps": [
            {"lstm": {"hidden_size": 8, "batch_first": True, "bidirectional": True}},
            "x[:, -1, :]",
            {"linear": {"in_features": 8, "out_features": 2}},
        ],
    }
    trace = run_spec(Spec.from_dict(spec), None, device="cpu")
    err = trace.error
    assert err.kind == "linear_mat"
    assert "your input comes from a bidirectional LSTM/GRU" in err.explanation
    assert "(If instead a (batch, 2, 8) tensor was flattened" not in err.explanation
    fixed = run_spec(Spec.from_dict(apply_fix(spec, err.fix)), None, device="cpu")
    assert fixed.error is None and fixed.stages[-1].shape == (4, 2)


# ------------------------------------------------------------------------------------------------ hostile

GARBAGE = {
    "index_shapes": "IndexError: shape mismatch: indexing tensors could not be broadcast together with shapes "
    + "[1, " * 200_000,
    "torch_size": "ValueError: Target size (torch.Size([" + "1, " * 300_000,
    "hidden": "RuntimeError: Expected hidden[0] size (" * 30_000,
    "lengths": "RuntimeError: 'lengths' argument should be a 1D CPU int64 tensor, but got " * 10_000,
    "frames": 'File "modeling_bert.py", line 1, in forward\n    position_embeddings\n' * 20_000,
}


@pytest.mark.parametrize("text", list(GARBAGE.values()), ids=list(GARBAGE))
def test_new_patterns_stay_fast_on_hostile_input(text):
    t0 = time.perf_counter()
    e = explain(text)
    assert time.perf_counter() - t0 < 1.0
    assert not e.recognized
