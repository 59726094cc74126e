"""The memory budget is per pipeline (issue 16, item 6), and a run that cannot finish says why.

A 79-character link ``{"shape": [8192, 8192], "steps": ["x.repeat(1, 2)" + ".repeat(1, 1)" * 31]}`` reached 11.4 GB
because every intermediate stayed alive. Now the bytes held at once (names, stages kept for display, an op's
input and output) are predicted on meta tensors and refused above the budget before anything runs, and the run
lets go of what it no longer needs: intermediates of a chain, large stage tensors once later steps ran, bound
names no later step reads.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import torch

from core import limits
from core.engine.predict import parse_steps, predict_chain, source_env
from core.engine.retention import Retention, live_bytes
from core.errors import BudgetExceeded
from core.spec import Spec
from core.trace import run_spec

MB = 2**20


def _peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux): the peak from here on


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


LIMIT = r"the pipeline would hold [\d.]+ GB at once .* limit for one run is 1\.1 GB"


@pytest.mark.parametrize(
    "spec",
    [
        {"shape": [8192, 8192], "steps": ["x.repeat(1, 2)" + ".repeat(1, 1)" * 31]},  # the issue: 11.4 GB
        {"shape": [8192, 8192], "steps": ["x.repeat(1, 1)"] * 32},  # the issue, as 32 steps
        {"shape": [8192, 4096], "steps": ["x.repeat(2, 2).repeat(1, 1)"]},
    ],
    ids=["repeat-chain", "repeat-steps", "copy-of-a-copy"],
)
def test_over_the_pipeline_budget_at_the_first_step_is_refused_before_anything_runs(spec):
    start = time.perf_counter()
    with pytest.raises(BudgetExceeded, match=LIMIT):
        run_spec(Spec.from_dict(spec))
    assert time.perf_counter() - start < 10


def test_over_the_budget_at_a_later_step_runs_the_steps_before_it():
    """Names still read later stay alive: w, v and x together are over 1 GiB at step 2."""
    spec = {"shape": [8192, 4096], "steps": ["w = x.repeat(2, 1)", "v = w.repeat(2, 1)", "x + w.sum() + v.sum()"]}
    trace = run_spec(Spec.from_dict(spec))
    assert trace.error.kind == "refused" and trace.error.step_index == 1 and len(trace.stages) == 2
    assert re.search(LIMIT, trace.error.message)


def test_a_long_chain_of_copies_runs_within_the_budget():
    """32 steps of repeat on a 128 MB tensor: each old stage is let go, so it runs (4 GB if all were kept)."""
    trace = run_spec(Spec.from_dict({"shape": [2, 4096, 4096], "steps": ["x.repeat(1, 1, 1)"] * 32}))
    assert trace.ok and len(trace.stages) == 33
    assert [t is None for t in trace.tensors] == [True] * 32 + [False], "only the last stage tensor is kept"
    assert all(s.bytes == 128 * MB for s in trace.stages), "the records stay"


def test_peak_rss_of_a_long_chain_stays_near_three_stages():
    import gc

    gc.collect()
    _peak_rss_reset()
    base = _peak_rss()
    trace = run_spec(Spec.from_dict({"shape": [2, 2048, 4096], "steps": ["x.repeat(1, 1, 1)"] * 16}))  # 64 MB each
    growth = _peak_rss() - base
    assert trace.ok
    assert growth < 5 * 64 * MB, f"peak grew by {growth / MB:.0f} MB; keeping all 17 stages would be 1088 MB"


def test_intermediates_of_one_chain_are_let_go():
    import gc

    gc.collect()
    _peak_rss_reset()
    base = _peak_rss()
    trace = run_spec(Spec.from_dict({"shape": [4096, 4096], "steps": ["x.repeat(1, 2)" + ".repeat(1, 1)" * 20]}))
    growth = _peak_rss() - base
    assert trace.ok and trace.stages[-1].shape == (4096, 8192)
    assert growth < 4 * 128 * MB, f"peak grew by {growth / MB:.0f} MB; all 21 intermediates would be 2.7 GB"


def test_views_cost_nothing():
    shape = (16, 1024, 1024)  # 64 MiB
    views = Spec.from_dict({"shape": list(shape), "steps": ["x.unsqueeze(1).expand(16, 8, 1024, 1024)", "x.sum(1)"]})
    copies = views.replace(steps=["x.unsqueeze(1).expand(16, 8, 1024, 1024).contiguous()", "x.sum(1)"])
    peaks = []
    for spec in (views, copies):
        retention = Retention(limits.current().memory_bytes)
        predict_chain(spec, parse_steps(spec), shape, retention=retention)
        peaks.append(retention.peak)
    assert peaks[0] <= 2 * 64 * MB + MB, "the source and the sum: the 512 MiB expansion is a view of the source"
    assert peaks[1] >= 64 * MB + 512 * MB, "the copy of the expansion counts"


def test_names_no_later_step_reads_are_let_go():
    """`w` (256 MiB) is read by no later step: let go, so the copy at step 3 fits in 600 MB; read later, it does not."""
    steps = ["w = x.repeat(4, 1)", "x * 2", "y = x.repeat(4, 1)"]
    free = Spec.from_dict({"shape": [4096, 4096], "steps": [*steps, "x.mean(0)"]})
    kept = Spec.from_dict({"shape": [4096, 4096], "steps": [*steps, "x + w.sum()"]})
    predict_chain(free, parse_steps(free), (4096, 4096), retention=Retention(600 * 10**6))
    with pytest.raises(BudgetExceeded, match=r"at step 3 the pipeline would hold 7\d\d\.\d MB"):
        predict_chain(kept, parse_steps(kept), (4096, 4096), retention=Retention(600 * 10**6))
    trace = run_spec(free)
    assert trace.ok
    assert trace.tensors[1] is None and trace.side[1]["binds"] is None, "the 256 MiB stage and its name let go"


def test_prediction_matches_the_run():
    """The bytes predicted on meta tensors equal what the real run holds after each step."""
    spec = Spec.from_dict(
        {
            "shape": [8, 256, 512],
            "steps": [
                "x.transpose(1, 2)",
                {"conv1d": {"out_channels": 256, "kernel_size": 3}},
                "w = x.repeat(1, 2, 1)",
                "x.mean(-1)",
                {"linear": {"out_features": 64}},
            ],
        }
    )
    predicted = Retention(limits.current().memory_bytes)
    predict_chain(spec, parse_steps(spec), (8, 256, 512), env=source_env(spec, (8, 256, 512)), retention=predicted)
    trace = run_spec(spec)
    assert trace.ok
    alive = [t for t in trace.tensors if t is not None]
    assert live_bytes(alive) <= predicted.peak


@pytest.mark.parametrize(("memory_mb", "ok"), [(64, False), (512, True)])
def test_the_budget_follows_the_operator_setting(monkeypatch, memory_mb, ok):
    monkeypatch.setenv("SHAPE_EXPLORER_MEMORY_MB", str(memory_mb))
    spec = Spec.from_dict({"shape": [2, 4096, 1024], "steps": ["x.repeat(1, 2, 1)"]})  # 32 MB -> 64 MB
    if ok:
        assert run_spec(spec).ok
    else:
        with pytest.raises(BudgetExceeded, match=rf"limit for one run is {memory_mb * MB / 1e6:.1f} MB"):
            run_spec(spec)


def test_texts_count_the_encoder_output(tiny_ckpt, monkeypatch):
    monkeypatch.setenv("SHAPE_EXPLORER_MEMORY_MB", "0.5")
    spec = Spec.from_dict(
        {"texts": ["word " * 100] * 8, "checkpoint": "random:bert-tiny", "steps": ["x.repeat(1, 1, 1)"]}
    )
    with pytest.raises(BudgetExceeded, match=r"limit for one run is 524\.3 KB"):
        run_spec(spec, checkpoint=tiny_ckpt)


# --- a step that cannot finish ------------------------------------------------------------------------------
def test_out_of_memory_at_a_step_is_not_called_a_shape_error(monkeypatch):
    """The issue: out-of-memory showed as "Step N failed ... doesn't look like a PyTorch shape error"."""
    import core.trace

    real = core.trace.run_statement

    def allocator_fails(stmt, env, max_numel, light=False):
        if "repeat" in stmt.source:
            raise RuntimeError(
                "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
                "allocate 3200000000000 bytes. Error code 12 (Cannot allocate memory)"
            )
        return real(stmt, env, max_numel, light=light)

    monkeypatch.setattr(core.trace, "run_statement", allocator_fails)
    trace = run_spec(Spec.from_dict({"shape": [2, 3], "steps": ["x.T", "x.repeat(2, 2)"]}))
    err = trace.error
    assert err.kind == "out_of_memory" and err.step_index == 1 and len(trace.stages) == 2
    assert err.message.startswith("the server ran out of memory running this step")
    assert "Not a shape problem" in err.explanation and "shape error" not in err.explanation
    assert trace.to_dict()["error"]["kind"] == "out_of_memory"


def test_a_run_stopped_between_steps_keeps_the_steps_before_it(monkeypatch):
    import core.trace

    real = core.trace.run_statement
    with limits.deadline(100) as d:

        def slow(stmt, env, max_numel, light=False):
            d.cancel()  # the deadline passes while step 1 runs
            return real(stmt, env, max_numel, light=light)

        monkeypatch.setattr(core.trace, "run_statement", slow)
        trace = run_spec(Spec.from_dict({"shape": [2, 3, 4], "steps": ["x.transpose(1, 2)", "x.flatten(1)"]}))
    assert trace.error.kind == "stopped" and trace.error.step_index == 1
    assert trace.error.message == "the run was stopped before step 2"
    assert [s.shape for s in trace.stages] == [(2, 3, 4), (2, 4, 3)]


def test_torch_threads_are_not_changed_by_a_run():
    before = torch.get_num_threads()
    run_spec(Spec.from_dict({"shape": [2, 3], "steps": ["x.T"]}))
    assert torch.get_num_threads() == before


def test_the_work_budget_is_for_the_whole_run(monkeypatch):
    """Each layer under the budget, the run over it: refused at the step that crosses it."""
    monkeypatch.setenv("SHAPE_EXPLORER_WORK_GFLOPS", "1")
    layer = {"linear": {"out_features": 1024}}
    one = Spec.from_dict({"shape": [256, 1024], "steps": [layer]})  # 0.54 GFLOP
    assert run_spec(one).ok
    trace = run_spec(one.replace(steps=[layer, layer, layer]))
    assert trace.error.kind == "refused" and trace.error.step_index == 1
    assert "with step 2 the run would take about 1.1 GFLOP of work in all" in trace.error.message


def test_the_encoder_work_counts_toward_the_run(tiny_ckpt, monkeypatch):
    from core.model.encoding import encoder_flops

    texts = ["word " * 60] * 4
    enc = encoder_flops(2, 128, 512, 4, 62)
    monkeypatch.setenv("SHAPE_EXPLORER_WORK_GFLOPS", str(enc * 1.5 / 1e9))
    spec = Spec.from_dict(
        {"texts": texts, "checkpoint": "random:bert-tiny", "steps": [{"linear": {"out_features": 512}}]}
    )
    assert run_spec(spec, checkpoint=tiny_ckpt).ok  # 4 x 62 x 128 x 512 x 2 = 33 MFLOP on top: fits
    big = spec.replace(steps=[{"linear": {"out_features": 2048}}])  # 130 MFLOP: alone fine, with the encoder's not
    with pytest.raises(BudgetExceeded, match=r"in all \(the encoder and the layer steps\)"):
        run_spec(big, checkpoint=tiny_ckpt)
