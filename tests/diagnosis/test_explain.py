"""Tests for core.diagnosis.explain: every rule is fed the REAL message of the installed torch.

Each row of ``TRIGGERED`` raises the error with torch (or einops), and the explanation must be
recognized, of the right kind, and quote the numbers parsed from the message.
"""

from __future__ import annotations

import inspect
import time
import traceback
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.diagnosis.explain import KINDS, Explanation, explain, explain_exception
from core.diagnosis.explain.constructors import VALID_PARAMS

BERT = (32, 128, 768)  # (batch, tokens, hidden)
AXES = ("batch", "tokens", "hidden")


def _x() -> torch.Tensor:
    return torch.randn(*BERT)


def _message(fn: Callable[[], object]) -> str:
    """Run ``fn``, which must raise; return ``"TypeName: message"`` as a traceback's last line shows it."""
    try:
        fn()
    except Exception as exc:  # whatever torch raises
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError("expected the call to raise")


def _rearrange(*args, **kwargs):
    einops = pytest.importorskip("einops")
    return einops.rearrange(*args, **kwargs)


# (id, trigger, kind, fragments that must appear in explanation + fix)
TRIGGERED: list[tuple[str, Callable[[], object], str, list[str]]] = [
    (
        "conv1d_channels",
        lambda: nn.Conv1d(768, 512, 3)(_x()),
        "conv_channels",
        ["768", "128", "dim 2", "x.permute(0, 2, 1)", "x.transpose(1, 2)", "[32, 768, 128]"],
    ),
    (
        "conv2d_channels",
        lambda: nn.Conv2d(3, 8, 3)(torch.randn(2, 4, 10, 10)),
        "conv_channels",
        ["Conv2d", "in_channels=4", "No dim of your input has size 3"],
    ),
    (
        "conv1d_rank4",
        lambda: nn.Conv1d(768, 512, 3)(torch.randn(2, 3, 768, 10)),
        "conv_rank",
        ["[2, 3, 768, 10]", "4-D", "x.flatten(0, 1)", "[6, 768, 10]"],
    ),
    ("conv1d_rank1", lambda: nn.Conv1d(768, 512, 3)(torch.randn(768)), "conv_rank", ["1-D", "unsqueeze(0)"]),
    (
        "conv2d_rank",
        lambda: nn.Conv2d(3, 8, 3)(torch.randn(2, 3, 10, 10, 3)),
        "conv_rank",
        ["conv2d", "5-D"],
    ),
    (
        "kernel_too_large",
        lambda: nn.Conv1d(768, 512, 3)(torch.randn(1, 768, 2)),
        "kernel_too_large",
        ["size 2", "kernel spans 3", "padding=1", "kernel_size <= 2"],
    ),
    (
        "maxpool_too_large",
        lambda: nn.MaxPool1d(3)(torch.randn(1, 3, 2)),
        "kernel_too_large",
        ["max_pool1d()", "size 0", "AdaptiveMaxPool1d"],
    ),
    (
        "conv_same_strided",
        lambda: nn.Conv1d(768, 128, 3, stride=2, padding="same"),
        "conv_padding",
        ["padding='same' is valid", "stride=1"],
    ),
    (
        "conv_causal",
        lambda: nn.Conv1d(768, 128, 3, padding="causal"),
        "conv_padding",
        ["'causal'", "F.pad(x, (kernel_size - 1, 0))"],
    ),
    (
        "lstm_input_size",
        lambda: nn.LSTM(768, 128, batch_first=True)(torch.randn(4, 10, 64)),
        "rnn_input_size",
        ["input_size=768", "last dim of your input is 64", "input_size=64", "x.transpose(1, 2)"],
    ),
    (
        "gru_input_size",
        lambda: nn.GRU(768, 128, batch_first=True)(torch.randn(4, 10, 64)),
        "rnn_input_size",
        ["768", "64"],
    ),
    (
        "lstm_rank4",
        lambda: nn.LSTM(768, 128, batch_first=True)(torch.randn(4, 2, 10, 768)),
        "rnn_rank",
        ["LSTM", "4-D", "x.flatten(0, 1)"],
    ),
    (
        "gru_rank1",
        lambda: nn.GRU(768, 128)(torch.randn(768)),
        "rnn_rank",
        ["GRU", "1-D", "x.unsqueeze(1)"],
    ),
    (
        "lstm_h0",
        lambda: nn.LSTM(768, 128, batch_first=True)(
            torch.randn(4, 10, 768), (torch.zeros(1, 3, 128), torch.zeros(1, 3, 128))
        ),
        "rnn_hidden",
        # issue 12: the state is built from the input's batch, not from the message's numbers
        ["[1, 3, 128]", "[1, 4, 128]", "NOT batch-first", "torch.zeros(1, x.size(0), 128"],
    ),
    (
        "lstm_unbatched_h0",
        lambda: nn.LSTM(8, 4)(torch.randn(5, 8), (torch.zeros(1, 1, 4), torch.zeros(1, 1, 4))),
        "rnn_hidden",
        ["unbatched", "2-D"],
    ),
    (
        "linear_in_features",
        lambda: nn.Linear(128, 2)(torch.randn(4, 640)),
        "linear_mat",
        ["640", "in_features=128", "in_features=640", "nn.Linear(640, 2)", "640 = 5 × 128"],
    ),
    (
        "linear_flatten_needed",
        lambda: nn.Linear(128 * 768, 2)(_x()),
        "linear_mat",
        ["4096x768", "98304x2", "in_features=98304", "flatten(1)"],
    ),
    (
        "matmul_2d",
        lambda: torch.randn(3, 5) @ torch.randn(6, 7),
        "linear_mat",
        ["3x5", "6x7", "5 (columns of mat1) must equal 6"],
    ),
    (
        "bmm_inner",
        lambda: torch.bmm(torch.randn(4, 3, 5), torch.randn(4, 6, 7)),
        "matmul",
        ["[4, 5]", "[4, 6]", "inner size differs", "transpose(1, 2)"],
    ),
    (
        "bmm_batch",
        lambda: torch.bmm(torch.randn(4, 3, 5), torch.randn(3, 5, 7)),
        "matmul",
        ["batch sizes differ (4 vs 3)"],
    ),
    ("bmm_rank", lambda: torch.bmm(torch.randn(3, 5), torch.randn(3, 5, 7)), "matmul", ["3-D", "batch1"]),
    ("mv", lambda: torch.mv(torch.randn(3, 5), torch.randn(6)), "matmul", ["3x5", "6", "columns 5"]),
    ("dot", lambda: torch.randn(5) @ torch.randn(6), "matmul", ["5 and 6"]),
    (
        "broadcast_mask",
        lambda: _x() * torch.ones(32, 128),
        "broadcast",
        ["128", "768", "mask.unsqueeze(-1)"],
    ),
    (
        "view_stride",
        lambda: _x().permute(0, 2, 1).view(32, -1),
        "view_stride",
        [".reshape(", ".contiguous()", "non-contiguous"],
    ),
    (
        "reshape_size",
        lambda: torch.randn(32, 125, 768).reshape(32, 16, 6144),
        "reshape_size",
        ["32 × 16 × 6144 = 3,145,728 ≠ 3,072,000", "3,072,000 / (32 × 16) = 6000", "x.reshape(32, 16, 6000)"],
    ),
    (
        "reshape_size_bert",
        lambda: _x().reshape(32, 16, 6000),
        "reshape_size",
        [
            "3,072,000 ≠ 3,145,728",
            "3,145,728 / (32 × 16) = 6144",
            "x.reshape(32, 16, 6144)",
            "x.reshape(32, 16, -1)",
        ],
    ),
    (
        "reshape_infer_not_whole",
        lambda: _x().reshape(-1, 7, 5000),
        "reshape_size",
        ["7 × 5000 = 35,000", "not a whole number"],
    ),
    ("view_size", lambda: _x().view(32, 16, 6000), "reshape_size", ["6144"]),
    ("multiple_infer", lambda: _x().reshape(-1, -1, 768), "multiple_infer", ["-1"]),
    (
        "unflatten_size",
        lambda: _x().unflatten(2, (7, 100)),
        "unflatten_size",
        ["7 × 100 = 700", "768"],
    ),
    (
        "split_size",
        lambda: _x().split([100, 100], dim=1),
        "split_size",
        ["100 + 100 = 200 ≠ 128"],
    ),
    ("flatten_args", lambda: _x().flatten(2, 1), "flatten_args", ["start_dim", "x.flatten(1, 2)"]),
    (
        "permute_too_few",
        lambda: _x().permute(0, 2),
        "permute_dims",
        ["3 dims", "you gave 2", "x.permute(0, 2, 1)", "transpose"],
    ),
    ("permute_too_many", lambda: _x().permute(0, 2, 1, 3), "permute_dims", ["you gave 4", "unsqueeze"]),
    ("permute_duplicate", lambda: _x().permute(0, 2, 2), "permute_duplicate", ["twice"]),
    ("reduce_duplicate", lambda: _x().amax(dim=(1, 1)), "permute_duplicate", ["Dim 1"]),
    ("t_on_3d", lambda: _x().t(), "t_rank", ["3-D", "transpose(1, 2)"]),
    (
        "dim_range_sum",
        lambda: _x().sum(dim=3),
        "dim_range",
        ["0..2", "-3..-1", "dim 3", "probably dim 2", "-1"],
    ),
    ("dim_range_permute", lambda: _x().permute(0, 1, 3), "dim_range", ["dim 3", "0..2"]),
    ("dim_range_negative", lambda: _x().mean(-4), "dim_range", ["dim -4", "probably dim -3"]),
    (
        "index_range",
        lambda: torch.randn(4, 5)[:, 10],
        "index_range",
        ["Index 10", "dim 1", "size 5", "0..4", "-5..-1"],
    ),
    ("index_tokens", lambda: _x()[:, 200], "index_range", ["200", "128 tokens", "x[:, -1]"]),
    ("select_range", lambda: _x().select(1, 200), "index_range", ["200", "[32, 128, 768]"]),
    ("narrow_range", lambda: _x().narrow(1, 120, 20), "index_range", ["120", "128", "length 8"]),
    (
        "index_select_range",
        lambda: torch.randn(4, 5).index_select(1, torch.tensor([10])),
        "index_range",
        ["10", "size 5"],
    ),
    ("too_many_indices", lambda: torch.randn(4, 5)[0, 0, 0], "too_many_indices", ["(2)", "x[:, 0]"]),
    (
        "mask_shape",
        lambda: _x()[torch.ones(5, dtype=torch.bool)],
        "mask_shape",
        ["[5]", "[32, 128, 768]"],
    ),
    ("embedding_index", lambda: nn.Embedding(10, 4)(torch.tensor([12])), "embedding_index", ["512"]),
    (
        "cat_size",
        lambda: torch.cat([torch.randn(4, 128, 3), torch.randn(4, 64, 3)], dim=2),
        "cat_size",
        ["dim=2", "128", "64", "tensor 1"],
    ),
    (
        "cat_rank",
        lambda: torch.cat([torch.randn(4, 128, 3), torch.randn(4, 64)], dim=1),
        "cat_rank",
        ["3-D and 2-D", "unsqueeze(1)"],
    ),
    (
        "stack_size",
        lambda: torch.stack([torch.randn(4, 128), torch.randn(4, 64)]),
        "stack_size",
        ["[4, 128]", "[4, 64]", "dim 1: 128 vs 64", "pad_sequence"],
    ),
    (
        "expand_nonsingleton",
        lambda: torch.randn(2, 3).expand(2, 4),
        "expand_nonsingleton",
        ["Dim 1 has size 3", "cannot become 4", "[2, 4]", "[2, 3]", "repeat"],
    ),
    ("expand_rank", lambda: torch.randn(2, 3).expand(3), "expand_rank", ["1 size(s)", "2-D"]),
    ("repeat_rank", lambda: _x().repeat(2, 2), "expand_rank", ["repeat"]),
    ("pad_odd", lambda: F.pad(_x(), (1, 2, 3)), "pad_length", ["pairs"]),
    ("pad_long", lambda: F.pad(_x(), (1, 1) * 4), "pad_length", ["8 numbers", "3 dims"]),
    (
        "layernorm",
        lambda: nn.LayerNorm(128)(_x()),
        "layernorm_shape",
        ["[128]", "[32, 128, 768]", "nn.LayerNorm(768)"],
    ),
    ("batchnorm", lambda: nn.BatchNorm1d(128)(torch.randn(32, 768, 128)), "norm_features", ["128", "768"]),
    (
        "loss_batch",
        lambda: F.cross_entropy(torch.randn(4, 2), torch.tensor([0, 1, 1])),
        "loss_batch",
        ["4 predictions", "3 targets"],
    ),
    (
        "lstm_tuple_into_linear",
        lambda: nn.Linear(4, 2)(nn.LSTM(768, 4)(_x())),
        "tuple_input",
        ["output, (h_n, c_n) = lstm(x)", "h_n[-1]"],
    ),
    (
        "lstm_tuple_reshape",
        lambda: nn.LSTM(768, 4)(_x()).reshape(3),
        "tuple_input",
        ["tuple"],
    ),
    (
        "keras_return_sequences",
        lambda: nn.LSTM(768, 128, return_sequences=True),
        "keras_kwarg",
        ["Keras", "(output, (h_n, c_n))", "output[:, -1, :]", "h_n[-1]", "batch_first=True"],
    ),
    ("keras_return_state", lambda: nn.LSTM(768, 128, return_state=True), "keras_kwarg", ["h_n", "c_n"]),
    ("keras_units", lambda: nn.LSTM(units=128), "keras_kwarg", ["hidden_size", "input_size"]),
    ("keras_units_linear", lambda: nn.Linear(128, units=2), "keras_kwarg", ["out_features", "Linear"]),
    ("keras_activation", lambda: nn.Linear(128, 2, activation="relu"), "keras_kwarg", ["nn.ReLU()", "relu"]),
    ("keras_filters", lambda: nn.Conv1d(768, filters=128, kernel_size=3), "keras_kwarg", ["out_channels"]),
    (
        "unknown_kwarg",
        lambda: nn.LSTM(768, 128, padding="same"),
        "unknown_kwarg",
        ["'padding'", "LSTM", "hidden_size", "batch_first"],
    ),
    ("missing_arg", lambda: nn.LSTM(128), "missing_arg", ["hidden_size", "nn.LSTM(input_size, hidden_size"]),
    ("missing_arg_linear", lambda: nn.Linear(128), "missing_arg", ["out_features", "LazyLinear"]),
    (
        "dtype_linear",
        lambda: nn.Linear(4, 2)(torch.zeros(3, 4, dtype=torch.long)),
        "dtype_mismatch",
        ["x.float()"],
    ),
    (
        "dtype_rnn",
        lambda: nn.LSTM(4, 2)(torch.randn(3, 4, dtype=torch.float64)),
        "dtype_mismatch",
        ["dtype"],
    ),
    (
        "device",
        lambda: nn.Linear(2, 2).to("meta")(torch.randn(2, 2)),
        "device_mismatch",
        ["x.to(device)"],
    ),
    (
        "einops_rank",
        lambda: _rearrange(_x(), "b l -> l b"),
        "einops_shape",
        ["'b l'", "2 axes", "3 dims", "[32, 128, 768]"],
    ),
    (
        "einops_divide",
        lambda: _rearrange(_x(), "b l (h d) -> b l h d", h=7),
        "einops_shape",
        ["768", "groups of 7", "h=12"],
    ),
    (
        "einops_product",
        lambda: _rearrange(_x(), "b l (h d) -> b l h d", h=12, d=100),
        "einops_shape",
        ["1200", "768"],
    ),
    (
        "einops_infer",
        lambda: _rearrange(_x(), "b l (h d) -> b l h d"),
        "einops_shape",
        ["h=12"],
    ),
    (
        "einops_one_side",
        lambda: _rearrange(_x(), "b l h -> b h"),
        "einops_pattern",
        ["'l'", "reduce("],
    ),
    ("einops_duplicate", lambda: _rearrange(_x(), "b b h -> b h"), "einops_pattern", ["'b'", "twice"]),
]


