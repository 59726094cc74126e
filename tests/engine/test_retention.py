"""Retention: bytes counted by storage (views free), stages let go by size, names by later reads, work summed."""

from __future__ import annotations

import pytest
import torch

from core.engine.retention import Retention, chain_transients, drop_unread, live_bytes, tensors_in
from core.errors import BudgetExceeded

MB = 2**20


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_views_share_their_storage(device):
    x = torch.empty(256, 1024, device=device)  # 1 MiB
    views = [x, x.T, x.view(-1), x[:, :10], x.unsqueeze(0).expand(4, 256, 1024), x.reshape(1024, 256)]
    assert live_bytes(views) == MB
    assert live_bytes([x, x.clone(), x.T.contiguous()]) == 3 * MB
    assert live_bytes([(x, [x.T]), {"a": x.repeat(2, 1)}]) == 3 * MB


def test_tensors_in_structures_and_packed_sequences():
    from torch.nn.utils.rnn import pack_padded_sequence

    x = torch.zeros(2, 3, 4)
    packed = pack_padded_sequence(x, torch.tensor([3, 2]), batch_first=True)
    assert len(tensors_in((x, [x, {"k": x}], None, 3))) == 3
    assert tensors_in(packed)[0] is packed.data


def test_large_stages_are_let_go_once_a_later_step_ran_unless_a_name_holds_them():
    r = Retention(limit=100 * MB, keep_for_display=2 * MB)
    small = torch.empty(1024, device="meta")
    big = torch.empty(4 * MB // 4, device="meta")
    env = {"x": big}
    r.add_stage(big, env, "source")
    env = {"x": small, "w": big}  # the big source is still held by a name
    r.add_stage(small, env, "step 1")
    assert r.released() == []
    env = {"x": small}
    r.add_stage(small.clone(), env, "step 2")
    assert r.released() == [0], "no name holds it any more: let go"
    assert r.shown[1] is small, "small stages stay for the charts"


def test_the_newest_stage_is_always_kept():
    r = Retention(limit=100 * MB, keep_for_display=0)
    a = torch.empty(MB, device="meta")
    r.add_stage(a, {}, "source")
    assert r.shown == [a]


def test_over_the_limit_names_the_place_and_the_bytes():
    r = Retention(limit=5 * MB, extra=2 * MB)
    x = torch.empty(MB // 4 * 2, device="meta")  # 2 MiB
    r.add_stage(x, {"x": x}, "the source")  # 2 + 2 MiB
    with pytest.raises(BudgetExceeded, match=r"at step 1 the pipeline would hold 6\.3 MB at once .* 5\.2 MB"):
        r.check({"x": x}, [torch.empty(MB // 4 * 2, device="meta")], "step 1")


def test_drop_unread_keeps_the_pipeline_names_and_small_ones():
    big = torch.empty(MB, device="meta")
    env = {"x": big, "mask": big, "w": big, "v": big, "tiny": torch.empty(1, device="meta")}
    dropped = drop_unread(env, later={"v"}, keep_for_display=1024)
    assert dropped == ["w"] and set(env) == {"x", "mask", "v", "tiny"}


def test_chain_transients_pairs_each_op_with_its_input():
    a, b, c = object(), object(), object()
    assert chain_transients(a, [b, c]) == [[a, b], [b, c]]


def test_work_adds_up_and_is_refused_over_the_limit():
    r = Retention(limit=MB, work=4e9, work_limit=5e9)
    assert r.add_work(0.5e9, "step 1") == 4.5e9
    with pytest.raises(BudgetExceeded, match=r"with step 2 the run would take about 5\.1 GFLOP of work in all"):
        r.add_work(0.6e9, "step 2")
