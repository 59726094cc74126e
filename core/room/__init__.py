"""A workshop room: where students open the app (address), who is the teacher (key), what the class answered
(an embedded SQLite store) and the teacher's per-question results. UI-free; ui/room.py is the Streamlit side."""
