"""Layer steps (LSTM, GRU, Conv1d, Linear): build from torch.nn parameters, predict shapes, run.

The input size (input_size / in_channels / in_features) is inferred from the incoming tensor when
omitted. Weights are random, deterministic from the spec seed and the step index, drawn from a generator
of their own (never torch's global one). ``parameter_count`` and ``layer_flops`` give a layer's size and
work from its parameters alone, so budgets are checked before anything is built.

    >>> predict_layer(LayerStep(LayerKind.CONV1D, {"in_channels": 768, "out_channels": 512, "kernel_size": 3}),
    ...               (32, 768, 128)).shape
    (32, 512, 126)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from core.errors import BudgetExceeded
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
        if isinstance(p.get("padding", 0), str) and p["padding"] not in ("same", "valid"):
            return None  # torch.nn.Conv1d refuses it with its own message
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


# --- size and work, from the constructor parameters alone (nothing is built) ----------------------------
def parameter_count(kind: LayerKind, params: dict[str, Any]) -> int:
    """Weights + biases the torch.nn layer will hold, by its real formula (no module is built).

    Sources: the ``Variables`` sections of the torch.nn.LSTM / GRU / Conv1d / Linear docs.

    - Linear: ``in·out (+ out)``;
    - Conv1d: ``out · (in / groups) · kernel (+ out)``;
    - LSTM / GRU, per layer and direction, with G = 4 (LSTM) or 3 (GRU) gates and
      ``r = proj_size or hidden_size`` (what each step outputs): ``weight_ih (G·h × in_l)``,
      ``weight_hh (G·h × r)``, two biases ``G·h`` each, and for a projected LSTM ``weight_hr (r × h)``;
      ``in_l`` is ``input_size`` for the first layer and ``dirs · r`` after.

    >>> parameter_count(LayerKind.GRU, {"input_size": 1, "hidden_size": 20000})   # weight_hh alone: 3·h·h
    1200180000
    """
    bias = bool(params.get("bias", True))
    if kind is LayerKind.LINEAR:
        n_in, n_out = int(params["in_features"]), int(params["out_features"])
        return n_in * n_out + (n_out if bias else 0)
    if kind is LayerKind.CONV1D:
        c_in, c_out, k = int(params["in_channels"]), int(params["out_channels"]), int(params["kernel_size"])
        groups = max(1, int(params.get("groups", 1)))
        return c_out * (c_in // groups) * k + (c_out if bias else 0)
    gates = 4 if kind is LayerKind.LSTM else 3
    h = int(params["hidden_size"])
    proj = int(params.get("proj_size", 0) or 0) if kind is LayerKind.LSTM else 0
    r = proj or h
    dirs = 2 if params.get("bidirectional") else 1
    total = 0
    for layer in range(max(1, int(params.get("num_layers", 1)))):
        n_in = int(params["input_size"]) if layer == 0 else dirs * r
        per_direction = gates * h * n_in + gates * h * r + (2 * gates * h if bias else 0) + (r * h if proj else 0)
        total += dirs * per_direction
    return total


def layer_flops(kind: LayerKind, params: dict[str, Any], shape: tuple[int, ...], out: tuple[int, ...]) -> int:
    """Floating-point operations (a multiply-add counts 2) of one forward pass from ``shape`` to ``out``.

    - Linear: ``2 · rows · in · out`` (rows: every position before the last dim);
    - Conv1d: ``2 · batch · out_channels · L_out · (in_channels / groups) · kernel``;
    - LSTM / GRU: per layer and direction, ``2 · seq · batch · G·h · (in_l + r)`` plus ``2 · seq · batch · r · h``
      for a projection (the gate matmuls; element-wise gate maths is a small extra).

    >>> layer_flops(LayerKind.LINEAR, {"in_features": 768, "out_features": 2}, (32, 768), (32, 2))
    98304
    """
    if kind is LayerKind.LINEAR:
        rows = _prod(shape[:-1])
        return 2 * rows * int(params["in_features"]) * int(params["out_features"])
    if kind is LayerKind.CONV1D:
        batch = shape[0] if len(shape) == 3 else 1
        groups = max(1, int(params.get("groups", 1)))
        c_in, c_out, k = int(params["in_channels"]), int(params["out_channels"]), int(params["kernel_size"])
        return 2 * batch * c_out * max(out[-1], 0) * (c_in // groups) * k
    gates = 4 if kind is LayerKind.LSTM else 3
    h = int(params["hidden_size"])
    proj = int(params.get("proj_size", 0) or 0) if kind is LayerKind.LSTM else 0
    r = proj or h
    dirs = 2 if params.get("bidirectional") else 1
    positions = _prod(shape[:-1])  # seq x batch (or seq alone, unbatched)
    total = 0
    for layer in range(max(1, int(params.get("num_layers", 1)))):
        n_in = int(params["input_size"]) if layer == 0 else dirs * r
        total += dirs * 2 * positions * (gates * h * (n_in + r) + (r * h if proj else 0))
    return total


def check_layer_parameters(kind: LayerKind, params: dict[str, Any], limit: int, count: int | None = None) -> int:
    """The layer's weight count (``parameter_count`` unless given); BudgetExceeded when over ``limit``."""
    count = parameter_count(kind, params) if count is None else count
    if count > limit:
        raise BudgetExceeded(
            f"{TORCH_NAMES[kind]} would hold {count:,} weights ({count * 4 / 1e9:,.1f} GB as float32); the server's "
            f"limit for one layer is {limit:,} weights. Use a smaller hidden_size / out_channels, fewer layers or a "
            "smaller kernel"
        )
    return count


