"""einops' own test patterns (einops/tests/test_ops.py at commit ccb89f2), through parse -> predict -> run.

Every pattern is a step (``rearrange(x, "...")``, ``reduce(x, "...", "max")``, ``repeat(x, "...", copy=2)``) and
is checked against einops called on the same tensor: same success, same shape / strides / values, the
prediction on meta tensors agrees, and a pattern einops refuses is a ShapeError carrying einops' message.
"""

from __future__ import annotations

import itertools
import random

import einops
import pytest
import torch

from core.engine.expr import DataDependent, parse_statement, predict_statement, run_statement
from core.errors import ShapeError

# --- from einops/tests/test_ops.py
identity_patterns = [
    "...->...",
    "a b c d e-> a b c d e",
    "a b c d e ...-> ... a b c d e",
    "a b c d e ...-> a ... b c d e",
    "... a b c d e -> ... a b c d e",
    "a ... e-> a ... e",
    "a ... -> a ... ",
    "a ... c d e -> a (...) c d e",
]
equivalent_rearrange_patterns = [
    ("a b c d e -> (a b) c d e", "a b ... -> (a b) ... "),
    ("a b c d e -> a b (c d) e", "... c d e -> ... (c d) e"),
    ("a b c d e -> a b c d e", "... -> ... "),
    ("a b c d e -> (a b c d e)", "... ->  (...)"),
    ("a b c d e -> b (c d e) a", "a b ... -> b (...) a"),
    ("a b c d e -> b (a c d) e", "a b ... e -> b (a ...) e"),
]
equivalent_reduction_patterns = [
    ("a b c d e -> ", " ... ->  "),
    ("a b c d e -> (e a)", "a ... e -> (e a)"),
    ("a b c d e -> d (a e)", " a b c d e ... -> d (a e) "),
    ("a b c d e -> (a b)", " ... c d e  -> (...) "),
]
reduction_cases = [
    ("a b c d e -> ", {}),
    ("a ... -> ", {}),
    ("(a1 a2) ... (e1 e2) -> ", dict(a1=1, e2=2)),
    ("a b c d e -> (e c) a", {}),
    ("a ... c d e -> (e c) a", {}),
    ("a b c d e ... -> (e c) a", {}),
    ("a b c d e -> (e c a)", {}),
    ("(a a2) ... -> (a2 a) ...", dict(a2=1)),
]
consistency_patterns = [  # on shape (1, 2, 3, 5, 7, 11)
    "a b c d e f -> a b c d e f",
    "b a c d e f -> a b d e f c",
    "a b c d e f -> f e d c b a",
    "a b c d e f -> (f e) d (c b a)",
    "a b c d e f -> (f e d c b a)",
    "a b c d e f -> a (b) (c d e) f",
    "a aa aa1 a1a1 aaaa a11 -> a aa aa1 a1a1 aaaa a11",
]
repeat_test_cases = [  # on shape (2, 3, 5)
    ("a b c -> c a b", dict()),
    ("a b c -> (c copy a b)", dict(copy=2, a=2, b=3, c=5)),
    ("a b c -> (a copy) b c ", dict(copy=1)),
    ("a b c -> (c a) (copy1 b copy2)", dict(a=2, copy1=1, copy2=2)),
    ("a ...  -> a ... copy", dict(copy=4)),
    ("... c -> ... (copy1 c copy2)", dict(copy1=1, copy2=2)),
    ("...  -> ... ", dict()),
    (" ...  -> copy1 ... copy2 ", dict(copy1=2, copy2=3)),
    ("a b c  -> copy1 a copy2 b c () ", dict(copy1=2, copy2=1)),
    ("a b c -> copy a b c ", dict(copy=1)),
]
test_cases_repeat_anonymous = [  # on shape (1, 2, 4, 6)
    ("a b c d -> c a d b", dict()),
    ("a b c d -> (c 2 d a b)", dict(a=1, c=4, d=6)),
    ("1 b c d -> (d copy 1) 3 b c ", dict(copy=3)),
    ("1 ...  -> 3 ... ", dict()),
    ("() ... d -> 1 (copy1 d copy2) ... ", dict(copy1=2, copy2=3)),
    ("1 b c d -> (1 1) (1 b) 2 c 3 d (1 1)", dict()),
]
failing = [  # einops refuses these (test_collapsed_ellipsis_errors_out and the kind)
    ("rearrange", "a b c d (...) ->  a b c ... d", {}, (1, 1, 1, 1, 1)),
    ("rearrange", "(...) -> (...)", {}, (1, 1, 1, 1, 1)),
    ("rearrange", "b l (...) -> b l ...", {}, (4, 16, 32)),
    ("rearrange", "a b -> a b c", {}, (2, 3)),
    ("rearrange", "a (b c) -> a b c", dict(b=5), (2, 3)),
    ("rearrange", "a b c -> a b", {}, (2, 3, 4)),
    ("rearrange", "a b -> (a b) c", dict(c=2), (2, 3)),
    ("reduce", "a b c -> a d", {}, (2, 3, 4)),
    ("rearrange", "a a -> a", {}, (2, 2)),
    ("repeat", "a b -> a c", {}, (2, 3)),
    ("rearrange", "a b c d e f g h i j k l m n -> a", {}, (2, 3)),
]


