"""Batch embedding for many texts: every pooling strategy from one forward pass per batch.

Texts are sorted by token length and packed into batches under a token budget (batch rows x
longest row), so short texts are not padded to the longest one; results come back in input order.

    >>> out = embed_texts(load_checkpoint(), ["a", "b c"], [Pooling.MEAN])     # doctest: +SKIP
    >>> out[Pooling.MEAN].shape                                                # (n, h)
    (2, 384)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.checkpoints import Checkpoint
from core.spec import Pooling

DEFAULT_TOKEN_BUDGET = 4096
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
) -> dict[Pooling, Any]:
    """(N,) texts -> {strategy: (N, D) float32 numpy array} in input order."""
    import numpy as np
    import torch

    from core.pooling import pool

    tok = ckpt.tokenizer
    limit = min(max_length or ckpt.info.max_positions, ckpt.info.max_positions)
    with ckpt.lock:
        ids = tok(list(texts), truncation=True, max_length=limit, verbose=False)["input_ids"]
    lengths = [len(r) for r in ids]
    results: dict[Pooling, Any] = {}
    done = 0
    for batch in plan_batches(lengths, token_budget):
        with ckpt.lock:
            padded = tok.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt")
            inputs = {k: v.to(ckpt.device) for k, v in padded.items()}
            with torch.inference_mode():
                out = ckpt.model(**inputs, output_hidden_states=True)
            ckpt.forward_calls += 1
        mask = inputs["attention_mask"]
        for s in strategies:
            vec = pool(s, out.hidden_states, mask, getattr(out, "pooler_output", None), layer)
            arr = vec.float().cpu().numpy()
            if s not in results:
                results[s] = np.empty((len(texts), arr.shape[1]), dtype=np.float32)
            results[s][batch] = arr
        done += len(batch)
        if progress:
            progress(done, len(texts))
    return results
