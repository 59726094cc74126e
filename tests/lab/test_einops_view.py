"""einops equivalents: every pattern we print is run with einops and must equal the torch op exactly."""

from __future__ import annotations

import math

import einops
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine.expr import bind, parse_expr, run_expr
from core.engine.ops import Op
from core.lab.einops_view import default_names, einops_equivalent, reshape_pattern, source_names


def _eq_and_run(src: str, shape: tuple[int, ...], names: tuple[str, ...] | None = None):
    x = torch.randn(shape, dtype=torch.float64)
    expr = parse_expr(src)
    (op,) = bind(expr, {"x": shape})
    (_, out), *_ = run_expr(expr, {"x": x})
    return einops_equivalent(op, shape, tuple(out.shape), names), x, out


def _apply(eq, x: torch.Tensor, others: list[torch.Tensor] | None = None) -> torch.Tensor:
    sizes = dict(eq.sizes)
    if eq.function == "reduce":
        return einops.reduce(x, eq.pattern, eq.reduction, **sizes)
    if eq.function == "repeat":
        return einops.repeat(x, eq.pattern, **sizes)
    return einops.rearrange([x, *others] if others else x, eq.pattern, **sizes)


EQUIVALENT = [
    # (source, input shape, expected pattern)
    ("x.permute(0, 2, 1)", (2, 3, 4), "b l h -> b h l"),
    ("x.transpose(1, 2)", (2, 3, 4), "b l h -> b h l"),
    ("x.swapaxes(0, 2)", (2, 3, 4), "b l h -> h l b"),
    ("x.movedim(2, 0)", (2, 3, 4), "b l h -> h b l"),
    ("x.T", (3, 4), "l h -> h l"),
    ("x.mT", (2, 3, 4), "b l h -> b h l"),
    ("x.view(32, 768, 128)", (32, 128, 768), "b l (h1 h2) -> b (l h1) h2"),
    ("x.reshape(32, 16, -1)", (32, 128, 768), "b (l1 l2) h -> b l1 (l2 h)"),
    ("x.reshape(x.size(0), -1)", (2, 3, 4), "b l h -> b (l h)"),
    ("x.flatten()", (2, 3, 4), "b l h -> (b l h)"),
    ("x.flatten(0, 1)", (2, 3, 4), "b l h -> (b l) h"),
    ("x.unflatten(1, (2, 3))", (2, 6, 4), "b (l1 l2) h -> b l1 l2 h"),
    ("x.unsqueeze(1)", (2, 3, 4), "b l h -> b 1 l h"),
    ("x.unsqueeze(-1)", (2, 3, 4), "b l h -> b l h 1"),
    ("x.squeeze(1)", (2, 1, 4), "b 1 h -> b h"),
    ("x.squeeze()", (1, 3, 1), "1 l 1 -> l"),
    ("x[:, None]", (2, 3), "l h -> l 1 h"),
    ("x[..., None]", (2, 3), "l h -> l h 1"),
    ("x[:, 0]", (2, 1, 4), "b 1 h -> b h"),
    ("x[:, :]", (2, 3), "l h -> l h"),
    ("x.narrow(1, 0, 3)", (2, 3, 4), "b l h -> b l h"),
    ("x.chunk(1, dim=2)[0]", (2, 3, 4), "b l h -> b l h"),
    ("x.view(2, 12)", (2, 3, 4), "b l h -> b (l h)"),
    ("x.expand(2, 5, 4)", (2, 1, 4), "b 1 h -> b n h"),
    ("x.expand(3, 2, 4)", (2, 4), "l h -> r l h"),
    ("x.repeat(1, 2, 1)", (2, 3, 4), "b l h -> b (r l) h"),
    ("x.repeat(2, 1, 1, 3)", (2, 3, 4), "b l h -> r b l (r2 h)"),
    ("x.mean(dim=1)", (2, 3, 4), "b l h -> b h"),
    ("x.sum(dim=(1, 2), keepdim=True)", (2, 3, 4), "b l h -> b 1 1"),
    ("x.amax(dim=-1)", (2, 3, 4), "b l h -> b l"),
    ("x.amin(dim=0)", (2, 3, 4), "b l h -> l h"),
    ("x.mean()", (2, 3, 4), "b l h ->"),
    ('rearrange(x, "b (t k) h -> b t (k h)", t=2)', (2, 4, 6), "b (t k) h -> b t (k h)"),
    ('reduce(x, "b l h -> b h", "max")', (2, 3, 4), "b l h -> b h"),
    ("torch.stack([x, x], dim=1)", (2, 3, 4), "s b l h -> b s l h"),
]


@pytest.mark.parametrize(("src", "shape", "pattern"), EQUIVALENT, ids=[e[0] for e in EQUIVALENT])
def test_equivalent_patterns_match_torch_exactly(src, shape, pattern):
    eq, x, out = _eq_and_run(src, shape)
    assert eq.exists, eq.note
    assert eq.pattern == pattern
    others = [x] * (len(bind(parse_expr(src), {"x": shape})[0].args[0])) if src.startswith("torch.stack") else None
    assert torch.equal(_apply(eq, x, others), out), eq.code
    assert len(eq.out_names) == out.dim()


