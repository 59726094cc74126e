"""The class-wide answers store: one embedded SQLite file (standard-library ``sqlite3``) that every session of
the server writes its students' quiz answers to, and the teacher view reads.

- Where: ``<data folder>/room.sqlite3``; the data folder is ``$SHAPE_EXPLORER_DATA`` or ``./data`` (gitignored).
- Rooms: a room is a numbered series of answers. Answers go to the newest room; "new room" starts an empty
  one (older rooms stay readable), "clear room" deletes the current room's answers. Restarting the server
  keeps the current room: closing it loses nothing.
- Students: an anonymous id (no names); a student's first answer to a question is the one that counts
  (the quiz locks an answer once it is checked), later ones are ignored.
- Concurrency: WAL journal (readers never block the writer), a busy timeout, and one short autocommit
  statement per write, so many server threads and processes can write at once (tested with 8).
- Text: answers are stored as text through bound parameters, never interpolated into SQL; at most
  ``MAX_TEXT`` characters; lone surrogates are replaced, so any str can be stored.

>>> import tempfile, pathlib
>>> store = RoomStore(pathlib.Path(tempfile.mkdtemp()) / "room.sqlite3")
>>> store.record("s1", "view-is-not-transpose", 1, "(32, 768, 128)", True)
True
>>> [(a.student, a.stage, a.answer, a.correct) for a in store.answers()]
[('s1', 1, '(32, 768, 128)', True)]
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

DATA_ENV = "SHAPE_EXPLORER_DATA"
DB_NAME = "room.sqlite3"
MAX_TEXT = 200
BUSY_TIMEOUT_S = 15.0
_SURROGATE = re.compile("[\ud800-\udfff]")
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    room    INTEGER NOT NULL REFERENCES rooms(id),
    student TEXT    NOT NULL,
    lesson  TEXT    NOT NULL,
    stage   INTEGER NOT NULL,
    answer  TEXT    NOT NULL,
    correct INTEGER NOT NULL,
    at      REAL    NOT NULL,
    PRIMARY KEY (room, student, lesson, stage)
);
"""


def data_dir() -> Path:
    """The data folder: ``$SHAPE_EXPLORER_DATA`` when set, else ``./data`` (relative to the working folder)."""
    return Path(os.environ.get(DATA_ENV) or "data")


def default_path() -> Path:
    return data_dir() / DB_NAME


def clean_text(value: object, limit: int = MAX_TEXT) -> str:
    """Any value as storable text: str(), at most ``limit`` characters, lone surrogates replaced by U+FFFD."""
    text = value if isinstance(value, str) else str(value)
    return _SURROGATE.sub("\ufffd", text[:limit])


@dataclass(frozen=True)
class Answer:
    """One student's first answer to one question (``stage`` indexes the lesson's stages)."""

    room: int
    student: str
    lesson: str
    stage: int
    answer: str
    correct: bool
    at: float


@dataclass(frozen=True)
class RoomInfo:
    id: int
    started: float
    answers: int
    students: int


class RoomStore:
    """The answers of a room, in one SQLite file. Safe to share between threads: every call opens its own
    connection (cheap for a local file) and runs one short transaction.

    Raises ``sqlite3.Error`` (e.g. ``OperationalError`` for a read-only or missing folder that cannot be
    created) — the UI reports it and the quiz goes on without recording.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as con:
            con.execute("PRAGMA synchronous=FULL")  # a committed answer survives the server being killed
            con.execute("PRAGMA foreign_keys=ON")
            yield con

    # ------------------------------------------------------------------------------------------- rooms

    def current_room(self) -> int:
        """The newest room's id; the first call on an empty store creates room 1."""
        with self._connect() as con:
            # one statement, so atomic: concurrent first calls create one room, not one each (a SELECT then
            # INSERT let eight threads each start a room and split their answers between them)
            con.execute("INSERT INTO rooms (started) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM rooms)", (time.time(),))
            return int(con.execute("SELECT max(id) FROM rooms").fetchone()[0])

    def new_room(self) -> int:
        """Start an empty room; answers from now on go to it. The older rooms stay in the file."""
        with self._connect() as con:
            return self._insert_room(con)

    @staticmethod
    def _insert_room(con: sqlite3.Connection) -> int:
        cur = con.execute("INSERT INTO rooms (started) VALUES (?)", (time.time(),))
        return int(cur.lastrowid or 0)

    def clear_room(self, room: int | None = None) -> int:
        """Delete every answer of ``room`` (default: the current one); returns how many were deleted."""
        room = self.current_room() if room is None else room
        with self._connect() as con:
            return con.execute("DELETE FROM answers WHERE room = ?", (room,)).rowcount

    def rooms(self) -> list[RoomInfo]:
        """Every room, newest first, with its number of answers and students."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT r.id, r.started, count(a.student), count(DISTINCT a.student) FROM rooms r "
                "LEFT JOIN answers a ON a.room = r.id GROUP BY r.id ORDER BY r.id DESC"
            ).fetchall()
        return [RoomInfo(int(i), float(s), int(n), int(k)) for i, s, n, k in rows]

    # ----------------------------------------------------------------------------------------- answers

    def record(self, student: str, lesson: str, stage: int, answer: object, correct: bool) -> bool:
        """Record a student's answer in the current room; True when stored, False when this student had
        already answered this question in this room (the first answer counts)."""
        self.current_room()  # make sure a room exists
        with self._connect() as con:
            cur = con.execute(
                "INSERT OR IGNORE INTO answers (room, student, lesson, stage, answer, correct, at) "
                "VALUES ((SELECT max(id) FROM rooms), ?, ?, ?, ?, ?, ?)",
                (
                    clean_text(student, 64),
                    clean_text(lesson, 64),
                    int(stage),
                    clean_text(answer),
                    1 if correct else 0,
                    time.time(),
                ),
            )
            return cur.rowcount == 1

    def answers(self, room: int | None = None, lesson: str | None = None) -> list[Answer]:
        """The answers of ``room`` (default: current), optionally of one lesson, oldest first."""
        room = self.current_room() if room is None else room
        query = "SELECT room, student, lesson, stage, answer, correct, at FROM answers WHERE room = ?"
        args: tuple[object, ...] = (room,)
        if lesson is not None:
            query += " AND lesson = ?"
            args += (lesson,)
        with self._connect() as con:
            rows = con.execute(query + " ORDER BY at, rowid", args).fetchall()
        return [Answer(int(r), s, le, int(st), a, bool(c), float(t)) for r, s, le, st, a, c, t in rows]
