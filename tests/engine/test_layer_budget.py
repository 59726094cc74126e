"""Layer size and work by formula, checked against torch itself; weights drawn from a generator per build.

References: ``sum(p.numel() for p in module.parameters())`` of the real torch.nn module (built on the meta
device: nothing allocated), torch's FlopCounterMode for Linear / Conv1d / GRU, and for LSTM (a fused kernel
FlopCounterMode cannot see) the LSTM equations written out with matmuls, which must also reproduce the module.
"""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core.engine.layers import (
    build_layer,
    check_layer_budget,
    layer_flops,
    layer_seed,
    parameter_count,
    predict_layer,
    resolved_params,
)
from core.engine.predict import parse_steps, predict_chain
from core.errors import BudgetExceeded
from core.spec import TORCH_NAMES, LayerKind, LayerStep, Spec
from core.trace import run_spec

L = LayerKind
CONFIGS = [
    # the issue's examples: GRU(hidden 20000) on one feature was "80,000 weights"; LSTM(1000, 1000 layers)
    (L.GRU, {"input_size": 1, "hidden_size": 20000}),
    (L.LSTM, {"input_size": 1000, "hidden_size": 1000, "num_layers": 1000}),
    (L.LSTM, {"input_size": 768, "hidden_size": 128}),
    (L.LSTM, {"input_size": 768, "hidden_size": 128, "num_layers": 2, "bidirectional": True}),
    (L.LSTM, {"input_size": 64, "hidden_size": 32, "num_layers": 3, "bidirectional": True, "proj_size": 8}),
    (L.LSTM, {"input_size": 10, "hidden_size": 20, "num_layers": 2, "bias": False, "proj_size": 5}),
    (L.GRU, {"input_size": 7, "hidden_size": 9, "num_layers": 4, "bidirectional": True, "bias": False}),
    (L.GRU, {"input_size": 300, "hidden_size": 1, "num_layers": 1}),
    (L.CONV1D, {"in_channels": 768, "out_channels": 512, "kernel_size": 3}),
    (L.CONV1D, {"in_channels": 64, "out_channels": 64, "kernel_size": 4096}),
    (L.CONV1D, {"in_channels": 12, "out_channels": 18, "kernel_size": 5, "groups": 3, "bias": False}),
    (L.CONV1D, {"in_channels": 8, "out_channels": 8, "kernel_size": 1, "groups": 8, "padding": "same"}),
    (L.LINEAR, {"in_features": 768, "out_features": 2}),
    (L.LINEAR, {"in_features": 50_000, "out_features": 50_000, "bias": False}),
]


@pytest.mark.parametrize(("kind", "params"), CONFIGS, ids=lambda v: getattr(v, "value", None) or str(v))
def test_parameter_formula_equals_torch_count(kind, params):
    module = getattr(nn, TORCH_NAMES[kind])(**params, device="meta")  # meta: torch's count, nothing allocated
    assert parameter_count(kind, params) == sum(p.numel() for p in module.parameters())


def test_the_issue_examples_are_counted_in_full():
    assert parameter_count(L.GRU, {"input_size": 1, "hidden_size": 20000}) > 1_200_000_000  # not 80,000
    assert parameter_count(L.LSTM, {"input_size": 1000, "hidden_size": 1000, "num_layers": 1000}) > 8_000_000_000


