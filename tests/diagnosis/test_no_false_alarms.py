"""No false alarm: every lesson's correct pipeline (its example spec, its fixed spec) and the seeds' correct
examples raise none of the silent-bug warnings of issue 12 — nor any warning at all where the pipeline is an
example."""

from __future__ import annotations

import pytest
from seed_examples import CORRECT, CORRECT_MODEL

from core.spec import Spec
from core.teaching.lessons import LessonKind, list_lessons
from core.trace import run_spec

SILENT_BUG_KINDS = {
    "view_as_permute",
    "bidirectional_last_step",
    "padded_last_step",
    "batch_axis_mixed",
    "batch_axis_dropped",
    "unmasked_reduction",
}
LESSONS = list_lessons()
CORRECT_LESSON_SPECS = [(f"{x.name}:example", x.spec) for x in LESSONS if x.kind is LessonKind.EXAMPLE] + [
    (f"{x.name}:fixed", x.fixed_spec) for x in LESSONS if x.fixed_spec is not None
]


@pytest.fixture(scope="module")
def checkpoints():
    """The lessons' checkpoints, loaded once: random:bert-base (the seeds' sizes) and bert-tiny."""
    from core.model.checkpoints import load_checkpoint

    return {name: load_checkpoint(name, "cpu") for name in ("random:bert-base", "random:bert-tiny")}


def _silent_bugs(trace) -> list[dict]:
    return [w.to_dict() for w in trace.warnings if w.code in SILENT_BUG_KINDS]


@pytest.mark.parametrize("sid,spec", CORRECT_LESSON_SPECS, ids=[c[0] for c in CORRECT_LESSON_SPECS])
def test_lesson_correct_pipelines_raise_no_silent_bug_warning(sid, spec, checkpoints):
    ckpt = checkpoints.get(spec.checkpoint) if spec.uses_model else None
    if spec.uses_model and ckpt is None:
        pytest.skip(f"{spec.checkpoint} is the bundled model: covered by the slow run")
    trace = run_spec(spec, ckpt, device="cpu")
    assert trace.ok, str(trace.error)
    assert not _silent_bugs(trace)
    if sid.endswith(":example"):
        assert not [w for w in trace.warnings if w.severity == "warning"]


@pytest.mark.parametrize("sid,data", CORRECT + CORRECT_MODEL, ids=[c[0] for c in CORRECT + CORRECT_MODEL])
def test_seed_correct_examples_raise_no_silent_bug_warning(sid, data, checkpoints):
    spec = Spec.from_dict({**data, "checkpoint": "random:bert-base"} if "texts" in data else data)
    trace = run_spec(spec, checkpoints["random:bert-base"] if spec.uses_model else None, device="cpu")
    assert trace.ok, str(trace.error)
    assert not _silent_bugs(trace) and not [w for w in trace.warnings if w.severity == "warning"]


@pytest.mark.slow
@pytest.mark.parametrize("sid,spec", CORRECT_LESSON_SPECS, ids=[c[0] for c in CORRECT_LESSON_SPECS])
def test_lesson_correct_pipelines_on_the_bundled_model(sid, spec, real_ckpt):
    if not spec.uses_model:
        pytest.skip("synthetic: covered by the quick run")
    data = spec.to_dict()
    data["checkpoint"] = "bundled:all-MiniLM-L6-v2"
    data["steps"] = [_infer_hidden_sizes(step) for step in data["steps"]]
    trace = run_spec(Spec.from_dict(data), real_ckpt, device="cpu")
    assert trace.ok, str(trace.error)
    assert not _silent_bugs(trace)


def _infer_hidden_sizes(step):
    """A lesson layer built for bert-base's 768 features, with that size left out (inferred: 384 here)."""
    if not isinstance(step, dict):
        return step
    out = {}
    for key, params in step.items():
        if isinstance(params, dict):
            params = {
                k: v for k, v in params.items() if not (k in ("input_size", "in_channels", "in_features") and v == 768)
            }
        out[key] = params
    return out
