"""Layer steps (LSTM, GRU, Conv1d, Linear): build from torch.nn parameters, predict shapes, run.

The input size (input_size / in_channels / in_features) is inferred from the incoming tensor when
omitted. Weights are random, deterministic from the spec seed and the step index.

    >>> predict_layer(LayerStep(LayerKind.CONV1D, {"in_channels": 768, "out_channels": 512, "kernel_size": 3}),
    ...               (32, 768, 128)).shape
    (32, 512, 126)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.spec import INPUT_PARAM, LAYER_PARAMS, TORCH_NAMES, LayerKind, LayerStep


@dataclass(frozen=True)
class LayerPrediction:
    """Predicted output shape plus extra facts (h_n / c_n shapes, the L_out formula)."""

    shape: tuple[int, ...]
    extras: tuple[tuple[str, Any], ...] = ()


def inferred_input_size(kind: LayerKind, shape: tuple[int, ...]) -> int | None:
    """The input size a layer would take from a tensor of this shape."""
    if not shape:
        return None
    if kind is LayerKind.CONV1D:
        return shape[1] if len(shape) == 3 else shape[0] if len(shape) == 2 else None
    return shape[-1]


def resolved_params(step: LayerStep, shape: tuple[int, ...]) -> dict[str, Any]:
    """Constructor kwargs with the input size filled in from the incoming shape when omitted."""
    params = dict(step.params)
    key = INPUT_PARAM[step.kind]
    if key not in params:
        inferred = inferred_input_size(step.kind, shape)
        if inferred is not None:
            params[key] = inferred
    if step.kind in (LayerKind.LSTM, LayerKind.GRU):
        params.setdefault("batch_first", False)
    return params


def conv1d_length(length: int, kernel: int, stride: int = 1, padding: int | str = 0, dilation: int = 1) -> int:
    """L_out = floor((L + 2p - d(k-1) - 1) / s) + 1 (torch.nn.Conv1d)."""
    if padding == "same":
        return length
    p = 0 if padding == "valid" else int(padding)
    return (length + 2 * p - dilation * (kernel - 1) - 1) // stride + 1


def conv1d_formula(length: int, params: dict[str, Any]) -> str:
    k, s = params["kernel_size"], params.get("stride", 1)
    p, d = params.get("padding", 0), params.get("dilation", 1)
    if p == "same":
        return f"L_out = L = {length} (padding='same')"
    p = 0 if p == "valid" else p
    out = conv1d_length(length, k, s, p, d)
    return (
        f"L_out = floor((L + 2p − d(k−1) − 1)/s) + 1 = floor(({length} + {2 * p} − {d * (k - 1)} − 1)/{s}) + 1 = {out}"
    )


def predict_layer(step: LayerStep, shape: tuple[int, ...]) -> LayerPrediction | None:
    """Pure shape rule of the layer; None when torch would reject the input (run it to get the message)."""
    p = resolved_params(step, shape)
    kind = step.kind
    if any(k not in _ALLOWED[kind] for k in p):
        return None
    if kind is LayerKind.LINEAR:
        if not shape or shape[-1] != p["in_features"]:
            return None
        return LayerPrediction((*shape[:-1], p["out_features"]))
    if kind is LayerKind.CONV1D:
        if len(shape) not in (2, 3) or shape[-2] != p["in_channels"]:
            return None
        if p["in_channels"] % p.get("groups", 1) or p["out_channels"] % p.get("groups", 1):
            return None
        length = conv1d_length(
            shape[-1], p["kernel_size"], p.get("stride", 1), p.get("padding", 0), p.get("dilation", 1)
        )
        if length < 1:
            return None
        formula = conv1d_formula(shape[-1], p)
        return LayerPrediction((*shape[:-2], p["out_channels"], length), (("formula", formula),))
    # LSTM / GRU
    if len(shape) not in (2, 3) or shape[-1] != p["input_size"]:
        return None
    dirs = 2 if p.get("bidirectional") else 1
    layers = p.get("num_layers", 1)
    h_out = p.get("proj_size") or p["hidden_size"]
    if len(shape) == 3:
        batch, seq = (shape[0], shape[1]) if p["batch_first"] else (shape[1], shape[0])
        out = (batch, seq, dirs * h_out) if p["batch_first"] else (seq, batch, dirs * h_out)
        state_tail: tuple[int, ...] = (batch,)
    else:  # unbatched (seq, features)
        out = (shape[0], dirs * h_out)
        state_tail = ()
    extras: list[tuple[str, Any]] = [("h_n", (dirs * layers, *state_tail, h_out))]
    if kind is LayerKind.LSTM:
        extras.append(("c_n", (dirs * layers, *state_tail, p["hidden_size"])))
    return LayerPrediction(out, tuple(extras))


_ALLOWED = {kind: set(params) for kind, params in LAYER_PARAMS.items()}


def layer_seed(seed: int, step_index: int) -> int:
    """The manual seed used before building step ``step_index`` (code export uses the same)."""
    return seed * 1000 + step_index


def build_layer(step: LayerStep, shape: tuple[int, ...], seed: int, step_index: int, device: str, dtype: Any):
    """torch.nn module with the given parameters; raises torch's own TypeError/ValueError on bad ones."""
    import torch
    from torch import nn

    params = resolved_params(step, shape)
    torch.manual_seed(layer_seed(seed, step_index))
    module = getattr(nn, TORCH_NAMES[step.kind])(**params)
    return module.to(device=device, dtype=dtype).eval()


def run_layer(module: Any, step: LayerStep, x: Any, h0: Any = None, c0: Any = None) -> tuple[Any, dict[str, Any]]:
    """Run the module on ``x`` (a tensor or a PackedSequence), from initial states ``h0`` / ``c0`` when given;
    returns the output and extra tensors (h_n, c_n for recurrent layers)."""
    import torch

    with torch.inference_mode():
        if step.kind is LayerKind.LSTM:
            out, (h_n, c_n) = module(x) if h0 is None else module(x, (h0, c0))
            return out, {"h_n": h_n, "c_n": c_n}
        if step.kind is LayerKind.GRU:
            out, h_n = module(x) if h0 is None else module(x, h0)
            return out, {"h_n": h_n}
        return module(x), {}


def count_parameters(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())
