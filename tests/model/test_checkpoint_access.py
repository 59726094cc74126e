"""What a server loads for a visitor: pre-approved names, asking first, one refusal for every other path,
config files size-capped, the model's size computed from its config before any allocation."""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.errors import CheckpointError
from core.model import checkpoint_access as access
from core.model import checkpoints
from core.model.checkpoint_access import CheckpointPolicy, config_parameters, review, server_policy
from core.model.checkpoints import load_checkpoint


@pytest.fixture
def model_dir(tmp_path, tiny_ckpt):
    """A real (tiny) saved model folder under tmp_path/models/tiny."""
    folder = tmp_path / "models" / "tiny"
    tiny_ckpt.model.save_pretrained(folder)
    tiny_ckpt.tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def root_policy(model_dir):
    return CheckpointPolicy(model_roots=(model_dir.parent.resolve(),))


# --- one refusal for every path a visitor may not use ------------------------------------------------------
def _refusal_of(name: str, policy: CheckpointPolicy) -> str:
    request = review(name, policy)
    assert request.refusal is not None, name
    assert not request.preapproved and request.path is None
    return request.refusal.replace(repr(name if len(name) <= 80 else name[:77] + "..."), "NAME")


def test_the_same_message_for_a_secret_folder_and_a_missing_one(tmp_path, root_policy):
    """The issue: /root/.ssh answered "not a model folder", a missing path something else: a map of the server."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "id_rsa").write_text("key")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    no_config = root_policy.model_roots[0] / "empty"
    no_config.mkdir()
    names = [
        "/root/.ssh",
        str(secret),
        "/definitely/missing",
        str(a_file),
        str(no_config),  # inside the root but not a model
        "../" * 8 + "etc",
        "tiny/../../secret",  # climbs out of the root
        "~/.ssh",
        "a/b/c",
        "x" * 400,
        "bad\x00name",
        "a b c; rm -rf /",
    ]
    messages = {_refusal_of(n, root_policy) for n in names}
    assert len(messages) == 1, messages
    assert "is not available on this server" in messages.pop()


@pytest.mark.parametrize("name", ["core", "tests/browser", "ui", "tests"])
def test_names_are_never_resolved_against_the_working_folder(name):
    """The issue: a link checkpoint `core` or `tests/browser` resolved against the server's working folder."""
    assert Path(name.split("/")[0]).exists(), "the test runs in the project root"
    request = review(name, CheckpointPolicy())
    assert request.kind == "hub" and request.path is None and not request.preapproved


def test_a_symlink_out_of_the_root_is_refused(tmp_path, model_dir, root_policy):
    outside = tmp_path / "outside-model"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    (root_policy.model_roots[0] / "sneaky").symlink_to(outside)
    assert review("sneaky", root_policy).refusal is None  # a hub-shaped name: it is asked for on the hub
    assert review("sneaky", root_policy).kind == "hub"
    assert review(str(root_policy.model_roots[0] / "sneaky"), root_policy).refusal is not None


def test_folders_under_a_root_are_asked_for(model_dir, root_policy):
    for name in ("tiny", str(model_dir), str(model_dir) + "/."):
        request = review(name, root_policy)
        assert (request.kind, request.path, request.preapproved, request.refusal) == ("local", model_dir, False, None)


@pytest.mark.parametrize("name", ["bundled:all-MiniLM-L6-v2", "random:bert-tiny", "random:bert-large", "bundled"])
def test_bundled_and_presets_are_preapproved(name):
    assert review(name, CheckpointPolicy()).preapproved


def test_operator_allow_list_from_env_and_config(tmp_path, monkeypatch, model_dir):
    cfg = tmp_path / "server.toml"
    cfg.write_text(
        f'[checkpoints]\nallow = ["bert-base-uncased", "{model_dir}"]\nmodel_roots = ["{model_dir.parent}"]\n'
    )
    monkeypatch.setenv("SHAPE_EXPLORER_CONFIG", str(cfg))
    policy = server_policy({})
    assert review("bert-base-uncased", policy).preapproved
    assert review(str(model_dir), policy).preapproved and review("tiny", policy).preapproved
    assert not review("roberta-base", policy).preapproved
    env = {"SHAPE_EXPLORER_ALLOW": "roberta-base, owner/model", "SHAPE_EXPLORER_MODEL_ROOTS": "", "X": "1"}
    policy = server_policy(env)
    assert policy.allow == ("roberta-base", "owner/model") and policy.model_roots == ()
    assert review("roberta-base", policy).preapproved and not review("bert-base-uncased", policy).preapproved


