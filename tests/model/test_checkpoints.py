"""Checkpoints: presets, the bundled model, and clear fast errors for everything else."""

from __future__ import annotations

import time

import pytest

from core.errors import CheckpointError
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


@pytest.mark.slow
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_bundled_model_equals_from_pretrained(attn):
    """The direct safetensors load gives exactly the model transformers' from_pretrained gives."""
    import torch
    from transformers import AutoModel

    from core.model.checkpoints import bundled_model_path

    ours = load_checkpoint("bundled:all-MiniLM-L6-v2", "cpu", attn=attn).model
    reference = AutoModel.from_pretrained(bundled_model_path(), attn_implementation=attn).eval()
    assert ours.config._attn_implementation == attn
    theirs = dict(reference.state_dict())
    for name, tensor in ours.state_dict().items():
        assert torch.equal(tensor, theirs[name]), name
    batch = {"input_ids": torch.tensor([[101, 2023, 3185, 2001, 6429, 102, 0]]), "attention_mask": torch.ones(1, 7)}
    batch["attention_mask"][0, -1] = 0
    with torch.inference_mode():
        a = ours(**batch, output_hidden_states=True, output_attentions=attn == "eager")
        b = reference(**batch, output_hidden_states=True, output_attentions=attn == "eager")
    for x, y in zip(a.hidden_states, b.hidden_states):
        assert torch.equal(x, y)
    assert torch.equal(a.pooler_output, b.pooler_output)
    assert not ours.training


def test_damaged_bundled_weights_are_a_clear_error(tmp_path, monkeypatch):
    import shutil

    import safetensors.torch

    from core.model import checkpoints

    source = checkpoints.bundled_model_path()
    copy = tmp_path / "model"
    shutil.copytree(source, copy)
    weights = safetensors.torch.load_file(str(copy / "model.safetensors"))
    del weights["encoder.layer.0.attention.self.query.weight"]
    safetensors.torch.save_file(weights, str(copy / "model.safetensors"))
    monkeypatch.setattr(checkpoints, "bundled_model_path", lambda: copy)
    with pytest.raises(CheckpointError, match="the bundled model is incomplete: 1 weight"):
        checkpoints._load("bundled:all-MiniLM-L6-v2", "cpu", False, "sdpa")


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


def test_hub_probe_is_bounded(monkeypatch):
    import core.model.checkpoints as ck

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.perf_counter()
    ck._hub_reachable(timeout=1.0)  # True or False depending on the network; it must return in time
    assert time.perf_counter() - start < 3
