"""What the importer knows of torch, torch.nn, torch.nn.functional, einops and Python's builtins.

Tables, not rules per op: a tensor method or function becomes a term and the engine's whitelist decides
whether it can run. What is listed here is what needs meaning beyond a term: the layers a layer step
runs (LSTM, GRU, Conv1d, Linear, with torch's positional order), the modules that apply a function
(``nn.ReLU`` → ``F.relu``, ``nn.Flatten`` → ``x.flatten(1, -1)``), those that do nothing at inference
(``nn.Dropout``), the sources (``torch.randn``), and calls with no tensor effect (``torch.manual_seed``).
"""

from __future__ import annotations

from core.spec import LayerKind

# torch.nn constructor parameters in positional order (torch 2.x signatures)
LAYER_ORDER: dict[LayerKind, tuple[str, ...]] = {
    LayerKind.LSTM: (
        "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional", "proj_size",
    ),
    LayerKind.GRU: ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional"),
    LayerKind.CONV1D: (
        "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
        "padding_mode",
    ),
    LayerKind.LINEAR: ("in_features", "out_features", "bias"),
}  # fmt: skip
LAYER_CLASSES = {"LSTM": LayerKind.LSTM, "GRU": LayerKind.GRU, "Conv1d": LayerKind.CONV1D, "Linear": LayerKind.LINEAR}
# ignored constructor keywords (they do not change a shape)
LAYER_IGNORED = ("device", "dtype")

# nn modules that apply a function: class -> (function spelling, positional parameter names, keeps the shape)
# A "." spelling is a method of the input (``x.flatten(1, -1)``), otherwise a function taking it first.
APPLY_MODULES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "ReLU": ("F.relu", (), True),
    "GELU": ("F.gelu", (), True),
    "SiLU": ("F.silu", (), True),
    "ELU": ("F.elu", (), True),
    "LeakyReLU": ("F.leaky_relu", ("negative_slope",), True),
    "Softplus": ("F.softplus", (), True),
    "Mish": ("F.mish", (), True),
    "Hardtanh": ("F.hardtanh", (), True),
    "Tanh": ("torch.tanh", (), True),
    "Sigmoid": ("torch.sigmoid", (), True),
    "Softmax": ("torch.softmax", ("dim",), True),
    "LogSoftmax": ("torch.log_softmax", ("dim",), True),
    "LayerNorm": ("F.layer_norm", ("normalized_shape",), True),
    "Flatten": (".flatten", ("start_dim", "end_dim"), False),
    "Unflatten": (".unflatten", ("dim", "unflattened_size"), False),
    "AdaptiveAvgPool1d": ("F.adaptive_avg_pool1d", ("output_size",), False),
    "AdaptiveMaxPool1d": ("F.adaptive_max_pool1d", ("output_size",), False),
    "MaxPool1d": ("F.max_pool1d", ("kernel_size", "stride", "padding"), False),
    "AvgPool1d": ("F.avg_pool1d", ("kernel_size", "stride", "padding"), False),
}
# defaults the module form has and the function form lacks
APPLY_DEFAULTS: dict[str, dict[str, object]] = {"Flatten": {"start_dim": 1, "end_dim": -1}}
IDENTITY_MODULES = ("Dropout", "Dropout1d", "Dropout2d", "AlphaDropout", "Identity")
# modules whose shape effect the app cannot run; passed through with a note (shape unchanged)
UNCHECKED_MODULES = ("BatchNorm1d", "InstanceNorm1d", "GroupNorm", "RMSNorm")
LOSSES = ("CrossEntropyLoss", "BCEWithLogitsLoss", "MSELoss", "NLLLoss", "BCELoss", "L1Loss")

# functions (F.*, torch.*) and tensor methods that keep the shape: a refused one may pass through
KEEPS_SHAPE = frozenset(
    {
        "relu", "gelu", "silu", "elu", "leaky_relu", "softplus", "mish", "hardtanh", "tanh", "sigmoid", "softmax",
        "log_softmax", "layer_norm", "normalize", "float", "double", "half", "long", "int", "bool", "to", "type",
        "type_as", "abs", "exp", "log", "sqrt", "clone", "relu_", "tanh_", "sigmoid_", "clamp", "clip",
        "masked_fill", "neg", "sign",
    }
)  # fmt: skip
# no effect on the tensor at inference (device moves, autograd)
IDENTITY_METHODS = ("cuda", "cpu", "detach", "detach_", "numpy", "requires_grad_", "pin_memory", "share_memory_")
IDENTITY_FUNCS = ("dropout", "alpha_dropout", "dropout1d", "feature_alpha_dropout")

SOURCES = ("randn", "rand", "zeros", "ones", "empty", "full", "randint", "normal")
NO_EFFECT_TORCH = {
    "manual_seed": "seeds torch's random numbers",
    "set_grad_enabled": "turns gradients on or off (the app never tracks gradients)",
    "set_num_threads": "sets torch's thread count",
    "set_printoptions": "sets how tensors print",
    "use_deterministic_algorithms": "asks torch for deterministic kernels",
    "set_default_dtype": "sets torch's default dtype",
    "no_grad": "turns gradients off (the app never tracks gradients)",
    "inference_mode": "inference mode (the app always runs in it)",
    "enable_grad": "turns gradients on (the app never tracks gradients)",
    "device": "a device (the app shows the device it runs on)",
    "Generator": "a random number generator",
    "autocast": "mixed precision (shapes do not change)",
}
REFUSED_TORCH = {
    "load": "torch.load reads a file (refused: nothing you paste is ever run)",
    "save": "torch.save writes a file (refused: nothing you paste is ever run)",
    "compile": "torch.compile compiles code (refused: nothing you paste is ever run)",
    "jit": "torch.jit compiles code (refused: nothing you paste is ever run)",
    "hub": "torch.hub downloads code (refused: nothing you paste is ever run)",
    "ops": "torch.ops reaches raw kernels (refused)",
}
NAMESPACES = frozenset(
    {
        "torch", "torch.nn", "torch.nn.functional", "torch.nn.utils", "torch.nn.utils.rnn", "torch.cuda",
        "torch.backends", "torch.utils", "torch.utils.data", "torch.nn.init", "torch.linalg", "torch.cuda.amp",
        "torch.amp", "torch.optim", "transformers", "tensorflow", "tensorflow.keras", "tensorflow.keras.layers",
        "tensorflow.random", "tensorflow.nn", "tensorflow.math", "tensorflow.linalg", "einops", "numpy",
        "numpy.random", "math", "sentence_transformers", "typing", "warnings", "logging", "random", "tqdm",
        "keras", "keras.layers", "matplotlib", "matplotlib.pyplot", "time", "json", "collections", "functools",
    }
)  # fmt: skip
# spellings normalised before a term is built
FUNC_ALIASES = {
    "torch.nn.functional": "F",
    "nn.functional": "F",
}
DTYPE_NAMES = (
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
    "int16", "int8", "uint8", "bool", "complex64",
)  # fmt: skip
DTYPE_METHODS = ("float", "double", "half", "long", "int", "bool", "bfloat16")


def canonical_module(path: str) -> str:
    """``torch.nn.modules.rnn.LSTM`` / ``torch.nn.LSTM`` → ``LSTM``; '' when not a torch.nn class path."""
    for prefix in ("torch.nn.modules.", "torch.nn."):
        if path.startswith(prefix):
            return path.rsplit(".", 1)[-1]
    if path.startswith("keras.") or path.startswith("tensorflow."):
        return ""
    return ""
