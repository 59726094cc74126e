"""QR codes for room links, drawn locally by segno (pure Python, no network, no image library needed).

Error correction M (15 %) survives a projector's blur and a phone held at an angle; a 4-module quiet
zone is what the QR standard asks for and what phone readers need.

>>> svg("http://192.168.1.20:8501/").startswith("<svg")
True
"""

from __future__ import annotations

import io

import segno

from core.errors import SpecError

MAX_URL_CHARS = 1500  # far beyond a room link; a QR of a long share link is unreadable from the back row
DARK = "#1f2430"


def _make(url: str) -> segno.QRCode:
    if not url or len(url) > MAX_URL_CHARS:
        raise SpecError(f"a QR code needs a link of 1–{MAX_URL_CHARS} characters, got {len(url or '')}")
    return segno.make(url, error="m", micro=False)


def svg(url: str, scale: int = 8) -> str:
    """The QR code of ``url`` as an SVG document (``<svg xmlns=…>``), dark modules on white.

    Raises SpecError for an empty or very long URL.
    """
    buf = io.BytesIO()
    _make(url).save(buf, kind="svg", scale=scale, border=4, dark=DARK, light="#ffffff", xmldecl=False)
    return buf.getvalue().decode("utf-8")


def png(url: str, scale: int = 10) -> bytes:
    """The QR code of ``url`` as PNG bytes (for download or print)."""
    buf = io.BytesIO()
    _make(url).save(buf, kind="png", scale=scale, border=4, dark=DARK, light="#ffffff")
    return buf.getvalue()