@pytest.mark.parametrize(
    ("step", "shape"),
    [
        ({"gru": {"hidden_size": 20000}}, [1, 1, 1]),  # the issue: estimated at 80,000 weights, then "Runs" at 4.8 GB
        ({"lstm": {"hidden_size": 1000, "num_layers": 1000}}, [1, 1, 1000]),  # the issue: 32 GB
        ({"lstm": {"hidden_size": 4000, "num_layers": 1}}, [1, 1, 2]),  # h x h alone: 64M weights
        ({"lstm": {"hidden_size": 2000, "num_layers": 3, "bidirectional": True}}, [1, 1, 8]),  # every layer, 2 dirs
        ({"conv1d": {"out_channels": 4096, "kernel_size": 2048}}, [1, 16, 4096]),  # kernels: 134M weights
    ],
)
def test_oversized_layers_are_refused_before_anything_is_built(step, shape):
    spec = Spec.from_dict({"shape": shape, "steps": [step]})
    with pytest.raises(BudgetExceeded, match=r"step 1 \((lstm|gru|conv1d)\): .* would hold [\d,]+ weights"):
        predict_chain(spec, parse_steps(spec), tuple(shape))
    with pytest.raises(BudgetExceeded, match="the server's limit for one layer"):
        run_spec(spec)


def test_layer_budget_follows_the_operator_setting(monkeypatch):
    spec = Spec.from_dict({"shape": [1, 2, 8], "steps": [{"linear": {"out_features": 1000}}]})
    predict_chain(spec, parse_steps(spec), (1, 2, 8))  # 9,000 weights: fine by default
    monkeypatch.setenv("SHAPE_EXPLORER_MAX_LAYER_PARAMETERS", "5000")
    with pytest.raises(BudgetExceeded, match="limit for one layer is 5,000 weights"):
        predict_chain(spec, parse_steps(spec), (1, 2, 8))


