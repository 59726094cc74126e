"""The room, Streamlit side: the room URL and its QR code, the teacher key, presenter mode, recording answers.

- Room URL: ``core.room.address`` from this server's options (``server.address`` / ``server.port`` /
  ``server.baseUrlPath``), the teacher's ``$SHAPE_EXPLORER_ROOM_URL`` or a manually set
  ``browser.serverAddress``. Never ``localhost``.
- Teacher: a session that typed the teacher key (``/teacher``; the key is in the server's terminal) or opened
  ``/teacher?key=…`` (the key is then dropped from the address bar). Teacher things never show to students
  and never in presenter mode.
- Presenter mode: ``?present=1`` or the sidebar toggle; kept for the session while moving between pages.
- Answers: each student's first answer per question goes to the room store with an anonymous id.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

import streamlit as st

from core.errors import SpecError
from core.room import address, keys, qr
from core.room.store import RoomStore

TEACHER_STATE = "room_teacher"
PRESENT_STATE = "room_present"
PRESENT_PARAM = "present"
ON_VALUES = ("1", "true", "yes", "on")
OFF_VALUES = ("0", "false", "no", "off")


# -------------------------------------------------------------------------------------------- server-wide


@st.cache_resource(show_spinner=False)
def teacher_key() -> str:
    """This server's teacher key: ``$SHAPE_EXPLORER_TEACHER_KEY`` (set by ``shape-explorer serve`` / the
    teacher), else made once per process and printed to the server's terminal."""
    try:
        key = keys.key_from_env()
    except SpecError as e:
        print(f"[shape-explorer] ignoring {keys.TEACHER_KEY_ENV}: {e}", file=sys.stderr, flush=True)
        key = None
    if key is None:
        key = keys.new_key()
        print(f"[shape-explorer] teacher key for this server: {key}  (open /teacher and type it)", flush=True)
    return key


@st.cache_resource(show_spinner=False)
def _room_address(listen: str, port: int, base_path: str, browser_address: str, browser_port: int) -> Any:
    explicit = address.room_url_from_env()
    if explicit is None and browser_address:
        explicit = f"{browser_address}:{browser_port}/{base_path.strip('/')}"
    try:
        return address.room_address(listen=listen, port=port, base_url=explicit, base_path=base_path)
    except SpecError as e:
        return address.RoomAddress(None, "invalid room URL", str(e))


def room_address() -> address.RoomAddress:
    """Where students reach this server (``url`` None when they cannot: loopback only, or no network)."""
    from streamlit import config

    manual = config.is_manually_set("browser.serverAddress")
    return _room_address(
        str(st.get_option("server.address") or ""),
        int(st.get_option("server.port")),
        str(st.get_option("server.baseUrlPath") or ""),
        str(st.get_option("browser.serverAddress")) if manual else "",
        int(st.get_option("browser.serverPort") or st.get_option("server.port")),
    )


def room_link(path: str = "") -> str | None:
    """``path`` (e.g. ``lessons?lesson=x``) under the room URL; None when students cannot reach this server."""
    room = room_address()
    return address.join(room.url, path) if room.url else None


@st.cache_resource(show_spinner=False)
def answers_store() -> RoomStore | None:
    """The room's answers store (one per process), or None when its file cannot be opened (then the quiz works
    without recording; the reason is in the server's log and on the teacher page)."""
    import sqlite3

    try:
        return RoomStore()
    except (OSError, sqlite3.Error) as e:
        print(f"[shape-explorer] room answers are not recorded: {e}", file=sys.stderr, flush=True)
        return None


# ---------------------------------------------------------------------------------------------- sessions


def is_teacher() -> bool:
    return bool(st.session_state.get(TEACHER_STATE))


def unlock(given: str) -> bool:
    """Make this session a teacher's when ``given`` is the key."""
    ok = keys.check_key(given, teacher_key())
    if ok:
        st.session_state[TEACHER_STATE] = True
    return ok


