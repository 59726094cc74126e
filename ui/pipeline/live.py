"""Pipeline Explorer outputs below the editor: tabs with the stage table, the layer summary and the real
numbers (recurrent outputs over time, Conv1d over positions, the final scores, BERT attention).

Only the open tab is built (lazy tabs), and the first ones are plain HTML: the page's first view loads no
charting library; a chart tab loads it when opened.
"""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

import streamlit as st

from core.summary import human_bytes
from ui.pipeline.outputs import code_span
from ui.pipeline.tables import stage_table, summary_table
from ui.safe_text import text

STAGES, SUMMARY = "Stages", "Layer summary"
RECURRENT, CONV, FINAL, ATTENTION = "LSTM / GRU over time", "Conv1d over positions", "Final output", "BERT attention"
LOSS = "Loss"


def texts_digest(texts: Any) -> str:
    """A short name for a list of texts: pickers whose options are the texts carry it in their key, so new
    texts get a fresh picker (the browser keeps a keyed widget's old label when only its options change)."""
    h = hashlib.blake2b(digest_size=6)
    for t in texts or ():
        h.update(str(t).encode("utf-8", "surrogatepass") + b"\x1f")
    return h.hexdigest()


def _valid_choice(key: str, options: list[Any]) -> None:
    """Drop a remembered choice that is no longer offered (fewer texts, a smaller checkpoint)."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def _text_choice(trace: Any) -> int:
    texts = trace.spec.texts
    if not texts or len(texts) < 2:
        return 0
    return st.selectbox(
        "Text shown",
        list(range(len(texts))),
        format_func=lambda b: f"#{b + 1} · {texts[b][:60]}",
        key=f"pl_out_text_{texts_digest(texts)}",
    )


def output_tabs(trace: Any) -> None:
    """The stage table, the layer summary, then the real numbers of every layer and BERT's attention."""
    from core.figures import pipeline as fp

    recurrent = [i for i, s in enumerate(trace.stages) if s.kind in ("lstm", "gru")]
    convs = [i for i, s in enumerate(trace.stages) if s.kind == "conv1d"]
    losses = [i for i, s in enumerate(trace.stages) if s.kind == "loss"]
    final = trace.stages[-1] if trace.stages else None
    if final is not None and final.kind == "loss":  # the scores are the logits the loss read
        final = next((s for s in reversed(trace.stages) if s.kind != "loss"), final)
    logits = final is not None and final.step_index is not None and len(final.shape) in (1, 2) and final.shape[-1] <= 64
    names = [STAGES, SUMMARY]
    if losses:
        names.append(LOSS)
    if recurrent:
        names.append(RECURRENT)
    if convs:
        names.append(CONV)
    if logits:
        names.append(FINAL)
    if trace.encoding is not None:
        names.append(ATTENTION)
    if st.session_state.get("pl_out_tabs") not in names:
        st.session_state.pop("pl_out_tabs", None)  # a tab that no longer exists: back to the first one
    # lazy tabs: only the open tab is built and sent (a step edit re-renders less; no chart on the first view)
    tabs = dict(zip(names, st.tabs(names, key="pl_out_tabs", on_change="rerun")))
    for name, tab in tabs.items():
        if tab.open is False:
            continue
        with tab:
            if name == STAGES:
                stage_table(trace)
            elif name == SUMMARY:
                summary_table(trace)
            elif name == LOSS:
                for i in losses:
                    loss_panel(trace, i)
            elif name == RECURRENT:
                b = _text_choice(trace)
                for i in recurrent:
                    _recurrent_output(trace, i, b, fp)
            elif name == CONV:
                b = _text_choice(trace)
                for i in convs:
                    _conv_output(trace, i, b, fp)
            elif name == FINAL:
                if _released(trace, final.index):
                    continue
                st.plotly_chart(fp.logits_bar(trace.tensors[final.index], trace.spec.texts), key="pl_logits")
                st.caption(
                    f"Final tensor {tuple(final.shape)}. Layer weights are random (seed {trace.spec.seed}), so "
                    "these scores are untrained: the point is the shape, one row of scores per text."
                )
            else:
                attention_panel(trace)
    if len(names) == 2:
        st.caption("No layer outputs to chart yet: add an LSTM, GRU, Conv1d or Linear step.")


