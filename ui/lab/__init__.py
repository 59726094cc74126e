"""Reshape Lab, Streamlit side: all logic lives in core (core/lab/, diagnosis.error_lab, figures.lineage);
these modules read widgets and render records.

- ``source``: the widgets' session state, a link opened in the lab, the x picker (synthetic or BERT);
- ``blocks``: what the modes share: stage blocks, the failing step, the verdict of two chains;
- ``mode_lineage``, ``mode_compare``, ``mode_explain``: one module per mode.

This package's face: the names the page uses.
"""

from ui.lab.mode_compare import compare_mode
from ui.lab.mode_explain import ERROR_EXAMPLES, explain_mode
from ui.lab.mode_lineage import PRESETS, lineage_mode
from ui.lab.source import MODES, init_state, link_note, load_link, mode_label, source_section

__all__ = [
    "ERROR_EXAMPLES",
    "MODES",
    "PRESETS",
    "compare_mode",
    "explain_mode",
    "init_state",
    "lineage_mode",
    "link_note",
    "load_link",
    "mode_label",
    "source_section",
]
