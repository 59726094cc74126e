"""Issue 12 §2/§3: silent bugs warned in every layout, and every fix offered applied and re-run.

Each row: a spec, the finding it must raise (code, wording that names the real cause), the fix's step; the fix is
applied, the spec re-run, and the result must run with no warning at all (the fix creates nothing new).
The right answers are checked against plain torch where a value is claimed (tests at the bottom).
"""

from __future__ import annotations

import pytest
import torch

from core.fixes import apply_fix
from core.spec import Spec
from core.trace import run_spec

TINY = "random:bert-tiny"
# 4 and 18 tokens with the uncased vocabulary ([CLS] a b [SEP]; 16 words + 2)
SHORT_LONG = ["a b", "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"]
THREE = ["short one", "a somewhat longer text with many more words in it", "mid length text here"]
BI = {"hidden_size": 64, "batch_first": True, "bidirectional": True}


def run(data: dict, ckpt=None):
    return run_spec(Spec.from_dict(data), ckpt, device="cpu")


def warnings_of(trace) -> list:
    return [w for w in trace.warnings if w.severity == "warning"]


def check_fix_clears(data: dict, code: str, ckpt=None):
    """The finding ``code`` is there with a fix; applied, the spec runs with no warning at all. Returns both."""
    trace = run(data, ckpt)
    assert trace.ok, str(trace.error)
    found = [w for w in trace.warnings if w.code == code]
    assert len(found) == 1, [w.to_dict() for w in trace.warnings]
    w = found[0]
    assert w.severity == "warning" and w.fix is not None, w.to_dict()
    fixed = run(apply_fix(data, w.fix), ckpt)
    assert fixed.ok, str(fixed.error)
    assert not warnings_of(fixed), [x.to_dict() for x in warnings_of(fixed)]
    return w, fixed


