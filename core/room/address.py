"""The room URL: the address students type (or scan) to reach this server — never ``localhost``.

Rules, in order:
1. a base URL the teacher set (``--room-url`` of ``shape-explorer serve``, ``$SHAPE_EXPLORER_ROOM_URL``, or
   Streamlit's own ``browser.serverAddress`` in ``.streamlit/config.toml``) is used as given;
2. a server that listens beyond this machine (no address, ``0.0.0.0``, ``::`` or a LAN address) is reached at
   the machine's LAN address and the server's port;
3. a server that listens on loopback only (``127.0.0.1``, ``localhost``, ``::1``) has no room URL: the
   reason says how to open it to the room.

The LAN address is the source address the operating system would use for an outside route (a UDP
``connect`` sends no packet, so this works offline), else a non-loopback address of the host name.

>>> room_address(listen="0.0.0.0", port=8501, lan=lambda: "192.168.1.20").url
'http://192.168.1.20:8501/'
>>> room_address(listen="127.0.0.1", port=8501, lan=lambda: "192.168.1.20").url is None
True
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from core.errors import SpecError

ROOM_URL_ENV = "SHAPE_EXPLORER_ROOM_URL"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
ALL_INTERFACES = {"", "0.0.0.0", "::", "[::]"}
# Addresses reserved for documentation/test networks can still be a container's only interface; they are
# usable. Only loopback, link-local and unspecified addresses are never a room address.


@dataclass(frozen=True)
class RoomAddress:
    """``url``: the room's base URL ending in ``/`` (None when the server is not reachable from the room);
    ``source``: how it was found ("set by the teacher", "LAN address", "loopback only");
    ``note``: one sentence for the terminal / the teacher."""

    url: str | None
    source: str
    note: str


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _usable(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (addr.is_loopback or addr.is_link_local or addr.is_unspecified or addr.is_multicast)


def lan_address() -> str | None:
    """This machine's LAN IPv4 address, or None. Sends nothing on the network."""
    for probe in ("10.255.255.255", "192.168.255.255", "172.31.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 1))  # UDP connect: picks a route and a source address, sends no packet
                ip = s.getsockname()[0]
            if _usable(ip):
                return ip
        except OSError:
            continue
    try:
        _, _, ips = socket.gethostbyname_ex(socket.gethostname())
    except OSError:
        return None
    return next((ip for ip in ips if _usable(ip)), None)


def normalize_base_url(value: str) -> str:
    """A teacher-given base URL as ``scheme://host[:port]/path/``; SpecError when it is not an http(s) URL.

    A bare host (``192.168.1.20:8501``) gets ``http://``. ``localhost`` is refused: no student can open it.
    """
    text = str(value).strip()
    if not text:
        raise SpecError("the room URL is empty")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError(f"the room URL {value!r} is not an http(s) address such as http://192.168.1.20:8501")
    if is_loopback(parts.hostname):
        raise SpecError(f"the room URL {value!r} points at this machine only; students cannot open it")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def room_address(
    *,
    listen: str | None,
    port: int,
    base_url: str | None = None,
    base_path: str = "",
    lan: Callable[[], str | None] = lan_address,
) -> RoomAddress:
    """The room URL for a server listening on ``listen``:``port`` (see the module rules).

    base_url: the teacher's URL (rule 1); base_path: Streamlit's ``server.baseUrlPath`` (e.g. ``shapes``).
    Raises SpecError when the teacher's URL is unusable.
    """
    if base_url:
        return RoomAddress(normalize_base_url(base_url), "set by the teacher", "the room URL you set")
    path = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
    host = (listen or "").strip()
    if host and is_loopback(host):
        return RoomAddress(
            None,
            "loopback only",
            f"the server listens on {host} only, so no other machine can reach it; run `make run "
            "ADDRESS=0.0.0.0` (or set server.address) to open it to the room",
        )
    if host not in ALL_INTERFACES:
        shown = f"[{host}]" if ":" in host else host
        return RoomAddress(f"http://{shown}:{port}{path}", "listen address", "the address the server listens on")
    ip = lan()
    if ip is None:
        return RoomAddress(
            None,
            "no LAN address",
            "this machine has no network address other than loopback; connect it to the room's network or "
            f"set the room URL ({ROOM_URL_ENV} or --room-url)",
        )
    return RoomAddress(f"http://{ip}:{port}{path}", "LAN address", "this machine's address on the local network")


def room_url_from_env() -> str | None:
    value = os.environ.get(ROOM_URL_ENV, "").strip()
    return value or None


def join(base: str, path: str) -> str:
    """``join("http://h:8501/", "lessons?lesson=x")`` -> ``http://h:8501/lessons?lesson=x``."""
    return base.rstrip("/") + "/" + path.lstrip("/")
