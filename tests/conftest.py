"""Shared fixtures: offline hub, project root on sys.path, tiny and real checkpoints."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ["HF_HUB_OFFLINE"] = "1"
for _name in [k for k in os.environ if k.startswith("SHAPE_EXPLORER_")]:  # an operator's budgets / allow-list
    del os.environ[_name]
os.environ["SHAPE_EXPLORER_CONFIG"] = str(ROOT / "tests" / "no-such-server-config.toml")  # defaults (core.limits)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# quiz answers recorded by AppTests go to a throwaway room, never to the checkout's data/
os.environ["SHAPE_EXPLORER_DATA"] = tempfile.mkdtemp(prefix="shape-explorer-tests-")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

APP_TIMEOUT = 120

# AppTest shows the real exception: the shipped .streamlit/config.toml hides details from a server's visitors
# (client.showErrorDetails = "none"), which would leave a failing page test with a redacted message.
from streamlit import config as _streamlit_config  # noqa: E402

_streamlit_config.set_option(
    "client.showErrorDetails", "full"
)  # AppTest default is 3 s; the first model load takes several seconds


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test`), every browser test runs on one worker: they share one app server and
    Chromium (session fixtures), and two browsers at once would starve a 2-core machine."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def tiny_ckpt():
    """random:bert-tiny: 2 layers, hidden 128 — fast unit tests of real code paths."""
    from core.model.checkpoints import load_checkpoint

    return load_checkpoint("random:bert-tiny", "cpu")


@pytest.fixture(scope="session")
def real_ckpt():
    """The bundled real-weights all-MiniLM-L6-v2 (6 layers, hidden 384)."""
    from core.model.checkpoints import load_checkpoint

    return load_checkpoint("bundled:all-MiniLM-L6-v2", "cpu")