# (id, spec, code, wording fragments, the fixed step (or None to skip), needs the tiny checkpoint)
CASES = [
    # ---- view used as a transpose, decided by the data (the sizes divide evenly in the first two)
    (
        "view-100-12-6",
        {
            "shape": [100, 12, 6],
            "steps": ["x.view(100, 6, 12)", {"conv1d": {"in_channels": 6, "out_channels": 4, "kernel_size": 3}}],
        },
        "view_as_permute",
        ["the same shape as `x.permute(0, 2, 1)`, but not the same data", "dim 1 should be hidden (H)"],
        "x.permute(0, 2, 1)",
        False,
    ),
    (
        "view-4d-merge",
        {
            "shape": [20, 30, 12, 6],
            "steps": ["x.view(-1, 6, 12)", {"conv1d": {"in_channels": 6, "out_channels": 4, "kernel_size": 3}}],
        },
        "view_as_permute",
        ["the same shape as `x.permute(0, 1, 3, 2).reshape(-1, 6, 12)`"],
        "x.permute(0, 1, 3, 2).reshape(-1, 6, 12)",
        False,
    ),
    (
        "reshape-16-8-4",
        {
            "shape": [16, 8, 4],
            "steps": ["x.reshape(16, 4, 8)", {"conv1d": {"in_channels": 4, "out_channels": 2, "kernel_size": 3}}],
        },
        "view_as_permute",
        ["reshape keeps the memory order"],
        "x.permute(0, 2, 1)",
        False,
    ),
    (
        "view-odd-sizes",
        {"shape": [8, 5, 3], "steps": ["x.view(8, 3, 5)"]},
        "view_as_permute",
        ["`x.permute(0, 2, 1)`"],
        "x.permute(0, 2, 1)",
        False,
    ),
    (
        "view-text-symbolic",
        {"texts": THREE, "checkpoint": TINY, "steps": ["x.view(x.shape[0], 128, -1)"]},
        "view_as_permute",
        ["(batch (B), tokens (L), hidden (H)) numbers are scrambled"],
        "x.permute(0, 2, 1)",
        True,
    ),
    (
        "view-4d-batch-tokens-merge",
        {"shape": [6, 4, 10, 2], "steps": ["x.view(24, 2, 10)"]},
        "view_as_permute",
        ["x.permute(0, 1, 3, 2).reshape(24, 2, 10)"],
        "x.permute(0, 1, 3, 2).reshape(24, 2, 10)",
        False,
    ),
    (
        "view-after-flatten",
        {"shape": [4, 10, 8], "steps": ["x.flatten(1)", "x.view(4, 8, 10)"]},
        "view_as_permute",
        ["the same shape as `x.reshape(4, 10, 8).permute(0, 2, 1)`, but not the same data"],
        "x.reshape(4, 10, 8).permute(0, 2, 1)",
        False,
    ),
    # ---- the last step of a bidirectional LSTM / GRU
    (
        "bilstm-x-last",
        {"shape": [4, 10, 32], "steps": [{"lstm": BI}, "x[:, -1, :]"]},
        "bidirectional_last_step",
        ["at the last position it has read one token", "2 × 64: forward then backward"],
        "torch.cat([h_n[-2], h_n[-1]], dim=1)",
        False,
    ),
    (
        "bilstm-h_n-last",
        {"shape": [4, 10, 32], "steps": [{"lstm": BI}, "h_n[-1]"]},
        "bidirectional_last_step",
        ["the backward direction of the last layer only", "half the final state (64 of 2 × 64)"],
        "torch.cat([h_n[-2], h_n[-1]], dim=1)",
        False,
    ),
    (
        "bigru-seq-first-x-last",
        {
            "shape": [6, 7, 16],
            "steps": ["x.transpose(0, 1)", {"gru": {"hidden_size": 8, "bidirectional": True}}, "x[-1]"],
        },
        "bidirectional_last_step",
        ["bidirectional GRU's output", "2 × 8"],
        "torch.cat([h_n[-2], h_n[-1]], dim=1)",
        False,
    ),
    (
        "bilstm-2-layers-x-first",
        {"shape": [3, 9, 16], "steps": [{"lstm": {**BI, "hidden_size": 12, "num_layers": 2}}, "x[:, 0, :]"]},
        "bidirectional_last_step",
        ["at position 0 it has read one token"],
        "torch.cat([h_n[-2], h_n[-1]], dim=1)",
        False,
    ),
    # ---- the padded last step follows batch_first and the directions
    (
        "padded-bilstm-batch-first",
        {"texts": THREE, "checkpoint": TINY, "steps": [{"lstm": {**BI, "hidden_size": 8}}, "x[:, -1, :]"]},
        "padded_last_step",
        ["the backward half at position 0", "2 of 3 texts are shorter"],
        "torch.cat([x[torch.arange(x.shape[0]), lengths - 1, :8], x[:, 0, 8:]], dim=1)",
        True,
    ),
    (
        "padded-bilstm-seq-first",
        {
            "texts": THREE,
            "checkpoint": TINY,
            "steps": ["x.transpose(0, 1)", {"lstm": {"hidden_size": 8, "bidirectional": True}}, "x[-1]"],
        },
        "padded_last_step",
        ["forward 8 then backward 8 features"],
        "torch.cat([x[lengths - 1, torch.arange(x.shape[1]), :8], x[0, :, 8:]], dim=1)",
        True,
    ),
    (
        "padded-lstm-seq-first",
        {
            "texts": THREE,
            "checkpoint": TINY,
            "steps": ["x.transpose(0, 1)", {"lstm": {"hidden_size": 8}}, "x[-1, :, :]"],
        },
        "padded_last_step",
        ["LSTM output after reading [PAD] tokens"],
        "x[lengths - 1, torch.arange(x.shape[1])]",
        True,
    ),
    (
        "padded-gru-seq-first-h_n",
        {"texts": THREE, "checkpoint": TINY, "steps": ["x.transpose(0, 1)", {"gru": {"hidden_size": 8}}, "h_n[-1]"]},
        "padded_last_step",
        ["the same value as `x[-1]` of the output"],
        "x[lengths - 1, torch.arange(x.shape[1])]",
        True,
    ),
    (
        "padded-bigru-cat-h_n",
        {
            "texts": THREE,
            "checkpoint": TINY,
            "steps": [{"gru": {**BI, "hidden_size": 8}}, "torch.cat([h_n[-2], h_n[-1]], dim=1)"],
        },
        "padded_last_step",
        ["the backward half at position 0"],
        "torch.cat([x[torch.arange(x.shape[0]), lengths - 1, :8], x[:, 0, 8:]], dim=1)",
        True,
    ),
    # ---- h_n reshaped across layers·directions or into the batch
    (
        "h_n-view-batch",
        {"shape": [4, 10, 32], "steps": [{"lstm": BI}, "h_n.view(4, -1)"]},
        "batch_axis_mixed",
        ["mixing the batch axis with layers·directions", "entry 0 of dim 0 holds values of texts 0, 1"],
        "h_n.permute(1, 0, 2).reshape(4, -1)",
        False,
    ),
    (
        "h_n-view-batch-odd-2-layers",
        {
            "shape": [3, 10, 32],
            "steps": [{"lstm": {"hidden_size": 16, "num_layers": 2, "batch_first": True}}, "h_n.view(3, -1)"],
        },
        "batch_axis_mixed",
        ["(batch_first applies to the input and output only)"],
        "h_n.permute(1, 0, 2).reshape(3, -1)",
        False,
    ),
    (
        "h_n-folded-into-batch",
        {"shape": [4, 10, 32], "steps": [{"lstm": {**BI, "num_layers": 2}}, "h_n.reshape(-1, 64)"]},
        "batch_axis_mixed",
        ["dim 0 has 16 rows for 4 texts"],
        "torch.cat([h_n[-2], h_n[-1]], dim=1)",
        False,
    ),
    (
        "seq-first-tokens-folded",
        {"texts": THREE, "checkpoint": TINY, "steps": ["x.transpose(0, 1)", "x.reshape(-1, 128)"]},
        "batch_axis_mixed",
        ["mixing the batch axis with tokens (L)"],
        "x.permute(1, 0, 2).reshape(-1, 128)",
        True,
    ),
    (
        "h_n-cat-along-batch",
        {"shape": [4, 10, 32], "steps": [{"gru": BI}, "torch.cat([h_n[-2], h_n[-1]], dim=0)"]},
        "batch_axis_mixed",
        ["concatenates 2 states along dim 0, the batch axis", "8 rows for 4"],
        "torch.cat([h_n[-2], h_n[-1]], dim=1)",
        False,
    ),
    (
        "h_n-view-one-row-per-direction",
        {"shape": [4, 10, 32], "steps": [{"lstm": {**BI, "hidden_size": 16}}, "h_n.view(2, -1)"]},
        "batch_axis_mixed",
        ["every entry of dim 0 holds all 4 texts side by side in dim 1"],
        "torch.cat([h_n[-2], h_n[-1]], dim=1)",
        False,
    ),
    (
        "h_n-batch-first-assumed",
        {"shape": [4, 10, 32], "steps": [{"lstm": BI}, "h_n[:, -2, :]"]},
        "batch_axis_dropped",
        ["that is the batch axis, so it keeps text 2 only and drops the other 3", "even with batch_first=True"],
        "torch.cat([h_n[-2], h_n[-1]], dim=1)",
        False,
    ),
    (
        "h_n-batch-index-unidirectional",
        {
            "shape": [5, 10, 32],
            "steps": [{"lstm": {"hidden_size": 8, "num_layers": 2, "batch_first": True}}, "h_n[:, -1]"],
        },
        "batch_axis_dropped",
        ["keeps text 4 only and drops the other 4"],
        "h_n[-1]",
        False,
    ),
    (
        "x-batch-index-after-lstm",
        {"shape": [4, 10, 32], "steps": [{"lstm": {"hidden_size": 8, "batch_first": True}}, "x[-1]"]},
        "batch_axis_dropped",
        ["indexes dim 0 of x"],
        "x[:, -1]",
        False,
    ),
    # ---- mean / max / sum over a padded token axis without the mask (pooling fixes; formulas need `mask`)
    (
        "mean-4-and-18",
        {"texts": SHORT_LONG, "checkpoint": TINY, "steps": ["x.mean(dim=1)"]},
        "unmasked_reduction",
        ["1 of 2 texts is shorter (4 real tokens)", "14 [PAD] positions of 18", "pooling 'mean'"],
        None,
        True,
    ),
    (
        "amax-4-and-18",
        {"texts": SHORT_LONG, "checkpoint": TINY, "steps": ["x.amax(dim=1)"]},
        "unmasked_reduction",
        ["compete for every feature's maximum", "pooling 'max'"],
        None,
        True,
    ),
    (
        "einops-reduce-mean",
        {"texts": THREE, "checkpoint": TINY, "steps": ['reduce(x, "b l h -> b h", "mean")']},
        "unmasked_reduction",
        ["are averaged in as if they were words"],
        None,
        True,
    ),
]


