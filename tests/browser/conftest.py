"""Real-browser fixtures: `streamlit run app.py` on a free loopback port + headless Debian Chromium.

Without Chromium the browser tests skip with the reason — except under CI=true, where a missing
browser fails (`make test` installs it when running as root). Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
READY = "[data-testid='stApp'][data-test-script-state='notRunning']"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Chromium is not installed (make test installs Debian's chromium as root)")
        pytest.skip("Chromium not found: install Debian's `chromium` to run the browser tests")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("playwright is missing: it is in requirements-dev.txt")
    return path


@contextmanager
def streamlit_server(log_name: str = "streamlit", env: dict[str, str] | None = None, address: str = "127.0.0.1"):
    """Run the app as `make run` does (`python -m ui.server`: preload, then `streamlit run app.py`) on a free
    port until the block ends; yields the base URL.

    env: extra environment (e.g. the room's data folder and teacher key). The room's answers go to a fresh
    temporary folder unless env names one, so browser tests never write into the checkout's data/.
    address: what the server listens on; "0.0.0.0" makes it a room server (room links use the LAN address).
    """
    port = _free_port()
    data = tempfile.mkdtemp(prefix="shape-explorer-room-")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "SHAPE_EXPLORER_DATA": data,
        **(env or {}),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / f"{log_name}.log", "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ui.server",
                "--server.port",
                str(port),
                "--server.address",
                address,
                "--server.headless",
                "true",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 180  # ui.server loads the model before it answers
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"streamlit exited early; see {ARTIFACTS / (log_name + '.log')}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    pytest.fail("streamlit did not become healthy within 180 s")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def app_url(chromium_path) -> str:
    """One app server for the whole browser session."""
    with streamlit_server() as url:
        yield url


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(120_000)
    yield pg
    context.close()


def wait_ready(pg, timeout: float = 120_000) -> None:
    """Wait until Streamlit finished running the script and the page has content, stably.

    "notRunning" also shows for a moment between two runs (e.g. the navigation rerun of a fresh server's
    first request), so we require it, with elements in the main area, on three checks 250 ms apart.
    """
    pg.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    content = "[data-testid='stMainBlockContainer'] [data-testid='stElementContainer']"
    deadline = time.monotonic() + timeout / 1000
    stable = 0
    while stable < 3:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app did not settle within {timeout / 1000:.0f} s")
        ready = pg.locator(READY).count() > 0 and pg.locator(content).count() > 0
        stable = stable + 1 if ready else 0
        pg.wait_for_timeout(250)


def assert_no_exception(pg) -> None:
    errors = pg.locator("[data-testid='stException']")
    assert errors.count() == 0, errors.first.inner_text()[:2000]


def screenshot(pg, name: str, full: bool = True) -> Path:
    """Save a PNG; full=True grows the viewport to the page's height first (Streamlit scrolls inside
    its own container, so Playwright's full_page alone captures only the viewport)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = pg.viewport_size
    if full and size:
        height = pg.evaluate(
            "() => Math.max(document.body.scrollHeight, ...Array.from(document.querySelectorAll("
            "\"[data-testid='stMain'], [data-testid='stAppViewContainer'], section.main\"), e => e.scrollHeight))"
        )
        pg.set_viewport_size({"width": size["width"], "height": int(min(max(height, size["height"]), 8000))})
        pg.wait_for_timeout(400)
    pg.screenshot(path=str(path), full_page=True)
    if full and size:
        pg.set_viewport_size(size)
    return path