def test_seed_004_view_is_a_regrouping_not_a_transpose():
    eq, _, _ = _eq_and_run("x.view(32, 768, 128)", (32, 128, 768))
    assert eq.code == 'rearrange(x, "b l (h1 h2) -> b (l h1) h2", h1=6)'
    transpose, _, _ = _eq_and_run("x.transpose(1, 2)", (32, 128, 768))
    assert transpose.code == 'rearrange(x, "b l h -> b h l")'


NONE = [
    ("F.pad(x, (1, 1))", (2, 3, 4), "padding adds new cells"),
    ("torch.cat([x, x], dim=1)", (2, 3, 4), "never joins tensors"),
    ("x[:, 0]", (2, 3, 4), "keeps only part"),
    ("x[:, -1, :]", (2, 3, 4), "keeps only part"),
    ("x[:, 1:3]", (2, 3, 4), "keeps only part"),
    ("x.narrow(1, 0, 2)", (2, 3, 4), "keeps only part"),
    ("x.select(2, 1)", (2, 3, 4), "keeps only part"),
    ("x.chunk(2, dim=2)[1]", (2, 3, 4), "keeps only part"),
    ("x.contiguous()", (2, 3, 4), "memory-only"),
    ("x.view(3, 2)", (2, 3), "regroups elements across axis boundaries"),
    ("x.reshape(2, 6, 4)", (2, 4, 6), "regroups elements across axis boundaries"),
]


@pytest.mark.parametrize(("src", "shape", "why"), NONE, ids=[e[0] for e in NONE])
def test_no_equivalent_says_why(src, shape, why):
    eq, _, out = _eq_and_run(src, shape)
    assert not eq.exists
    assert eq.code.startswith("no einops equivalent: ")
    assert why in eq.note
    assert len(eq.out_names) == out.dim()


def test_names_follow_the_tensor_through_a_chain():
    names = source_names(3)
    assert names == ("b", "l", "h")
    shape = (2, 3, 4)
    steps = ["x.transpose(1, 2)", "x.flatten(1)", "x.unflatten(1, (2, 6))"]
    patterns = []
    for src in steps:
        eq, _, out = _eq_and_run(src, shape, names)
        patterns.append(eq.pattern)
        names, shape = eq.out_names, tuple(out.shape)
    assert patterns == ["b l h -> b h l", "b h l -> b (h l)", "b (hl1 hl2) -> b hl1 hl2"]


def test_select_and_index_drop_the_right_names():
    eq, _, _ = _eq_and_run("x[:, -1, :]", (2, 3, 4))
    assert eq.out_names == ("b", "h")
    eq, _, _ = _eq_and_run("x.select(1, 0)", (2, 3, 4))
    assert eq.out_names == ("b", "h")


def test_bad_or_missing_names_fall_back_to_letters():
    eq = einops_equivalent(Op("permute", (1, 0)), (2, 3), (3, 2), ("a", "a"))
    assert eq.pattern == "a b -> b a"
    assert default_names(3) == ("a", "b", "c")
    assert len(default_names(30)) == 30


def test_reshape_pattern_criterion():
    assert reshape_pattern((2, 3), (3, 2)) is None  # 2 and 3 do not divide each other
    assert reshape_pattern((2, 3), (7,)) is None  # different element counts
    assert reshape_pattern((4, 6), (6, 4)) is None  # cut points 4 and 6: neither divides the other
    assert reshape_pattern((4, 6), (8, 3)) is not None  # 4 | 8 | 24: split 6 = 2 x 3
    pattern, _, out = reshape_pattern((1, 1), (1,))
    assert pattern == "1 1 -> 1" and out == ("u",)


@st.composite
def _reshape_case(draw):
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    n = math.prod(shape)
    out: list[int] = []
    rest = n
    for _ in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        out.append(d)
        rest //= d
    out.append(rest)
    return shape, tuple(out)


@settings(max_examples=150, deadline=None)
@given(_reshape_case())
def test_every_reshape_pattern_we_print_is_exact(case):
    shape, new = case
    x = torch.arange(math.prod(shape), dtype=torch.float64).reshape(shape)
    eq = einops_equivalent(Op("reshape", new), shape, new)
    if eq.exists:
        assert torch.equal(einops.rearrange(x, eq.pattern, **dict(eq.sizes)), x.reshape(new)), eq.code
    else:
        assert reshape_pattern(shape, new) is None


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=5).flatmap(
        lambda s: st.tuples(st.just(tuple(s)), st.permutations(range(len(s))))
    )
)
def test_every_permute_pattern_we_print_is_exact(case):
    shape, order = case
    x = torch.randn(shape)
    out = x.permute(*order)
    eq = einops_equivalent(Op("permute", tuple(order)), shape, tuple(out.shape))
    assert torch.equal(einops.rearrange(x, eq.pattern), out), eq.code
