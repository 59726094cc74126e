"""Handlers for token ids and positions beyond an embedding table (vocabulary, max_position_embeddings)."""

from __future__ import annotations

import re

from core.diagnosis.explain.context import Ctx, Result


def embedding_index(m: re.Match[str], ctx: Ctx) -> Result:
    expl = (
        "An nn.Embedding lookup got an id >= num_embeddings. With BERT that is a token id beyond the "
        "model's vocabulary (tokenizer and checkpoint do not match) or a position beyond "
        "max_position_embeddings (usually 512)."
    )
    fix = (
        "Use the tokenizer of the same checkpoint, and tokenize with truncation=True, max_length <= 512; "
        "check `input_ids.max() < model.config.vocab_size`."
    )
    return expl, fix, {}
