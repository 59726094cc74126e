"""Handlers for token ids and positions beyond an embedding table (vocabulary, max_position_embeddings)."""

from __future__ import annotations

import re

from core.diagnosis.explain.context import Ctx, Result
from core.diagnosis.explain.formatting import num


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


# ------------------------------------------------------------------------------ text longer than the positions

_MODEL_FILE = re.compile(r"modeling_(?P<name>[a-z0-9_]{1,40})\.py")
_MODEL_NAMES = {"bert": "BERT", "distilbert": "DistilBERT", "roberta": "RoBERTa", "xlm_roberta": "XLM-RoBERTa"}
_OFFSET_MODELS = ("roberta", "camembert", "xlm_roberta", "longformer")  # positions start at padding_idx + 1 = 2


def _model(ctx: Ctx) -> tuple[str, int]:
    """(the model's name from the traceback's file name, positions it reserves before the first token)."""
    m = _MODEL_FILE.search(ctx.frames)
    if not m:
        return "the model", 0
    name = m["name"]
    return _MODEL_NAMES.get(name, name), 2 if name in _OFFSET_MODELS else 0


def _position_limit(tokens: int | None, positions: int | None, ctx: Ctx) -> Result:
    """Text longer than the position table: ``positions`` is the table's size when the message gives it."""
    model, offset = _model(ctx)
    usable = positions - offset if positions is not None else 512 - offset
    numbers = {"tokens": tokens, "max_position_embeddings": positions, "max_tokens": usable}
    if tokens is not None:
        said = f"{tokens} tokens"
    else:
        said = f"more than {usable} tokens" if positions is not None else "more tokens than that"
    table = f"{positions} position embeddings" if positions is not None else "max_position_embeddings positions"
    expl = (
        f"The text is longer than the model can read: {model} has {table} (config.max_position_embeddings, 512 "
        f"for BERT-base) — one learned vector per position — and the input has {said}. The traceback ends in the "
        "model's embeddings, where the token vectors are combined with the position vectors, so this is a length "
        "limit, not a broadcasting mistake in your code."
    )
    if offset and positions is not None:
        expl += f" {model} numbers positions from {offset}, so {positions} positions hold {usable} tokens."
    limit = f"max_length={usable}" if positions is not None else "max_length=model.config.max_position_embeddings"
    fix = (
        f"Truncate when tokenizing: `tokenizer(texts, truncation=True, {limit}, padding=True, "
        f"return_tensors='pt')`. To keep the whole text, split it into windows (`tokenizer(text, truncation=True, "
        f"{limit}, stride={max(usable // 8, 1)}, return_overflowing_tokens=True)`: overlapping windows) and pool "
        "the windows' vectors (e.g. their mean), "
        "or use a long-context model (Longformer, BigBird)."
    )
    return expl, fix, numbers


def position_add(m: re.Match[str], ctx: Ctx) -> Result:
    """``The size of tensor a (700) must match the size of tensor b (512)`` raised in ``embeddings + position_...``."""
    a, b = num(m["a"]), num(m["b"])
    return _position_limit(max(a, b), min(a, b), ctx)


def position_expand(m: re.Match[str], ctx: Ctx) -> Result:
    """``The expanded size of the tensor (700) must match the existing size (512)`` from the token_type_ids buffer."""
    return _position_limit(num(m["new"]), num(m["old"]), ctx)


def position_index(m: re.Match[str], ctx: Ctx) -> Result:
    """``index 514 is out of bounds for dimension 1 with size 514`` on the position ids (RoBERTa-style models)."""
    return _position_limit(None, num(m["size"]), ctx)


def position_lookup(m: re.Match[str], ctx: Ctx) -> Result:
    """``index out of range in self`` raised by the position embedding lookup (the table size is not in it)."""
    return _position_limit(None, None, ctx)