@pytest.mark.parametrize("sid,data,code,fragments,step,model", CASES, ids=[c[0] for c in CASES])
def test_silent_bug_is_warned_and_its_fix_clears_it(sid, data, code, fragments, step, model, tiny_ckpt):
    w, _fixed = check_fix_clears(data, code, tiny_ckpt if model else None)
    for fragment in fragments:
        assert fragment in w.message, (fragment, w.message)
    if step is not None:
        assert step in fixed_steps(w.fix), w.fix


def fixed_steps(fix) -> list:
    """The steps a fix writes: the replaced step, or the whole new list of a "set steps" / "update" edit."""
    if fix.op in ("replace", "insert"):
        return [fix.step]
    if fix.op == "set" and fix.key == "steps":
        return list(fix.value)
    if fix.op == "update":
        return list(fix.value.get("steps", []))
    return []


def test_pooling_fix_replaces_the_unmasked_mean(tiny_ckpt):
    data = {"texts": SHORT_LONG, "checkpoint": TINY, "steps": ["x.mean(dim=1)", {"linear": {"out_features": 2}}]}
    w, fixed = check_fix_clears(data, "unmasked_reduction", tiny_ckpt)
    assert w.fix.op == "update" and w.fix.value == {"pooling": "mean", "steps": [{"linear": {"out_features": 2}}]}
    # the masked mean really differs from the unmasked one for the short text, and equals a plain-torch masked mean
    enc = fixed.encoding
    m = enc.attention_mask.unsqueeze(-1).float()
    h = enc.hidden_states[-1]
    torch.testing.assert_close(fixed.tensors[1], (h * m).sum(1) / m.sum(1))
    assert not torch.allclose(run(data, tiny_ckpt).tensors[1][0], fixed.tensors[1][0])