def teacher_visible() -> bool:
    """Teacher things (answers, class results, the teacher page) show: a teacher's session, not projecting."""
    return is_teacher() and not presenting()


def sync_presenting() -> None:
    """Read ``?present=`` into the session (once per run, before anything draws)."""
    value = str(st.query_params.get(PRESENT_PARAM, "")).lower()
    if value in ON_VALUES:
        st.session_state[PRESENT_STATE] = True
    elif value in OFF_VALUES:
        st.session_state[PRESENT_STATE] = False


def presenting() -> bool:
    return bool(st.session_state.get(PRESENT_STATE))


def _toggle_present() -> None:
    on = bool(st.session_state.get("room_present_toggle"))
    st.session_state[PRESENT_STATE] = on
    if on:
        st.query_params[PRESENT_PARAM] = "1"
    elif PRESENT_PARAM in st.query_params:
        del st.query_params[PRESENT_PARAM]


def present_toggle() -> None:
    """The presenter-mode switch: in the sidebar normally; as a small button on the page while presenting
    (the sidebar is hidden then)."""
    st.session_state["room_present_toggle"] = presenting()
    if presenting():
        with st.container(key="present_exit", horizontal=True, horizontal_alignment="right"):
            st.toggle("Presenter mode", key="room_present_toggle", on_change=_toggle_present)
        return
    with st.sidebar:
        st.toggle(
            "Presenter mode",
            key="room_present_toggle",
            on_change=_toggle_present,
            help="For the projector: larger type and figures, the sidebar and the controls the class does not "
            "need hidden, no teacher links. The URL gets ?present=1.",
        )


def student_id() -> str:
    """An anonymous id for this browser: a hash of Streamlit's per-browser XSRF token (so a reload keeps it),
    else a random id for this session. Never a name; not reversible to the cookie."""
    if "room_student" not in st.session_state:
        token = _xsrf_token()
        if token:  # one-way: the id says nothing about the cookie; stable across server restarts
            st.session_state["room_student"] = hashlib.sha256(f"shape-explorer-room|{token}".encode()).hexdigest()[:16]
        else:
            import secrets

            st.session_state["room_student"] = secrets.token_hex(8)
    return str(st.session_state["room_student"])


def _xsrf_token() -> str | None:
    try:
        raw = st.context.cookies.get("_streamlit_xsrf")
    except Exception:  # no cookies in bare mode / AppTest
        return None
    return xsrf_token_of(raw)


def xsrf_token_of(raw: str | None) -> str | None:
    """The token inside a ``_streamlit_xsrf`` cookie value ``2|mask|masked-token|time`` (hex; the mask changes
    with every response, the unmasked token does not), or None for anything else."""
    if not raw:
        return None
    parts = str(raw).split("|")
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    if not mask or not masked:
        return None
    return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked)).hex()


def record_answer(lesson: str, stage: int, answer: str, correct: bool) -> None:
    """Put this student's answer in the room (the first answer per question counts). Never raises: a room
    that cannot record must not break a student's quiz."""
    import sqlite3

    store = answers_store()
    if store is None:
        return
    try:
        store.record(student_id(), lesson, stage, answer, correct)
    except sqlite3.Error as e:
        print(f"[shape-explorer] an answer was not recorded: {e}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ drawing


def qr_image(url: str, caption: str | None = None, width: int = 220) -> None:
    """The QR code of ``url``, drawn here (no network)."""
    try:
        st.image(qr.svg(url), caption=caption, width=width)
    except SpecError as e:
        st.caption(str(e))


def room_link_block(path: str = "", *, with_qr: bool = True, qr_width: int = 200, label: str = "Room link") -> None:
    """The room link of ``path`` as text and QR, or why there is none (never a localhost address)."""
    link = room_link(path)
    if link is None:
        room = room_address()
        st.caption(f":material/wifi_off: No room link: {room.note}.")
        return
    st.caption(label)
    st.code(link, language=None, wrap_lines=True)
    if with_qr:
        qr_image(link, width=qr_width)
