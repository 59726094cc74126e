"""Axis labels follow the data: a table per op kind, reshape composite vs mixed, layers, and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.diagnosis import axes as ax
from core.diagnosis.reshape_axes import BATCH, HIDDEN, TOKENS, reshape_report
from core.engine.expr import bind, parse_expr
from core.engine.ops import Op, predict_op
from core.errors import ShapeError
from core.records import Axis, Stage
from core.spec import Spec
from core.trace import run_spec

BLH = (BATCH, TOKENS, HIDDEN)


def labels(spec: dict) -> list[list[str]]:
    trace = run_spec(Spec.from_dict(spec))
    assert trace.error is None, str(trace.error)
    return [list(s.axis_labels) for s in trace.stages]


def final(shape: list[int], step: str) -> list[str]:
    return labels({"shape": shape, "steps": [step]})[-1]


# (step on a (2, 6, 8) tensor read as (batch, tokens, hidden), expected labels)
OPS = [
    ("x.permute(0, 2, 1)", ["batch (B)", "hidden (H)", "tokens (L)"]),
    ("x.transpose(1, 2)", ["batch (B)", "hidden (H)", "tokens (L)"]),
    ("x.mT", ["batch (B)", "hidden (H)", "tokens (L)"]),
    ("x.movedim(2, 0)", ["hidden (H)", "batch (B)", "tokens (L)"]),
    ("x.swapaxes(0, 1)", ["tokens (L)", "batch (B)", "hidden (H)"]),
    ("x.unsqueeze(1)", ["batch (B)", "new axis (1)", "tokens (L)", "hidden (H)"]),
    ("x.unsqueeze(-1)", ["batch (B)", "tokens (L)", "hidden (H)", "new axis (1)"]),
    ("x[:, None]", ["batch (B)", "new axis (1)", "tokens (L)", "hidden (H)"]),
    ("x.unsqueeze(0).squeeze(0)", ["batch (B)", "tokens (L)", "hidden (H)"]),
    ("x[:, :1].squeeze(1)", ["batch (B)", "hidden (H)"]),
    ("x[:, -1, :]", ["batch (B)", "hidden (H)"]),
    ("x[:, 0, :]", ["batch (B)", "hidden (H)"]),
    ("x[..., 0]", ["batch (B)", "tokens (L)"]),
    ("x[0]", ["tokens (L)", "hidden (H)"]),
    ("x.select(1, 0)", ["batch (B)", "hidden (H)"]),
    ("x[:, 1:-1]", ["batch (B)", "tokens (L[1:5])", "hidden (H)"]),
    ("x[:, ::2]", ["batch (B)", "tokens (L[::2])", "hidden (H)"]),
    ("x.narrow(1, 1, 3)", ["batch (B)", "tokens (L[1:4])", "hidden (H)"]),
    ("x.chunk(2, dim=-1)[0]", ["batch (B)", "tokens (L)", "hidden (H/2)"]),
    ("x.split([2, 4], dim=1)[1]", ["batch (B)", "tokens (L[2:6])", "hidden (H)"]),
    ("x.mean(dim=1)", ["batch (B)", "hidden (H)"]),
    ("x.sum(dim=(1, 2))", ["batch (B)"]),
    ("x.amax(dim=-1, keepdim=True)", ["batch (B)", "tokens (L)", "max over hidden (1)"]),
    ("F.pad(x, (0, 0, 0, 3))", ["batch (B)", "tokens (L+3)", "hidden (H)"]),
    ("F.pad(x, (1, 1))", ["batch (B)", "tokens (L)", "hidden (H+2)"]),
    ("torch.cat([x, x], dim=-1)", ["batch (B)", "tokens (L)", "hidden (2·H)"]),
    ("torch.cat([x, x[:, :2]], dim=1)", ["batch (B)", "tokens (L+2)", "hidden (H)"]),
    ("torch.stack([x, x], dim=1)", ["batch (B)", "stacked (2)", "tokens (L)", "hidden (H)"]),
    ("x.repeat(1, 2, 1)", ["batch (B)", "tokens (2·L)", "hidden (H)"]),
    ("x.expand(3, 2, 6, 8)", ["broadcast (3)", "batch (B)", "tokens (L)", "hidden (H)"]),
    ("x.contiguous()", ["batch (B)", "tokens (L)", "hidden (H)"]),
    ("x.flatten(1)", ["batch (B)", "tokens·hidden (L·H)"]),
    ("x.flatten(0, 1)", ["batch·tokens (B·L)", "hidden (H)"]),
    ("x.reshape(-1, 8)", ["batch·tokens (B·L)", "hidden (H)"]),
    ("x.unflatten(1, (2, -1))", ["batch (B)", "time steps (L/3)", "tokens per step (3)", "hidden (H)"]),
    ("x.unflatten(-1, (2, 4))", ["batch (B)", "tokens (L)", "hidden groups (H/4)", "hidden per group (4)"]),
    ("x.reshape(2, 3, 16)", ["batch (B)", "time steps (L/2)", "2·hidden (2·H)"]),
    ("x.reshape(4, 3, 8)", ["batch·time steps (B·(L/3))", "tokens per step (3)", "hidden (H)"]),
    ("rearrange(x, 'b l h -> b h l')", ["batch (B)", "hidden (H)", "tokens (L)"]),
    ("rearrange(x, 'b l h -> (b l) h')", ["batch·tokens (B·L)", "hidden (H)"]),
    (
        "rearrange(x, 'b l (g d) -> b g l d', g=2)",
        ["batch (B)", "hidden groups (H/4)", "tokens (L)", "hidden per group (4)"],
    ),
    ("rearrange(x, 'b (t k) h -> b t (k h)', k=2)", ["batch (B)", "time steps (L/2)", "2·hidden (2·H)"]),
    ("rearrange(x, 'b l h -> b 1 l h')", ["batch (B)", "new axis (1)", "tokens (L)", "hidden (H)"]),
    ("reduce(x, 'b l h -> b h', 'mean')", ["batch (B)", "hidden (H)"]),
    ("x[torch.arange(x.shape[0]), lengths - 1]", ["batch (B)", "hidden (H)"]),
    ("x[:, torch.arange(3)]", ["batch (B)", "indexed (3)", "hidden (H)"]),
]


@pytest.mark.parametrize("step,expected", OPS, ids=[o[0] for o in OPS])
def test_labels_follow_each_op(step, expected):
    assert final([2, 6, 8], step) == expected


# reshape family: (in shape, out shape, expected labels, expected roles)
RESHAPES = [
    # seed 000: 128 tokens into 16 time steps of 8 tokens -> composite labels
    (
        (32, 128, 768),
        (32, 16, 6144),
        ["batch (B)", "time steps (L/8)", "8·hidden (8·H)"],
        ["batch", "time", "features"],
    ),
    # the cut: 6000 values is 7.8125 tokens
    (
        (32, 125, 768),
        (32, 16, 6000),
        ["batch (B)", "mixed tokens·hidden (16)", "mixed tokens·hidden (6000)"],
        ["batch", "mixed", "mixed"],
    ),
    # seed 004: view as if it were a transpose: crosses tokens and hidden
    (
        (32, 128, 768),
        (32, 768, 128),
        ["batch (B)", "mixed tokens·hidden (768)", "mixed hidden (128)"],
        ["batch", "mixed", "mixed"],
    ),
    ((32, 10, 64), (32, 640), ["batch (B)", "tokens·hidden (L·H)"], ["batch", "features"]),
    ((32, 128, 768), (32, 128, 768), ["batch (B)", "tokens (L)", "hidden (H)"], ["batch", "tokens", "hidden"]),
    (
        (2, 6, 8),
        (2, 6, 8, 1),
        ["batch (B)", "tokens (L)", "hidden (H)", "new axis (1)"],
        ["batch", "tokens", "hidden", "other"],
    ),
]


@pytest.mark.parametrize("src,dst,expected,roles", RESHAPES, ids=[f"{r[0]}->{r[1]}" for r in RESHAPES])
def test_reshape_composite_or_mixed(src, dst, expected, roles):
    rep = reshape_report(src, BLH, dst)
    assert [a.label for a in rep.axes] == expected
    assert [a.role for a in rep.axes] == roles


def test_reshape_report_cuts_and_formulas():
    rep = reshape_report((32, 125, 768), BLH, (32, 16, 6000))
    assert rep.mixed and rep.cuts and rep.cuts[0].dim == 1
    assert "6,000 = 7.8125 × 768, not a whole number of tokens" in rep.cuts[0].describe()
    assert "cuts 6,000 = 7.8125 × 768" in rep.axes[1].formula
    crossed = reshape_report((32, 128, 768), BLH, (32, 768, 128))
    assert crossed.crossed and not crossed.cuts
    clean = reshape_report((32, 128, 768), BLH, (32, 16, 6144))
    assert not clean.mixed and clean.axes[1].formula == "L/8 = 128/8 = 16"
    assert clean.axes[2].formula == "8·H = 8 × 768 = 6144"


@pytest.mark.parametrize(
    "steps",
    [
        ["x.flatten(1)", "x.unflatten(1, (6, 8))"],
        ["x.reshape(2, 3, 16)", "x.reshape(2, 6, 8)"],
        ["x.reshape(-1, 8)", "x.view(2, 6, 8)"],
        ["rearrange(x, 'b (t k) h -> b t (k h)', k=2)", "rearrange(x, 'b t (k h) -> b (t k) h', k=2)"],
    ],
)
def test_merge_then_split_gives_the_labels_back(steps):
    out = labels({"shape": [2, 6, 8], "steps": steps})
    assert out[-1] == ["batch (B)", "tokens (L)", "hidden (H)"]


def test_pad_then_reshape_keeps_the_padded_symbol():
    out = labels({"shape": [32, 125, 768], "steps": ["F.pad(x, (0, 0, 0, 3))", "x.reshape(32, 16, 6144)"]})
    assert out[1] == ["batch (B)", "tokens (L+3)", "hidden (H)"]
    assert out[2] == ["batch (B)", "time steps ((L+3)/8)", "8·hidden (8·H)"]


def test_text_and_pooled_axes(tiny_ckpt):
    assert [a.label for a in ax.text_axes((2, 9, 128))] == ["batch (B)", "tokens (L)", "hidden (H)"]
    from core.spec import Pooling

    assert [a.label for a in ax.pooled_axes(Pooling.LAST4_CONCAT, (2, 512))] == ["batch (B)", "4·hidden (4·H)"]
    assert [a.label for a in ax.pooled_axes(Pooling.MEAN, (2, 128))] == ["batch (B)", "hidden (H)"]
    trace = run_spec(
        Spec.from_dict({"texts": ["a b", "c"], "checkpoint": "random:bert-tiny", "pooling": "cls"}), tiny_ckpt
    )
    assert [list(s.axis_labels) for s in trace.stages] == [
        ["batch (B)", "tokens (L)", "hidden (H)"],
        ["batch (B)", "hidden (H)"],
    ]


# layers: (spec, labels of the last stage)
LAYERS = [
    (
        {"shape": [4, 9, 16], "steps": [{"lstm": {"hidden_size": 8, "bidirectional": True, "batch_first": True}}]},
        ["batch (B)", "tokens (L)", "hidden_out (2·hidden_size)"],
    ),
    (
        {"shape": [4, 9, 16], "steps": [{"gru": {"hidden_size": 8, "batch_first": True}}]},
        ["batch (B)", "tokens (L)", "hidden_out (hidden_size)"],
    ),
    (  # batch_first=False on (B, L, H): dim 0 is stepped through as time - labelled so
        {"shape": [4, 9, 16], "steps": [{"lstm": {"hidden_size": 8}}]},
        ["batch read as time (B)", "tokens read as batch (L)", "hidden_out (hidden_size)"],
    ),
    (  # batch_first=False on a real (L, B, H): labels kept
        {"shape": [4, 9, 16], "steps": ["x.transpose(0, 1)", {"lstm": {"hidden_size": 8}}]},
        ["tokens (L)", "batch (B)", "hidden_out (hidden_size)"],
    ),
    (
        {"shape": [32, 128, 768], "steps": ["x.permute(0, 2, 1)", {"conv1d": {"out_channels": 512, "kernel_size": 3}}]},
        ["batch (B)", "channels (C_out)", "positions (L_out)"],
    ),
    (
        {"shape": [4, 9, 16], "steps": ["x.mean(dim=1)", {"linear": {"out_features": 3}}]},
        ["batch (B)", "out_features (F_out)"],
    ),
    (
        {"shape": [4, 9, 16], "steps": [{"lstm": {"hidden_size": 8, "num_layers": 2, "batch_first": True}}, "h_n[-1]"]},
        ["batch (B)", "hidden_out (hidden_size)"],
    ),
    (
        {"shape": [4, 9, 16], "steps": [{"lstm": {"hidden_size": 8, "batch_first": True}}, "h_n"]},
        ["layers·directions (num_layers·D)", "batch (B)", "hidden_out (hidden_size)"],
    ),
]


@pytest.mark.parametrize("spec,expected", LAYERS, ids=[str(s["steps"])[:60] for s, _ in LAYERS])
def test_layer_labels(spec, expected):
    assert labels(spec)[-1] == expected


def test_conv_positions_formula_and_lstm_width_formula():
    trace = run_spec(
        Spec.from_dict(
            {
                "shape": [32, 128, 768],
                "steps": [
                    "x.permute(0, 2, 1)",
                    {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}},
                    "x.transpose(1, 2)",
                    {"lstm": {"hidden_size": 64, "bidirectional": True, "batch_first": True}},
                ],
            }
        )
    )
    conv = trace.stages[2].axes
    assert conv[2].formula.startswith("L_out = floor((L + 2p − d(k−1) − 1)/s) + 1")
    assert conv[2].formula.endswith("= 126")
    assert conv[1].formula == "C_out = out_channels = 512"
    assert trace.stages[4].axes[2].formula.startswith("2·hidden_size = 2 × 64 = 128")
    assert trace.to_dict()["stages"][2]["axis_details"][2]["role"] == "positions"


def test_conv_over_hidden_positions_are_marked_mixed():
    out = run_spec(Spec.from_dict({"shape": [4, 10, 16], "steps": [{"conv1d": {"out_channels": 8, "kernel_size": 3}}]}))
    assert out.final.axes[2].name == "positions over hidden" and out.final.axes[2].role == "mixed"


def test_index_drops_reports_what_an_integer_index_removes():
    ops = bind(parse_expr("x[:, 0, :]"), {"x": (2, 6, 8)})
    assert ax.index_drops(ops[0], (2, 6, 8), BLH) == [(1, TOKENS, 0)]
    ops = bind(parse_expr("x.select(-1, 3)"), {"x": (2, 6, 8)})
    assert ax.index_drops(ops[0], (2, 6, 8), BLH) == [(2, HIDDEN, 3)]


def test_a_failing_label_rule_falls_back_to_generic_labels():
    st0 = Stage(0, "s", "source", "", (2, 3), (BATCH, HIDDEN), "float32", "cpu", (3, 1), True, 6, 24)
    out = ax.expr_axes((Op("no-such-op"),), [(2, 3, 1)], st0)
    assert [a.label for a in out] == ["dim 0 (d0)", "dim 1 (d1)", "dim 2 (d2)"]


# ---------------------------------------------------------------------------------------- invariants

_NAMES = ("batch", "tokens", "hidden", "heads", "time", "channels")


def _axes(rank: int) -> tuple[Axis, ...]:
    return tuple(Axis(_NAMES[i], _NAMES[i][0].upper() + str(i), "other") for i in range(rank))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=5), st.data())
def test_permute_moves_labels_exactly_like_the_shape(shape, data):
    order = data.draw(st.permutations(range(len(shape))))
    op = Op("permute", tuple(order))
    axes = _axes(len(shape))
    out_shape = predict_op(op, tuple(shape))
    out = ax.op_axes(op, tuple(shape), axes, out_shape)
    assert out == tuple(axes[i] for i in order)
    assert out_shape == tuple(shape[i] for i in order)
    back = [order.index(i) for i in range(len(order))]  # the inverse permutation is the identity on labels
    assert ax.op_axes(Op("permute", tuple(back)), out_shape, out, tuple(shape)) == axes


def _op(draw, shape: tuple[int, ...]) -> Op:
    n = len(shape)
    d = draw(st.integers(-n, n - 1)) if n else 0
    kind = draw(
        st.sampled_from(
            [
                "transpose",
                "unsqueeze",
                "squeeze",
                "flatten",
                "reshape",
                "mean",
                "index",
                "narrow",
                "chunk",
                "movedim",
                "pad",
            ]
        )
    )
    if kind == "transpose":
        return Op("transpose", (d, draw(st.integers(-n, n - 1))))
    if kind == "unsqueeze":
        return Op("unsqueeze", (draw(st.integers(-n - 1, n)),))
    if kind == "squeeze":
        return Op("squeeze", (None if draw(st.booleans()) else d,))
    if kind == "flatten":
        return Op("flatten", (0 if n < 2 else draw(st.integers(0, n - 2)), -1))
    if kind == "reshape":
        sizes = list(draw(st.permutations(shape))) if n else []
        if len(sizes) >= 2 and draw(st.booleans()):
            sizes = [sizes[0] * sizes[1], *sizes[2:]]
        return Op("reshape", tuple(sizes) or (1,))
    if kind == "mean":
        return Op("mean", (d,), (("keepdim", draw(st.booleans())),))
    if kind == "index":
        return Op("index", (slice(None), 0) if n >= 2 else (0,))
    if kind == "narrow":
        return Op("narrow", (d, 0, 1))
    if kind == "chunk":
        return Op("chunk", (2, d, 0))
    if kind == "movedim":
        return Op("movedim", (d, draw(st.integers(-n, n - 1))))
    return Op("pad", ((1, 2),))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.data())
def test_label_count_always_equals_rank(shape, data):
    shape_t = tuple(shape)
    axes = _axes(len(shape_t))
    for _ in range(data.draw(st.integers(1, 5))):
        if not shape_t:
            break
        op = _op(data.draw, shape_t)
        try:
            out = predict_op(op, shape_t)
        except ShapeError:
            continue
        axes = ax.op_axes(op, shape_t, axes, out)
        assert len(axes) == len(out), (op, shape_t, out, axes)
        assert all(isinstance(a, Axis) and a.label for a in axes)
        shape_t = out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4), st.data())
def test_reshape_labels_have_one_per_dim_and_identity_keeps_them(shape, data):
    shape_t = tuple(shape)
    axes = _axes(len(shape_t))
    assert reshape_report(shape_t, axes, shape_t).axes == axes
    sizes = list(data.draw(st.permutations(shape_t)))
    out = reshape_report(shape_t, axes, tuple(sizes)).axes
    assert len(out) == len(sizes)
