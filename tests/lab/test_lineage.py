"""Element lineage: drawn source indices vs the index tensor and vs hand-written numpy; memory facts;
failures with torch's message; every op of the expression language draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.engine.expr import parse_expr, run_expr
from core.errors import ExpressionRefused, ShapeError
from core.figures.lineage import memory_figure, stage_figure
from core.lab.compare import op_names
from core.lab.drawing import plan_drawing
from core.lab.lineage import MIXED, PAD, trace_lineage

SHAPE = (2, 4, 6)
IDX = np.arange(48).reshape(SHAPE)


def _origin(lin) -> np.ndarray:
    return np.array(lin.final.origin).reshape(lin.final.shape)


# ------------------------------------------------------------------------------ against hand-written numpy


def _pad(a: np.ndarray, widths: list[tuple[int, int]]) -> np.ndarray:
    return np.pad(a, widths, constant_values=PAD)


NUMPY = [
    ("x.permute(0, 2, 1)", lambda a: a.transpose(0, 2, 1)),
    ("x.transpose(1, 2)", lambda a: np.swapaxes(a, 1, 2)),
    ("x.transpose(0, 2)", lambda a: np.swapaxes(a, 0, 2)),
    ("x.movedim(2, 0)", lambda a: np.moveaxis(a, 2, 0)),
    ("x.view(2, 6, 4)", lambda a: a.reshape(2, 6, 4)),
    ("x.view(-1)", lambda a: a.reshape(-1)),
    ("x.reshape(2, 2, -1)", lambda a: a.reshape(2, 2, 12)),
    ("x.permute(0, 2, 1).reshape(2, -1)", lambda a: a.transpose(0, 2, 1).reshape(2, -1)),
    ("x.transpose(1, 2).contiguous().view(2, 24)", lambda a: np.swapaxes(a, 1, 2).reshape(2, 24)),
    ("x.flatten(1)", lambda a: a.reshape(2, 24)),
    ("x.flatten()", lambda a: a.reshape(-1)),
    ("x.flatten(0, 1)", lambda a: a.reshape(8, 6)),
    ("x.unflatten(2, (2, 3))", lambda a: a.reshape(2, 4, 2, 3)),
    ("x.unflatten(1, (-1, 2))", lambda a: a.reshape(2, 2, 2, 6)),
    ("x.unsqueeze(1)", lambda a: a[:, None]),
    ("x.unsqueeze(1).squeeze(1)", lambda a: a),
    ("x[:, 1:3, ::2]", lambda a: a[:, 1:3, ::2]),
    ("x[:, -1, :]", lambda a: a[:, -1, :]),
    ("x[0]", lambda a: a[0]),
    ("x[..., 2]", lambda a: a[..., 2]),
    ("x[:, None, 0]", lambda a: a[:, None, 0]),
    ("x[:, torch.arange(3)]", lambda a: a[:, np.arange(3)]),
    ("x.narrow(2, 1, 3)", lambda a: a[:, :, 1:4]),
    ("x.select(1, 2)", lambda a: a[:, 2]),
    ("x.chunk(2, dim=2)[1]", lambda a: a[:, :, 3:]),
    ("x.split(1, dim=1)[3]", lambda a: a[:, 3:4]),
    ("x.expand(3, 2, 4, 6)", lambda a: np.broadcast_to(a, (3, 2, 4, 6))),
    ("x.repeat(1, 2, 1)", lambda a: np.tile(a, (1, 2, 1))),
    ("torch.cat([x, x[:, :1]], dim=1)", lambda a: np.concatenate([a, a[:, :1]], axis=1)),
    ("torch.stack([x, x.transpose(1, 2).transpose(1, 2)], dim=0)", lambda a: np.stack([a, a])),
    ('rearrange(x, "b (t k) h -> b t (k h)", t=2)', lambda a: a.reshape(2, 2, 2, 6).reshape(2, 2, 12)),
    ('rearrange(x, "b l h -> h (b l)")', lambda a: a.transpose(2, 0, 1).reshape(6, 8)),
    ("F.pad(x, (1, 2))", lambda a: _pad(a, [(0, 0), (0, 0), (1, 2)])),
    ("F.pad(x, (0, 0, 0, 2))", lambda a: _pad(a, [(0, 0), (0, 2), (0, 0)])),
    ("F.pad(x, (0, 0, 1, 0), value=3.0)", lambda a: _pad(a, [(0, 0), (1, 0), (0, 0)])),
    ("F.pad(x.transpose(1, 2), (0, 1)).flatten(1)",
     lambda a: _pad(np.swapaxes(a, 1, 2), [(0, 0), (0, 0), (0, 1)]).reshape(2, -1)),
    # ops of the wider language that move elements (issue 11)
    ("x.flip(1)", lambda a: a[:, ::-1]),
    ("x.flip(1, 2)", lambda a: a[:, ::-1, ::-1]),
    ("x.roll(1, 1)", lambda a: np.roll(a, 1, axis=1)),
    ("x[0].t()", lambda a: a[0].T),
    ("x.T", lambda a: a.transpose(2, 1, 0)),
    ("x.unfold(1, 2, 2)", lambda a: np.stack([a[:, 0:2], a[:, 2:4]], axis=1).transpose(0, 1, 3, 2)),
    ("x.repeat_interleave(2, dim=1)", lambda a: np.repeat(a, 2, axis=1)),
    ("x.index_select(2, torch.tensor([0, 5]))", lambda a: a[:, :, [0, 5]]),
    ("x[:, [3, 0]]", lambda a: a[:, [3, 0]]),
    ("x.tensor_split(3, dim=2)[1]", lambda a: a[:, :, 2:4]),
    ("x.unbind(1)[2]", lambda a: a[:, 2]),
    ("x.float().contiguous()", lambda a: a),
    ('repeat(x, "b l h -> b l h r", r=2)', lambda a: np.repeat(a[..., None], 2, axis=-1)),
    ("x.expand_as(x)", lambda a: a),
    ("torch.cat([x, x.flip(2)], dim=-1)", lambda a: np.concatenate([a, a[:, :, ::-1]], axis=-1)),
]  # fmt: skip


@pytest.mark.parametrize(("src", "ref"), NUMPY, ids=[n[0] for n in NUMPY])
def test_lineage_matches_hand_computed_numpy(src, ref):
    lin = trace_lineage(SHAPE, [src])
    assert lin.ok, lin.error
    expected = np.ascontiguousarray(ref(IDX))
    assert lin.final.shape == expected.shape
    np.testing.assert_array_equal(_origin(lin), expected)


def test_padding_cells_are_marked_not_given_a_source_index():
    lin = trace_lineage(SHAPE, ["F.pad(x, (1, 1), value=5.0)"])  # 5 is also a valid source index
    o = _origin(lin)
    assert (o[:, :, 0] == PAD).all() and (o[:, :, -1] == PAD).all()
    assert lin.final.source_index((0, 0, 0)) is None
    assert lin.final.source_index((0, 0, 1)) == (0, 0, 0)
    assert lin.final.has_padding and lin.final.memory == "new"


REDUCTIONS = [
    ("x.mean(dim=1)", (2, 6), lambda b, h: {(b, l_, h) for l_ in range(4)}),
    ("x.sum(dim=2)", (2, 4), lambda b, l_: {(b, l_, h) for h in range(6)}),
    ("x.amax(dim=1)", (2, 6), lambda b, h: {(b, l_, h) for l_ in range(4)}),
    ("x.amin(dim=1)", (2, 6), lambda b, h: {(b, l_, h) for l_ in range(4)}),
    ('reduce(x, "b l h -> b h", "prod")', (2, 6), lambda b, h: {(b, l_, h) for l_ in range(4)}),
    ("x.max(dim=1).values", (2, 6), lambda b, h: {(b, l_, h) for l_ in range(4)}),
    ("x.norm(dim=-1)", (2, 4), lambda b, l_: {(b, l_, h) for h in range(6)}),
    ("x.sum(1) / x.size(1)", (2, 6), lambda b, h: {(b, l_, h) for l_ in range(4)}),
]


@pytest.mark.parametrize(("src", "shape", "members"), REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_aggregates_are_mixed_with_their_members(src, shape, members):
    lin = trace_lineage(SHAPE, [src])
    s = lin.final
    assert s.shape == shape and set(s.origin) == {MIXED}
    for flat in range(s.numel):
        cell = np.unravel_index(flat, shape)
        got = {tuple(int(i) for i in np.unravel_index(m, SHAPE)) for m in s.members_of(flat)}
        assert got == members(*cell)


def test_aggregates_stay_mixed_through_later_moves_and_mix_with_moved_cells():
    lin = trace_lineage(SHAPE, ["torch.cat([x, x.mean(1, keepdim=True)], dim=1)", "x.transpose(1, 2)"])
    o = _origin(lin)
    assert (o[:, :, 4] == MIXED).all()
    np.testing.assert_array_equal(o[:, :, :4], np.swapaxes(IDX, 1, 2))
    mean_of_single = trace_lineage(SHAPE, ["x[:, :1].mean(dim=1)"])  # a mean over one element moves it
    np.testing.assert_array_equal(_origin(mean_of_single), IDX[:, 0])


SHAPE_OPS = {"reshape", "view", "permute", "transpose", "movedim", "flatten", "unflatten", "unsqueeze", "squeeze",
             "contiguous", "mean", "sum", "amax", "amin", "chunk", "split", "narrow", "select", "expand", "repeat",
             "index", "pad", "rearrange", "reduce", "cat", "stack"}  # fmt: skip


def test_every_shape_op_of_the_expression_language_is_covered_and_draws():
    sources = [src for src, _ in NUMPY] + [src for src, _, _ in REDUCTIONS] + ["x[0].T", "x.mT"]
    covered: set[str] = set()
    for src in sources:
        op_names(parse_expr(src), covered)
        lin = trace_lineage(SHAPE, [src])
        assert lin.ok, (src, lin.error)
        for stage in lin.stages:
            fig = stage_figure(stage)
            assert sum(np.array(t.z).size for t in fig.data if t.type == "heatmap") == max(stage.numel, 1)
            memory_figure(stage)
    assert covered >= SHAPE_OPS, SHAPE_OPS - covered


@pytest.mark.parametrize(
    ("src", "needle"),
    [
        ("x > 3", "gives bool values, not elements of x"),
        ("torch.where(x > 3, x, 0.0)", "gives bool values"),
        ("x.argmax(dim=1)", "gives int64 values"),
        ("values, indices = x.max(dim=1)", "gives a tuple"),
        ("x[x > 3]", "depends on the values"),
        ("x[torch.where(x > 3)]", "depends on the values"),  # a data-dependent operand, not only the result
        ("x[torch.where(x > 3)[0]]", "depends on the values"),
        ("x[(x > 3).nonzero()[:, 0]]", "depends on the values"),
        ("mask.float()", "`mask` is not defined here; available: x"),
    ],
)
def test_lines_without_a_lineage_are_refused_with_the_reason(src, needle):
    """The wider language (issue 11) reaches the lab: what has no element lineage is refused, never crashes."""
    lin = trace_lineage(SHAPE, ["x.transpose(1, 2)", src])
    assert lin.error is not None and lin.error.refused and needle in lin.error.message
    assert [s.shape for s in lin.stages] == [SHAPE, (2, 6, 4)], "the line before it still draws"
    plan_drawing(SHAPE, [["x.transpose(1, 2)", src]])  # the drawing plan takes the same line without raising


def test_growth_past_the_drawing_budget_is_refused_with_the_limit():
    lin = trace_lineage(SHAPE, ["x.repeat(100, 100, 1)"])
    assert lin.error.refused and "the limit is 200,000 elements" in lin.error.message


# --------------------------------------------------------------- property: drawn index == ops on an index tensor


def _chain_step(draw, shape: tuple[int, ...]) -> str:
    nd = len(shape)
    kinds = ["permute", "transpose", "reshape", "flatten", "unsqueeze", "index", "pad", "rearrange", "narrow"]
    if any(s == 1 for s in shape):
        kinds.append("squeeze")
    if any(s % 2 == 0 for s in shape):
        kinds.append("unflatten")
    kind = draw(st.sampled_from(kinds))
    if kind == "permute":
        return f"x.permute({', '.join(map(str, draw(st.permutations(range(nd)))))})" if nd > 1 else "x.permute(0)"
    if kind == "transpose":
        a, b = draw(st.integers(0, nd - 1)), draw(st.integers(0, nd - 1))
        return f"x.transpose({a}, {b})"
    if kind == "reshape":
        n = math.prod(shape)
        d = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
        return f"x.{draw(st.sampled_from(['reshape', 'view']))}({d}, -1)"
    if kind == "flatten":
        a = draw(st.integers(0, nd - 1))
        return f"x.flatten({a}, {draw(st.integers(a, nd - 1))})"
    if kind == "unflatten":
        d = draw(st.sampled_from([i for i, s in enumerate(shape) if s % 2 == 0]))
        return f"x.unflatten({d}, (2, -1))"
    if kind == "unsqueeze":
        return f"x.unsqueeze({draw(st.integers(0, nd))})"
    if kind == "squeeze":
        return f"x.squeeze({draw(st.sampled_from([i for i, s in enumerate(shape) if s == 1]))})"
    if kind == "index":
        d = draw(st.integers(0, nd - 1))
        lead = ":, " * d
        if draw(st.booleans()):
            return f"x[{lead}{draw(st.integers(-shape[d], shape[d] - 1))}]"
        start = draw(st.integers(0, shape[d] - 1))
        return f"x[{lead}{start}::{draw(st.integers(1, 2))}]"
    if kind == "narrow":
        d = draw(st.integers(0, nd - 1))
        start = draw(st.integers(0, shape[d] - 1))
        return f"x.narrow({d}, {start}, {draw(st.integers(1, shape[d] - start))})"
    if kind == "pad":
        return f"F.pad(x, ({draw(st.integers(0, 2))}, {draw(st.integers(0, 2))}))"
    names = "abcdef"[:nd]
    perm = draw(st.permutations(list(names)))
    return f'rearrange(x, "{" ".join(names)} -> {" ".join(perm)}")'


@st.composite
def _case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    steps, t = [], torch.zeros(shape)
    for _ in range(draw(st.integers(1, 4))):
        step = _chain_step(draw, tuple(t.shape))
        try:
            (_, out), *_ = run_expr(parse_expr(step), {"x": t})[-1:]
        except (ShapeError, ExpressionRefused):
            continue  # e.g. view after a permute: drawn as an error, checked elsewhere
        steps.append(step)
        t = out
        if not t.dim() or not t.numel():
            break
    return shape, steps


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_every_drawn_cell_is_the_ops_applied_to_an_index_tensor(case):
    shape, steps = case
    assume(steps)
    lin = trace_lineage(shape, steps, members=False)
    assert lin.ok, lin.error
    n = math.prod(shape)
    index = torch.arange(n, dtype=torch.int64).reshape(shape)
    ones = torch.ones(shape, dtype=torch.float64)
    stages_idx, stages_one = [index], [ones]
    for step in steps:  # the same ops, run independently on int64 indices and on ones (padding -> 0)
        stages_idx += [t for _, t in run_expr(parse_expr(step), {"x": stages_idx[-1]})]
        stages_one += [t for _, t in run_expr(parse_expr(step), {"x": stages_one[-1]})]
    assert len(lin.stages) == len(stages_idx)
    for stage, ref, mask in zip(lin.stages, stages_idx, stages_one):
        assert stage.shape == tuple(ref.shape)
        origin = np.array(stage.origin, dtype=np.int64)
        is_pad = mask.reshape(-1).numpy() == 0
        np.testing.assert_array_equal(origin == PAD, is_pad)
        np.testing.assert_array_equal(origin[~is_pad], ref.reshape(-1).numpy()[~is_pad])
        assert (stage.strides, stage.contiguous) == (tuple(ref.stride()), ref.is_contiguous())


# ------------------------------------------------------------------------------------------------ memory


def test_transpose_is_a_view_of_the_same_memory_and_not_contiguous():
    lin = trace_lineage(SHAPE, ["x.transpose(1, 2)"])
    s = lin.final
    assert (s.memory, s.shares_source_memory, s.contiguous) == ("view", True, False)
    assert s.strides == (24, 1, 6)
    assert s.storage == tuple(range(48)) and all(s.storage_used)  # memory order = the input's
    assert s.storage != s.origin  # reading order differs: that is "not contiguous"


def test_reshape_after_permute_copies_into_reading_order():
    lin = trace_lineage(SHAPE, ["x.permute(0, 2, 1)", "x.reshape(2, -1)"])
    s = lin.final
    assert (s.memory, s.shares_source_memory, s.contiguous) == ("copy", False, True)
    assert s.storage == s.origin  # the copy's memory is in reading order
    np.testing.assert_array_equal(np.array(s.storage), IDX.transpose(0, 2, 1).reshape(-1))


def test_view_of_contiguous_and_contiguous_of_contiguous_share_memory():
    lin = trace_lineage(SHAPE, ["x.view(2, 6, 4)", "x.contiguous()"])
    assert [s.memory for s in lin.stages] == ["source", "view", "view"]
    assert all(s.shares_source_memory for s in lin.stages)
    copied = trace_lineage(SHAPE, ["x.transpose(1, 2).contiguous()"]).final
    assert copied.memory == "copy" and copied.contiguous


def test_a_slice_reads_part_of_the_input_memory():
    s = trace_lineage(SHAPE, ["x[:, 1:3]"]).final
    assert s.memory == "view" and s.storage_offset == 6
    used = np.array(s.storage_used)
    assert used.sum() == s.numel < len(used)  # the region spans batch 0's and 1's rows; rows 3, 0 unread


def test_expand_reads_the_same_memory_several_times():
    s = trace_lineage(SHAPE, ["x.expand(3, 2, 4, 6)"]).final
    assert s.strides[0] == 0 and s.memory == "view" and len(s.storage) == 48 and s.numel == 144


# ---------------------------------------------------------------------------------------------- failures


def test_view_after_permute_fails_with_torch_message_explanation_and_reshape_alternative():
    lin = trace_lineage(SHAPE, ["x.permute(0, 2, 1).view(2, -1)"])
    err = lin.error
    assert err is not None and not lin.ok
    assert [s.shape for s in lin.stages] == [SHAPE, (2, 6, 4)]  # the permute ran
    assert err.kind == "view_stride" and "view size is not compatible" in err.message
    assert err.op_source == "x.view(2, -1)" and err.input_shape == (2, 6, 4)
    assert ".reshape" in err.fix and err.explanation
    assert err.alternative == ("x.permute(0, 2, 1).reshape(2, -1)",)
    alt = trace_lineage(SHAPE, list(err.alternative))
    assert alt.ok and alt.final.memory == "copy"


def test_a_second_line_failure_keeps_the_first_lines_stages():
    lin = trace_lineage(SHAPE, ["x.flatten(1)", "x.reshape(5, -1)"])
    assert lin.error.line == 1 and lin.error.kind == "reshape_numel"
    assert [s.shape for s in lin.stages] == [SHAPE, (2, 24)]


@pytest.mark.parametrize("src", ["__import__('os')", "x.numpy()", "h_n.view(2, -1)", "lengths[0]"])
def test_refused_expressions_are_reported_not_run(src):
    lin = trace_lineage(SHAPE, [src])
    assert lin.error is not None and lin.error.refused and len(lin.stages) == 1


def test_blank_and_comment_lines_are_ignored():
    lin = trace_lineage(SHAPE, ["# swap", "", "x.transpose(1, 2)\n\n"])
    assert [s.shape for s in lin.stages] == [SHAPE, (2, 6, 4)]
