"""No false alarm in named form: correct pipelines written as pasted code writes them stay quiet on a padded batch,
and every lesson (mistakes included) says the same written with names as written bare."""

from __future__ import annotations

import pytest
from named_forms import BI, THREE, TINY, UNI, lstm, run, twin, warnings_of

from core.fixes import apply_fix
from core.spec import Spec
from core.teaching.lessons import list_lessons
from core.trace import run_spec

# correct pipelines in pasted-code style on a padded batch: nothing to warn about
QUIET = [
    ["m = mask.unsqueeze(-1).float()", "summed = (x * m).sum(dim=1)", "pooled = summed / m.sum(dim=1)"],
    [
        "hidden = x",
        "m = attention_mask.unsqueeze(-1).expand(hidden.size()).float()",
        "pooled = torch.sum(hidden * m, 1) / torch.clamp(m.sum(1), min=1e-9)",
    ],
    ["m = mask.unsqueeze(-1).float()", "pooled = x.masked_fill(m == 0, -1e9).amax(dim=1)"],
    ["m = mask.bool()", "pooled = torch.where(m.unsqueeze(-1), x, 0.0).sum(1)"],
    ["hidden = x", "masked = hidden * mask.unsqueeze(-1)", "pooled = masked.sum(1) / mask.sum(1, keepdim=True)"],
    [
        "emb = x.permute(0, 2, 1)",
        {"conv1d": {"out_channels": 16, "kernel_size": 3}, "input": "emb", "output": "c"},
        "c = F.relu(c)",
        "pooled = c.amax(dim=2)",
        {"linear": {"out_features": 2}, "input": "pooled", "output": "logits"},
    ],
    [
        lstm({**BI, "hidden_size": 8}),
        "feat = torch.cat([out[torch.arange(out.shape[0]), lengths - 1, :8], out[:, 0, 8:]], dim=1)",
        {"linear": {"out_features": 2}, "input": "feat", "output": "logits"},
    ],
    [
        "scores = x @ x.transpose(1, 2) / 8",
        "scores = scores.masked_fill(mask[:, None, :] == 0, -1e9)",
        "attn = scores.softmax(-1)",
        "ctx = attn @ x",
        "cls = ctx[:, 0]",
    ],
    [
        "hidden = x",
        "seq = hidden.transpose(0, 1)",
        lstm({"hidden_size": 8}, input="seq"),
        "last = out[lengths - 1, torch.arange(out.shape[1])]",
    ],
    [lstm(UNI), "w = torch.bmm(out, h_n[-1].unsqueeze(2))", "w = torch.softmax(w, 1)"],
    ["q, k = x.chunk(2, dim=-1)", "w = torch.softmax(q @ k.mT, dim=-1)", "ctx = w @ k", "cls = ctx[:, 0, :]"],
    ["values, indices = x.max(dim=-1)", "ids = indices.float()"],
    ["hidden = x", "lens = mask.sum(dim=1)", "last = hidden[torch.arange(hidden.size(0)), lens - 1]"],
]


@pytest.mark.parametrize("steps", QUIET, ids=[f"quiet-{k}" for k in range(len(QUIET))])
def test_correct_named_pipelines_on_a_padded_batch_stay_quiet(steps, tiny_ckpt):
    """A name computed from the mask (``m = mask.unsqueeze(-1).float()``) masks like the mask itself."""
    trace = run({"texts": THREE, "checkpoint": TINY, "steps": steps}, tiny_ckpt)
    assert trace.ok, str(trace.error)
    assert not warnings_of(trace), [w.to_dict() for w in warnings_of(trace)]


# ------------------------------------------------------------------------------------------- lessons


LESSON_SPECS = [(f"{x.name}:{x.kind.value}", x.spec) for x in list_lessons()] + [
    (f"{x.name}:fixed", x.fixed_spec) for x in list_lessons() if x.fixed_spec is not None
]


@pytest.fixture(scope="module")
def checkpoints():
    from core.model.checkpoints import load_checkpoint

    return {name: load_checkpoint(name, "cpu") for name in ("random:bert-base", "random:bert-tiny")}


@pytest.mark.parametrize("sid,spec", LESSON_SPECS, ids=[s[0] for s in LESSON_SPECS])
def test_every_lesson_says_the_same_in_named_form(sid, spec, checkpoints):
    """Each lesson (mistakes included) written with names raises the same warnings at the same steps, and the
    same error kind with a fix; a named mistake's fix clears it."""
    ckpt = checkpoints.get(spec.checkpoint) if spec.uses_model else None
    if spec.uses_model and ckpt is None:
        pytest.skip("the bundled model: the lesson's own tests cover it")
    bare = run_spec(spec, ckpt, device="cpu")
    named_data = twin(spec.to_dict())
    named = run_spec(Spec.from_dict(named_data), ckpt, device="cpu")

    def said(t):
        return sorted((w.code, w.step_index) for w in warnings_of(t)), t.error.kind if t.error else None

    assert said(named) == said(bare)
    fix = named.error.fix if named.error else next((w.fix for w in warnings_of(named) if w.fix), None)
    if fix is not None:
        fixed = run_spec(Spec.from_dict(apply_fix(named_data, fix)), ckpt, device="cpu")
        assert fixed.ok and not warnings_of(fixed), [w.to_dict() for w in warnings_of(fixed)]