# --- work (FLOPs) ------------------------------------------------------------------------------------
def _lstm_by_hand(m: nn.LSTM, x: torch.Tensor) -> torch.Tensor:
    """nn.LSTM's equations (docs) with plain matmuls, batch_first=False; FlopCounterMode can count these."""
    dirs = 2 if m.bidirectional else 1
    seq, batch = x.shape[0], x.shape[1]
    r = m.proj_size or m.hidden_size
    inp = x
    for layer in range(m.num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = getattr(m, "weight_ih" + sfx), getattr(m, "weight_hh" + sfx)
            b = getattr(m, "bias_ih" + sfx) + getattr(m, "bias_hh" + sfx) if m.bias else 0
            h = x.new_zeros(batch, r)
            c = x.new_zeros(batch, m.hidden_size)
            steps = range(seq - 1, -1, -1) if d else range(seq)
            ys = [None] * seq
            for t in steps:
                gates = inp[t] @ w_ih.T + h @ w_hh.T + b  # (batch, 4h)
                i, f, g, o = gates.chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                if m.proj_size:
                    h = h @ getattr(m, "weight_hr" + sfx).T
                ys[t] = h
            outs.append(torch.stack(ys))  # (seq, batch, r)
        inp = torch.cat(outs, dim=-1)
    return inp


LSTM_CASES = [
    {"input_size": 6, "hidden_size": 5},
    {"input_size": 6, "hidden_size": 5, "num_layers": 3, "bidirectional": True},
    {"input_size": 4, "hidden_size": 7, "num_layers": 2, "proj_size": 3, "bias": False},
]


@pytest.mark.parametrize("params", LSTM_CASES)
def test_lstm_flops_equal_the_equations_written_out(params):
    torch.manual_seed(0)
    m = nn.LSTM(**params).eval()
    x = torch.randn(5, 2, params["input_size"])  # (seq, batch, features)
    with torch.no_grad():
        expected, _ = m(x)
        with FlopCounterMode(display=False) as fc:
            by_hand = _lstm_by_hand(m, x)
    torch.testing.assert_close(by_hand, expected)  # the reference really is this LSTM
    # FlopCounterMode counts the matmuls (2 per multiply-add), not the bias adds: so does our formula
    assert layer_flops(L.LSTM, params, tuple(x.shape), tuple(expected.shape)) == fc.get_total_flops()


@pytest.mark.parametrize(
    ("kind", "params", "shape"),
    [
        (L.CONV1D, {"in_channels": 8, "out_channels": 6, "kernel_size": 3, "groups": 2}, (2, 8, 10)),
        (L.CONV1D, {"in_channels": 4, "out_channels": 4, "kernel_size": 5, "stride": 2, "padding": 2}, (3, 4, 17)),
        (L.CONV1D, {"in_channels": 4, "out_channels": 2, "kernel_size": 3, "dilation": 2}, (4, 9)),  # unbatched
        (L.LINEAR, {"in_features": 4, "out_features": 5}, (3, 7, 4)),
        (L.LINEAR, {"in_features": 4, "out_features": 5, "bias": False}, (4,)),
        (L.GRU, {"input_size": 4, "hidden_size": 5}, (7, 3, 4)),
        (L.GRU, {"input_size": 4, "hidden_size": 5, "num_layers": 2, "bidirectional": True}, (7, 3, 4)),
        (L.GRU, {"input_size": 3, "hidden_size": 2, "batch_first": True}, (2, 6, 3)),
    ],
)
def test_flops_equal_torch_flop_counter(kind, params, shape):
    module = getattr(nn, TORCH_NAMES[kind])(**params).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        y = module(torch.randn(shape))
    out = (y[0] if isinstance(y, tuple) else y).shape
    assert layer_flops(kind, params, shape, tuple(out)) == fc.get_total_flops()


@pytest.mark.parametrize(
    ("step", "shape"),
    [
        ({"conv1d": {"out_channels": 64, "kernel_size": 4096}}, [1, 64, 1048576]),  # the issue: > 200 s
        ({"lstm": {"hidden_size": 256, "num_layers": 10, "batch_first": True}}, [1, 65536, 1024]),  # the issue
        ({"lstm": {"hidden_size": 512, "num_layers": 2, "batch_first": True}}, [64, 2048, 512]),
        ({"linear": {"out_features": 4096}}, [16384, 4096]),
    ],
)
def test_work_over_budget_is_refused_before_running(step, shape):
    spec = Spec.from_dict({"shape": shape, "steps": [step]})
    with pytest.raises(BudgetExceeded, match=r"would take about [\d.,]+ [TPG]FLOP of work.*; the server's limit"):
        run_spec(spec)


def test_recurrent_layers_count_their_step_by_step_cost(monkeypatch):
    """An LSTM runs step by step (~6x slower per FLOP than a matmul here): its FLOPs count 4x."""
    monkeypatch.setenv("SHAPE_EXPLORER_WORK_GFLOPS", "1")
    lstm = LayerStep(L.LSTM, {"hidden_size": 128, "batch_first": True})
    shape = (4, 256, 128)
    flops = layer_flops(L.LSTM, resolved_params(lstm, shape), shape, shape)
    assert flops == 268_435_456, "0.27 GFLOP: under the budget as plain FLOPs"
    with pytest.raises(
        BudgetExceeded, match=r"\(x4: it runs step by step\); the server's limit for one run is 1.0 GFLOP"
    ):
        check_layer_budget(0, lstm, shape, shape, 10**9)
    linear = LayerStep(L.LINEAR, {"out_features": 1024})  # the same FLOPs in one matmul: runs
    assert check_layer_budget(0, linear, (256, 512), (256, 1024), 10**9)[1] == 268_435_456


def test_check_layer_budget_returns_the_counts():
    step = LayerStep(L.LINEAR, {"out_features": 2})
    weights, flops = check_layer_budget(0, step, (32, 768), (32, 2), 10**9)
    assert (weights, flops) == (768 * 2 + 2, 2 * 32 * 768 * 2)


# --- one generator per build -------------------------------------------------------------------------
BUILD_CASES = [
    (LayerStep(L.LSTM, {"hidden_size": 8, "num_layers": 3, "bidirectional": True, "proj_size": 3}), (2, 5, 6)),
    (LayerStep(L.GRU, {"hidden_size": 7, "num_layers": 2, "bias": False}), (5, 2, 4)),
    (LayerStep(L.CONV1D, {"out_channels": 6, "kernel_size": 3, "groups": 2}), (2, 4, 9)),
    (LayerStep(L.CONV1D, {"out_channels": 3, "kernel_size": 2, "bias": False}), (4, 9)),
    (LayerStep(L.LINEAR, {"out_features": 5}), (3, 4)),
]


@pytest.mark.parametrize(("step", "shape"), BUILD_CASES, ids=lambda v: getattr(v, "label", None) or str(v))
def test_built_weights_equal_manual_seed_then_constructor(step, shape):
    """What code export writes (torch.manual_seed(s); nn.X(...)) gives exactly the app's weights."""
    module = build_layer(step, shape, seed=3, step_index=1, device="cpu", dtype=torch.float32)
    torch.manual_seed(layer_seed(3, 1))
    reference = getattr(nn, TORCH_NAMES[step.kind])(**resolved_params(step, shape))
    names = [n for n, _ in module.named_parameters()]
    assert names == [n for n, _ in reference.named_parameters()]
    for a, b in zip(module.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)
    assert predict_layer(step, shape) is not None


def test_build_does_not_touch_the_global_generator():
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    build_layer(BUILD_CASES[0][0], BUILD_CASES[0][1], 0, 0, "cpu", torch.float32)
    assert torch.equal(torch.rand(4), expected)


THREAD_SPECS = [
    {"shape": [2, 12, 8], "steps": [{"lstm": {"hidden_size": 6, "batch_first": True, "num_layers": 2}}], "seed": s}
    for s in range(3)
] + [
    {"shape": [2, 12, 8], "steps": ["x.transpose(1, 2)", {"conv1d": {"out_channels": 5, "kernel_size": 3}}], "seed": 7},
    {"shape": [3, 10, 8], "steps": [{"gru": {"hidden_size": 4, "bidirectional": True}}], "seed": 1},
    {"shape": [4, 8], "steps": [{"linear": {"out_features": 6}}, {"linear": {"out_features": 3}}], "seed": 2},
    {"shape": [2, 9, 8], "steps": [{"lstm": {"hidden_size": 5, "proj_size": 2}}, "x[-1]"], "seed": 9},
    {"shape": [2, 16], "steps": [{"linear": {"out_features": 16}}, {"linear": {"out_features": 16}}], "seed": 5},
]


def _values(spec: Spec) -> list[torch.Tensor]:
    return [t.detach().clone() for t in run_spec(spec).tensors]


def test_eight_threads_get_the_same_values_as_lone_runs():
    """The issue: with 8 sessions at once, 8 of 33 results differed from the same pipeline run alone."""
    specs = [Spec.from_dict(d) for d in THREAD_SPECS]
    alone = [_values(s) for s in specs]
    rounds = 6
    results: dict[tuple[int, int], list[torch.Tensor]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(specs))

    def work(i: int) -> None:
        try:
            start.wait()
            for r in range(rounds):
                torch.manual_seed(1000 + i * rounds + r)  # another session drawing from the global generator
                results[i, r] = _values(specs[i])
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(specs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == len(specs) * rounds
    for (i, _), values in results.items():
        assert len(values) == len(alone[i])
        for got, want in zip(values, alone[i], strict=True):
            assert torch.equal(got, want), f"spec {i} drew other values in a thread"


@pytest.mark.parametrize("padding", ["²", "full", "3", ""])
def test_a_padding_word_torch_refuses_gives_its_error_not_a_crash(padding):
    """A padding string other than 'same' / 'valid' (the page's `²` crashed the shape prediction)."""
    step = LayerStep(L.CONV1D, {"out_channels": 2, "kernel_size": 3, "padding": padding})
    assert predict_layer(step, (2, 4, 8)) is None
    trace = run_spec(Spec.from_dict({"shape": [2, 4, 8], "steps": [step.to_json()]}))
    assert trace.error is not None and "padding" in trace.error.message.lower()