@pytest.mark.parametrize(("trigger", "kind", "fragments"), [r[1:] for r in TRIGGERED], ids=[r[0] for r in TRIGGERED])
def test_real_torch_message_is_explained(trigger, kind, fragments):
    msg = _message(trigger)
    e = explain(msg)
    assert e.recognized, msg
    assert e.kind == kind, (msg, e.kind)
    assert e.kind in KINDS
    text = e.explanation + "\n" + e.fix
    for frag in fragments:
        assert frag in text, (frag, text)
    assert e.message, "the explained line is recorded"


def test_conv_numbers_parsed():
    e = explain(_message(lambda: nn.Conv1d(768, 512, 3)(_x())))
    assert e.numbers == {
        "groups": 1,
        "weight_shape": [512, 768, 3],
        "input_shape": [32, 128, 768],
        "expected_channels": 768,
        "got_channels": 128,
        "channels_at_dim": 2,
    }


def test_reshape_numbers_parsed():
    e = explain(_message(lambda: _x().reshape(32, 16, 6000)))
    assert e.numbers["target_shape"] == [32, 16, 6000]
    assert e.numbers["numel"] == 3_145_728
    assert e.numbers["fitting_last_dim"] == 6144
    assert torch.randn(*BERT).reshape(32, 16, e.numbers["fitting_last_dim"]).shape == (32, 16, 6144)


