"""Checkpoints: presets, the bundled model, and clear fast errors for everything else."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.errors import CheckpointError
from core.model.checkpoint_access import CheckpointPolicy
from core.model.checkpoints import PRESET_SIZES, Preset, load_checkpoint, resolve_device


@pytest.mark.parametrize("preset", [Preset.TINY, Preset.MINI, Preset.SMALL])
def test_random_presets_have_google_sizes(preset):
    ckpt = load_checkpoint(f"random:{preset.value}", "cpu")
    layers, hidden, heads = PRESET_SIZES[preset]
    assert (ckpt.info.num_layers, ckpt.info.hidden_size, ckpt.info.num_heads) == (layers, hidden, heads)
    assert ckpt.info.real_weights is False
    assert "RANDOM" in ckpt.info.label
    assert ckpt.info.vocab_size == 30522


def test_preset_table_matches_google_bert():
    assert PRESET_SIZES[Preset.BASE] == (12, 768, 12)
    assert PRESET_SIZES[Preset.LARGE] == (24, 1024, 16)
    assert PRESET_SIZES[Preset.MEDIUM] == (8, 512, 8)


@pytest.mark.slow
def test_bundled_model_facts(real_ckpt):
    info = real_ckpt.info
    assert (info.num_layers, info.hidden_size, info.num_heads, info.vocab_size) == (6, 384, 12, 30522)
    assert info.real_weights and info.source == "bundled"
    assert info.trained_pooling == "mean" and info.pooler_trained is False
    assert load_checkpoint("bundled:all-MiniLM-L6-v2", "cpu") is real_ckpt, "loaded once per process"


BAD = [
    ("random:bert-huge", "unknown random preset 'bert-huge'; choose one of: random:bert-tiny"),
    ("bert-base-uncased", "not in the local Hugging Face cache and the hub is unreachable"),
    ("some-org/some-model-that-does-not-exist", "hub is unreachable"),
    ("/definitely/not/a/folder/../x", "neither a local folder nor a valid Hugging Face model id"),
    ("a b c; rm -rf /", "neither a local folder nor a valid Hugging Face model id"),
]


@pytest.mark.parametrize("name,fragment", BAD)
def test_unloadable_checkpoint_fails_fast_and_clearly(name, fragment):
    start = time.perf_counter()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(name, "cpu")
    assert fragment in str(info.value)
    assert time.perf_counter() - start < 10, "a missing checkpoint must fail within 10 s"


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match=r"has no config\.json"):
        load_checkpoint(str(tmp_path), "cpu")


def test_folder_with_a_decoder_config_is_refused(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "gpt2", "n_layer": 2}')
    with pytest.raises(CheckpointError, match="not a BERT-like encoder"):
        load_checkpoint(str(tmp_path), "cpu")


def test_local_folder_model_loads(tmp_path, tiny_ckpt):
    tiny_ckpt.model.save_pretrained(tmp_path)
    tiny_ckpt.tokenizer.save_pretrained(tmp_path)
    ckpt = load_checkpoint(str(tmp_path), "cpu")
    assert ckpt.info.source == "local" and ckpt.info.hidden_size == 128


def test_device_resolution():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(CheckpointError, match="unknown device"):
        resolve_device("tpu")


def test_offline_without_the_offline_flag_still_fails_fast(monkeypatch):
    """With HF_HUB_OFFLINE unset, a bounded network probe decides (no hub reachable here or in CI)."""
    import core.model.checkpoints as ck

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(ck, "_hub_reachable", lambda timeout=ck.HUB_PROBE_SECONDS: False)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="hub is unreachable"):
        load_checkpoint("bert-base-uncased", "cpu")
    assert time.perf_counter() - start < 10


@pytest.mark.parametrize(
    ("policy", "offered", "not_offered"),
    [
        (None, "or a local model folder", None),  # the CLI: the machine's own user names any folder
        (CheckpointPolicy(), "the bundled model or a random:bert-* preset", "folder"),  # a server without roots
        (CheckpointPolicy(model_roots=(Path("/srv/models"),)), "a model folder under /srv/models", "local model"),
    ],
    ids=["cli", "server", "server-with-roots"],
)
def test_offline_advice_names_only_what_the_caller_may_load(monkeypatch, policy, offered, not_offered):
    import core.model.checkpoints as ck

    monkeypatch.setattr(ck, "_hub_reachable", lambda timeout=ck.HUB_PROBE_SECONDS: False)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint("some-org/not-cached-model", "cpu", policy=policy)
    assert offered in str(info.value)
    assert not_offered is None or not_offered not in str(info.value)


def test_hub_probe_is_bounded(monkeypatch):
    import core.model.checkpoints as ck

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.perf_counter()
    ck._hub_reachable(timeout=1.0)  # True or False depending on the network; it must return in time
    assert time.perf_counter() - start < 3
