"""Shape Explorer: entry point. Page config, navigation over pages/, the shared sidebar."""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import streamlit as st

st.set_page_config(page_title="Shape Explorer", page_icon="🧊", layout="wide")

PAGES = [
    st.Page("pages/pipeline.py", title="Pipeline Explorer", icon="🧭", url_path="pipeline", default=True),
    st.Page("pages/pooling.py", title="Pooling comparison", icon="🎯", url_path="pooling"),
    st.Page("pages/reshape_lab.py", title="Reshape Lab", icon="🧩", url_path="reshape-lab"),
    st.Page("pages/lessons.py", title="Lessons & workshop", icon="🎓", url_path="lessons"),
]

page = st.navigation(PAGES)
page.run()
