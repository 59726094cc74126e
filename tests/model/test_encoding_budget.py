"""The encoder under a server's budgets: a memo bounded by bytes, work and memory checked before the
forward pass, and a deadline checked between encoder layers and between batches."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from core import limits
from core.errors import BudgetExceeded, RunCancelled
from core.model.checkpoints import Checkpoint
from core.model.embed import embed_texts
from core.model.encoding import (
    MEMO,
    EncoderMemo,
    check_encoder_memory,
    check_encoder_work,
    encode,
    encoder_flops,
    hidden_states_bytes,
)
from core.spec import Pooling

MB = 1 << 20


def _texts(tag: str, n: int, words: int) -> tuple[str, ...]:
    return tuple(f"{tag} {i} " + "word " * words for i in range(n))


@pytest.fixture
def fresh(tiny_ckpt):
    """A checkpoint object of its own (same weights as bert-tiny), so memo entries and counts are its own."""
    ckpt = Checkpoint(tiny_ckpt.info, tiny_ckpt.tokenizer, tiny_ckpt.model)
    yield ckpt
    MEMO.drop_owner(id(ckpt))


def test_the_memo_is_bounded_by_bytes_not_count(fresh, monkeypatch):
    """The issue: 9 sets of 64 x 512 texts raised the server from 640 MB to 3.4 GB, kept while idle."""
    monkeypatch.setenv("SHAPE_EXPLORER_CACHE_MB", "15")
    MEMO.clear()
    sizes = []
    for k in range(5):
        enc = encode(fresh, _texts(f"set{k}", 16, 250), 256, attentions=False)  # 3 x (16, 256, 128) floats
        sizes.append(enc.nbytes)
        assert MEMO.bytes <= 15 * MB
    assert min(sizes) > 6 * MB and len(MEMO) == 2, "two ~6.3 MB sets fit in 15 MB, not five"
    calls = fresh.forward_calls
    encode(fresh, _texts("set4", 16, 250), 256, attentions=False)  # the newest: still kept
    assert fresh.forward_calls == calls
    encode(fresh, _texts("set0", 16, 250), 256, attentions=False)  # the oldest: evicted, runs again
    assert fresh.forward_calls == calls + 1


def test_an_output_larger_than_the_whole_memo_is_not_kept(fresh, monkeypatch):
    monkeypatch.setenv("SHAPE_EXPLORER_CACHE_MB", "1")
    MEMO.clear()
    texts = _texts("big", 8, 120)
    enc = encode(fresh, texts, 128, attentions=False)
    assert enc.nbytes > MB and len(MEMO) == 0 and MEMO.bytes == 0
    encode(fresh, texts, 128, attentions=False)
    assert fresh.forward_calls == 2, "not memoised: too large"


def test_small_outputs_are_still_memoised(fresh):
    encode(fresh, ("hello world",), 16)
    encode(fresh, ("hello world",), 16)
    assert fresh.forward_calls == 1


def test_entries_go_with_their_checkpoint(tiny_ckpt):
    memo = EncoderMemo()
    ckpt = Checkpoint(tiny_ckpt.info, tiny_ckpt.tokenizer, tiny_ckpt.model)
    enc = encode(ckpt, ("a text",), 16)
    memo.put(ckpt, "k", enc, budget=100 * MB)
    assert memo.bytes == enc.nbytes and memo.get(ckpt, "k") is enc
    del ckpt
    gc.collect()
    assert memo.bytes == 0 and len(memo) == 0


def test_encoder_flops_equal_torch_flop_counter(tiny_ckpt):
    ids = torch.randint(1000, 2000, (3, 17))
    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        tiny_ckpt.model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)
    pooler = 2 * 3 * 128 * 128  # (b, h) @ (h, h): the one matmul outside the encoder layers
    assert encoder_flops(2, 128, 512, 3, 17) + pooler == fc.get_total_flops()


def _fake(name: str, layers: int, hidden: int, inter: int):
    info = SimpleNamespace(id=name, num_layers=layers, hidden_size=hidden, dtype="float32")
    return SimpleNamespace(info=info, model=SimpleNamespace(config=SimpleNamespace(intermediate_size=inter)))


@pytest.mark.parametrize(
    ("ckpt", "batch", "seq"),
    [
        (_fake("random:bert-large", 24, 1024, 4096), 64, 512),  # the issue: > 200 s, could not be cancelled
        (_fake("random:bert-base", 12, 768, 3072), 64, 256),
        (_fake("bundled:all-MiniLM-L6-v2", 6, 384, 1536), 64, 512),
    ],
)
def test_encoder_work_over_budget_is_refused(ckpt, batch, seq):
    with pytest.raises(BudgetExceeded, match=r"running .* over \d+ text\(s\) x \d+ tokens would take about"):
        check_encoder_work(ckpt, batch, seq)


def test_encoder_work_within_budget_passes():
    assert check_encoder_work(_fake("random:bert-base", 12, 768, 3072), 8, 128) == encoder_flops(12, 768, 3072, 8, 128)


def test_hidden_states_over_the_memory_budget_are_refused(monkeypatch):
    base = _fake("random:bert-base", 12, 768, 3072)
    assert hidden_states_bytes(base, 64, 512) == 13 * 64 * 512 * 768 * 4
    with pytest.raises(BudgetExceeded, match=r"hidden states of random:bert-base for 64 text\(s\) x 512 tokens"):
        check_encoder_memory(base, 64, 512)  # 1.3 GB
    monkeypatch.setenv("SHAPE_EXPLORER_MEMORY_MB", "8")
    with pytest.raises(BudgetExceeded, match=r"the server.s memory limit for one run is 8\.4 MB"):
        check_encoder_memory(base, 2, 128)


def test_encode_refuses_before_the_forward_pass(fresh, monkeypatch):
    monkeypatch.setenv("SHAPE_EXPLORER_WORK_GFLOPS", "0.001")
    with pytest.raises(BudgetExceeded, match=r"the server.s limit for one run is 1\.0 MFLOP"):
        encode(fresh, _texts("w", 4, 50), 64)
    assert fresh.forward_calls == 0


def test_a_deadline_stops_the_encoder_between_layers(fresh):
    layers = next(m for m in fresh.model.modules() if isinstance(m, torch.nn.ModuleList))
    with limits.deadline(100) as d:
        handle = layers[0].register_forward_hook(lambda *a: d.cancel())  # "the visitor presses stop" mid-forward
        try:
            with pytest.raises(RunCancelled, match="the run was stopped before encoder layer 2 of 2"):
                encode(fresh, ("stop me",), 16)
        finally:
            handle.remove()
    assert fresh.forward_calls == 0
    encode(fresh, ("stop me",), 16)  # no deadline: the hooks are no-ops
    assert fresh.forward_calls == 1


def test_embed_checks_work_and_deadline_between_batches(fresh):
    texts = list(_texts("e", 12, 20))
    with pytest.raises(BudgetExceeded, match=r"encoding 12 texts \([\d,]+ tokens\) with random:bert-tiny"):
        embed_texts(fresh, texts, [Pooling.MEAN], max_flops=1e6)
    seen = []
    with limits.deadline(100) as d:

        def progress(done: int, total: int) -> None:
            seen.append(done)
            d.cancel()

        with pytest.raises(RunCancelled, match=r"after 1 of \d+ batches \(\d+ of 12 texts\)"):
            embed_texts(fresh, texts, [Pooling.MEAN], token_budget=64, progress=progress)
    assert len(seen) == 1
    out = embed_texts(fresh, texts, [Pooling.MEAN], token_budget=64)  # the CLI: no budget, no deadline
    assert out[Pooling.MEAN].shape == (12, 128)