def test_linear_numbers_parsed():
    e = explain(_message(lambda: nn.Linear(128, 2)(torch.randn(4, 640))))
    assert e.numbers["mat1"] == [4, 640]
    assert e.numbers["mat2"] == [128, 2]
    assert e.numbers["in_features"] == 128
    assert e.numbers["got_features"] == 640


@pytest.mark.parametrize(
    ("message", "kind", "fragment"),
    [
        # older torch wordings, from memory
        ("RuntimeError: number of dims don't match in permute", "permute_dims", "permute"),
        ("RuntimeError: repeated dim in permute", "permute_duplicate", "twice"),
        ("RuntimeError: input must have 3 dimensions, got 4", "rnn_rank", "4-D"),
        (
            "RuntimeError: Expected 3-dimensional input for 3-dimensional weight [512, 768, 3], but got "
            "4-dimensional input of size [2, 3, 768, 10] instead",
            "conv_rank",
            "x.flatten(0, 1)",
        ),
        (
            "RuntimeError: size mismatch, m1: [4 x 640], m2: [128 x 2] at "
            "/pytorch/aten/src/TH/generic/THTensorMath.cpp:41",
            "linear_mat",
            "in_features=640",
        ),
        (
            "RuntimeError: Given groups=1, weight of size 512 768 3, expected input[32, 128, 768] to have "
            "768 channels, but got 128 channels instead",
            "conv_channels",
            "x.permute(0, 2, 1)",
        ),
        (
            "RuntimeError: Sizes of tensors must match except in dimension 1. Got 128 and 64 in dimension 2",
            "cat_size",
            "dim 2",
        ),
        (
            "TypeError: __init__() got an unexpected keyword argument 'return_sequences'",
            "keras_kwarg",
            "h_n[-1]",
        ),
        (
            "RuntimeError: Expected all tensors to be on the same device, but found at least two devices, "
            "cuda:0 and cpu!",
            "device_mismatch",
            "to(device)",
        ),
        ("RuntimeError: Expected hidden size (1, 4, 128), got (1, 3, 128)", "rnn_hidden", "[1, 4, 128]"),
        (
            "AttributeError: 'BaseModelOutputWithPoolingAndCrossAttentions' object has no attribute 'shape'",
            "model_output",
            "last_hidden_state",
        ),
    ],
)
def test_older_and_other_wordings(message, kind, fragment):
    e = explain(message)
    assert e.recognized and e.kind == kind, (message, e.kind)
    assert fragment in e.explanation + e.fix


