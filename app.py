"""Shape Explorer: entry point. Page config, the room's CSS and presenter mode, navigation over pages/.

Every page has its own path: the overview is the default page at ``/`` (Streamlit serves the default page at
the root only and answers its url_path with "Page not found", so it has none; ``/home`` is a hidden page that
forwards to ``/``), so ``/pipeline``, ``/pooling``, ``/reshape-lab``, ``/lessons`` and ``/teacher`` are each a
real address — a link to any of them never lands on "Page not found".
"""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import streamlit as st
import torch

from ui import room, style
from ui.icon import app_icon

# Shared 2-core machines: one intra-op thread per request avoids OpenMP oversubscription stalls
# (measured: an LSTM step took 250-600 ms with 2 threads under load, under 2 ms with 1).
torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))

# the favicon is drawn locally: a ":material/…:" icon would be fetched from a font CDN (nothing leaves the room)
st.set_page_config(page_title="Shape Explorer", page_icon=app_icon(), layout="wide")
room.teacher_key()  # made (and printed to the terminal) on the first request when the launcher did not set one
room.sync_presenting()
presenting = room.presenting()
style.apply(presenting)

# the default page is served at "/" only: Streamlit answers its url_path with "Page not found", so it has none
OVERVIEW = st.Page("pages/home.py", title="Overview", icon=":material/home:", url_path="", default=True)


def _home_alias() -> None:
    """``/home`` (what people type, and the Overview's address in older links) opens the Overview at ``/``."""
    st.switch_page(OVERVIEW, query_params=st.query_params.to_dict())


PAGES = [
    OVERVIEW,
    st.Page(_home_alias, title="Overview", url_path="home", visibility="hidden"),
    st.Page("pages/pipeline.py", title="Pipeline Explorer", icon=":material/account_tree:", url_path="pipeline"),
    st.Page("pages/pooling.py", title="Pooling comparison", icon=":material/scatter_plot:", url_path="pooling"),
    st.Page("pages/reshape-lab.py", title="Reshape Lab", icon=":material/grid_on:", url_path="reshape-lab"),
    st.Page("pages/lessons.py", title="Lessons & workshop", icon=":material/school:", url_path="lessons"),
    st.Page(
        "pages/teacher.py",
        title="Class results",
        icon=":material/groups:",
        url_path="teacher",
        visibility="visible" if room.teacher_visible() else "hidden",
    ),
]

page = st.navigation(PAGES, position="top" if presenting else "sidebar")
room.present_toggle()
page.run()
