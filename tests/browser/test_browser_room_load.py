"""The room benchmark's code path (``benchmarks/bench_room.py``, issue 14's "twenty students") with three
students, on the session's app server: three browser contexts open the lesson at the same moment and answer
stage 1 together (two right, one wrong); the teacher's page, open on a new room, counts all three with the
share right that was sent. ``make bench-room`` runs the same code with twenty."""

from __future__ import annotations

import importlib
import os
import re

import pytest

from core.room import keys
from tests.browser.conftest import ARTIFACTS, ROOT, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PRINTED_KEY = re.compile(r"teacher key for this server: (\S+)")


def _server_teacher_key(page, app_url: str) -> str:
    """The session server's teacher key: the one in our environment (the server inherits it), else the one it
    made and printed to its log (``ui.room.teacher_key``), which a first use of the key makes it do."""
    if os.environ.get(keys.TEACHER_KEY_ENV, "").strip():
        return keys.key_from_env()
    page.goto(f"{app_url}/teacher?key=not-the-key-000")
    wait_ready(page)
    log = ARTIFACTS / "streamlit.log"  # conftest.app_url's server log
    found = PRINTED_KEY.findall(log.read_text(errors="replace")) if log.exists() else []
    if not found:
        pytest.fail(f"the app server printed no teacher key in {log}")
    return found[-1]


def test_three_students_at_once_and_the_teacher_counts_three(app_url, page, chromium_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    bench_room = importlib.import_module("bench_room")
    key = _server_teacher_key(page, app_url)

    rnd = bench_room.room_round(chromium_path, f"{app_url}/", key, 3, ready_limit_s=120, new_room=True)

    assert rnd.errors == [], "\n".join(rnd.errors)
    assert [s.typed for s in rnd.students] == ["32, 768, 128", "32, 768, 128", "(32, 128, 768)"]
    assert all(s.ready_s is not None and s.answer_s is not None for s in rnd.students)
    assert rnd.teacher_row["answered"] == "3"
    assert rnd.teacher_row["share right"] == "67%"
    assert rnd.teacher_row["right answer"] == "(32, 768, 128)"
    assert rnd.teacher_s is not None
