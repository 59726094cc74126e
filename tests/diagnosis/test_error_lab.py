"""From a pasted error to a failing and a fixed chain on a synthetic tensor, and what the page draws of them."""

from __future__ import annotations

import time

import pytest

from core.diagnosis.error_lab import ErrorLab, LayerCheck, build_error_lab, guess_input_shape
from core.diagnosis.explain import explain
from core.lab.compare import compare_chains
from core.lab.drawing import plan_drawing
from core.lab.lineage import trace_lineage

CONV = (
    "RuntimeError: Given groups=1, weight of size [512, 768, 3], expected input[32, 128, 768] to have 768 "
    "channels, but got 128 channels instead"
)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/home/me/project/train.py", line 42, in <module>\n'
    "    conv_output = conv1d(bert_output)\n"
    '  File "/usr/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1775, in _call_impl\n'
    "    return forward_call(*args, **kwargs)\n"
    '  File "/usr/lib/python3.11/site-packages/torch/nn/modules/conv.py", line 375, in forward\n'
    "    return self._conv_forward(input, self.weight, self.bias)\n"
    f"{CONV}\n"
)
RESHAPE = "RuntimeError: shape '[32, 16, 6000]' is invalid for input of size 3145728"
VIEW = (
    "RuntimeError: view size is not compatible with input tensor's size and stride (at least one dimension "
    "spans across two contiguous subspaces). Use .reshape(...) instead."
)
LINEAR = "RuntimeError: mat1 and mat2 shapes cannot be multiplied (32x98304 and 768x2)"
RNN = "RuntimeError: input.size(-1) must be equal to input_size. Expected 768, got 128"
INFER = "RuntimeError: only one dimension can be inferred"
WITH_CHAINS = [CONV, TRACEBACK, RESHAPE, VIEW, LINEAR, RNN, INFER]


def _run(lab: ErrorLab):
    """What the page does: plan the drawing, trace every chain on it."""
    plan = plan_drawing(lab.shape, [c.steps for c in lab.chains])
    assert plan.ok, plan.note
    return plan, [trace_lineage(plan.drawn_shape, d) for d in plan.drawn_chains]


def _final_shape(plan, i):
    return plan.full_layouts[i][-1][0]


def test_conv_channels_gives_seed_004_three_chains():
    lab = build_error_lab(CONV)
    assert lab.explanation.kind == "conv_channels" and lab.shape == (32, 128, 768)
    assert [c.role for c in lab.chains] == ["failing", "wrong", "fixed"]
    assert [c.steps for c in lab.chains] == [("x",), ("x.view(32, 768, 128)",), ("x.permute(0, 2, 1)",)]
    plan, lins = _run(lab)
    assert all(lin.ok for lin in lins)
    checks = [c.layer.check(_final_shape(plan, i)) for i, c in enumerate(lab.chains)]
    assert [ok for ok, _ in checks] == [False, True, True]  # the view passes the layer...
    assert "reads dim 1: 128, not 768" in checks[0][1]
    verdict = compare_chains(lab.shape, lab.fixed.steps, lab.chains[1].steps)
    assert verdict.kind == "same_shape_different_data"  # ...and still scrambles the data


def test_a_whole_traceback_with_file_paths_is_parsed():
    lab = build_error_lab(TRACEBACK)
    assert lab.explanation.recognized and lab.explanation.kind == "conv_channels"
    assert lab.shape == (32, 128, 768) and len(lab.chains) == 3


def test_reshape_size_seed_000():
    lab = build_error_lab(RESHAPE)
    assert lab.shape == (32, 128, 768) and "3,145,728" in lab.shape_note
    assert [c.steps for c in lab.chains] == [("x.reshape(32, 16, 6000)",), ("x.reshape(32, 16, -1)",)]
    plan, lins = _run(lab)
    assert plan.full_errors[0] == "shape '[32, 16, 6000]' is invalid for input of size 3145728"
    assert lins[0].error is not None and lins[0].error.kind == "reshape_numel"
    assert lins[1].ok and _final_shape(plan, 1) == (32, 16, 6144)