def test_message_without_exception_type():
    e = explain("mat1 and mat2 shapes cannot be multiplied (4x640 and 128x2)")
    assert e.recognized and e.kind == "linear_mat"


# ------------------------------------------------------------------------------------------------ context


def test_context_names_the_axis_and_the_move():
    msg = _message(lambda: nn.Conv1d(768, 512, 3)(_x()))
    e = explain(msg, {"input_shape": BERT, "input_axes": AXES, "step": "conv1d", "layer": {"kind": "conv1d"}})
    assert "dim 2 (hidden)" in e.explanation
    assert "x.permute(0, 2, 1)" in e.fix


def test_context_rnn_after_conv_layout():
    msg = _message(lambda: nn.LSTM(768, 64, batch_first=True)(torch.randn(32, 768, 126)))
    ctx = {
        "input_shape": (32, 768, 126),
        "input_axes": ("batch", "channels", "length"),
        "layer": {"kind": "lstm"},
    }
    e = explain(msg, ctx)
    assert e.kind == "rnn_input_size"
    assert "dim 1 (channels)" in e.explanation
    assert "x.permute(0, 2, 1)" in e.fix and "x.transpose(1, 2)" in e.fix
    assert e.explanation.startswith("LSTM ")
    # and the suggested move really fixes it
    assert nn.LSTM(768, 64, batch_first=True)(torch.randn(32, 768, 126).transpose(1, 2))[0].shape == (
        32,
        126,
        64,
    )


