"""Handlers for layer constructor arguments: Keras names, unknown keywords, missing sizes."""

from __future__ import annotations

import re

from core.diagnosis.explain.context import Ctx, Result, layer_name
from core.spec import LAYER_PARAMS, TORCH_NAMES

VALID_PARAMS: dict[str, tuple[str, ...]] = {
    # the layer steps' tables are the spec's own (one source); RNN / Conv2d only appear in pasted errors
    **{TORCH_NAMES[kind]: tuple(params) for kind, params in LAYER_PARAMS.items()},
    "RNN": (
        "input_size",
        "hidden_size",
        "num_layers",
        "nonlinearity",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
    ),
    "Conv2d": (
        "in_channels",
        "out_channels",
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "groups",
        "bias",
        "padding_mode",
    ),
}
"""Constructor parameters (without device/dtype) of common layers; the tests check them against torch."""


_RNN_OUT = (
    "PyTorch's {name} always returns (output, (h_n, c_n)) (GRU: (output, h_n)): output is (batch, seq, "
    "num_directions * hidden_size) with batch_first=True - the whole sequence - and h_n is (num_layers * "
    "num_directions, batch, hidden_size), not batch-first."
)


_RNN_LAST = (
    "Don't pass it: `output, (h_n, c_n) = lstm(x)`. For the last step use `output[:, -1, :]` or `h_n[-1]` "
    "(both (batch, hidden_size); bidirectional: `torch.cat([h_n[-2], h_n[-1]], dim=1)`); for every step "
    "use output."
)


KERAS_ARGS: dict[str, tuple[str, str]] = {
    "return_sequences": ("return_sequences is a Keras argument. " + _RNN_OUT, _RNN_LAST),
    "return_state": ("return_state is a Keras argument. " + _RNN_OUT, _RNN_LAST),
    "units": (
        "units is Keras' output size. PyTorch names it hidden_size (LSTM/GRU) or out_features (Linear), and "
        "also needs the input size (input_size / in_features), which Keras infers.",
        "Write nn.LSTM(input_size, hidden_size, batch_first=True) or nn.Linear(in_features, out_features); "
        "nn.LazyLinear(out_features) infers in_features on first use.",
    ),
    "filters": (
        "filters is Keras' Conv1D output size; PyTorch names it out_channels and also needs in_channels.",
        "Write nn.Conv1d(in_channels, out_channels, kernel_size), e.g. nn.Conv1d(768, 128, 3) for BERT-base "
        "features after `x.permute(0, 2, 1)`.",
    ),
    "activation": (
        "PyTorch layers have no activation argument (Keras does): a layer is only the linear part.",
        "Apply the activation after the layer: `torch.relu(layer(x))`, or nn.Sequential(nn.Linear(...), "
        "nn.ReLU()). (nn.RNN alone has nonlinearity='tanh'|'relu'; LSTM/GRU gates are fixed.)",
    ),
    "recurrent_activation": (
        "recurrent_activation is Keras-only: PyTorch's LSTM/GRU gates always use sigmoid/tanh.",
        "Remove it.",
    ),
    "recurrent_dropout": (
        "recurrent_dropout is Keras-only. PyTorch's dropout= applies between stacked layers (num_layers > 1).",
        "Remove it; use dropout= with num_layers >= 2, or nn.Dropout on the output.",
    ),
    "input_shape": (
        "input_shape is Keras' way to declare the input; PyTorch layers take the feature size only.",
        "Pass the size of the feature dim: input_size= (LSTM), in_features= (Linear), in_channels= (Conv1d).",
    ),
    "input_dim": (
        "input_dim is Keras' name; PyTorch uses input_size (LSTM/GRU), in_features (Linear), in_channels (Conv1d).",
        "Rename it to the PyTorch parameter.",
    ),
    "strides": ("strides is the Keras spelling.", "Use stride= in PyTorch."),
    "dilation_rate": ("dilation_rate is the Keras spelling.", "Use dilation= in PyTorch."),
    "use_bias": ("use_bias is the Keras spelling.", "Use bias=True/False in PyTorch."),
    "kernel_initializer": (
        "Initialisers are not constructor arguments in PyTorch.",
        "Initialise after building: `nn.init.xavier_uniform_(layer.weight)`.",
    ),
    "go_backwards": (
        "go_backwards is Keras-only.",
        "Use bidirectional=True, or flip the sequence: `x.flip(1)`.",
    ),
    "stateful": (
        "stateful is Keras-only: PyTorch keeps no state between calls.",
        "Pass the state yourself: `out, (h, c) = lstm(x, (h, c))`.",
    ),
    "time_major": (
        "time_major is Keras-only.",
        "PyTorch's default is time-major; use batch_first=True for (batch, seq, features).",
    ),
    "pool_size": ("pool_size is the Keras spelling.", "Use kernel_size= for nn.MaxPool1d / nn.AvgPool1d."),
    "rate": ("rate is Keras' Dropout argument.", "Use nn.Dropout(p=...)."),
}


def _kwarg_class(m: re.Match[str], ctx: Ctx) -> str:
    cls = m["cls"] or ""
    return cls if cls in VALID_PARAMS else layer_name(ctx, "LSTM" if cls == "RNNBase" else (cls or "the layer"))


def keras_kwarg(m: re.Match[str], ctx: Ctx) -> Result:
    """A Keras argument (``return_sequences``, ``units``, ...) given to a PyTorch layer: what PyTorch does instead."""
    name, arg = _kwarg_class(m, ctx), m["arg"]
    expl, fix = KERAS_ARGS[arg]
    return f"{name} got {arg}=: " + expl.format(name=name), fix, {"class": name, "argument": arg}


def unknown_kwarg(m: re.Match[str], ctx: Ctx) -> Result:
    """Any other unknown keyword: the layer's valid parameters."""
    name, arg = _kwarg_class(m, ctx), m["arg"]
    valid = VALID_PARAMS.get(name)
    expl = f"{arg!r} is not a parameter of PyTorch's {name}."
    if arg == "padding" and name in ("LSTM", "GRU", "RNN", "Linear"):
        expl += " Only convolutions take padding (and there 'same' and 'valid' are valid)."
    fix = (
        f"Valid parameters: {', '.join(valid)}." if valid else "Check the constructor's signature in the PyTorch docs."
    )
    return expl, fix, {"class": name, "argument": arg}


def missing_arg(m: re.Match[str], ctx: Ctx) -> Result:
    cls = m["cls"] or ""
    name = "LSTM/GRU" if cls == "RNNBase" else (cls or "the layer")
    args = re.findall(r"'(\w+)'", m["args"])
    expl = (
        f"{name} needs {', '.join(args)}. Unlike Keras, PyTorch layers need both the input and the output "
        "size "
        "(a single number is taken as the first one)."
    )
    fix = (
        "Write nn.Linear(in_features, out_features), nn.LSTM(input_size, hidden_size, batch_first=True), "
        "nn.Conv1d(in_channels, out_channels, kernel_size); nn.LazyLinear(out_features) infers in_features."
    )
    return expl, fix, {"class": name, "missing": args}
