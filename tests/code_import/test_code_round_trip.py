"""Round trip: export a Spec as code (core/export/codegen.py), import that code, get an equivalent Spec.

Equivalent: the same source (texts or shape), checkpoint, layer and pooling; the same steps (expressions
compared as parsed Python, layers by their resolved torch.nn parameters); the same seed where values
depend on it; and the two traces have the same stage shapes and fail at the same step with the same kind.
The one documented difference: pooling "cls", which the export writes as ``x = x[:, 0, :]``, comes back
as that step (same stages, same shapes). Every lesson (and its fixed version), the Pipeline Explorer's
default pipeline, each pooling strategy, and generated step chains (hypothesis).
"""

from __future__ import annotations

import ast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.code_import import LineStatus, import_code
from core.export.codegen import export_script
from core.spec import LayerStep, Pooling, Spec
from core.teaching.lessons import list_lessons
from core.trace import run_spec

DEFAULT_PIPELINE = {
    "texts": ["This movie was absolutely amazing!", "The plot was confusing."],
    "max_length": 128,
    "steps": [
        {"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}},
        "x[:, -1, :]",
        {"linear": {"out_features": 2}},
    ],
}
SPECS: dict[str, Spec] = {}
for _lesson in list_lessons():
    SPECS[_lesson.name] = _lesson.spec
    if _lesson.fixed_spec is not None:
        SPECS[f"{_lesson.name}/fixed"] = _lesson.fixed_spec
SPECS["default-pipeline"] = Spec.from_dict(DEFAULT_PIPELINE)
SPECS["default-synthetic"] = Spec.from_dict({"shape": [32, 128, 768], "steps": DEFAULT_PIPELINE["steps"]})
for _p in Pooling:
    if _p is not Pooling.NONE:
        SPECS[f"pooling-{_p.value}"] = Spec.from_dict(
            {"texts": ["a b c", "hello there my friend"], "pooling": _p.value, "steps": ["x.unsqueeze(1)"]}
        )
for _p in (Pooling.CLS, Pooling.MEAN, Pooling.MAX):
    SPECS[f"synthetic-pooling-{_p.value}"] = Spec.from_dict(
        {"shape": [4, 6, 8], "pooling": _p.value, "steps": ["x.unsqueeze(1)"], "seed": 3}
    )
SPECS["lengths-and-layer-seed"] = Spec.from_dict(
    {"shape": [4, 6, 8], "seed": 7, "steps": [{"gru": {"hidden_size": 5}}, "x[torch.arange(x.shape[0]), lengths - 1]"]}
)


@pytest.fixture(scope="module")
def checkpoints():
    from core.model.checkpoints import load_checkpoint

    loaded: dict[str, object] = {}

    def get(spec: Spec):
        if not spec.uses_model:
            return None
        if spec.checkpoint not in loaded:
            loaded[spec.checkpoint] = load_checkpoint(spec.checkpoint, "cpu")
        return loaded[spec.checkpoint]

    return get


def _norm(step) -> object:
    if isinstance(step, str):
        return ast.dump(ast.parse(step, mode="eval"))
    return step.kind.value


def assert_equivalent(spec: Spec, back: Spec, t1, t2) -> None:
    assert back.texts == spec.texts and back.shape == spec.shape
    if spec.uses_model:
        assert back.checkpoint == spec.checkpoint
        assert back.layer == spec.layer or spec.pooling not in (Pooling.NONE, Pooling.CLS, Pooling.MEAN, Pooling.MAX)
    steps = list(spec.steps)
    if spec.pooling is Pooling.CLS:  # exported as x = x[:, 0, :]
        assert back.pooling is Pooling.NONE
        steps = ["x[:, 0, :]", *steps]
    else:
        assert back.pooling is spec.pooling
    failed = t1.error.step_index if t1.error is not None else None
    if failed is not None:  # the export comments out the steps after the failing one
        steps = steps[: failed + 1 + (spec.pooling is Pooling.CLS)]
    assert [_norm(s) for s in back.steps] == [_norm(s) for s in steps]
    shapes = [s.shape for s in t1.stages]
    for one, two in zip(t1.stages, t2.stages):  # layers: the torch.nn parameters each trace built them with
        if one.kind in ("lstm", "gru", "conv1d", "linear"):
            assert one.extra("params") == two.extra("params")
    assert [s.shape for s in t2.stages] == shapes
    assert (t1.error is None) == (t2.error is None)
    if t1.error is not None:
        assert t2.error.kind == t1.error.kind and t2.error.message == t1.error.message
    if any(isinstance(s, LayerStep) for s in spec.steps) or not spec.uses_model:
        assert back.seed == spec.seed


@pytest.mark.parametrize("name", sorted(SPECS))
def test_export_then_import_gives_an_equivalent_spec(name, checkpoints):
    spec = SPECS[name]
    t1 = run_spec(spec, checkpoint=checkpoints(spec))
    code = export_script(spec, t1)
    result = import_code(code)
    assert result.spec is not None, result.problem
    assert [(n.line, n.reason) for n in result.lines if n.status is LineStatus.NOT_UNDERSTOOD] == []
    t2 = run_spec(result.spec, checkpoint=checkpoints(result.spec))
    assert_equivalent(spec, result.spec, t1, t2)
    if spec.pooling is not Pooling.NONE and spec.pooling is not Pooling.CLS:
        assert any("pooling" in n for n in result.notes) or spec.pooling is Pooling.POOLER


STEP_POOL = [
    "x.transpose(1, 2)",
    "x.permute(0, 2, 1)",
    "x.reshape(x.shape[0], -1)",
    "x.unsqueeze(1)",
    "x.flatten(1)",
    "x[:, 0]",
    "x[:, -1, :]",
    "x.mean(dim=1)",
    "x.sum(dim=-1, keepdim=True)",
    "F.pad(x, (0, 1))",
    "torch.cat([x, x], dim=-1)",
    "x.contiguous()",
    "x.view(-1)",
    "rearrange(x, 'b l h -> b h l')",
    "x.chunk(2, dim=-1)[0]",
    "x.narrow(1, 0, 1)",
    "x.movedim(1, -1)",
    "torch.transpose(x, 0, 1)",
    "x[..., :2]",
    "x.amax(dim=-1)",
    "x[torch.arange(x.shape[0]), lengths - 1]",
    {"linear": {"out_features": 3}},
    {"lstm": {"hidden_size": 4, "batch_first": True}},
    {"lstm": {"hidden_size": 3}},
    {"gru": {"hidden_size": 3, "num_layers": 2, "batch_first": True, "bidirectional": True}},
    {"conv1d": {"out_channels": 4, "kernel_size": 2}},
    {"conv1d": {"in_channels": 5, "out_channels": 2, "kernel_size": 1, "padding": 1}},
    {"loss": {"kind": "MSELoss"}, "target": {"shape": [2, 3], "dtype": "float"}},
    {"loss": {"kind": "CrossEntropyLoss", "reduction": "sum"}, "target": {"shape": [3], "dtype": "long", "high": 4}},
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.tuples(st.integers(2, 4), st.integers(2, 5), st.integers(2, 6)),
    steps=st.lists(st.sampled_from(STEP_POOL), max_size=5),
    seed=st.integers(0, 50),
)
def test_generated_chains_round_trip(shape, steps, seed):
    spec = Spec.from_dict({"shape": list(shape), "steps": steps, "seed": seed})
    t1 = run_spec(spec)
    result = import_code(export_script(spec, t1))
    assert result.spec is not None, result.problem
    t2 = run_spec(result.spec)
    assert_equivalent(spec, result.spec, t1, t2)


# multi-tensor pipelines of the wider language (named results, layer input / output / h0)
NAMED_SPECS = {
    "attention-over-lstm": {
        "shape": [4, 12, 32],
        "steps": [
            {"lstm": {"hidden_size": 16, "batch_first": True}},
            "w = torch.bmm(x, h_n[-1].unsqueeze(2))",
            "w = torch.softmax(w, 1)",
            "torch.bmm(x.transpose(1, 2), w).squeeze(2)",
        ],
    },
    "named-layer-outputs-and-h0": {
        "shape": [4, 12, 32],
        "steps": [
            {"lstm": {"hidden_size": 16, "batch_first": True}, "output": "out, (h, c)"},
            {"gru": {"hidden_size": 8, "batch_first": True}, "input": "out", "h0": "torch.zeros(1, 4, 8)"},
            "torch.cat([x[:, -1], h[-1]], dim=-1)",
        ],
    },
    "loss-on-labels": {
        "texts": ["a fine film", "a dull one", "meh"],
        "labels": [1, 0, 2],
        "steps": [
            "x[:, 0]",
            {"linear": {"out_features": 3}},
            {"loss": {"kind": "CrossEntropyLoss"}, "target": "labels"},
        ],
    },
    "loss-on-token-labels": {
        "texts": ["a fine film", "meh"],
        "labels": [[1, 0, 1], [0]],
        "steps": [
            {"linear": {"out_features": 2}},
            "x[:, 1:4].reshape(-1, 2)",  # (b, 3 tokens, 2) -> (b·3, 2): one row per labelled token
            {"loss": {"kind": "CrossEntropyLoss", "ignore_index": -100}, "target": "labels.view(-1)", "input": "x"},
        ],
    },
    "loss-on-synthetic-target": {
        "shape": [6, 10],
        "steps": [
            {"linear": {"out_features": 4}},
            {"loss": {"kind": "BCEWithLogitsLoss"}, "target": {"shape": [6, 4], "dtype": "float", "high": 2}},
        ],
    },
    "masked-mean-by-hand": {
        "texts": ["a b", "c d e f"],
        "steps": ["m = mask.unsqueeze(-1).float()", "(x * m).sum(1) / m.sum(1).clamp(min=1e-9)"],
    },
}


@pytest.mark.parametrize("name", sorted(NAMED_SPECS))
def test_multi_tensor_pipelines_round_trip(name, checkpoints):
    spec = Spec.from_dict(NAMED_SPECS[name])
    t1 = run_spec(spec, checkpoint=checkpoints(spec))
    result = import_code(export_script(spec, t1))
    assert result.spec is not None, result.problem
    assert [(n.line, n.reason) for n in result.lines if n.status is LineStatus.NOT_UNDERSTOOD] == []
    t2 = run_spec(result.spec, checkpoint=checkpoints(result.spec))
    assert [s.shape for s in t2.stages] == [s.shape for s in t1.stages]
    assert t2.error is None and t1.error is None