def test_bidirectional_fix_takes_both_final_states():
    data = {"shape": [4, 10, 32], "steps": [{"lstm": BI}, "x[:, -1, :]"]}
    trace = run(data)
    (w,) = warnings_of(trace)
    fixed = run(apply_fix(data, w.fix))
    out, got = fixed.tensors[1], fixed.tensors[2]
    torch.testing.assert_close(got[:, :64], out[:, -1, :64])  # forward: the last position
    torch.testing.assert_close(got[:, 64:], out[:, 0, 64:])  # backward: position 0, where it ends
    assert not torch.allclose(trace.tensors[2][:, 64:], got[:, 64:])


def test_padded_bidirectional_gather_is_each_texts_forward_end_and_backward_start(tiny_ckpt):
    data = {"texts": THREE, "checkpoint": TINY, "steps": [{"lstm": {**BI, "hidden_size": 8}}, "x[:, -1, :]"]}
    (w,) = warnings_of(run(data, tiny_ckpt))
    fixed = run(apply_fix(data, w.fix), tiny_ckpt)
    out, lengths = fixed.tensors[1], fixed.encoding.lengths
    expected = torch.stack([torch.cat([out[b, n - 1, :8], out[b, 0, 8:]]) for b, n in enumerate(lengths)])
    torch.testing.assert_close(fixed.tensors[2], expected)


def test_seq_first_gather_matches_the_batch_first_answer(tiny_ckpt):
    """The same LSTM weights read seq-first: the fixed pick equals each text's last real output step."""
    data = {"texts": THREE, "checkpoint": TINY, "steps": ["x.transpose(0, 1)", {"lstm": {"hidden_size": 8}}, "x[-1]"]}
    (w,) = warnings_of(run(data, tiny_ckpt))
    fixed = run(apply_fix(data, w.fix), tiny_ckpt)
    out, lengths = fixed.tensors[2], fixed.encoding.lengths  # (l, b, h)
    torch.testing.assert_close(fixed.tensors[3], torch.stack([out[n - 1, b] for b, n in enumerate(lengths)]))


def test_batch_rearrangement_gives_one_row_per_text():
    data = {"shape": [4, 10, 32], "steps": [{"lstm": BI}, "h_n.view(4, -1)"]}
    trace = run(data)
    (w,) = warnings_of(trace)
    fixed = run(apply_fix(data, w.fix))
    h_n = fixed.side[1]["h_n"]
    torch.testing.assert_close(fixed.tensors[2], torch.cat([h_n[0], h_n[1]], dim=1))  # forward then backward


def test_fix_that_widens_x_also_resizes_the_next_linear():
    data = {
        "shape": [4, 10, 32],
        "steps": [{"lstm": BI}, "h_n[-1]", {"linear": {"in_features": 64, "out_features": 2}}],
    }
    w, fixed = check_fix_clears(data, "bidirectional_last_step")
    assert w.fix.op == "set" and "set in_features=128 on step 3" in w.fix.description
    assert fixed.final.shape == (4, 2)