def test_hub_downloads_can_be_switched_off():
    policy = server_policy({"SHAPE_EXPLORER_HUB_DOWNLOADS": "0", "SHAPE_EXPLORER_ALLOW": "listed/model"})
    assert review("owner/model", policy).refusal is not None
    assert review("listed/model", policy).preapproved


def test_a_bad_allow_list_is_named(tmp_path, monkeypatch):
    cfg = tmp_path / "server.toml"
    cfg.write_text('[checkpoints]\nallow = "bert-base-uncased"\n')
    monkeypatch.setenv("SHAPE_EXPLORER_CONFIG", str(cfg))
    with pytest.raises(Exception, match=r"\[checkpoints\] allow must be a list of strings"):
        server_policy({})


# --- loading under a policy ----------------------------------------------------------------------------
def test_policy_refuses_before_touching_anything(monkeypatch):
    monkeypatch.setattr(checkpoints, "_load", lambda *a: pytest.fail("nothing may load"))
    for name in ("/root/.ssh", "/no/such/folder", "../x"):
        with pytest.raises(CheckpointError, match="is not available on this server"):
            load_checkpoint(name, "cpu", policy=CheckpointPolicy())


def test_a_folder_under_the_root_loads(model_dir, root_policy):
    ckpt = load_checkpoint("tiny", "cpu", policy=root_policy)
    assert ckpt.info.source == "local" and ckpt.info.hidden_size == 128


def test_a_huge_config_is_not_read(model_dir, root_policy):
    """The issue: a 1 GB config.json was read whole (7 s, 2.4 GB)."""
    config = model_dir / "config.json"
    data = json.loads(config.read_text())
    config.write_text(json.dumps(data) + " " * (2 * 1024 * 1024))  # 2 MB of valid JSON
    start = time.perf_counter()
    with pytest.raises(
        CheckpointError, match=r"config\.json is 2,09\d,\d{3} bytes; the server reads at most 1,048,576"
    ):
        load_checkpoint(str(model_dir), "cpu", policy=root_policy)
    with pytest.raises(CheckpointError, match="the server reads at most"):
        load_checkpoint(str(model_dir), "cpu")  # the CLI's trusted path is capped too
    assert time.perf_counter() - start < 2


def test_a_huge_tokenizer_file_is_not_read(model_dir, root_policy, monkeypatch):
    monkeypatch.setattr(access, "MAX_TOKENIZER_FILE_BYTES", 1000)
    with pytest.raises(CheckpointError, match=r"tokenizer\.json is [\d,]+ bytes; the server reads at most 1,000"):
        load_checkpoint("tiny", "cpu", policy=root_policy)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"hidden_size": 131072, "num_hidden_layers": 24, "intermediate_size": 524288}, "parameters"),  # ~600 GB
        ({"num_hidden_layers": 10_000_000}, "parameters"),
        ({"vocab_size": 2_000_000_000}, "parameters"),
        ({"hidden_size": -5}, "unusable hidden_size"),
    ],
)
def test_a_huge_declared_model_is_refused_before_allocation(model_dir, root_policy, changes, fragment, monkeypatch):
    """The issue: a folder whose config declares a huge BERT started allocating it (~600 GB)."""
    config = model_dir / "config.json"
    data = json.loads(config.read_text())
    data.update(changes)
    config.write_text(json.dumps(data))
    monkeypatch.setattr("transformers.AutoModel.from_pretrained", lambda *a, **k: pytest.fail("no allocation"))
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=fragment) as info:
        load_checkpoint("tiny", "cpu", policy=root_policy)
    assert time.perf_counter() - start < 5
    if fragment == "parameters":
        assert "the server's limit is 400,000,000" in str(info.value) and "Nothing was allocated" in str(info.value)


def test_the_parameter_budget_applies_to_presets(monkeypatch):
    monkeypatch.setattr(checkpoints, "_LOADED", {})  # a model already in memory costs nothing more to "load"
    monkeypatch.setenv("SHAPE_EXPLORER_MAX_PARAMETERS", "1000000")
    with pytest.raises(CheckpointError, match=r"'random:bert-mini' would hold about 11,\d{3},\d{3} parameters"):
        load_checkpoint("random:bert-mini", "cpu")


