"""Batch embedding for many texts: every pooling strategy from one forward pass per batch.

Texts are sorted by token length and packed into batches under a token budget (batch rows x
longest row), so short texts are not padded to the longest one; results come back in input order.

    >>> from core.model.checkpoints import load_checkpoint
    >>> out = embed_texts(load_checkpoint("random:bert-tiny", "cpu"), ["a", "b c"], [Pooling.MEAN])
    >>> out[Pooling.MEAN].shape                                                # (n, h): bert-tiny's h is 128
    (2, 128)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.errors import BudgetExceeded
from core.limits import check_deadline, fmt_flops
from core.model.checkpoints import Checkpoint
from core.spec import Pooling

# rows x longest row per batch. Measured on 2 CPU cores (benchmarks/bench_embed.py --sweep): ~1-2k tokens is
# the sweet spot of a forward pass per token, and smaller batches pad less; 4096 was ~12% slower.
DEFAULT_TOKEN_BUDGET = 1536
MAX_BATCH_ROWS = 128


def plan_batches(
    lengths: Sequence[int], token_budget: int = DEFAULT_TOKEN_BUDGET, max_rows: int = MAX_BATCH_ROWS
) -> list[list[int]]:
    """Indices grouped into batches, longest first, each with rows x max_len <= token_budget."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = lengths[current[0]] if current else lengths[i]  # sorted: the first row is the longest
        if current and ((len(current) + 1) * width > token_budget or len(current) >= max_rows):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def embed_texts(
    ckpt: Checkpoint,
    texts: Sequence[str],
    strategies: Sequence[Pooling],
    max_length: int | None = 256,
    layer: int = -1,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
    progress: Callable[[int, int], None] | None = None,
    max_flops: float | None = None,
) -> dict[Pooling, Any]:
    """(N,) texts -> {strategy: (N, D) float32 numpy array} in input order.

    ``max_flops``: refuse (BudgetExceeded, nothing ran) when the planned forward passes would do more work
    (a server passes its ``work_flops``; the CLI, run by the machine's own user, passes None). Between
    batches the run's deadline is checked (``core.limits.deadline``; RunCancelled).
    """
    import numpy as np
    import torch

    from core.model.encoding import encoder_flops

    tok = ckpt.tokenizer
    limit = min(max_length or ckpt.info.max_positions, ckpt.info.max_positions)
    with ckpt.lock:
        ids = tok(list(texts), truncation=True, max_length=limit, verbose=False)["input_ids"]
    lengths = [len(r) for r in ids]
    batches = plan_batches(lengths, token_budget)
    if max_flops is not None:
        cfg = ckpt.model.config
        inter = int(getattr(cfg, "intermediate_size", None) or 4 * ckpt.info.hidden_size)
        info = ckpt.info
        work = sum(encoder_flops(info.num_layers, info.hidden_size, inter, len(b), lengths[b[0]]) for b in batches)
        if work > max_flops:
            raise BudgetExceeded(
                f"encoding {len(texts)} texts ({sum(lengths):,} tokens) with {info.id} would take about "
                f"{fmt_flops(work)} of work; the server's limit for one run is {fmt_flops(max_flops)}. Use fewer "
                "or shorter texts, a lower max_length or a smaller checkpoint"
            )
    results: dict[Pooling, Any] = {}
    done = 0
    for number, batch in enumerate(batches):
        check_deadline(f"after {number} of {len(batches)} batches ({done} of {len(texts)} texts)")
        with ckpt.lock:
            padded = tok.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt")
            inputs = {k: v.to(ckpt.device) for k, v in padded.items()}
            with torch.inference_mode():
                out = ckpt.model(**inputs, output_hidden_states=True)
            ckpt.forward_calls += 1
        mask = inputs["attention_mask"]
        pooled = _pool_batch(strategies, out.hidden_states, mask, getattr(out, "pooler_output", None), layer)
        for s, vec in pooled.items():
            arr = vec.float().cpu().numpy()
            if s not in results:
                results[s] = np.empty((len(texts), arr.shape[1]), dtype=np.float32)
            results[s][batch] = arr
        done += len(batch)
        if progress:
            progress(done, len(texts))
    return results


def _pool_batch(
    strategies: Sequence[Pooling], hidden_states: tuple[Any, ...], mask: Any, pooler_output: Any, layer: int
) -> dict[Pooling, Any]:
    """Every strategy of one batch, equal to ``core.model.pooling.pool`` but sharing work between strategies.

    The averaging strategies (mean, last4_concat, last4_sum, first_last_avg) are linear in the token
    vectors, so each needs only masked SUMS of a few layers: one (b, 1, l) @ (b, l, h) -> (b, h) matmul per
    layer, shared, instead of concatenating / adding whole (b, l, h) tensors per strategy. cls, max,
    pooler and every error case go through ``pool`` itself.
    """
    import torch

    from core.model.pooling import pool

    n = len(hidden_states)
    linear = {Pooling.MEAN, Pooling.LAST4_CONCAT, Pooling.LAST4_SUM, Pooling.FIRST_LAST_AVG}
    if not -n <= layer < n or n < 4:  # let pool() raise its errors (or handle shallow models) as usual
        linear = {Pooling.MEAN} if -n <= layer < n else set()
    m = mask.unsqueeze(1).to(hidden_states[0].dtype)  # (b, l) -> (b, 1, l)
    count = m.sum(-1).clamp(min=1e-9)  # (b, 1, l) -> (b, 1): real tokens per row
    sums: dict[int, Any] = {}

    def masked_sum(i: int) -> Any:
        i %= n
        if i not in sums:
            sums[i] = torch.bmm(m, hidden_states[i]).squeeze(1)  # (b, 1, l) @ (b, l, h) -> (b, h)
        return sums[i]

    out: dict[Pooling, Any] = {}
    for s in strategies:
        if s not in linear:
            out[s] = pool(s, hidden_states, mask, pooler_output, layer)
        elif s is Pooling.MEAN:
            out[s] = masked_sum(layer) / count
        elif s is Pooling.LAST4_CONCAT:  # 4 x (b, h) -> (b, 4h), layers -1, -2, -3, -4 as in pool()
            out[s] = torch.cat([masked_sum(i) for i in (-1, -2, -3, -4)], dim=-1) / count
        elif s is Pooling.LAST4_SUM:
            out[s] = (masked_sum(-1) + masked_sum(-2) + masked_sum(-3) + masked_sum(-4)) / count
        else:  # FIRST_LAST_AVG
            out[s] = (masked_sum(1) + masked_sum(-1)) / 2 / count
    return out