def loss_panel(trace: Any, i: int) -> None:
    """Logits against targets, row by row, with the loss value and each row's loss (reduction='none')."""
    from core.figures.loss import loss_figure

    stage, side = trace.stages[i], trace.side[i]
    logits, target, per_sample = side.get("logits"), side.get("target"), side.get("per_sample")
    value = stage.extra("value")
    cols = st.columns([1.2, 3], vertical_alignment="center")
    cols[0].metric(f"nn.{stage.extra('loss_kind')}", f"{value:.4f}" if value is not None else str(tuple(stage.shape)))
    cols[1].markdown(
        f"**{text(stage.name)}** · {code_span(stage.source)}  \n"
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


def _on_tile(key: str, layer_key: str, head_key: str) -> None:
    """A click on a model-view tile enlarges that layer and head."""
    event = st.session_state.get(key)
    for point in event["selection"]["points"] if event else []:
        data = point.get("customdata")
        if isinstance(data, list) and len(data) == 2:
            st.session_state[layer_key], st.session_state[head_key] = int(data[0]), int(data[1])
            return


@st.fragment
def attention_panel(trace: Any) -> None:
    """bertviz's model view (every layer × head, click one) and one head enlarged, for one text; re-renders
    alone when its widgets change."""
    from core.figures import attention as fa
    from core.figures import pipeline as fp

    enc, info = trace.encoding, trace.checkpoint
    if enc.attentions is None:
        st.info(
            "Attention weights were not kept for this input: layers × batch × heads × L² is over the budget. "
            "Use fewer or shorter texts, or a lower max length, to see them.",
            icon=":material/visibility_off:",
        )
        return
    digest = texts_digest(enc.texts)
    text_key, layer_key, head_key = f"pl_att_t_{digest}", "pl_att_l", "pl_att_h"
    _valid_choice(layer_key, list(range(1, info.num_layers + 1)))
    _valid_choice(head_key, list(range(info.num_heads)))
    top = st.columns([3, 2], vertical_alignment="bottom")
    b = top[0].selectbox(
        "Text", list(range(len(enc.texts))), format_func=lambda k: f"#{k + 1} · {enc.texts[k][:60]}", key=text_key
    )
    show_pad = top[1].toggle(
        "Show padding", key="pl_att_pad", help="Padding positions (attention mask 0) are shaded grey when shown."
    )
    n = enc.lengths[b]
    L = len(enc.tokens[b]) if show_pad else n
    tokens = list(enc.tokens[b][:L])
    weights = [a[b, :, :L, :L] for a in enc.attentions]  # per layer (heads, L, L) of text b
    st.markdown("##### Model view: every layer × head")
    cells = fa.model_view_cells(info.num_layers, info.num_heads, L)
    if cells <= fa.MAX_CELLS:
        import torch

        stacked = torch.stack(weights)  # layers x (heads, L, L) -> (layers, heads, L, L)
        fig = fa.attention_model_view(stacked, tokens, n, title=f"text #{b + 1}: {L} tokens")
        st.plotly_chart(
            fig,
            key="pl_att_model",
            on_select=partial(_on_tile, "pl_att_model", layer_key, head_key),
            selection_mode="points",
            width="content",
            config=_png_config(f"attention_model_view_text{b + 1}"),
        )
        st.caption(
            "Rows of tiles are layers, columns are heads; in each tile a row is a query token and a column a "
            "key token (darker = more weight). Orange marks: the [CLS] and [SEP] columns"
            + ("; grey: padding." if n < L else ".")
            + " Click a tile to enlarge it below."
        )
    else:
        st.info(
            f"{info.num_layers} layers × {info.num_heads} heads × {L}² = {cells:,} weights: too many to draw at "
            "once. Pick a layer and head below, or use a shorter text or a lower max length.",
            icon=":material/grid_off:",
        )
    st.markdown("##### One head")
    cols = st.columns(3)
    layer = cols[0].selectbox("Layer", list(range(1, info.num_layers + 1)), index=info.num_layers - 1, key=layer_key)
    head = cols[1].selectbox("Head", list(range(info.num_heads)), key=head_key)
    attn = weights[layer - 1][head]  # (heads, L, L) of text b -> (L, L)
    fig = fp.attention_heatmap(attn, tokens, f"layer {layer}, head {head}: text #{b + 1}")
    ticks = fa.token_ticks(tokens, n)
    fig.update_xaxes(ticktext=ticks)
    fig.update_yaxes(ticktext=ticks)
    st.plotly_chart(fig, key="pl_attn", width="content", config=_png_config(f"attention_l{layer}_h{head}"))
    st.caption(
        "Each row is a query token and sums to 1 over the key tokens; [CLS] and [SEP] in orange"
        + (", padding in grey" if n < L else ", padding left out")
        + (" (random weights: the pattern is meaningless)." if not info.real_weights else ".")
        + " The camera icon saves a PNG (drawn by the browser)."
    )


def _png_config(filename: str) -> dict:
    """Plotly's own camera button saves the figure as a PNG in the browser (no server-side renderer)."""
    return {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}
