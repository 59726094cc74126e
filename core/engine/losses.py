"""The loss step: logits against targets through a torch.nn loss (CrossEntropyLoss, BCEWithLogitsLoss, MSELoss,
NLLLoss), so the errors people meet at the loss can be reproduced, shown and fixed.

Targets come from the Spec's per-text ``labels`` (``labels_tensor``: class ids -> (N,) long; multi-hot rows ->
(N, K) long, as ``torch.tensor`` builds them; floats -> float32; per-token lists of different lengths are padded
with -100, CrossEntropyLoss's ``ignore_index``) or from a synthetic ``{"shape", "dtype", "high"}``
(``synthetic_target``). Shapes are checked on meta tensors by torch itself before anything runs
(``predict_loss``); a broadcasting loss (MSELoss of (N, 1) against (N,)) runs but its warning is kept.

    >>> predict_loss(LossKind.CROSS_ENTROPY, {}, (8, 4), "float32", (8,), "int64")
    ()
    >>> predict_loss(LossKind.CROSS_ENTROPY, {}, (8, 4), "float32", (512,), "int64") is None
    True

The step itself (``LossKind``, ``LossStep``, the Spec's labels) is the contract in ``core.loss_step``.
"""

from __future__ import annotations

import warnings
from typing import Any

from core.loss_step import TENSOR_PARAMS, LossKind, SyntheticTarget

IGNORE_INDEX = -100  # torch.nn.CrossEntropyLoss / NLLLoss default ignore_index


# what each loss reads: the input (logits) and the target, in PyTorch's words (torch.nn docs)
READS = {
    LossKind.CROSS_ENTROPY: ("logits (N, C) or (N, C, d1…)", "class ids (N,) long, or probabilities (N, C) float"),
    LossKind.BCE_WITH_LOGITS: ("logits of any shape", "0/1 floats of the same shape as the logits"),
    LossKind.MSE: ("predictions of any shape", "floats of the same shape"),
    LossKind.NLL: ("log-probabilities (N, C) (after log_softmax)", "class ids (N,) long"),
}


def labels_tensor(labels: Any) -> Any:
    """The Spec's per-text labels as a tensor, built as ``torch.tensor`` would build them.

    ints -> int64 (class ids (N,) or multi-hot rows (N, K)); any float -> float32; rows of different lengths (labels
    per token of texts of different lengths) are padded with -100 so CrossEntropyLoss ignores them.

    >>> labels_tensor([1, 0, 2]).dtype, labels_tensor([[0, 1], [1, 1]]).shape, labels_tensor([0.5, 1]).dtype
    (torch.int64, torch.Size([2, 2]), torch.float32)
    >>> labels_tensor([[1, 2, 0], [1]]).tolist()
    [[1, 2, 0], [1, -100, -100]]
    """
    import torch

    rows = [list(r) if isinstance(r, list | tuple) else r for r in labels]
    if rows and all(isinstance(r, list) for r in rows):
        width = max(len(r) for r in rows)
        if any(len(r) != width for r in rows):
            rows = [r + [IGNORE_INDEX] * (width - len(r)) for r in rows]
    flat = [v for r in rows for v in (r if isinstance(r, list) else [r])]
    floating = any(isinstance(v, float) for v in flat)
    return torch.tensor(rows, dtype=torch.float32 if floating else torch.int64)


def target_seed(seed: int, step_index: int) -> int:
    """The generator seed of a synthetic target (the exported script uses the same)."""
    return seed * 1000 + step_index + 500


def synthetic_target(target: SyntheticTarget, seed: int, step_index: int) -> Any:
    """A random target: ``long`` -> class ids in [0, high) (high defaults to 2); ``float`` -> 0/1 floats when
    ``high`` is given (``high=2``: multi-hot rows), else uniform values in [0, 1). Deterministic from the seed."""
    import torch

    g = torch.Generator().manual_seed(target_seed(seed, step_index))
    shape = tuple(target.shape)
    if target.dtype == "long":
        return torch.randint(0, target.high or 2, shape, generator=g)
    if target.high is not None:
        return torch.randint(0, target.high, shape, generator=g).float()
    return torch.rand(shape, generator=g)


def torch_params(kind: LossKind, params: dict[str, Any]) -> dict[str, Any]:
    """Constructor kwargs with ``weight`` / ``pos_weight`` lists turned into float tensors."""
    import torch

    out = dict(params)
    for key in TENSOR_PARAMS:
        if key in out:
            out[key] = torch.tensor(out[key], dtype=torch.float32)
    return out


def build_loss(kind: LossKind, params: dict[str, Any]) -> Any:
    """The torch.nn loss module."""
    from torch import nn

    return getattr(nn, kind.value)(**torch_params(kind, params))


def _dtype(name: str) -> Any:
    import torch

    return getattr(torch, str(name).replace("torch.", ""))


def predict_loss(
    kind: LossKind,
    params: dict[str, Any],
    input_shape: tuple[int, ...],
    input_dtype: str,
    target_shape: tuple[int, ...],
    target_dtype: str,
) -> tuple[int, ...] | None:
    """Shape of the loss value, computed by torch on meta tensors; None when torch rejects the pair (run it for the
    message). Weights stay on the CPU side: a weight of the wrong length is left to the real run."""
    import torch

    try:
        module = build_loss(kind, {k: v for k, v in params.items() if k not in TENSOR_PARAMS})
        x = torch.empty(tuple(input_shape), dtype=_dtype(input_dtype), device="meta")
        t = torch.empty(tuple(target_shape), dtype=_dtype(target_dtype), device="meta")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tuple(module(x, t).shape)
    except Exception:
        return None


def run_loss(module: Any, logits: Any, target: Any) -> tuple[Any, list[str]]:
    """The loss value and the warnings torch gave (e.g. MSELoss broadcasting (N, 1) against (N,))."""
    import torch

    with warnings.catch_warnings(record=True) as caught, torch.inference_mode():
        warnings.simplefilter("always")
        value = module(logits, target.to(logits.device))
    return value, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def per_sample_loss(step: Any, logits: Any, target: Any) -> Any:
    """The same loss with ``reduction='none'`` (one value per sample, or per token), for the loss panel; None when
    it cannot be computed."""
    import torch

    try:
        module = build_loss(step.kind, {**step.params, "reduction": "none"})
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            return module(logits, target.to(logits.device))
    except Exception:
        return None
