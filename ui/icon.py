"""The app's favicon, drawn here: no icon is fetched from a font CDN (a ``:material/...:`` page icon makes
the browser load it from a Google host, which fails offline and leaks the visit).

Three bars of the shape-flow colours (batch, tokens, hidden), as a 64 x 64 PNG built with Pillow
(a Streamlit dependency) and served by Streamlit's own media endpoint.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw

from core.figures.pipeline import ROLE_COLORS

SIZE = 64


@lru_cache(maxsize=1)
def app_icon() -> Image.Image:
    """A 64 x 64 RGBA image: three rounded bars, grey / blue / orange, of growing length."""
    img = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    bars = (("batch", 22), ("tokens", 40), ("hidden", 58))
    for row, (role, length) in enumerate(bars):
        top = 6 + row * 19
        draw.rounded_rectangle((4, top, 4 + length, top + 14), radius=4, fill=ROLE_COLORS[role])
    return img
