"""The room's SQLite store: rooms, first-answer-counts, hostile text kept verbatim, concurrent writers lose
nothing (threads and processes), a killed writer loses nothing committed, bad folders fail clearly."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.room.store import DATA_ENV, MAX_TEXT, RoomStore, clean_text, data_dir

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "'); DROP TABLE answers; --",
    "[click](http://evil.example/p)",
    "![t](http://evil.example/x.png)",
    "$$\\frac{1}{0}$$",
    "`` ` ``",
    "\x00\x01 null bytes",
    "lone \ud800 surrogate",
    "🙂" * 10,
    "x" * 5000,
]


@pytest.fixture
def store(tmp_path) -> RoomStore:
    return RoomStore(tmp_path / "room.sqlite3")


def test_wal_mode_and_schema(store):
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"rooms", "answers"} <= tables


def test_first_answer_counts_per_student_and_question(store):
    assert store.record("s1", "lesson-a", 1, "(32, 128, 768)", False) is True
    assert store.record("s1", "lesson-a", 1, "(32, 768, 128)", True) is False  # second try ignored
    assert store.record("s1", "lesson-a", 2, "error", True) is True
    assert store.record("s2", "lesson-a", 1, "(32, 768, 128)", True) is True
    rows = store.answers()
    assert [(a.student, a.stage, a.answer, a.correct) for a in rows] == [
        ("s1", 1, "(32, 128, 768)", False),
        ("s1", 2, "error", True),
        ("s2", 1, "(32, 768, 128)", True),
    ]
    assert [a.stage for a in store.answers(lesson="lesson-a")] == [1, 2, 1]
    assert store.answers(lesson="other") == []


def test_new_room_starts_empty_and_keeps_the_old_one(store):
    store.record("s1", "l", 1, "(1,)", True)
    first = store.current_room()
    second = store.new_room()
    assert second == first + 1 and store.current_room() == second
    assert store.answers() == []
    store.record("s1", "l", 1, "(2,)", False)  # the same student may answer again in a new room
    assert [a.answer for a in store.answers()] == ["(2,)"]
    assert [a.answer for a in store.answers(first)] == ["(1,)"]
    infos = {r.id: r for r in store.rooms()}
    assert infos[first].answers == 1 and infos[second].students == 1


def test_clear_room_deletes_only_the_current_rooms_answers(store):
    store.record("s1", "l", 1, "(1,)", True)
    old = store.current_room()
    store.new_room()
    store.record("s1", "l", 1, "(2,)", True)
    store.record("s2", "l", 1, "(3,)", True)
    assert store.clear_room() == 2
    assert store.answers() == [] and len(store.answers(old)) == 1


def test_closing_and_reopening_loses_nothing(tmp_path):
    path = tmp_path / "room.sqlite3"
    RoomStore(path).record("s1", "l", 1, "(1, 2)", True)
    again = RoomStore(path)
    assert [(a.student, a.answer) for a in again.answers()] == [("s1", "(1, 2)")]


def test_a_killed_writer_loses_nothing_it_committed(tmp_path):
    path = tmp_path / "room.sqlite3"
    code = (
        "import os, sys; sys.path.insert(0, sys.argv[2]); from core.room.store import RoomStore; "
        "s = RoomStore(sys.argv[1]); [s.record(f's{i}', 'l', 1, '(1,)', True) for i in range(50)]; "
        "os.kill(os.getpid(), 9)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(ROOT)], capture_output=True, timeout=60)
    assert proc.returncode == -9
    assert len(RoomStore(path).answers()) == 50


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_is_stored_as_text(store, text):
    assert store.record(text, text, 1, text, False)
    (row,) = store.answers()
    assert row.answer == clean_text(text) and row.student == clean_text(text, 64)
    assert len(row.answer) <= MAX_TEXT
    # the table is intact (no injected statement ran)
    assert store.record("s2", "l", 1, "(1,)", True) and len(store.answers()) == 2
    assert [a.student for a in store.answers(lesson="l")] == ["s2"]


def test_clean_text_replaces_lone_surrogates_and_caps():
    assert clean_text("a\ud800b") == "a\ufffdb"
    assert clean_text(123) == "123"
    assert len(clean_text("x" * 10_000)) == MAX_TEXT


def _write_many(path: str, who: str, n: int, start: threading.Barrier | None = None) -> None:
    store = RoomStore(path)
    if start is not None:
        start.wait()  # every thread's first call together: the first room must be created once, not per thread
    for i in range(n):
        assert store.record(who, f"lesson-{i % 5}", i, f"({i}, 1)", i % 2 == 0)


def test_eight_concurrent_threads_lose_nothing(store):
    n = 60
    start = threading.Barrier(8)
    threads = [threading.Thread(target=_write_many, args=(str(store.path), f"t{k}", n, start)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    rows = store.answers()
    assert len(rows) == 8 * n
    assert {a.student for a in rows} == {f"t{k}" for k in range(8)}


def test_eight_concurrent_processes_lose_nothing(tmp_path):
    path = tmp_path / "room.sqlite3"
    RoomStore(path)
    n = 40
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(path), f"p{k}", n)) for k in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    rows = RoomStore(path).answers()
    assert len(rows) == 8 * n
    assert sorted({a.student for a in rows}) == [f"p{k}" for k in range(8)]


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "d"))
    assert data_dir() == tmp_path / "d"
    monkeypatch.delenv(DATA_ENV)
    assert data_dir() == Path("data")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_folder_raises_a_clear_error(tmp_path):  # pragma: no cover - CI runs as root
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises((OSError, sqlite3.Error)):
        RoomStore(ro / "sub" / "room.sqlite3")


def test_a_path_that_is_a_folder_raises(tmp_path):
    (tmp_path / "room.sqlite3").mkdir()
    with pytest.raises(sqlite3.Error):
        RoomStore(tmp_path / "room.sqlite3")