def _perm_patterns() -> list[tuple[str, str, tuple[int, ...]]]:
    """test_reduction_stress_imperatives: random permutations, some leading axes reduced (seeded)."""
    rng = random.Random(0)
    out = []
    for reduction, n_axes in itertools.product(["rearrange", "sum", "max", "min", "mean", "prod"], range(1, 7)):
        shape = tuple(rng.randint(2, 3) for _ in range(n_axes))
        perm = list(range(n_axes))
        rng.shuffle(perm)
        skipped = 0 if reduction == "rearrange" else rng.randint(0, n_axes)
        left = " ".join(f"x{i}" for i in range(n_axes))
        right = " ".join(f"x{i}" for i in perm[skipped:])
        out.append((reduction, f"{left}->{right}", shape))
    return out


CASES: list[tuple[str, str, dict, tuple[int, ...]]] = []
for _p in identity_patterns + [p for pair in equivalent_rearrange_patterns for p in pair]:
    CASES.append(("rearrange", _p, {}, (2, 3, 4, 5, 6)))
for _red, _pair in itertools.product(["min", "max", "sum", "mean", "prod"], equivalent_reduction_patterns):
    CASES += [(_red, _p, {}, (2, 3, 4, 5, 6)) for _p in _pair]
for _red, (_p, _k) in itertools.product(["min", "max", "sum", "mean", "prod"], reduction_cases):
    CASES.append((_red, _p, _k, (2, 3, 4, 5, 6)))
CASES += [("rearrange", _p, {}, (1, 2, 3, 5, 7, 11)) for _p in consistency_patterns]
CASES += [("rearrange", "a b c d e f -> (f d) c (e b) a", {}, (1, 2, 3, 5, 7, 11))]
CASES += [("rearrange", "(f d) c (e b) a -> a b c d e f", dict(b=2, d=5), (35, 3, 14, 1))]
CASES += [("repeat", _p, _k, (2, 3, 5)) for _p, _k in repeat_test_cases]
CASES += [("repeat", _p, _k, (1, 2, 4, 6)) for _p, _k in test_cases_repeat_anonymous]
CASES += [(_r, _p, {}, _s) for _r, _p, _s in _perm_patterns()]
CASES += [(_r if _r != "reduce" else "max", _p, _k, _s) for _r, _p, _k, _s in failing]


def _step(kind: str, pattern: str, sizes: dict) -> str:
    kw = "".join(f", {k}={v}" for k, v in sizes.items())
    if kind == "rearrange":
        return f"rearrange(x, {pattern!r}{kw})"
    if kind == "repeat":
        return f"repeat(x, {pattern!r}{kw})"
    return f"reduce(x, {pattern!r}, {kind!r}{kw})"


def _reference(kind: str, x: torch.Tensor, pattern: str, sizes: dict) -> torch.Tensor:
    if kind == "rearrange":
        return einops.rearrange(x, pattern, **sizes)
    if kind == "repeat":
        return einops.repeat(x, pattern, **sizes)
    return einops.reduce(x, pattern, kind, **sizes)


@pytest.mark.parametrize(("kind", "pattern", "sizes", "shape"), CASES, ids=[f"{c[0]} {c[1]!r}" for c in CASES])
def test_einops_pattern_through_the_language(kind, pattern, sizes, shape) -> None:
    n = 1
    for s in shape:
        n *= s
    env = {"x": torch.arange(1, n + 1, dtype=torch.float64).reshape(shape) / n}
    try:
        expected, ref_error = _reference(kind, env["x"], pattern, sizes), None
    except einops.EinopsError as e:
        expected, ref_error = None, e
    stmt = parse_statement(_step(kind, pattern, sizes))
    if ref_error is not None:
        with pytest.raises(ShapeError) as ran:
            run_statement(stmt, env)
        assert ran.value.message == str(ref_error).strip() and ran.value.kind == "einops"
        with pytest.raises(ShapeError) as predicted:
            predict_statement(stmt, env)
        assert predicted.value.message == ran.value.message
        return
    got = run_statement(stmt, env).value
    assert got.shape == expected.shape and got.stride() == expected.stride()
    assert torch.allclose(got, expected)
    try:
        meta = predict_statement(stmt, env).value
    except DataDependent:  # pragma: no cover - einops ops never depend on values
        pytest.fail("einops ops do not depend on values")
    assert meta.shape == expected.shape and meta.stride() == expected.stride()


def test_the_table_is_einops_size() -> None:
    assert len(CASES) >= 150
    assert sum(1 for c in CASES if c[0] == "repeat") >= 16
