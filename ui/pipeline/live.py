"""Pipeline Explorer live outputs: tabs with the real numbers (recurrent outputs over time, Conv1d over
positions, the final scores, BERT attention); only the open tab's figures are built.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.pipeline.outputs import code_span, human_bytes
from ui.safe_text import text


def _valid_choice(key: str, options: list[Any]) -> None:
    """Drop a remembered choice that is no longer offered (fewer texts, a smaller checkpoint)."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def _text_choice(trace: Any) -> int:
    texts = trace.spec.texts
    if not texts or len(texts) < 2:
        return 0
    _valid_choice("pl_out_text", list(range(len(texts))))
    return st.selectbox(
        "Text shown",
        list(range(len(texts))),
        format_func=lambda b: f"#{b + 1} · {texts[b][:60]}",
        key="pl_out_text",
    )


def live_outputs(trace: Any) -> None:
    """Tabs with the real numbers: recurrent outputs over time, Conv1d over positions, logits, attention."""
    from core.figures import pipeline as fp

    recurrent = [i for i, s in enumerate(trace.stages) if s.kind in ("lstm", "gru")]
    convs = [i for i, s in enumerate(trace.stages) if s.kind == "conv1d"]
    losses = [i for i, s in enumerate(trace.stages) if s.kind == "loss"]
    final = trace.stages[-1] if trace.stages else None
    if final is not None and final.kind == "loss":  # the scores are the logits the loss read
        final = next((s for s in reversed(trace.stages) if s.kind != "loss"), final)
    logits = final is not None and final.step_index is not None and len(final.shape) in (1, 2) and final.shape[-1] <= 64
    enc = trace.encoding
    names = []
    if losses:
        names.append("Loss")
    if recurrent:
        names.append("LSTM / GRU over time")
    if convs:
        names.append("Conv1d over positions")
    if logits:
        names.append("Final output")
    if enc is not None:
        names.append("BERT attention")
    if not names:
        st.caption("No layer outputs to show yet: add an LSTM, GRU, Conv1d or Linear step.")
        return
    b = _text_choice(trace) if (recurrent or convs) else 0
    # lazy tabs: only the open tab's figures are built and sent (a step edit re-renders fewer charts)
    tabs = dict(zip(names, st.tabs(names, key="pl_out_tabs", on_change="rerun")))
    tab = tabs.get("Loss")
    if tab is not None and tab.open is not False:
        with tab:
            for i in losses:
                loss_panel(trace, i)
    tab = tabs.get("LSTM / GRU over time")
    if tab is not None and tab.open is not False:
        with tab:
            for i in recurrent:
                _recurrent_output(trace, i, b, fp)
    tab = tabs.get("Conv1d over positions")
    if tab is not None and tab.open is not False:
        with tab:
            for i in convs:
                _conv_output(trace, i, b, fp)
    tab = tabs.get("Final output")
    if tab is not None and tab.open is not False:
        with tab:
            st.plotly_chart(fp.logits_bar(trace.tensors[final.index], trace.spec.texts), key="pl_logits")
            st.caption(
                f"Final tensor {tuple(final.shape)}. Layer weights are random (seed {trace.spec.seed}), so these "
                "scores are untrained: the point is the shape, one row of scores per text."
            )
    tab = tabs.get("BERT attention")
    if tab is not None and tab.open is not False:
        with tab:
            attention_panel(trace)


def loss_panel(trace: Any, i: int) -> None:
    """Logits against targets, row by row, with the loss value and each row's loss (reduction='none')."""
    from core.figures.loss import loss_figure

    stage, side = trace.stages[i], trace.side[i]
    logits, target, per_sample = side.get("logits"), side.get("target"), side.get("per_sample")
    value = stage.extra("value")
    cols = st.columns([1.2, 3], vertical_alignment="center")
    cols[0].metric(f"nn.{stage.extra('loss_kind')}", f"{value:.4f}" if value is not None else str(tuple(stage.shape)))
    cols[1].markdown(
        f"**{stage.name}** · {code_span(stage.source)}  \n"
        f"logits `{stage.extra('logits')}` {stage.extra('logits_dtype')} · targets `{stage.extra('target')}` "
        f"{stage.extra('target_dtype')} · reduction `{stage.extra('reduction')}`"
    )
    if logits is None or target is None:
        return
    rows = None
    texts = trace.spec.texts
    if texts and logits.dim() >= 1 and logits.shape[0] == len(texts):
        rows = [f"#{b + 1} {t[:18]}" for b, t in enumerate(texts)]
    per = per_sample.detach().float().cpu().numpy() if per_sample is not None else None
    if per is not None and per.ndim > 1:
        per = per.reshape(per.shape[0], -1).mean(axis=1)  # one bar per row (mean over its positions)
    fig = loss_figure(
        logits.detach().float().cpu().numpy(),
        target.detach().float().cpu().numpy(),
        per,
        stage.extra("loss_kind"),
        value,
        rows,
    )
    st.plotly_chart(fig, key=f"pl_loss{i}")
    ring = "; a ring marks each row's target class" if target.dim() == 1 and logits.dim() == 2 else ""
    st.caption(
        f"Each row: the logits the loss read, its target, and its own loss (the same loss with reduction='none')"
        f"{ring}. Layer weights are random, so the loss is untrained: the point is which numbers meet which."
    )


