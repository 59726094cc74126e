"""Pooling comparison, Streamlit side; pages/pooling.py reads the widgets, calls the cached comparison, renders.

- ``inputs``: the texts (sample sets, paste, upload) and the settings (strategies, layer, max_length);
- ``cache``: the cached comparison, t-SNE maps and figure specs, keyed by ``Source``;
- ``scores``: the run summary and the separation scores against the majority-class baseline;
- ``maps``: PCA / t-SNE maps in 2-D / 3-D, click-to-pick and the nearest-neighbour list (one fragment);
- ``sections``: cosine-similarity heatmaps and token vectors (on demand), and the exports.
"""

from ui.pooling.cache import Source, comparison
from ui.pooling.inputs import input_panel, settings_panel, strategy_names
from ui.pooling.maps import map_section
from ui.pooling.scores import score_section, summary
from ui.pooling.sections import export_section, similarity_section, token_section

__all__ = [
    "Source",
    "comparison",
    "export_section",
    "input_panel",
    "map_section",
    "score_section",
    "settings_panel",
    "similarity_section",
    "strategy_names",
    "summary",
    "token_section",
]
