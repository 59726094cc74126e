"""The budgets of one server, shared by every session: memory, work, time, cache bytes, model size.

A workshop server is one machine shared by a room, so every run is bounded before it starts:

- ``memory_bytes``: the live total of one pipeline run (the source, every intermediate kept for display,
  layer weights), predicted before anything runs;
- ``work_flops``: floating-point operations of one run (encoder forward, Conv1d, LSTM/GRU, Linear, matmuls),
  estimated before anything runs (an LSTM / GRU counts ``RECURRENT_COST`` times its FLOPs: it runs step by
  step, and measured ~6x slower per FLOP than a matmul on CPU);
- ``time_seconds``: a deadline checked between encoder layers and between steps, so a run can be stopped;
- ``cache_bytes``: the encoder-output memo of all checkpoints together;
- ``max_parameters``: a checkpoint's size, computed from its config before any weight is allocated;
- ``max_layer_parameters``: the weights of one layer step (LSTM, GRU, Conv1d, Linear);
- ``max_config_bytes``: the largest ``config.json`` / tokenizer file read from a model folder;
- ``max_download_bytes``: the largest hub download a visitor may confirm.

Each value comes from, in order: an environment variable ``SHAPE_EXPLORER_<NAME>`` (e.g.
``SHAPE_EXPLORER_MEMORY_MB=2048``), the ``[limits]`` table of the operator's config file, or the default
below. The config file is ``$SHAPE_EXPLORER_CONFIG`` when set, else ``.streamlit/shape-explorer.toml`` in
the working folder (Streamlit's own convention for ``config.toml``)::

    [limits]
    memory_mb = 2048
    work_gflops = 500
    time_seconds = 120

    [checkpoints]                     # read by core.model.checkpoints
    allow = ["bert-base-uncased"]     # hub ids or folders a link may load without asking
    model_roots = ["/srv/models"]     # local folders are accepted only under these
    hub_downloads = true              # a visitor may confirm a download from the hub

    >>> current().memory_bytes >= 1 << 20
    True
"""

from __future__ import annotations

import math
import os
import threading
import time
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from core.errors import RunCancelled, SpecError

ENV_PREFIX = "SHAPE_EXPLORER_"
CONFIG_ENV = "SHAPE_EXPLORER_CONFIG"
DEFAULT_CONFIG = Path(".streamlit") / "shape-explorer.toml"
MAX_CONFIG_FILE_BYTES = 256 * 1024

MIB = 1 << 20
RECURRENT_COST = 4


@dataclass(frozen=True)
class Limits:
    """One server's budgets; see the module docstring for what each bounds and how to change it."""

    memory_bytes: int = 1024 * MIB
    work_flops: float = 5e11
    time_seconds: float = 60.0
    cache_bytes: int = 256 * MIB
    max_parameters: int = 400_000_000
    max_layer_parameters: int = 50_000_000
    max_config_bytes: int = 1 * MIB
    max_download_bytes: int = 2_000 * MIB


# config / env name -> (field, scale to the field's unit)
_SETTINGS: dict[str, tuple[str, float]] = {
    "memory_mb": ("memory_bytes", MIB),
    "work_gflops": ("work_flops", 1e9),
    "time_seconds": ("time_seconds", 1),
    "cache_mb": ("cache_bytes", MIB),
    "max_parameters": ("max_parameters", 1),
    "max_layer_parameters": ("max_layer_parameters", 1),
    "max_config_kb": ("max_config_bytes", 1024),
    "max_download_mb": ("max_download_bytes", MIB),
}

_file_cache: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}
_file_lock = threading.Lock()


def config_path() -> Path:
    """The operator's config file (it may not exist)."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).expanduser()


def config_section(name: str) -> dict[str, Any]:
    """One table of the operator's config file ({} when the file or table is missing).

    Raises SpecError when the file exists but is not valid TOML (an operator's typo must not pass silently).
    """
    path = config_path()
    try:
        stat = path.stat()
    except OSError:
        return {}
    key = str(path)
    with _file_lock:
        cached = _file_cache.get(key)
        if cached is None or cached[0] != (stat.st_mtime_ns, stat.st_size):
            if stat.st_size > MAX_CONFIG_FILE_BYTES:
                raise SpecError(f"the server config {path} is larger than {MAX_CONFIG_FILE_BYTES:,} bytes")
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
                raise SpecError(f"the server config {path} cannot be read: {e}") from None
            cached = ((stat.st_mtime_ns, stat.st_size), data)
            _file_cache[key] = cached
    table = cached[1].get(name, {})
    return table if isinstance(table, dict) else {}


def current(environ: Mapping[str, str] | None = None) -> Limits:
    """The budgets now in force (env over config file over defaults); read on every call, so cheap."""
    environ = os.environ if environ is None else environ
    table = config_section("limits")
    values: dict[str, Any] = {}
    for setting, (field_name, scale) in _SETTINGS.items():
        raw = environ.get(ENV_PREFIX + setting.upper())
        where = f"{ENV_PREFIX}{setting.upper()}"
        if raw is None and setting in table:
            raw, where = table[setting], f"[limits] {setting}"
        if raw is None:
            continue
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise SpecError(f"{where} must be a number, got {raw!r}") from None
        if not math.isfinite(number) or number <= 0:
            raise SpecError(f"{where} must be a positive number, got {raw!r}")
        value = number * scale
        kind = next(f.type for f in fields(Limits) if f.name == field_name)
        values[field_name] = int(value) if kind == "int" else float(value)
    return Limits(**values)


# --- the deadline of one run -------------------------------------------------------------------------
@dataclass
class Deadline:
    """When the current run must stop; ``cancel()`` stops it at the next check from another thread."""

    at: float
    seconds: float
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True

    def check(self, where: str) -> None:
        """Raise RunCancelled when past the deadline or cancelled (called between units of work)."""
        if self.cancelled:
            raise RunCancelled(f"the run was stopped {where}")
        if time.monotonic() > self.at:
            raise RunCancelled(
                f"the run took longer than the server's time limit ({self.seconds:g} s) and was stopped {where}; "
                "use fewer or shorter texts, a smaller checkpoint or smaller layers"
            )


_deadline: ContextVar[Deadline | None] = ContextVar("shape_explorer_deadline", default=None)


@contextmanager
def deadline(seconds: float | None = None) -> Iterator[Deadline]:
    """Bound the run inside the block: ``check_deadline`` raises RunCancelled once ``seconds`` have passed.

    Nested blocks keep the earlier (outer) deadline when it comes first. ``seconds`` None: the server's
    ``time_seconds``.
    """
    seconds = current().time_seconds if seconds is None else seconds
    outer = _deadline.get()
    mine = Deadline(time.monotonic() + seconds, seconds)
    if outer is not None and outer.at <= mine.at:
        mine = outer
    token = _deadline.set(mine)
    try:
        yield mine
    finally:
        _deadline.reset(token)


def check_deadline(where: str) -> None:
    """Raise RunCancelled when the current run is past its deadline; a no-op outside ``deadline()``."""
    d = _deadline.get()
    if d is not None:
        d.check(where)


def active_deadline() -> Deadline | None:
    return _deadline.get()


def fmt_bytes(n: float) -> str:
    """1536 -> '1.5 KB'; 3.2e9 -> '3.2 GB' (decimal units, as download sizes are shown)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def fmt_flops(n: float) -> str:
    """2.5e12 -> '2.5 TFLOP'."""
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,.0f} FLOP"