def test_context_pooled_vector_into_conv1d():
    msg = _message(lambda: nn.Conv1d(768, 512, 3)(torch.randn(4, 768)))
    e = explain(msg, {"input_shape": (4, 768), "input_axes": ("batch", "hidden"), "layer": {"kind": "conv1d"}})
    assert e.kind == "conv_channels"
    assert "unbatched" in e.explanation and "no token axis" in e.explanation
    assert "pooling 'none'" in e.fix


def test_context_linear_flatten():
    msg = _message(lambda: nn.Linear(128 * 768, 2)(_x()))
    e = explain(msg, {"input_shape": BERT, "input_axes": AXES, "layer": {"kind": "linear"}})
    assert "128 × 768 = 98,304" in e.fix and "x.flatten(1)" in e.fix
    assert nn.Linear(128 * 768, 2)(_x().flatten(1)).shape == (32, 2)


def test_context_reshape_hard_coded_batch():
    msg = _message(lambda: _x().reshape(8, 16, 6144))
    e = explain(msg, {"input_shape": BERT})
    assert "32 × 128 × 768 = 3,145,728" in e.explanation
    assert "Your batch is 32, not 8" in e.fix
    assert "[32, 16, 6144]" in e.fix


def test_context_dim_range_lists_axes():
    msg = _message(lambda: torch.randn(32, 768).sum(dim=2))
    e = explain(msg, {"input_shape": (32, 768), "input_axes": ("batch", "hidden")})
    assert "dim 1: hidden" in e.explanation


