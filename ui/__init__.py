"""Streamlit widget code of each page and the shared sidebar (imports core; pages/ stay thin)."""
