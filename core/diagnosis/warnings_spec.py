"""Notes on the spec as a whole: truncation, random weights, a pooling the checkpoint was not trained for."""

from __future__ import annotations

from typing import Any

from core.fixes import Fix
from core.records import Finding
from core.spec import DEFAULT_CHECKPOINT, Pooling, Spec


def spec_findings(spec: Spec, ckpt: Any, enc: Any) -> list[Finding]:
    """Notes on the spec as a whole: truncation, random weights, pooling the checkpoint was not trained for."""
    out = []
    specials = _special_count(ckpt)
    if enc is not None and spec.max_length is not None and spec.max_length <= specials and enc.any_truncated:
        out.append(
            Finding(
                "no_words_left",
                f"max_length={spec.max_length} leaves only the special tokens ([CLS] and [SEP]): every word "
                f"was cut ({sum(enc.truncated)} token(s)), so each text is the same two tokens and the model sees "
                "no text at all. Raise max_length in the sidebar (128 fits most sentences).",
            )
        )
    elif enc is not None and enc.any_truncated:
        cut = sum(enc.truncated)
        out.append(Finding("truncated", f"{cut} token(s) were cut by max_length={spec.max_length}", severity="note"))
    if ckpt is None:
        return out
    name = getattr(ckpt, "id", spec.checkpoint)
    if not getattr(ckpt, "real_weights", True):
        out.append(
            Finding(
                "random_weights",
                f"{name} has RANDOM weights: every shape is real, but the values are meaningless — no similarity, "
                "sentiment or topic signal. Use it to study shapes at BERT sizes; use the bundled model "
                f"({DEFAULT_CHECKPOINT}) for meaningful vectors.",
                severity="note",
            )
        )
    to_mean = Fix("set pooling to mean (masked mean over real tokens)", "set", key="pooling", value="mean")
    if spec.pooling is Pooling.POOLER and not getattr(ckpt, "pooler_trained", False):
        out.append(
            Finding(
                "pooler_untrained",
                f"pooling 'pooler' uses BERT's pooler layer (dense + tanh on [CLS]), which {name} did not train: "
                "its output is a fixed, untrained projection of [CLS], not a sentence summary. Masked mean "
                "pooling is the safe choice here.",
                to_mean,
                severity="note",
            )
        )
    if spec.pooling is Pooling.CLS and getattr(ckpt, "trained_pooling", None) == "mean":
        out.append(
            Finding(
                "cls_on_mean_model",
                f"{name} was trained for mean pooling (a sentence-transformers model): its [CLS] vector was never "
                "trained to summarise the sentence, so 'cls' embeddings compare texts poorly. Mean pooling "
                "gives the vectors the model was trained to produce.",
                to_mean,
                severity="note",
            )
        )
    return out


def _special_count(ckpt: Any) -> int:
    """Special tokens a tokenizer adds to one text ([CLS] + [SEP] for BERT; 2 when unknown)."""
    return int(getattr(ckpt, "special_tokens", 2) or 2)