def test_context_unsqueeze_range_is_exact():
    msg = _message(lambda: _x().unsqueeze(5))
    e = explain(msg, {"input_shape": BERT})
    assert "unsqueeze can insert a new axis at positions 0..3" in e.explanation


def test_bad_context_is_ignored():
    msg = _message(lambda: nn.Conv1d(768, 512, 3)(_x()))
    for ctx in ({"input_shape": "nonsense", "input_axes": 5, "layer": 3}, {"input_shape": [None]}, "x"):
        e = explain(msg, ctx)  # type: ignore[arg-type]
        assert e.recognized and e.kind == "conv_channels"


# ------------------------------------------------------------------------------------------------ tracebacks


def _format_exc(fn: Callable[[], object]) -> str:
    try:
        fn()
    except Exception:
        return traceback.format_exc()
    raise AssertionError("expected the call to raise")


def test_full_traceback_is_parsed():
    tb = _format_exc(lambda: nn.Conv1d(768, 512, 3)(_x()))
    assert tb.startswith("Traceback") and "File " in tb
    e = explain(tb)
    assert e.recognized and e.kind == "conv_channels"
    assert e.message.startswith("Given groups=1")


def test_chained_traceback_picks_the_last_error():
    def chained():
        try:
            _x().reshape(32, 16, 6000)
        except RuntimeError:
            nn.Linear(128, 2)(torch.randn(4, 640))

    tb = _format_exc(chained)
    assert "During handling of the above exception" in tb
    e = explain(tb)
    assert e.kind == "linear_mat"


def test_chained_traceback_falls_back_to_a_known_cause():
    def wrapped():
        try:
            _x().permute(0, 2, 1).view(32, -1)
        except RuntimeError as exc:
            raise ValueError("training step failed") from exc

    tb = _format_exc(wrapped)
    assert "direct cause" in tb
    e = explain(tb)
    assert e.recognized and e.kind == "view_stride"


def test_einops_traceback_multiline_message():
    pytest.importorskip("einops")
    tb = _format_exc(lambda: _rearrange(_x(), "b l (h d) -> b l h d", h=7))
    e = explain(tb)
    assert e.kind == "einops_shape" and "768" in e.explanation


def test_jupyter_style_ansi_colored_traceback():
    tb = (
        "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m\n"
        "\x1b[0;31mRuntimeError\x1b[0m                              Traceback (most recent call last)\n"
        "Cell \x1b[0;32mIn[3], line 4\x1b[0m\n"
        "\x1b[0;31mRuntimeError\x1b[0m: input.size(-1) must be equal to input_size. Expected 768, got 64\n"
    )
    e = explain(tb)
    assert e.kind == "rnn_input_size" and "768" in e.explanation


def test_explain_exception():
    try:
        torch.randn(4, 5)[:, 10]
    except IndexError as exc:
        e = explain_exception(exc)
    assert e.kind == "index_range" and "Index 10" in e.explanation
    assert e.message.startswith("index 10")