def test_view_stride_draws_the_failure_and_two_fixes_that_copy():
    lab = build_error_lab(VIEW)
    assert lab.shape == (2, 4, 6) and "illustrative" in lab.shape_note
    _, lins = _run(lab)
    assert lins[0].error.kind == "view_stride"
    assert lins[1].ok and lins[1].final.memory == "copy"
    assert compare_chains(lab.shape, lab.chains[1].steps, lab.chains[2].steps).kind == "identical"


def test_linear_mat1_mat2_flattened_tokens():
    lab = build_error_lab(LINEAR)
    assert lab.shape == (32, 128, 768)
    plan, lins = _run(lab)
    assert [lab.chains[i].layer.check(_final_shape(plan, i))[0] for i in range(3)] == [False, True, True]
    assert lins[1].final.has_mixed  # the mean mixes all tokens


def test_linear_with_unrelated_sizes_has_no_chain_but_says_why():
    lab = build_error_lab("RuntimeError: mat1 and mat2 shapes cannot be multiplied (32x384 and 700x2)")
    assert lab.explanation.recognized and not lab.chains and "nn.Linear(384, 2)" in lab.note


def test_rnn_input_size_moves_the_features_last():
    lab = build_error_lab(RNN)
    assert lab.shape == (2, 768, 128)
    plan, _ = _run(lab)
    assert [lab.chains[i].layer.check(_final_shape(plan, i))[0] for i in range(3)] == [False, True, True]
    assert compare_chains(lab.shape, lab.chains[2].steps, lab.chains[1].steps).kind == "same_shape_different_data"


def test_multiple_infer():
    lab = build_error_lab(INFER)
    _, lins = _run(lab)
    assert lins[0].error is not None and lins[1].ok


@pytest.mark.parametrize("message", WITH_CHAINS)
def test_every_lab_has_a_failing_chain_that_fails_and_a_fix_that_runs(message):
    lab = build_error_lab(message)
    plan, lins = _run(lab)
    for i, (chain, lin) in enumerate(zip(lab.chains, lins)):
        real_fails = bool(plan.full_errors[i]) or (
            chain.layer is not None and not chain.layer.check(_final_shape(plan, i))[0]
        )
        assert real_fails == (chain.role == "failing"), chain
        if chain.role != "failing":
            assert lin.ok


@pytest.mark.parametrize(
    "message",
    ["", "hello world", "Segmentation fault (core dumped)", "RuntimeError: CUDA out of memory.", "x" * 1_000_000],
    ids=["empty", "words", "segfault", "unknown-runtime-error", "1MB"],
)
def test_garbage_is_not_recognized_quickly_and_has_no_chains(message):
    start = time.perf_counter()
    lab = build_error_lab(message)
    assert time.perf_counter() - start < 2
    assert not lab.explanation.recognized and lab.explanation.kind == "unrecognized"
    assert lab.chains == () and lab.shape is None


def test_a_1mb_traceback_ending_in_a_known_error_is_still_found_fast():
    start = time.perf_counter()
    lab = build_error_lab("noise line\n" * 100_000 + CONV)
    assert time.perf_counter() - start < 2
    assert lab.explanation.kind == "conv_channels" and len(lab.chains) == 3


def test_an_explanation_can_be_passed_in():
    e = explain(RESHAPE)
    assert build_error_lab(e).explanation is e


@pytest.mark.parametrize(
    ("numel", "target", "shape"),
    [(3145728, [32, 16, 6000], (32, 128, 768)), (98304, [1, 16, 6000], (128, 768)), (7, [2, 3], (7,)),
     (30, [5, -1], (5, 6))],
)  # fmt: skip
def test_guess_input_shape(numel, target, shape):
    assert guess_input_shape(numel, target) == shape


def test_layer_check_wording():
    check = LayerCheck("Conv1d(in_channels=768)", 1, 768, (2, 3), unbatched_dim=0)
    assert check.check((32, 768, 128)) == (
        True,
        "Conv1d(in_channels=768) reads dim 1: 768 ✓ — it runs on (32, 768, 128)",
    )
    assert check.check((768, 10))[0]  # unbatched (channels, length): channels at dim 0
    assert not check.check((32, 768))[0]  # a pooled (batch, hidden) is ONE sample with 32 channels
    ok, why = check.check((32, 768, 128, 1))
    assert not ok and "needs a 2-D or 3-D input" in why
    ok, why = LayerCheck("Linear(in_features=768)", -1, 768).check(())
    assert not ok and "does not have" in why
