"""Start the app for a room and say in the terminal how students and the teacher reach it (``make run``).

    python -m core.room.serve [--port 8501] [--address 0.0.0.0] [--room-url URL] [-- streamlit options…]

It makes (or takes) the teacher key, works out the room URL (core.room.address), starts ``python -m ui.server``
(the default model loaded first, then ``streamlit run app.py``) with both in its environment
(``$SHAPE_EXPLORER_TEACHER_KEY``, ``$SHAPE_EXPLORER_ROOM_URL``), waits until the server answers, then prints::

    Room link for students:  http://192.168.1.20:8501/
    Class results (teacher): http://192.168.1.20:8501/teacher   teacher key: k7mp-3xqa-v9td

The room link is never a localhost address: a server that listens on this machine only gets a note saying
how to open it to the room instead. Ctrl+C stops the server. Exit status: the server's; 2 for a bad option
(one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from core.errors import SpecError
from core.room import address, keys
from core.room.store import DATA_ENV, DB_NAME, data_dir

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
READY_TIMEOUT_S = 120


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1 :]
    else:
        extra = []
    p = argparse.ArgumentParser(prog="python -m core.room.serve", description="Start Shape Explorer for a room.")
    p.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    p.add_argument(
        "--address",
        default="0.0.0.0",
        help="address to listen on: 0.0.0.0 (default) = every network of this machine, so the room can reach it; "
        "127.0.0.1 = this machine only",
    )
    p.add_argument(
        "--room-url",
        default=None,
        help="the address students should use, when it is not this machine's LAN address "
        f"(also ${address.ROOM_URL_ENV})",
    )
    return p.parse_args(argv), extra


def banner(room: address.RoomAddress, key: str, port: int, data: Path) -> str:
    """What the terminal shows once the server answers. Never a localhost room link."""
    lines = ["", "Shape Explorer is running."]
    if room.url:
        lines += [
            f"  Room link for students:   {room.url}",
            "                            (the Overview page shows it as a QR code for the projector)",
            f"  Class results (teacher):  {address.join(room.url, 'teacher')}",
        ]
    else:
        lines += [f"  No room link: {room.note}.", f"  On this machine:          http://localhost:{port}/"]
    lines += [
        f"  Teacher key:              {key}   (type it on /teacher; students never see it)",
        f"  Answers are saved in:     {data}",
        "  Stop with Ctrl+C.",
        "",
    ]
    return "\n".join(lines)


def _option(extra: list[str], name: str) -> str:
    """The value of a Streamlit option among the pass-through arguments (``--name value`` or ``--name=value``)."""
    for i, arg in enumerate(extra):
        if arg == name and i + 1 < len(extra):
            return extra[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return ""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_ready(proc: subprocess.Popen, url: str, timeout: float = READY_TIMEOUT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        key = keys.key_from_env() or keys.new_key()
        room = address.room_address(
            listen=args.address,
            port=args.port,
            base_url=args.room_url or address.room_url_from_env(),
            base_path=_option(extra, "--server.baseUrlPath"),
        )
    except SpecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not APP.is_file():
        print(f"error: {APP} not found: run this from a checkout of Shape Explorer", file=sys.stderr)
        return 2
    data = data_dir().resolve()
    env = {**os.environ, keys.TEACHER_KEY_ENV: key, DATA_ENV: str(data)}
    if room.source == "set by the teacher" and room.url:
        env[address.ROOM_URL_ENV] = room.url
    cmd = [  # ui.server loads the default model, then runs `streamlit run app.py` in the same process
        sys.executable,
        "-m",
        "ui.server",
        "--server.port",
        str(args.port),
        "--server.address",
        args.address,
        *extra,
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    # SIGTERM (a service manager, `kill`) stops the server too, like Ctrl+C
    signal.signal(signal.SIGTERM, _interrupt)
    host = "127.0.0.1" if args.address in address.ALL_INTERFACES or address.is_loopback(args.address) else args.address
    host = f"[{host}]" if ":" in host else host
    base_path = _option(extra, "--server.baseUrlPath").strip("/")
    health = f"http://{host}:{args.port}/{base_path + '/' if base_path else ''}_stcore/health"
    try:
        if _wait_ready(proc, health):
            print(banner(room, key, args.port, data / DB_NAME), flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