def test_explain_exception_prefers_shape_error_message():
    from core.errors import ShapeError

    inner = _message(lambda: nn.Conv1d(768, 512, 3)(_x())).split(": ", 1)[1]
    err = ShapeError(inner, step_index=0, step="conv1d", input_shape=BERT)
    e = explain_exception(err, {"input_shape": BERT, "input_axes": AXES})
    assert e.kind == "conv_channels" and "dim 2 (hidden)" in e.explanation


# ------------------------------------------------------------------------------------------------ garbage


GARBAGE = {
    "hello": "hello",
    "empty": "",
    "binary": bytes(range(256)).decode("latin-1") * 40,
    "1MB_a": "a" * 1_000_000,
    "1MB_RuntimeError": "RuntimeError: " * 75_000,
    "1MB_lines": "RuntimeError: \n" * 70_000,
    "1MB_digits": "shape '[" + "1, " * 330_000,
    "1MB_brackets": "expected input[" * 70_000,
    "nested_parens": "(" * 500_000 + ")" * 500_000,
}


@pytest.mark.parametrize("text", list(GARBAGE.values()), ids=list(GARBAGE))
def test_garbage_is_not_recognized_and_fast(text):
    t0 = time.perf_counter()
    e = explain(text)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, f"hang guard: {elapsed:.3f}s"
    assert not e.recognized
    assert e.kind == "unrecognized"
    assert "Conv1d" in e.explanation and "LSTM" in e.explanation  # says what we do know
    assert e.fix


def test_unknown_exception_line_is_quoted():
    e = explain("Traceback (most recent call last):\n  File 'x.py', line 1\nKeyError: 'input_ids'\n")
    assert not e.recognized
    assert "KeyError: 'input_ids'" in e.explanation


def test_long_paste_with_error_at_the_end_is_found_fast():
    text = "noise line\n" * 100_000 + "RuntimeError: only one dimension can be inferred\n"
    t0 = time.perf_counter()
    e = explain(text)
    assert time.perf_counter() - t0 < 1.0
    assert e.kind == "multiple_infer"


# ------------------------------------------------------------------------------------------------ records


def test_to_dict_keys():
    for msg in ("RuntimeError: only one dimension can be inferred", "hello"):
        d = explain(msg).to_dict()
        assert set(d) - {"numbers"} == {"recognized", "kind", "explanation", "fix"}
        assert isinstance(d["recognized"], bool)
        assert all(isinstance(d[k], str) for k in ("kind", "explanation", "fix"))


def test_explanation_is_frozen():
    e = explain("hello")
    assert isinstance(e, Explanation)
    with pytest.raises(AttributeError):
        e.kind = "x"  # type: ignore[misc]


def test_kinds_have_titles():
    assert all(isinstance(k, str) and k and isinstance(v, str) and v for k, v in KINDS.items())
    used = {row[2] for row in TRIGGERED}
    assert used <= set(KINDS)


@pytest.mark.parametrize("name", sorted(VALID_PARAMS))
def test_valid_params_table_matches_torch(name):
    params = set(inspect.signature(getattr(nn, name).__init__).parameters) - {"self", "device", "dtype"}
    if name in ("LSTM", "GRU", "RNN"):  # (*args, **kwargs) in torch: compare with the documented set
        doc = getattr(nn, name).__doc__ or ""
        for p in VALID_PARAMS[name]:
            assert p in doc, p
    else:
        assert params == set(VALID_PARAMS[name])


# ------------------------------------------------------------------------------------------------ the table


def test_every_row_has_a_known_kind_and_every_kind_a_row():
    from core.diagnosis.explain.rules import RULES

    kinds = {rule.kind for rule in RULES}
    assert kinds <= set(KINDS)
    assert set(KINDS) - {"unrecognized"} <= kinds, "a kind without a row is never produced"


def test_adding_a_kind_is_adding_a_row(monkeypatch):
    from core.diagnosis.explain import rules

    def handler(m, ctx):
        return f"widget {m['n']} is broken", "replace it", {"widget": int(m["n"])}

    assert not explain("RuntimeError: widget 7 is broken").recognized
    monkeypatch.setattr(rules, "RULES", [rules.Rule("widget", r"widget (?P<n>\d+) is broken", handler), *rules.RULES])
    monkeypatch.setattr("core.diagnosis.explain.api.RULES", rules.RULES)
    e = explain("RuntimeError: widget 7 is broken")
    assert (e.recognized, e.kind, e.numbers) == (True, "widget", {"widget": 7})