def test_concatenated_directions_get_a_right_note_not_entry_0():
    trace = run({"shape": [4, 10, 32], "steps": [{"lstm": BI}, "torch.cat([h_n[-2], h_n[-1]], dim=1)"]})
    assert not warnings_of(trace)
    (note,) = [w for w in trace.warnings if w.code == "axis_dropped"]
    assert "keeps both directions of the layer" in note.message and "entry 0" not in note.message
    two = run(
        {"shape": [4, 10, 32], "steps": [{"lstm": {**BI, "num_layers": 2}}, "torch.cat([h_n[-2], h_n[-1]], dim=1)"]}
    )
    (note,) = [w for w in two.warnings if w.code == "axis_dropped"]
    assert "keeps both directions of the last layer" in note.message


def test_forward_only_h_n_is_a_note_naming_the_backward_entry():
    trace = run({"shape": [4, 10, 32], "steps": [{"lstm": BI}, "h_n[-2]"]})
    assert not warnings_of(trace)
    (note,) = [w for w in trace.warnings if w.code == "axis_dropped"]
    assert "the layer's forward direction only (its backward state is `h_n[-1]`)" in note.message


def test_batch_reduction_is_warned_without_a_fix():
    trace = run({"shape": [4, 10, 32], "steps": ["x.mean(dim=0)"]})
    (w,) = warnings_of(trace)
    assert w.code == "batch_axis_dropped" and w.fix is None
    assert (
        "averages over the batch axis (dim 0, 4 texts)" in w.message and "reduce over tokens (L) (dim 1)" in w.message
    )


@pytest.mark.parametrize(
    "data",
    [
        {"shape": [32, 128, 768], "steps": ["x.reshape(32, 16, 6144)"]},  # a regrouping, not a transpose
        {"shape": [32, 128, 768], "steps": ["x.reshape(32, 16, 6144)", "x.reshape(32, 8, 12288)"]},  # regrouped again
        {"shape": [4, 10, 8], "steps": ["x.flatten(1)", "x.view(4, 10, 8)"]},  # flatten undone
        {"shape": [32, 10, 64], "steps": ["x.flatten(1)"]},
        {
            "shape": [4, 10, 32],
            "steps": [{"lstm": {"hidden_size": 8, "batch_first": True}}, "h_n.view(4, -1)"],
        },  # 1 layer
        {"shape": [1, 10, 32], "steps": [{"lstm": BI}, "h_n.view(1, -1)"]},  # one text: nothing to mix
        {"shape": [4, 10, 32], "steps": [{"lstm": BI}, "torch.cat([x[:, -1, :64], x[:, 0, 64:]], dim=1)"]},
        {"shape": [4, 10, 32], "steps": ["x.mean(dim=1)"]},  # synthetic: no padding
        {"shape": [2, 3, 4], "steps": ["x.view(2, 3, 4)"]},
        {"shape": [4, 3], "steps": ["x.view(-1)"]},  # everything flattened, batch-major
        {"shape": [4, 10, 32], "steps": ["x.reshape(-1, 32)"]},  # one row per token, batch-major
        {  # torch's idiom: a seq-first bidirectional output split into its directions
            "shape": [4, 10, 32],
            "steps": [
                "x.transpose(0, 1)",
                {"lstm": {"hidden_size": 16, "bidirectional": True}},
                "x.view(10, 4, 2, 16)",
            ],
        },
        {"shape": [6, 1, 4], "steps": ["x.view(6, 4, 1)"]},  # only a size-1 dim moves: same data
    ],
)
def test_no_false_alarm(data):
    trace = run(data)
    assert trace.ok and not warnings_of(trace), [w.to_dict() for w in trace.warnings]


def test_masked_pooling_and_gather_on_a_padded_batch_stay_quiet(tiny_ckpt):
    for data in (
        {"texts": SHORT_LONG, "checkpoint": TINY, "pooling": "mean"},
        {"texts": SHORT_LONG, "checkpoint": TINY, "steps": ["x[:, 0, :]"]},
        {"texts": SHORT_LONG, "checkpoint": TINY, "steps": ["x[:, 1:-1, :]"]},
    ):
        trace = run(data, tiny_ckpt)
        assert trace.ok and not warnings_of(trace), [w.to_dict() for w in trace.warnings]
