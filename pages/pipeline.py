"""Pipeline Explorer: text -> BERT -> pooling -> your steps, every stage shown, errors explained and fixable.

Thin page: read the widgets into one Spec (ui/pipeline/), run it (core.trace.run_spec, the
checkpoint memoises the encoder output so only the steps re-run), render the trace.

Drawn answer first: the result and the shape flow, then the step editor, then the sidebar. A widget's value
is in session state before the run starts, so the spec is read before the widgets are drawn; what reaches
the browser first is what a visitor came for (benchmarks/bench_app.py: warm page).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.errors import BudgetExceeded, ExpressionRefused, RunCancelled, SpecError
from core.figures.flow_html import shape_flow_html
from core.limits import deadline
from core.model.encoding import check_before_loading
from core.trace import run_spec
from ui import pipeline as ui
from ui.common import ensure_app_navigation, load_or_stop, model_choice, model_notice, model_widgets
from ui.safe_text import markdown

ensure_app_navigation()  # a fresh server's first deep link would otherwise run this file without app.py


def sidebar(ckpt: Any) -> None:
    """Model and input widgets: drawn last, and before a stop (so another checkpoint can be picked)."""
    model_widgets("model", choice)
    ui.input_sidebar(ckpt)


link_error = ui.init_state(st.query_params.to_dict())
choice = model_choice()
name, device, half = choice.use, choice.device, choice.half
model_notice(choice)
synthetic = st.session_state.get("pl_source") == ui.SOURCE_SYNTH
problem: Exception | None = None
ckpt = None
if not synthetic:
    texts = [t.strip() for t in str(st.session_state.get("pl_texts", "")).splitlines() if t.strip()]
    try:  # over the server's budgets: refused before the weights load (random:bert-large alone takes ~12 s)
        check_before_loading(name, texts, int(st.session_state.get("pl_max_length") or 128))
        ckpt = load_or_stop(name, device, half, before_stop=lambda: sidebar(None))
    except BudgetExceeded as e:
        problem = e
ui.settle_inputs(ckpt)

spec = trace = None
try:
    spec = ui.spec_from_state(name)
    if problem is None:
        with st.spinner("Running the pipeline…"), deadline():  # stopped between layers at the time limit
            trace = run_spec(spec, checkpoint=ckpt, device=device)
except (SpecError, ExpressionRefused) as e:  # nothing ran (or it was stopped): say why, keep the editor usable
    problem = e

ui.header(spec, ckpt.info if ckpt is not None else None)
if link_error:
    st.error(
        f"**This shared link could not be opened:** {markdown(link_error)}. Showing the default pipeline instead.",
        icon=":material/link_off:",
    )
flash = ui.flash()
if flash is not None:
    kind, text = flash
    if kind == "fixed":
        undo = " Undo is above the steps."
        if trace is not None and trace.ok:
            st.success(f"Fix applied: {markdown(text)}. The pipeline runs now.{undo}", icon=":material/check_circle:")
        else:
            st.info(f"Fix applied: {markdown(text)}. Another problem remains below.{undo}", icon=":material/build:")
    else:
        getattr(st, kind)(markdown(text))
url_problem = ui.sync_url(spec) if spec is not None else None
ui.paste_panel()
ui.code_panel(spec, trace)

if trace is not None and trace.encoding is not None:
    with st.expander("Tokens: word pieces, ids and attention mask", expanded=len(trace.encoding.texts) <= 4):
        ui.tokens_panel(trace.encoding)

left, right = st.container(key="pl_layout").columns([6, 5], gap="large")  # stacked when narrow (ui/style.py)
with right:
    st.markdown("#### Shape flow")
    if problem is not None:
        if isinstance(problem, RunCancelled):
            st.error("**Stopped:** the run was too long for this server.", icon=":material/timer_off:")
        else:
            label = "Refused" if isinstance(problem, ExpressionRefused) else "Invalid pipeline"
            st.error(f"**{label}:** nothing ran.", icon=":material/block:")
        st.code(str(problem), language=None, wrap_lines=True)
        st.caption(ui.where_to_fix(problem, synthetic))
    elif trace is not None:
        if trace.error is not None:
            ui.error_panel(trace.error, spec.to_dict())
        elif trace.final.kind == "loss" and trace.final.extra("value") is not None:
            f = trace.final
            st.success(
                f"Runs: loss `{f.extra('value'):.4f}` (nn.{f.extra('loss_kind')}: logits `{f.extra('logits')}` vs "
                f"targets `{f.extra('target')}`)",
                icon=":material/check_circle:",
            )
        else:
            st.success(f"Runs: final shape `{tuple(trace.final.shape)}`", icon=":material/check_circle:")
        st.html(shape_flow_html(trace.stages, trace.error))  # plain HTML: no chart library on the first view

with left:
    ui.step_editor(trace)
if trace is not None and spec is not None:
    if trace.warnings:
        ui.findings_panel(trace, spec.to_dict())
    ui.output_tabs(trace)  # stage table, layer summary, then the live charts (each built when its tab opens)
    ui.share_and_export(spec, trace, url_problem)
sidebar(ckpt)
