"""Which checkpoints a server may load for a visitor, and what one would cost before anything is fetched.

A share link or the sidebar's "other" box is a stranger's text. On a server (``CheckpointPolicy``):

- **pre-approved** (loaded straight from a link): the bundled model, the ``random:bert-*`` presets and the
  operator's allow-list;
- **ask first**: any other Hugging Face id, or a model folder under an operator-allowed root. The page
  shows what the link asks for (and, when online, the download size) and loads it only when the visitor
  confirms in the sidebar;
- **refused**: everything else (a path outside the roots, ``..``, a missing folder, a file, a folder
  without ``config.json``, a malformed name), always with the same message, so the answers cannot be
  used to map the server's files.

The operator's settings: env ``SHAPE_EXPLORER_ALLOW`` (comma-separated ids or folders),
``SHAPE_EXPLORER_MODEL_ROOTS`` (folders, ``os.pathsep``-separated), ``SHAPE_EXPLORER_HUB_DOWNLOADS``
(``0`` forbids hub downloads), or the ``[checkpoints]`` table of the config file (see ``core.limits``).

    >>> review("random:bert-tiny", CheckpointPolicy()).preapproved
    True
    >>> def said(path):  # the refusal, without the name the visitor typed
    ...     return review(path, CheckpointPolicy()).refusal.replace(repr(path), "…")
    >>> said("/root/.ssh") == said("/no/such/dir") == said("../core")
    True
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import CheckpointError, SpecError
from core.limits import config_section
from core.spec import DEFAULT_CHECKPOINT

BUNDLED_ALIASES = frozenset(
    {DEFAULT_CHECKPOINT, "bundled", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
)
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
HUB_PROBE_SECONDS = 4.0
# files a model folder's tokenizer and config are read from; each is size-checked before reading
TEXT_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
    "spiece.model",
    "added_tokens.json",
)
MAX_TOKENIZER_FILE_BYTES = 64 * 1024 * 1024
WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class CheckpointPolicy:
    """What visitors of a server may load (see the module docstring). ``CheckpointPolicy()``: nothing extra."""

    allow: tuple[str, ...] = ()
    model_roots: tuple[Path, ...] = ()
    hub_downloads: bool = True

    def roots_text(self) -> str:
        return ", ".join(str(r) for r in self.model_roots)


@dataclass(frozen=True)
class CheckpointRequest:
    """A checkpoint name reviewed against a policy.

    kind: bundled | random | hub | local; preapproved: may load without asking; path: the model folder
    (local, resolved inside a root); refusal: the one message every refused name gets (None when allowed).
    """

    name: str
    kind: str
    preapproved: bool = False
    path: Path | None = None
    refusal: str | None = None
    notes: tuple[str, ...] = field(default=())


def server_policy(environ: Any = None) -> CheckpointPolicy:
    """The operator's policy: env variables over the ``[checkpoints]`` table of the config file."""
    environ = os.environ if environ is None else environ
    table = config_section("checkpoints")
    allow = _list(environ.get("SHAPE_EXPLORER_ALLOW"), ",") if "SHAPE_EXPLORER_ALLOW" in environ else table.get("allow")
    roots = (
        _list(environ.get("SHAPE_EXPLORER_MODEL_ROOTS"), os.pathsep)
        if "SHAPE_EXPLORER_MODEL_ROOTS" in environ
        else table.get("model_roots")
    )
    hub = environ.get("SHAPE_EXPLORER_HUB_DOWNLOADS", table.get("hub_downloads", True))
    for key, value in (("allow", allow), ("model_roots", roots)):
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise SpecError(f"[checkpoints] {key} must be a list of strings, got {value!r}")
    return CheckpointPolicy(
        allow=tuple(a.strip() for a in allow or () if a.strip()),
        model_roots=tuple(Path(r).expanduser().resolve() for r in roots or () if r.strip()),
        hub_downloads=_flag(hub),
    )


def _list(raw: str | None, sep: str) -> list[str]:
    return [part for part in (raw or "").split(sep) if part.strip()]


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("0", "false", "no", "off", "")


def not_available(name: str, policy: CheckpointPolicy) -> str:
    """The single refusal message (the same for a missing path, a secret folder and a malformed name)."""
    shown = name if len(name) <= 80 else name[:77] + "..."
    roots = f", or a model folder under {policy.roots_text()}" if policy.model_roots else ""
    return (
        f"checkpoint {shown!r} is not available on this server. Use the bundled model, a random:bert-* preset, "
        f"a Hugging Face id (owner/name){roots}."
    )


