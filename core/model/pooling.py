"""Pooling strategies: token vectors (B, L, H) -> one vector per text, masked by the attention mask.

All strategies read one forward pass's hidden states (embeddings + one entry per layer).

    >>> import torch
    >>> hidden_states = tuple(torch.randn(2, 5, 384) for _ in range(7))   # embeddings + 6 layers, each (b, l, h)
    >>> mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    >>> pooled = pool(Pooling.MEAN, hidden_states, mask)
    >>> tuple(pooled.shape)                                    # (b, l, h) -> (b, h)
    (2, 384)
"""

from __future__ import annotations

from typing import Any

from core.errors import SpecError
from core.spec import Pooling

DESCRIPTIONS: dict[Pooling, str] = {
    Pooling.NONE: "no pooling: every token vector of the chosen layer, (batch, tokens, hidden)",
    Pooling.CLS: "the [CLS] token's vector of the chosen layer: x[:, 0, :]",
    Pooling.MEAN: "mean of the real (unpadded) token vectors of the chosen layer",
    Pooling.MAX: "element-wise max over the real token vectors (padding pushed to -1e9 first)",
    Pooling.POOLER: "the model's pooler: tanh(W · h_[CLS] + b) from the last layer",
    Pooling.LAST4_CONCAT: "masked mean of the last four layers concatenated: 4·hidden features",
    Pooling.LAST4_SUM: "masked mean of the sum of the last four layers",
    Pooling.FIRST_LAST_AVG: "masked mean of the average of the first and the last transformer layer",
}
# strategies that read one chosen layer; the others use fixed layers
LAYERED = frozenset({Pooling.NONE, Pooling.CLS, Pooling.MEAN, Pooling.MAX})


def masked_mean(h: Any, mask: Any) -> Any:
    """(b, l, h), (b, l) -> (b, h): padding excluded, divisor clamped (sentence-transformers)."""
    m = mask.unsqueeze(-1).to(h.dtype)  # (b, l) -> (b, l, 1)
    return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)


def masked_max(h: Any, mask: Any) -> Any:
    """(b, l, h), (b, l) -> (b, h): padding set to -1e9 before the max."""
    m = mask.unsqueeze(-1).expand_as(h)  # (b, l) -> (b, l, h)
    return h.masked_fill(m == 0, -1e9 if h.dtype.is_floating_point and h.element_size() > 2 else -6e4).amax(1)


def pool(
    strategy: Pooling, hidden_states: tuple[Any, ...], mask: Any, pooler_output: Any = None, layer: int = -1
) -> Any:
    """Apply one strategy. hidden_states: tuple of (b, l, h); mask: (b, l) of 0/1."""
    n = len(hidden_states)
    if not -n <= layer < n:
        raise SpecError(
            f"layer {layer} does not exist: hidden_states has {n} entries "
            f"(0 = embeddings, 1..{n - 1} = transformer layers; negative counts from the end)"
        )
    h = hidden_states[layer]
    assert h.dim() == 3, f"hidden states must be (batch, tokens, hidden), got {tuple(h.shape)}"
    if strategy is Pooling.NONE:
        return h
    if strategy is Pooling.CLS:
        return h[:, 0, :]  # (b, l, h) -> (b, h)
    if strategy is Pooling.MEAN:
        return masked_mean(h, mask)
    if strategy is Pooling.MAX:
        return masked_max(h, mask)
    if strategy is Pooling.POOLER:
        if pooler_output is None:
            raise SpecError("this checkpoint has no pooler; choose cls or mean pooling instead")
        return pooler_output
    if n < 4 and strategy in (Pooling.LAST4_CONCAT, Pooling.LAST4_SUM):
        raise SpecError(
            f"{strategy.value} needs at least 4 hidden-state entries, this model has {n} "
            "(embeddings + layers); choose mean pooling or a deeper checkpoint"
        )
    if strategy is Pooling.LAST4_CONCAT:
        import torch

        cat = torch.cat([hidden_states[i] for i in (-1, -2, -3, -4)], dim=-1)  # 4 x (b, l, h) -> (b, l, 4h)
        return masked_mean(cat, mask)
    if strategy is Pooling.LAST4_SUM:
        summed = hidden_states[-1] + hidden_states[-2] + hidden_states[-3] + hidden_states[-4]
        return masked_mean(summed, mask)
    if strategy is Pooling.FIRST_LAST_AVG:
        if n < 2:
            raise SpecError("first_last_avg needs at least one transformer layer")
        return masked_mean((hidden_states[1] + hidden_states[-1]) / 2, mask)
    raise SpecError(f"unknown pooling {strategy!r}")  # pragma: no cover


def pool_all(
    hidden_states: tuple[Any, ...],
    mask: Any,
    pooler_output: Any = None,
    layer: int = -1,
    strategies: tuple[Pooling, ...] | None = None,
) -> dict[Pooling, Any]:
    """Every sentence-level strategy the model supports, from one forward pass."""
    out = {}
    for s in strategies or tuple(p for p in Pooling if p is not Pooling.NONE):
        if s is Pooling.POOLER and pooler_output is None:
            continue
        if s in (Pooling.LAST4_CONCAT, Pooling.LAST4_SUM) and len(hidden_states) < 4:
            continue
        out[s] = pool(s, hidden_states, mask, pooler_output, layer)
    return out