def check_layer_budget(
    index: int, step: LayerStep, shape: tuple[int, ...], out: tuple[int, ...], max_numel: int
) -> tuple[int, int]:
    """(weights, FLOPs) of step ``index`` on ``shape`` -> ``out``; BudgetExceeded over a server budget.

    Checked before anything is built: the output's elements against ``max_numel``, the weights against
    ``max_layer_parameters`` and the work against ``work_flops`` (``core.limits``; an LSTM / GRU counts
    ``RECURRENT_COST`` times its FLOPs, as it runs step by step).
    """
    from core.limits import RECURRENT_COST, current, fmt_flops

    where = f"step {index + 1} ({step.kind.value})"
    numel = _prod(out)
    if numel > max_numel:
        raise BudgetExceeded(f"{where} would create {numel:,} elements; the limit is {max_numel:,}")
    limits = current()
    params = resolved_params(step, shape)
    try:
        weights = check_layer_parameters(step.kind, params, limits.max_layer_parameters)
    except BudgetExceeded as e:
        raise BudgetExceeded(f"{where}: {e}") from None
    flops = layer_flops(step.kind, params, shape, out)
    recurrent = step.kind in (LayerKind.LSTM, LayerKind.GRU)
    if flops * (RECURRENT_COST if recurrent else 1) > limits.work_flops:
        raise BudgetExceeded(
            f"{where} on {tuple(shape)} would take about {fmt_flops(flops)} of work"
            + (f" (x{RECURRENT_COST}: it runs step by step)" if recurrent else "")
            + f"; the server's limit for one run is {fmt_flops(limits.work_flops)}. Use a shorter or smaller "
            "input, fewer layers or a smaller hidden_size / kernel"
        )
    return weights, flops


def _prod(values: Any) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def layer_seed(seed: int, step_index: int) -> int:
    """The seed of step ``step_index``'s weights: ``torch.manual_seed(layer_seed(...))`` then the constructor
    gives the same values (code export writes exactly that)."""
    return seed * 1000 + step_index


def build_layer(step: LayerStep, shape: tuple[int, ...], seed: int, step_index: int, device: str, dtype: Any):
    """torch.nn module with the given parameters; raises torch's own TypeError/ValueError on bad ones.

    The module is first built on the ``meta`` device (torch checks the arguments, nothing is allocated),
    its size checked against ``core.limits``' ``max_layer_parameters`` (BudgetExceeded), then filled from
    a ``torch.Generator`` of its own, seeded with ``layer_seed(seed, step_index)``. The draws are those of
    the layer's own ``reset_parameters`` in the same order, so the values equal ``torch.manual_seed(s)``
    followed by the constructor, while torch's global generator is never touched: sessions building
    layers at the same time cannot draw each other's numbers.
    """
    import torch
    from torch import nn

    from core.limits import current

    params = resolved_params(step, shape)
    limit = current().max_layer_parameters
    if all(k in _ALLOWED[step.kind] for k in params):  # else torch's constructor raises its own TypeError
        with contextlib.suppress(KeyError):  # a size missing (no axis to read it from): torch's constructor says so
            check_layer_parameters(step.kind, params, limit)  # before even a meta module: 10^6 layers is slow
    module = getattr(nn, TORCH_NAMES[step.kind])(**params, device="meta")
    check_layer_parameters(step.kind, params, limit, sum(p.numel() for p in module.parameters()))
    module = module.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(layer_seed(seed, step_index))
    with torch.no_grad():
        _reset_parameters(module, generator)
    return module.to(device=device, dtype=dtype).eval()


def _reset_parameters(module: Any, generator: Any) -> None:
    """``module.reset_parameters()`` drawing from ``generator``: the same bounds and order as torch's own.

    RNNBase: every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) in ``parameters()`` order.
    Linear / Conv1d: weight by kaiming_uniform_(a=sqrt(5)), then bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """
    import math

    from torch import nn
    from torch.nn import init

    if isinstance(module, nn.RNNBase):
        stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
        for weight in module.parameters():
            init.uniform_(weight, -stdv, stdv, generator=generator)
        return
    init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
    if module.bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(module.bias, -bound, bound, generator=generator)


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
