"""The shipped Streamlit config: visitors see a generic message for an unexpected error, never a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path

from streamlit.config import ShowErrorDetailsConfigOptions

ROOT = Path(__file__).resolve().parents[1]


def test_error_details_are_hidden_from_visitors():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    value = config["client"]["showErrorDetails"]
    assert value == ShowErrorDetailsConfigOptions.NONE.value  # no type, message or traceback in the browser


def test_uploads_are_capped():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] <= 10  # MB; the pooling page reads at most 2 MB of it