def test_a_pickle_is_refused_without_torch_s_advice(model_dir):
    """The refusal must not repeat PyTorch's 'set weights_only=False' (which would run the pickle)."""
    for f in model_dir.glob("*.safetensors"):
        f.unlink()

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should-never-run",))

    (model_dir / "pytorch_model.bin").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(str(model_dir), "cpu")
    message = str(info.value)
    assert "could run code" in message and "safetensors" in message
    assert "weights_only" not in message and "False" not in message


# --- the size of a model from its config ------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512},
        {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
        {"hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4, "vocab_size": 99, "type_vocab_size": 1},
        {"hidden_size": 96, "max_position_embeddings": 2048, "intermediate_size": 100, "num_attention_heads": 3},
    ],
)
def test_bert_parameters_from_config_equal_the_model(kwargs):
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(**kwargs)
    with torch.device("meta"):  # torch counts the real module; nothing is allocated
        model = BertModel(config)
    assert config_parameters(config) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("family", "kwargs"),
    [
        ("roberta", {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 1024}),
        ("electra", {"hidden_size": 256, "embedding_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4}),
        ("distilbert", {"dim": 256, "n_layers": 3, "n_heads": 4, "hidden_dim": 1024}),
    ],
)
def test_other_encoders_are_estimated_within_five_percent(family, kwargs):
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(family, **kwargs)
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    real = sum(p.numel() for p in model.parameters())
    assert abs(config_parameters(config) - real) <= 0.05 * real


# --- the size of a hub download --------------------------------------------------------------------------
def _info(files: dict[str, int], params: int | None = None):
    siblings = [SimpleNamespace(rfilename=k, size=v) for k, v in files.items()]
    return SimpleNamespace(siblings=siblings, safetensors=SimpleNamespace(total=params) if params else None)


def test_download_size_counts_one_weight_format_and_the_text_files():
    files = {
        "model.safetensors": 440_000_000,
        "pytorch_model.bin": 440_000_000,
        "tf_model.h5": 500_000_000,
        "onnx/model.onnx": 400_000_000,
        "config.json": 570,
        "vocab.txt": 231_508,
        "README.md": 10_000,
    }
    size = access.size_from_files("bert-base-uncased", _info(files, 110_000_000))
    assert size.download_bytes == 440_000_000 + 570 + 231_508
    assert size.parameters == 110_000_000 and size.weights_file == "model.safetensors"
    pickled = access.size_from_files("x/y", _info({"pytorch_model.bin": 1000, "config.json": 10}))
    assert pickled.download_bytes == 1010 and pickled.parameters is None
    assert access.size_from_files("x/y", _info({"README.md": 5})) is None


def test_hub_size_is_none_offline():
    assert access.hub_size("bert-base-uncased") is None  # tests run with HF_HUB_OFFLINE=1


def _pretend_online(monkeypatch, size):
    monkeypatch.setattr(checkpoints, "_cached_file", lambda name, f: None)
    monkeypatch.setattr(checkpoints, "_hub_reachable", lambda: True)
    monkeypatch.setattr(checkpoints, "hub_size", lambda name: size)
    monkeypatch.setattr("transformers.AutoConfig.from_pretrained", lambda *a, **k: pytest.fail("no download"))


def test_a_download_over_the_limit_is_refused_before_it_starts(monkeypatch):
    _pretend_online(monkeypatch, access.HubSize("big/model", 5_000_000_000, 1_300_000_000, "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"'big/model' is a 5.0 GB download; the server's limit is 2.1 GB"):
        load_checkpoint("big/model", "cpu", policy=CheckpointPolicy())
    monkeypatch.setenv("SHAPE_EXPLORER_MAX_DOWNLOAD_MB", "100")
    _pretend_online(monkeypatch, access.HubSize("mid/model", 400_000_000, None, "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"400.0 MB download; the server's limit is 104.9 MB"):
        load_checkpoint("mid/model", "cpu")


def test_a_download_of_unknown_size_is_refused_on_a_server(monkeypatch):
    _pretend_online(monkeypatch, None)
    with pytest.raises(CheckpointError, match=r"the hub did not say how large it is .* nothing was downloaded"):
        load_checkpoint("odd/model", "cpu", policy=CheckpointPolicy())
