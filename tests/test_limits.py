"""The server's budgets: defaults, the operator's config file, environment variables, the run deadline."""

from __future__ import annotations

import threading
import time

import pytest

from core import limits
from core.errors import RunCancelled, SpecError


def test_defaults_without_config():
    got = limits.current({})
    assert got == limits.Limits()
    assert got.memory_bytes == 1024 * limits.MIB and got.cache_bytes == 256 * limits.MIB


def test_config_file_then_env_override(tmp_path, monkeypatch):
    cfg = tmp_path / "server.toml"
    cfg.write_text('[limits]\nmemory_mb = 512\nwork_gflops = 20\ntime_seconds = 5\n[checkpoints]\nallow = ["a/b"]\n')
    monkeypatch.setenv("SHAPE_EXPLORER_CONFIG", str(cfg))
    got = limits.current({})
    assert (got.memory_bytes, got.work_flops, got.time_seconds) == (512 * limits.MIB, 20e9, 5.0)
    assert limits.config_section("checkpoints") == {"allow": ["a/b"]}
    got = limits.current({"SHAPE_EXPLORER_MEMORY_MB": "64", "SHAPE_EXPLORER_CACHE_MB": "0.5"})
    assert got.memory_bytes == 64 * limits.MIB and got.cache_bytes == limits.MIB // 2
    assert got.work_flops == 20e9  # still from the file


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHAPE_EXPLORER_MEMORY_MB": "lots"}, "SHAPE_EXPLORER_MEMORY_MB must be a number, got 'lots'"),
        ({"SHAPE_EXPLORER_TIME_SECONDS": "0"}, "SHAPE_EXPLORER_TIME_SECONDS must be a positive number"),
        ({"SHAPE_EXPLORER_WORK_GFLOPS": "-3"}, "must be a positive number, got '-3'"),
        ({"SHAPE_EXPLORER_CACHE_MB": "nan"}, "must be a positive number, got 'nan'"),
        ({"SHAPE_EXPLORER_MAX_PARAMETERS": "inf"}, "must be a positive number, got 'inf'"),
    ],
)
def test_bad_settings_are_named(env, message):
    with pytest.raises(SpecError, match=message):
        limits.current(env)


def test_a_broken_config_file_is_reported(tmp_path, monkeypatch):
    cfg = tmp_path / "server.toml"
    cfg.write_text("[limits\nmemory_mb = 1\n")
    monkeypatch.setenv("SHAPE_EXPLORER_CONFIG", str(cfg))
    with pytest.raises(SpecError, match=r"the server config .*server.toml cannot be read"):
        limits.current({})
    cfg.write_text("[limits]\nmemory_mb = 'big'\n")
    with pytest.raises(SpecError, match=r"\[limits\] memory_mb must be a number, got 'big'"):
        limits.current({})


def test_deadline_stops_between_units_of_work():
    limits.check_deadline("anywhere")  # no deadline: no-op
    with limits.deadline(0.05):
        limits.check_deadline("before layer 1")
        time.sleep(0.08)
        with pytest.raises(RunCancelled, match=r"time limit \(0.05 s\) and was stopped after layer 3"):
            limits.check_deadline("after layer 3")
    limits.check_deadline("after the block")  # reset


def test_nested_deadline_keeps_the_earlier_one():
    with limits.deadline(0.01) as outer:
        with limits.deadline(100) as inner:
            assert inner is outer
        time.sleep(0.02)
        with pytest.raises(RunCancelled):
            limits.check_deadline("x")


def test_cancel_from_another_thread():
    with limits.deadline(100) as d:
        threading.Thread(target=d.cancel).start()
        time.sleep(0.05)
        with pytest.raises(RunCancelled, match="the run was stopped between steps"):
            limits.check_deadline("between steps")


def test_each_thread_has_its_own_deadline():
    seen = []

    def other() -> None:
        seen.append(limits.active_deadline())

    with limits.deadline(0.001):
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == [None]


@pytest.mark.parametrize(
    ("n", "text"), [(999, "999 bytes"), (1536, "1.5 KB"), (3.2e9, "3.2 GB"), (4.4e15, "4,400.0 TB")]
)
def test_fmt_bytes(n, text):
    assert limits.fmt_bytes(n) == text


@pytest.mark.parametrize(("n", "text"), [(2.5e12, "2.5 TFLOP"), (3e11, "300.0 GFLOP"), (12, "12 FLOP")])
def test_fmt_flops(n, text):
    assert limits.fmt_flops(n) == text
