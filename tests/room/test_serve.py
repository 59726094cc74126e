"""The room launcher (``make run``): the banner never shows a localhost room link, options are checked, and a
real start prints the room link, the teacher key and the data file once the server answers; SIGTERM stops
both processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.room import address, serve

ROOT = Path(__file__).resolve().parents[2]


def test_banner_with_a_room_link():
    room = address.RoomAddress("http://192.168.1.20:8501/", "LAN address", "")
    text = serve.banner(room, "abcd-efgh-jkmn", 8501, Path("/x/data/room.sqlite3"))
    assert "Room link for students:   http://192.168.1.20:8501/" in text
    assert "http://192.168.1.20:8501/teacher" in text and "abcd-efgh-jkmn" in text
    assert "/x/data/room.sqlite3" in text and "localhost" not in text


def test_banner_without_a_room_link_says_why_and_how():
    room = address.room_address(listen="127.0.0.1", port=8501, lan=lambda: "10.0.0.2")
    text = serve.banner(room, "abcd-efgh-jkmn", 8501, Path("data/room.sqlite3"))
    assert "No room link" in text and "ADDRESS=0.0.0.0" in text
    assert "Room link" not in text.replace("No room link", "")
    assert "On this machine:          http://localhost:8501/" in text


def test_pass_through_options():
    args, extra = serve.parse_args(["--port", "9000", "--", "--server.baseUrlPath", "shapes", "--x=y"])
    assert args.port == 9000 and args.address == "0.0.0.0" and extra == ["--server.baseUrlPath", "shapes", "--x=y"]
    assert serve._option(extra, "--server.baseUrlPath") == "shapes"
    assert serve._option(["--server.baseUrlPath=a/b"], "--server.baseUrlPath") == "a/b"
    assert serve._option([], "--server.baseUrlPath") == ""


@pytest.mark.parametrize(
    ("argv", "env", "fragment"),
    [
        (["--room-url", "http://localhost:8501"], {}, "this machine only"),
        ([], {"SHAPE_EXPLORER_TEACHER_KEY": "ab"}, "letters or digits"),
        ([], {"SHAPE_EXPLORER_ROOM_URL": "ftp://x"}, "not an http(s) address"),
    ],
)
def test_bad_options_exit_2_with_one_line(argv, env, fragment, monkeypatch, capsys):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert serve.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and fragment in err and "\n" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_real_start_prints_the_room_link_and_stops_on_sigterm(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "SHAPE_EXPLORER_DATA": str(tmp_path),
        "SHAPE_EXPLORER_TEACHER_KEY": "serve-test-key",
        "SHAPE_EXPLORER_ROOM_URL": "http://192.168.7.7:9999/",
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.room.serve", "--port", str(port), "--address", "127.0.0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Stop with Ctrl+C" in line or proc.poll() is not None:
                break
        text = "".join(lines)
        assert "Room link for students:   http://192.168.7.7:9999/" in text, text
        assert "serve-test-key" in text and str(tmp_path / "room.sqlite3") in text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            raise
    # the streamlit child is gone too: nothing answers on the port any more (a connect is refused; binding the port
    # again would race with other processes that pick free ports under pytest-xdist)
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as s:
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", port))
            except (ConnectionRefusedError, TimeoutError, OSError):
                break
        assert time.monotonic() < deadline, f"something still answers on port {port} after SIGTERM"
        time.sleep(0.5)
