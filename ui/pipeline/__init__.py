"""Pipeline Explorer, Streamlit side; pages/pipeline.py reads the widgets into one Spec, runs it, renders the trace.

- ``state``: the step chain kept in session state, the Spec read back from it, the URL that carries it;
- ``editor``: the step-chain editor (layer parameters, suggestion chips, add / move / remove) and the input sidebar;
- ``outputs``: header, tokens panel, error and findings panels with Apply fix, share & export;
- ``tables``: the stage table and the torchinfo-style layer summary (light HTML);
- ``live``: the output tabs: those tables, then the real numbers (LSTM / GRU over time, Conv1d, final scores,
  BERT attention with bertviz's model view).
- ``paste``: Paste code — a snippet or an nn.Module read (never run) into the pipeline, every line annotated.

This package's face: the names the page uses.
"""

from ui.pipeline.editor import input_sidebar, settle_inputs, step_editor
from ui.pipeline.live import output_tabs
from ui.pipeline.outputs import (
    code_span,
    error_panel,
    findings_panel,
    header,
    share_and_export,
    tokens_panel,
    where_to_fix,
)
from ui.pipeline.paste import code_panel, paste_panel
from ui.pipeline.state import SOURCE_SYNTH, SOURCE_TEXT, flash, init_state, spec_from_state, sync_url

__all__ = [
    "SOURCE_SYNTH",
    "SOURCE_TEXT",
    "code_panel",
    "code_span",
    "error_panel",
    "findings_panel",
    "flash",
    "header",
    "init_state",
    "input_sidebar",
    "output_tabs",
    "paste_panel",
    "settle_inputs",
    "share_and_export",
    "spec_from_state",
    "step_editor",
    "sync_url",
    "tokens_panel",
    "where_to_fix",
]
