"""Room URL rules (teacher's URL, LAN address, loopback only), teacher keys, QR codes decoded by an independent
reader (zxing-cpp) back to the exact URL."""

from __future__ import annotations

import io
import re

import pytest

from core.errors import SpecError
from core.room import address, keys, qr


def lan(ip="192.168.1.20"):
    return lambda: ip


@pytest.mark.parametrize(
    ("listen", "port", "base_path", "expected"),
    [
        (None, 8501, "", "http://192.168.1.20:8501/"),
        ("", 8501, "", "http://192.168.1.20:8501/"),
        ("0.0.0.0", 8600, "", "http://192.168.1.20:8600/"),
        ("::", 8501, "shapes", "http://192.168.1.20:8501/shapes/"),
        ("10.0.0.5", 8501, "", "http://10.0.0.5:8501/"),  # listens on one LAN address: that one
        ("fd00::5", 8501, "/a/b/", "http://[fd00::5]:8501/a/b/"),
    ],
)
def test_room_url_from_the_listen_address(listen, port, base_path, expected):
    room = address.room_address(listen=listen, port=port, base_path=base_path, lan=lan())
    assert room.url == expected
    assert "localhost" not in room.url and "127.0.0.1" not in room.url


@pytest.mark.parametrize("listen", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.1.1"])
def test_loopback_only_has_no_room_url_and_says_how_to_open_it(listen):
    room = address.room_address(listen=listen, port=8501, lan=lan())
    assert room.url is None and room.source == "loopback only"
    assert "ADDRESS=0.0.0.0" in room.note


def test_no_lan_address_says_so():
    room = address.room_address(listen="0.0.0.0", port=8501, lan=lambda: None)
    assert room.url is None and address.ROOM_URL_ENV in room.note


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://class.example:8501", "http://class.example:8501/"),
        ("192.168.1.20:8501", "http://192.168.1.20:8501/"),
        ("https://workshop.example/shapes", "https://workshop.example/shapes/"),
        ("  http://10.1.2.3:80/x/?q=1#f ", "http://10.1.2.3:80/x/"),
    ],
)
def test_the_teachers_url_wins(given, expected):
    room = address.room_address(listen="127.0.0.1", port=8501, base_url=given, lan=lan())
    assert room.url == expected and room.source == "set by the teacher"


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("http://localhost:8501", "this machine only"),
        ("http://127.0.0.1:8501/", "this machine only"),
        ("ftp://host/", "not an http(s) address"),
        ("http://", "not an http(s) address"),
        ("   ", "empty"),
    ],
)
def test_a_bad_teacher_url_is_refused_with_the_reason(given, fragment):
    with pytest.raises(SpecError, match=re.escape(fragment)):
        address.room_address(listen="0.0.0.0", port=8501, base_url=given or " ", lan=lan())


def test_lan_address_is_never_loopback():
    ip = address.lan_address()
    assert ip is None or not address.is_loopback(ip)


def test_join():
    assert address.join("http://h:1/", "lessons?lesson=x") == "http://h:1/lessons?lesson=x"
    assert address.join("http://h:1/base/", "/teacher") == "http://h:1/base/teacher"


# ------------------------------------------------------------------------------------------------ keys


def test_new_keys_are_random_readable_and_check():
    made = {keys.new_key() for _ in range(200)}
    assert len(made) == 200
    for key in list(made)[:20]:
        assert set(key.replace("-", "")) <= set(keys.ALPHABET) and len(key) == 14
        assert keys.check_key(key, key) and keys.check_key(key.upper().replace("-", " "), key)
        assert not keys.check_key(key[:-1], key)


@pytest.mark.parametrize("given", [None, "", "   ", "abcd-efgh-jkm", "x" * 500])
def test_wrong_or_empty_keys_fail(given):
    assert not keys.check_key(given, "abcd-efgh-jkmn")


@pytest.mark.parametrize(
    ("value", "ok"),
    [("abcd-efgh-jkmn", True), ("Teacher2026", True), ("abc", False), ("clé-spéciale-1", False), ("a b;c d", False)],
)
def test_a_teacher_chosen_key_is_validated(value, ok, monkeypatch):
    monkeypatch.setenv(keys.TEACHER_KEY_ENV, value)
    if ok:
        assert keys.key_from_env() == value
    else:
        with pytest.raises(SpecError, match="letters or digits"):
            keys.key_from_env()


# ------------------------------------------------------------------------------------------------ QR


@pytest.mark.parametrize(
    "url",
    [
        "http://192.168.1.20:8501/",
        "http://10.0.0.5:8501/lessons?lesson=view-is-not-transpose",
        "https://workshop.example/shapes/lessons?lesson=pad-then-reshape&spec=eJyrVipOzi9KVbJSMjYyMtAxNDLXMTQ",
    ],
)
def test_qr_decodes_back_to_the_url(url):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    img = Image.open(io.BytesIO(qr.png(url)))
    (found,) = zxingcpp.read_barcodes(img)
    assert found.text == url
    svg = qr.svg(url)
    assert svg.startswith("<svg") and "http://" not in svg.split(">", 1)[1]  # the URL is drawn, not embedded


@pytest.mark.parametrize("url", ["", "http://h/" + "x" * 2000])
def test_qr_refuses_empty_or_huge_links(url):
    with pytest.raises(SpecError, match="QR code needs a link"):
        qr.svg(url)