def review(name: str, policy: CheckpointPolicy) -> CheckpointRequest:
    """Classify ``name`` for a visitor; touches the filesystem only inside the policy's model roots."""
    name = (name or DEFAULT_CHECKPOINT).strip()
    if name in BUNDLED_ALIASES:
        return CheckpointRequest(name, "bundled", preapproved=True)
    if name.startswith("random:"):
        return CheckpointRequest(name, "random", preapproved=True)
    listed = name in policy.allow
    folder = _folder_under_roots(name, policy.model_roots)
    if folder is not None:
        return CheckpointRequest(name, "local", preapproved=listed or str(folder) in policy.allow, path=folder)
    if HUB_ID.match(name) and ".." not in name:
        if not listed and not policy.hub_downloads:
            return CheckpointRequest(name, "hub", refusal=not_available(name, policy))
        return CheckpointRequest(name, "hub", preapproved=listed)
    return CheckpointRequest(name, "local", refusal=not_available(name, policy))


def _folder_under_roots(name: str, roots: tuple[Path, ...]) -> Path | None:
    """The model folder ``name`` names inside one of ``roots`` (after resolving symlinks and ``..``), or None."""
    if not roots or "\x00" in name or len(name) > 300:
        return None
    for root in roots:
        try:
            candidate = (root / Path(name).expanduser()).resolve()
        except (OSError, RuntimeError, ValueError):
            continue
        if candidate != root and root not in candidate.parents:
            continue
        try:
            if candidate.is_dir() and (candidate / "config.json").is_file():
                return candidate
        except OSError:
            continue
    return None


def check_model_files(folder: Path, max_config_bytes: int) -> None:
    """Size-check a model folder's config and tokenizer files before anything reads them."""
    for fname in TEXT_FILES:
        path = folder / fname
        try:
            size = path.stat().st_size
        except OSError:
            continue
        limit = max_config_bytes if fname == "config.json" else MAX_TOKENIZER_FILE_BYTES
        if size > limit:
            raise CheckpointError(
                f"the model's {fname} is {size:,} bytes; the server reads at most {limit:,} bytes from it "
                "(a real one is far smaller)"
            )


# --- the size of a model, from its config (no weight is allocated) ------------------------------------
def config_parameters(config: Any) -> int:
    """Weights a BERT-like encoder built from ``config`` holds, by the BERT formula.

    Exact for BertModel (embeddings (vocab + positions + token types) x hidden + LayerNorm; per layer Q, K, V,
    attention output, two LayerNorms and the feed-forward pair; the pooler); close for RoBERTa, ELECTRA,
    DistilBERT and kin, and an upper bound for ALBERT (shared layers). Raises CheckpointError on sizes that
    are not positive integers.
    """

    def size(*names: str, default: int | None = None) -> int:
        for n in names:
            value = getattr(config, n, None)
            if value is not None:
                break
        else:
            value = default
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckpointError(f"the model's config has an unusable {names[0]}: {value!r}")
        return value

    h = size("hidden_size", "dim")
    layers = size("num_hidden_layers", "n_layers")
    inter = size("intermediate_size", "hidden_dim", default=4 * h)
    vocab = size("vocab_size")
    positions = size("max_position_embeddings", default=512)
    types = size("type_vocab_size", default=0)
    emb = getattr(config, "embedding_size", None)
    e = emb if isinstance(emb, int) and not isinstance(emb, bool) and emb > 0 else h
    embeddings = (vocab + positions + types) * e + 2 * e + (e * h + h if e != h else 0)
    per_layer = 4 * (h * h + h) + 2 * (2 * h) + (h * inter + inter) + (inter * h + h)
    pooler = h * h + h
    return embeddings + layers * per_layer + pooler


# --- the size of a hub download, asked before downloading ---------------------------------------------
@dataclass(frozen=True)
class HubSize:
    """What downloading a hub model would fetch: bytes of the files loading reads, and its parameter count."""

    name: str
    download_bytes: int
    parameters: int | None
    weights_file: str


def hub_size(name: str, timeout: float = HUB_PROBE_SECONDS) -> HubSize | None:
    """Ask the hub (metadata only) what loading ``name`` would download; None when offline or unknown."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or not HUB_ID.match(name):
        return None
    box: dict[str, Any] = {}

    def probe() -> None:
        try:
            from huggingface_hub import HfApi

            box["info"] = HfApi().model_info(name, files_metadata=True, timeout=timeout)
        except Exception as e:  # offline, missing, gated: no size to show
            box["error"] = e

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1.0)
    info = box.get("info")
    return None if info is None else size_from_files(name, info)


def size_from_files(name: str, info: Any) -> HubSize | None:
    """HubSize from a ``huggingface_hub.ModelInfo`` (its ``siblings`` with sizes, ``safetensors`` counts)."""
    files = {s.rfilename: int(s.size or 0) for s in (getattr(info, "siblings", None) or []) if "/" not in s.rfilename}
    safetensors = [f for f in files if f.endswith(".safetensors")]
    pickles = [f for f in files if f.startswith("pytorch_model") and f.endswith(".bin")]
    weights = safetensors or pickles
    if not weights:
        return None
    text = sum(files.get(f, 0) for f in TEXT_FILES)
    st = getattr(info, "safetensors", None)
    params = int(st.total) if st is not None and getattr(st, "total", None) else None
    return HubSize(name, sum(files[f] for f in weights) + text, params, weights[0] if len(weights) == 1 else "sharded")
