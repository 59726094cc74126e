"""Overview: the four tools, and the room link with its QR code (what a teacher puts on the projector)."""

from __future__ import annotations

from ui import home as ui
from ui import room
from ui.common import ensure_app_navigation

ensure_app_navigation()

ui.forward_old_links()
ui.intro()
if room.presenting():  # on the projector the room link comes first
    ui.room_panel()
    ui.tools()
else:
    ui.tools()
    ui.room_panel()
