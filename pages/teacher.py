"""Class results (teacher only): the room's answers per question, live; new room, clear room.

Needs the teacher key (printed in the server's terminal); never shown in presenter mode.
"""

from __future__ import annotations

import streamlit as st

from ui import teacher as ui
from ui.common import ensure_app_navigation

ensure_app_navigation()

st.title("Class results")
if ui.gate():
    ui.room_controls()
    ui.live_results()