def _token_ticks(trace: Any, b: int, length: int) -> list[str] | None:
    enc = trace.encoding
    if enc is None or b >= len(enc.tokens) or len(enc.tokens[b]) != length:
        return None
    return list(enc.tokens[b])


def _released(trace: Any, i: int) -> bool:
    """True (and said) when the stage's tensor was let go to keep the run within the server's memory budget."""
    if trace.tensors[i] is not None:
        return False
    stage = trace.stages[i]
    st.markdown(f"**{text(stage.name)}** · {code_span(stage.source)} → `{tuple(stage.shape)}`")
    st.caption(
        f"Its output ({human_bytes(stage.bytes)}) was not kept once the later steps ran, to keep the pipeline "
        "within the server's memory budget; its shape, strides and bytes are in the stage table."
    )
    return True


def _recurrent_output(trace: Any, i: int, b: int, fp: Any) -> None:
    if _released(trace, i):
        return
    stage, out = trace.stages[i], trace.tensors[i]
    params = dict(stage.extra("params", ()) or ())
    if out.dim() == 3:
        seq = out[b] if params.get("batch_first") else out[:, b]  # (T, H_out) of text b
    else:
        seq = out  # unbatched (T, H_out)
    states = ", ".join(f"{k} `{tuple(stage.extra(k))}`" for k in ("h_n", "c_n") if stage.extra(k) is not None)
    st.markdown(f"**{text(stage.name)}** · {code_span(stage.source)} → output `{tuple(stage.shape)}`; {states}")
    ticks = _token_ticks(trace, b, seq.shape[0])
    whose = f"text #{b + 1}" if out.dim() == 3 else "the whole unbatched input (dim 0 read as time)"
    fig = fp.sequence_heatmap(
        seq.T, f"{stage.name}: output of {whose} at every time step", "time step", "hidden unit", x_ticks=ticks
    )
    st.plotly_chart(fig, key=f"pl_rnn{i}")
    layers = params.get("num_layers", 1)
    dirs = 2 if params.get("bidirectional") else 1
    note = (
        f"h_n stacks the final hidden state of every layer and direction: dim 0 = num_layers × directions = "
        f"{layers} × {dirs}; h_n[-1] is the last layer's state."
    )
    if ticks and "[PAD]" in ticks:
        note += " The LSTM also runs over [PAD] positions: x[:, -1, :] of a short text is read after its padding."
    st.caption(note)


def _conv_output(trace: Any, i: int, b: int, fp: Any) -> None:
    if _released(trace, i):
        return
    stage, out = trace.stages[i], trace.tensors[i]
    grid = out[b] if out.dim() == 3 else out  # (C_out, L_out)
    formula = stage.extra("formula")
    st.markdown(f"**{text(stage.name)}** · {code_span(stage.source)} → `{tuple(stage.shape)}`")
    ticks = _token_ticks(trace, b, grid.shape[1])
    fig = fp.sequence_heatmap(
        grid, f"{stage.name}: channels of text #{b + 1} at every position", "position", "output channel", x_ticks=ticks
    )
    st.plotly_chart(fig, key=f"pl_conv{i}")
    if formula:
        st.caption(formula)


@st.fragment
def attention_panel(trace: Any) -> None:
    """One head of one layer for one text (its real tokens); re-renders alone when its widgets change."""
    from core.figures import pipeline as fp

    enc, info = trace.encoding, trace.checkpoint
    if enc.attentions is None:
        st.info(
            "Attention weights were not kept for this input: layers × batch × heads × L² is over the budget. "
            "Use fewer or shorter texts, or a lower max length, to see them.",
            icon=":material/visibility_off:",
        )
        return
    cols = st.columns(3)
    _valid_choice("pl_att_l", list(range(1, info.num_layers + 1)))
    _valid_choice("pl_att_h", list(range(info.num_heads)))
    _valid_choice("pl_att_t", list(range(len(enc.texts))))
    layer = cols[0].selectbox("Layer", list(range(1, info.num_layers + 1)), index=info.num_layers - 1, key="pl_att_l")
    head = cols[1].selectbox("Head", list(range(info.num_heads)), key="pl_att_h")
    b = cols[2].selectbox(
        "Text", list(range(len(enc.texts))), format_func=lambda k: f"#{k + 1} · {enc.texts[k][:40]}", key="pl_att_t"
    )
    n = enc.lengths[b]
    attn = enc.attentions[layer - 1][b, head, :n, :n]  # (heads, L, L) of text b -> (n, n), padding dropped
    fig = fp.attention_heatmap(attn, list(enc.tokens[b][:n]), f"layer {layer}, head {head}: text #{b + 1}")
    st.plotly_chart(fig, key="pl_attn", width="content")
    st.caption(
        "Each row is a query token and sums to 1 over the key tokens. Padding positions are left out"
        + (" (random weights: the pattern is meaningless)." if not info.real_weights else ".")
    )
