"""Shape Explorer: entry point. Page config, navigation over pages/ (each page draws its own sidebar)."""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import streamlit as st
import torch

from ui.common import ensure_app_navigation, page_icon

# Shared 2-core machines: one intra-op thread per request avoids OpenMP oversubscription stalls
# (measured: an LSTM step took 250-600 ms with 2 threads under load, under 2 ms with 1).
torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))

st.set_page_config(page_title="Shape Explorer", page_icon=page_icon(), layout="wide")  # drawn: no CDN request
ensure_app_navigation()

PAGES = [
    st.Page(
        "pages/pipeline.py",
        title="Pipeline Explorer",
        icon=":material/account_tree:",
        url_path="pipeline",
        default=True,
    ),
    st.Page("pages/pooling.py", title="Pooling comparison", icon=":material/scatter_plot:", url_path="pooling"),
    st.Page("pages/reshape-lab.py", title="Reshape Lab", icon=":material/grid_on:", url_path="reshape-lab"),
    st.Page("pages/lessons.py", title="Lessons & workshop", icon=":material/school:", url_path="lessons"),
]

page = st.navigation(PAGES)
page.run()
