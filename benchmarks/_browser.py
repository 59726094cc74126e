"""What the browser benchmarks share: starting the app server as ``make run`` does and waiting until it is
healthy, the Chromium options, the load average, and writing a result into ``benchmarks/results/``
(gitignored: results are printed and quoted in the README, never committed).

Imported as ``_browser`` by ``python benchmarks/bench_*.py`` (the script's folder is on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"
CONTENT = "[data-testid='stMainBlockContainer'] [data-testid='stElementContainer']"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
HEALTHY_TIMEOUT_S = 180  # ui.server loads the model before it answers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_path() -> str | None:
    """Debian's Chromium (the browser tests and benchmarks use it, never a downloaded one), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def server_env(**extra: str) -> dict[str, str]:
    """The environment a benchmark server runs with: offline, plus ``extra``."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **extra}


@contextmanager
def started(cmd: list[str], log: Path, health_url: str, env: dict[str, str] | None = None) -> Iterator:
    """Run ``cmd`` (from the checkout's root, output into ``log``) until ``health_url`` answers 200; yields
    (the process, seconds until healthy). Stops it (SIGTERM, then SIGKILL after 10 s) when the block ends.

    Raises RuntimeError when the process exits early or is not healthy within HEALTHY_TIMEOUT_S.
    """
    with open(log, "w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env or server_env(), stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + HEALTHY_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server exited early; see {log}")
                try:
                    with urllib.request.urlopen(health_url, timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise RuntimeError(f"the server did not become healthy within {HEALTHY_TIMEOUT_S} s; see {log}")
                time.sleep(0.1)
            yield proc, time.perf_counter() - t0
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def app_server_command(port: int) -> list[str]:
    """How ``make run`` starts the app without the room launcher: ``python -m ui.server`` (it preloads the
    default model, then runs ``streamlit run app.py``) on loopback."""
    launcher = ROOT / "ui" / "server.py"
    if launcher.exists():
        return [sys.executable, "-m", "ui.server", "--server.port", str(port), "--server.address", "127.0.0.1"]
    return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]


def machine() -> dict[str, object]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def write_results(name: str, lines: list[str], record: dict[str, object]) -> Path:
    """Write ``<name>-<time>.txt`` (the printed table) and ``.json`` (``record`` plus when and the machine)
    into benchmarks/results/; returns the JSON path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    record = {"when": stamp, "machine": machine(), **record}
    (RESULTS / f"{name}-{stamp}.txt").write_text("\n".join(lines).strip() + "\n", encoding="utf-8")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}/{name}-{stamp}.txt and .json")
    return path
