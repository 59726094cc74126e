"""Pipeline Explorer, Streamlit side; pages/pipeline.py reads the widgets into one Spec, runs it, renders the trace.

- ``state``: the step chain kept in session state, the Spec read back from it, the URL that carries it;
- ``editor``: the step-chain editor (layer parameters, suggestion chips, add / move / remove) and the input sidebar;
- ``outputs``: header, tokens panel, error and findings panels with Apply fix, stage table, share & export;
- ``live``: the live charts of the real numbers (LSTM / GRU over time, Conv1d, final scores, BERT attention).

This package's face: the names the page uses.
"""

from ui.pipeline.editor import input_sidebar, step_editor
from ui.pipeline.live import live_outputs
from ui.pipeline.outputs import (
    code_span,
    error_panel,
    findings_panel,
    header,
    share_and_export,
    stage_table,
    tokens_panel,
)
from ui.pipeline.state import SOURCE_SYNTH, SOURCE_TEXT, flash, init_state, spec_from_state, sync_url

__all__ = [
    "SOURCE_SYNTH",
    "SOURCE_TEXT",
    "code_span",
    "error_panel",
    "findings_panel",
    "flash",
    "header",
    "init_state",
    "input_sidebar",
    "live_outputs",
    "share_and_export",
    "spec_from_state",
    "stage_table",
    "step_editor",
    "sync_url",
    "tokens_panel",
]
