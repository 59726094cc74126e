"""Masked attention pooling is not an unmasked reduction: weights from a softmax over scores masked like the mask
(``masked_fill(mask == 0, -inf)``, ``torch.where``, ``+ (1 - mask) * -1e9``) are exactly 0 at every [PAD] position,
so ``(out * w.unsqueeze(-1)).sum(1)`` or ``torch.bmm(w.unsqueeze(1), out)`` only adds real tokens (breaker report,
item 4). Weights that are not masked (a softmax over raw scores, scores multiplied by the mask) still are warned.

The reference is plain torch on the trace's own tensors: for each text, the pooled vector must equal the weighted
sum over its real tokens alone (silent rows) or differ from it (warned rows).
"""

from __future__ import annotations

import pytest
import torch

from core.spec import Spec
from core.trace import run_spec

TEXTS = ["This movie was absolutely amazing, I loved every single minute of it!", "Bad."]
LSTM = {"lstm": {"hidden_size": 64, "batch_first": True}, "output": "out, (h_n, c_n)"}
DOT = "(out @ h_n[-1].unsqueeze(2)).squeeze(2)"  # (b, l): each position's score against the last state

# (id, steps, the reduction step is warned, the name of the weights, the name of the data they weigh)
CASES = [
    (
        "breaker-masked-fill-inf",
        [LSTM, f"s = {DOT}.masked_fill(mask == 0, float('-inf'))", "w = torch.softmax(s, 1)",
         "(out * w.unsqueeze(-1)).sum(1)"],
        False, "w", "out",
    ),
    (
        "bmm",
        [LSTM, f"s = {DOT}.masked_fill(mask == 0, float('-inf'))", "w = torch.softmax(s, 1)",
         "torch.bmm(w.unsqueeze(1), out).squeeze(1)"],
        False, "w", "out",
    ),
    (
        "where",
        [LSTM, "s = out.sum(-1)", "s = torch.where(mask.bool(), s, float('-inf'))", "w = s.softmax(dim=-1)",
         "ctx = (out * w.unsqueeze(-1)).sum(dim=1)"],
        False, "w", "out",
    ),
    (
        "additive-minus-1e9-weights-first",
        [LSTM, "s = out.mean(-1) + (1 - mask) * -1e9", "w = F.softmax(s, dim=1)",
         "pooled = torch.sum(w.unsqueeze(-1) * out, dim=1)"],
        False, "w", "out",
    ),
    (
        "encoder-output-attention-mask",
        ["scores = x.mean(-1).masked_fill(attention_mask == 0, -1e4)", "att = scores.softmax(-1)",
         "pooled = (x * att.unsqueeze(-1)).sum(dim=1)"],
        False, "att", "x",
    ),
    # the real faults stay warned
    (
        "softmax-over-raw-scores",
        [LSTM, f"w = torch.softmax({DOT}, 1)", "(out * w.unsqueeze(-1)).sum(1)"],
        True, "w", "out",
    ),
    (
        "scores-times-mask-is-not-masking",
        [LSTM, "s = out.mean(-1) * mask", "w = s.softmax(1)", "(out * w.unsqueeze(-1)).sum(1)"],
        True, "w", "out",
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny():
    from core.model.checkpoints import load_checkpoint

    return load_checkpoint("random:bert-tiny", "cpu")


def _tensor(trace, name: str) -> torch.Tensor:
    """The tensor the last step that bound ``name`` gave it (``x``: the source stage when no step bound it)."""
    for k in range(len(trace.stages) - 1, -1, -1):
        if name in (trace.stages[k].extra("binds") or ()):
            return trace.tensors[k]
    assert name == "x"
    return next(t for s, t in zip(reversed(trace.stages), reversed(trace.tensors)) if s.step_index is None)


@pytest.mark.parametrize(("steps", "warned", "weights", "data"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_masked_attention_pooling(steps, warned, weights, data, tiny):
    trace = run_spec(Spec.from_dict({"texts": TEXTS, "checkpoint": "random:bert-tiny", "steps": steps}), tiny)
    assert trace.ok, str(trace.error)
    codes = [(w.code, w.step_index) for w in trace.warnings if w.code == "unmasked_reduction"]
    assert codes == ([("unmasked_reduction", len(steps) - 1)] if warned else []), codes
    # torch: the pooled vector of each text against the weighted sum over its real tokens only
    lengths = list(trace.encoding.lengths)
    assert min(lengths) < max(lengths), "the batch is padded"
    w, out, pooled = _tensor(trace, weights), _tensor(trace, data), trace.tensors[-1]
    own = torch.stack([(out[j, :n] * w[j, :n, None]).sum(0) for j, n in enumerate(lengths)])
    assert torch.allclose(pooled, own, atol=1e-6) is not warned
    pads = torch.cat([w[j, n:] for j, n in enumerate(lengths)])
    assert bool((pads == 0).all()) is not warned


def test_the_warned_reduction_is_the_plain_sum_case(tiny):
    """The positive case of the report's rule: a plain sum over the tokens of a padded batch."""
    for steps in ([LSTM, "out.sum(1)"], ["x.sum(1)"]):
        trace = run_spec(Spec.from_dict({"texts": TEXTS, "checkpoint": "random:bert-tiny", "steps": steps}), tiny)
        assert [w.code for w in trace.warnings if w.severity == "warning"] == ["unmasked_reduction"]
