"""Fixtures shared by the page tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def loads(monkeypatch):
    """Every name the page asks core to load, in order (the real loader still runs)."""
    import ui.common

    seen: list[str] = []
    real = ui.common.load_checkpoint

    def recording(name, *args, **kwargs):
        seen.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(ui.common, "load_checkpoint", recording)
    ui.common.get_checkpoint.clear()
    ui.common._hub_size.clear()
    yield seen
    ui.common.get_checkpoint.clear()


def pick_checkpoint(at, name: str, key: str = "model"):
    """Choose ``name`` in the sidebar's checkpoint picker (a list in a popover); runs."""
    return at.radio(key=f"{key}_choice").set_value(name).run()
