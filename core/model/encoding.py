"""Tokenize and run the encoder once, keeping every hidden state (and attentions when affordable).

>>> enc = encode(load_checkpoint("random:bert-tiny"), ["hello world"])    # doctest: +SKIP
>>> len(enc.hidden_states), tuple(enc.hidden_states[-1].shape)             # doctest: +SKIP
(3, (1, 4, 128))       # embeddings + one entry per layer; (batch, tokens, hidden)
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from core.model.checkpoints import Checkpoint

ENCODING_CACHE_SIZE = 8
# attentions cost layers * B * heads * L * L floats; keep them only under this many elements
MAX_ATTENTION_NUMEL = 40_000_000


@dataclass(frozen=True)
class Encoding:
    """Encoder output for a list of texts.

    tokens: word pieces per text (padding included, as "[PAD]"); input_ids, attention_mask: (B, L);
    lengths: real tokens per text; truncated: tokens cut per text by max_length;
    hidden_states: embeddings + one (B, L, H) tensor per layer; attentions: one (B, heads, L, L)
    tensor per layer, or None when too large; pooler_output: (B, H) or None.
    """

    texts: tuple[str, ...]
    max_length: int | None
    tokens: tuple[tuple[str, ...], ...]
    input_ids: Any
    attention_mask: Any
    lengths: tuple[int, ...]
    truncated: tuple[int, ...]
    hidden_states: tuple[Any, ...]
    attentions: tuple[Any, ...] | None
    pooler_output: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.hidden_states[-1].shape)

    @property
    def any_truncated(self) -> bool:
        return any(self.truncated)


def tokenize(
    ckpt: Checkpoint, texts: tuple[str, ...], max_length: int | None
) -> tuple[dict[str, Any], tuple[int, ...]]:
    """Tokenize with padding + truncation; also count the tokens truncation cut per text."""
    tok = ckpt.tokenizer
    limit = min(max_length or ckpt.info.max_positions, ckpt.info.max_positions)
    full = tok(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    cut = tuple(max(0, len(ids) - limit) for ids in full)
    batch = tok(list(texts), padding=True, truncation=True, max_length=limit, return_tensors="pt")
    return batch, cut


def encode(
    ckpt: Checkpoint, texts: tuple[str, ...] | list[str], max_length: int | None = 128, attentions: bool = True
) -> Encoding:
    """One forward pass with hidden states; memoised per checkpoint by (texts, max_length)."""
    import torch

    texts = tuple(texts)
    key = (texts, max_length, attentions)
    with ckpt.lock:  # tokenizer + model are shared between sessions / threads
        cache: OrderedDict = ckpt._cache.setdefault("encode", OrderedDict())
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        batch, cut = tokenize(ckpt, texts, max_length)
        b, seq = batch["input_ids"].shape
        info = ckpt.info
        want_attn = attentions and info.num_layers * b * info.num_heads * seq * seq <= MAX_ATTENTION_NUMEL
        inputs = {k: v.to(ckpt.device) for k, v in batch.items()}
        with torch.inference_mode():
            out = ckpt.model(**inputs, output_hidden_states=True, output_attentions=want_attn)
        ckpt.forward_calls += 1
        ids = batch["input_ids"]
        enc = Encoding(
            texts=texts,
            max_length=max_length,
            tokens=tuple(tuple(ckpt.tokenizer.convert_ids_to_tokens(row.tolist())) for row in ids),
            input_ids=ids,
            attention_mask=batch["attention_mask"],
            lengths=tuple(int(n) for n in batch["attention_mask"].sum(1).tolist()),
            truncated=cut,
            hidden_states=tuple(out.hidden_states),
            attentions=tuple(out.attentions) if want_attn and out.attentions else None,
            pooler_output=getattr(out, "pooler_output", None),
        )
        cache[key] = enc
        while len(cache) > ENCODING_CACHE_SIZE:
            cache.popitem(last=False)
        return enc
