"""Pipeline Explorer editor: the step chain (one box per step, layer parameter widgets, suggestion chips,
add / move / remove) and the input sidebar (texts or a synthetic shape, max length, layer, pooling, seed).

The widgets write to session state only; ``state.spec_from_state`` reads them back into the Spec.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.engine.layers import inferred_input_size
from core.loss_step import LOSS_KEY
from core.model.pooling import DESCRIPTIONS
from core.spec import FOREIGN_PARAMS, INPUT_PARAM, MAX_LENGTH_LIMIT, MAX_STEPS, MIN_MAX_LENGTH, LayerKind, Pooling
from ui.pipeline.live import LOSS
from ui.pipeline.loss_widgets import loss_more, loss_widgets, new_loss
from ui.pipeline.state import (
    BOOL_PARAMS,
    DEFAULT_SHAPE,
    DEFAULT_SPEC,
    MAIN_PARAMS,
    MORE_PARAMS,
    SOURCE_SYNTH,
    SOURCE_TEXT,
    append_step,
    current_spec_dict,
    init_widgets,
    load_spec,
    remember,
    step_key,
    undo,
    undo_label,
)
from ui.safe_text import code

NEW_STEPS: dict[str, Any] = {
    "expression": "x.transpose(1, 2)",
    "lstm": {"lstm": {"hidden_size": 128, "batch_first": True}},
    "gru": {"gru": {"hidden_size": 128, "batch_first": True}},
    "conv1d": {"conv1d": {"out_channels": 256, "kernel_size": 3, "padding": 1}},
    "linear": {"linear": {"out_features": 2}},
    "loss": {"loss": {"kind": "CrossEntropyLoss"}, "target": "labels"},
}
ADD_LABELS = {
    "expression": "+ expr",
    "lstm": "+ LSTM",
    "gru": "+ GRU",
    "conv1d": "+ Conv1d",
    "linear": "+ Linear",
    "loss": "+ Loss",
}
ADD_HELP = {
    "expression": "a PyTorch expression or assignment: reshape, permute, indexing, masks, matmul, softmax…",
    "lstm": "torch.nn.LSTM (input_size inferred)",
    "gru": "torch.nn.GRU (input_size inferred)",
    "conv1d": "torch.nn.Conv1d (in_channels inferred from dim 1)",
    "linear": "torch.nn.Linear (in_features inferred from the last dim)",
    "loss": "a loss (CrossEntropyLoss, BCEWithLogitsLoss, MSELoss, NLLLoss): the logits against the labels "
    "(sidebar) or a synthetic target",
}
# one-click suggestions for expression steps: label -> expression
SUGGESTIONS: dict[str, str] = {
    "transpose(1, 2)": "x.transpose(1, 2)",
    "permute(0, 2, 1)": "x.permute(0, 2, 1)",
    "[:, -1, :] last step": "x[:, -1, :]",
    "[:, 0, :] first / [CLS]": "x[:, 0, :]",
    "unsqueeze(1)": "x.unsqueeze(1)",
    "flatten(1)": "x.flatten(1)",
    "reshape to T=4 steps": "x.reshape(x.shape[0], 4, -1)",
    "h_n[-1]": "h_n[-1]",
    "last real token": "x[torch.arange(x.shape[0]), lengths - 1]",
    "masked mean": "(x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)",
}
TORCH_NAMES = {LayerKind.LSTM: "LSTM", LayerKind.GRU: "GRU", LayerKind.CONV1D: "Conv1d", LayerKind.LINEAR: "Linear"}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
MAX_INT = 1_000_000
PARAM_WIDTH = 152  # px per number input: "out_channels" / "in_features" and "768 (auto)" fit whole at 14 px


# ------------------------------------------------------------------------------------------ callbacks


def _move(sid: int, delta: int) -> None:
    chain = st.session_state["pl_chain"]
    i = next(k for k, it in enumerate(chain) if it["id"] == sid)
    j = i + delta
    if 0 <= j < len(chain):
        chain[i], chain[j] = chain[j], chain[i]


def _remove(sid: int) -> None:
    st.session_state["pl_chain"] = [it for it in st.session_state["pl_chain"] if it["id"] != sid]


def _add(kind: str) -> None:
    if len(st.session_state.get("pl_chain", [])) >= MAX_STEPS:
        st.session_state["pl_flash"] = ("warning", f"a pipeline holds at most {MAX_STEPS} steps")
        return
    step = NEW_STEPS[kind]
    if kind == "loss":
        step = new_loss(dict(NEW_STEPS["loss"]))
        st.session_state["pl_out_tabs"] = LOSS  # show what was just added: logits against targets
    append_step(dict(step) if isinstance(step, dict) else step)


def _chip(sid: int) -> None:
    choice = st.session_state.get(f"pl_c{sid}")
    if choice:
        st.session_state[f"pl_e{sid}"] = SUGGESTIONS[choice]
    st.session_state[f"pl_c{sid}"] = None


def _reset() -> None:
    remember(current_spec_dict(), "Reset")
    load_spec(DEFAULT_SPEC, keep_model=True)
    st.session_state["pl_flash"] = ("info", "Back to the default pipeline (the checkpoint stays as picked).")


# --------------------------------------------------------------------------------------------- editor


def step_editor(trace: Any) -> None:
    """The chain: one bordered box per step with its widgets, its output shape and ↑ ↓ ✕."""
    chain = st.session_state.get("pl_chain", [])
    stages = {s.step_index: s for s in trace.stages if s.step_index is not None} if trace else {}
    sources = [s for s in trace.stages if s.step_index is None] if trace else []
    failed = trace.error.step_index if trace is not None and trace.error is not None else None
    refused = failed is not None and trace.error.kind == "refused"
    prev_shape = sources[-1].shape if sources else None
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):  # wraps when narrow
        st.markdown("#### Steps", width="content")
        st.space("stretch")
        last = undo_label()
        st.button(
            "Undo",
            icon=":material/undo:",
            key="pl_undo_btn",
            on_click=undo,
            type="tertiary",
            disabled=last is None,
            help=f"Undo {last}"
            if last
            else "Undoes the last Apply fix or Reset (the browser's Back button also steps back through every change)",
        )
        st.button(
            "Reset",
            icon=":material/restart_alt:",
            key="pl_reset",
            on_click=_reset,
            type="tertiary",
            help="Back to the default BERT → LSTM → Linear pipeline",
        )
    if not chain:
        st.caption("No steps: the pipeline ends at the encoder output. Add one below.")
    for i, item in enumerate(chain):
        stage = stages.get(i)
        with st.container(border=True, key=f"pl_box{item['id']}"):
            _step_box(i, item, len(chain), stage, failed, prev_shape, refused)
        if stage is not None:
            prev_shape = stage.shape
        elif failed is not None and i >= failed:
            prev_shape = None
    st.caption("Add a step at the end (then move it with ↑ ↓)")
    with st.container(horizontal=True, gap="small", key="pl_add_row"):  # wraps instead of cutting labels to "+.."
        for kind, label in ADD_LABELS.items():
            st.button(label, key=f"pl_add_{kind}", on_click=_add, args=(kind,), help=ADD_HELP[kind])


def _step_box(
    i: int, item: dict[str, Any], n: int, stage: Any, failed: int | None, prev_shape: Any, refused: bool = False
) -> None:
    sid, step = item["id"], item["step"]
    is_loss = isinstance(step, dict) and step_key(step) == LOSS_KEY
    kind = None if isinstance(step, str) or is_loss else LayerKind(step_key(step))
    title = "expression" if kind is None else f"nn.{TORCH_NAMES[kind]}"
    if is_loss:
        title = f"loss · nn.{st.session_state.get(f'pl_l{sid}_kind', 'CrossEntropyLoss')}"
    if stage is not None:
        status = f":green[→ `{tuple(stage.shape)}`]"
        if stage.kind == "loss" and stage.extra("value") is not None:
            status = f":green[→ loss **{stage.extra('value'):.4g}**]"
        if stage.warnings:
            status += f" :orange[⚠ {len(stage.warnings)}]"
    elif failed == i:
        status = ":red[**✗ refused**]" if refused else ":red[**✗ fails here**]"
    else:
        status = ":gray[not run]"
    row = st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=False)
    with row.container(width="stretch"):  # the title wraps inside its box; the controls stay on one line
        st.markdown(f"**{i + 1}** · {title} &nbsp; {status}")
    head = row.container(horizontal=True, vertical_alignment="center", gap=None, wrap=False, width="content")
    if kind is not None or is_loss:
        with head.popover("More", icon=":material/tune:", help="Other torch.nn parameters, names, initial states"):
            init_widgets(item)
            if is_loss:
                loss_more(sid)
            else:
                for p in MORE_PARAMS[kind]:
                    _param_widget(sid, kind, p, prev_shape)
                _names_widgets(sid, kind)
    head.button(
        "",
        icon=":material/arrow_upward:",
        key=f"pl_up{sid}",
        on_click=_move,
        args=(sid, -1),
        disabled=i == 0,
        type="tertiary",
        help="Move up",
    )
    head.button(
        "",
        icon=":material/arrow_downward:",
        key=f"pl_dn{sid}",
        on_click=_move,
        args=(sid, 1),
        disabled=i == n - 1,
        type="tertiary",
        help="Move down",
    )
    head.button(
        "",
        icon=":material/close:",
        key=f"pl_rm{sid}",
        on_click=_remove,
        args=(sid,),
        type="tertiary",
        help="Remove this step",
    )
    init_widgets(item)
    if is_loss:
        loss_widgets(sid)
    elif kind is None:
        st.text_input(
            f"Step {i + 1} expression",
            key=f"pl_e{sid}",
            label_visibility="collapsed",
            placeholder="a PyTorch expression over x, e.g. x.transpose(1, 2)",
            help="One PyTorch statement over x (and mask, lengths, input_ids, labels, h_n, c_n, and names bound "
            "earlier): reshape, view, permute, transpose, indexing, flatten, unsqueeze, F.pad, rearrange…; "
            "`w = …` binds a name. Press Enter to run.",
        )
        st.pills(
            "Suggestions",
            list(SUGGESTIONS),
            key=f"pl_c{sid}",
            label_visibility="collapsed",
            on_change=_chip,
            args=(sid,),
        )
    else:
        _layer_widgets(sid, kind, step[kind.value], prev_shape)
        _state_caption(sid, kind)


def _names_widgets(sid: int, kind: LayerKind) -> None:
    """The layer's input and output names and, for LSTM / GRU, the initial states h0 / c0 (expressions)."""
    st.divider()
    st.text_input("input", key=f"pl_s{sid}_input", help="the name this layer reads (default x)")
    example = {LayerKind.LSTM: "out, (h_n, c_n)", LayerKind.GRU: "out, h_n"}.get(kind, "out")
    st.text_input(
        "output",
        key=f"pl_s{sid}_output",
        placeholder=f"default: x (e.g. {example})",
        help="the names it binds, as Python targets; empty: the output becomes x (and h_n / c_n are bound)",
    )
    if kind in (LayerKind.LSTM, LayerKind.GRU):
        st.text_input(
            "h0",
            key=f"pl_s{sid}_h0",
            placeholder="torch.zeros(num_layers * D, x.size(0), hidden_size)",
            help="initial hidden state, an expression: (num_layers × num_directions, batch, hidden_size) even with "
            "batch_first=True. Empty: zeros.",
        )
        if kind is LayerKind.LSTM:
            st.text_input(
                "c0", key=f"pl_s{sid}_c0", placeholder="torch.zeros_like(h0 shape)", help="initial cell state"
            )


def _state_caption(sid: int, kind: LayerKind) -> None:
    """What the layer reads and binds, and its initial states, under its widgets (set in the More popover)."""
    ss = st.session_state
    value = {k: str(ss.get(f"pl_s{sid}_{k}") or "").strip() for k in ("input", "output", "h0", "c0")}
    if not any(value[k] for k in ("output", "h0", "c0")) and value["input"] in ("", "x"):
        return
    parts = [f"reads `{value['input'] or 'x'}`"]
    if value["output"]:
        parts.append(f"binds `{value['output']}`")
    parts += [f"{k} = `{value[k]}`" for k in ("h0", "c0") if value[k] and kind in (LayerKind.LSTM, LayerKind.GRU)]
    st.caption(" · ".join(parts))


def _layer_widgets(sid: int, kind: LayerKind, params: dict[str, Any], prev_shape: Any) -> None:
    """Number inputs side by side in a row that wraps (each wide enough for its whole name), the checkboxes
    stacked after them."""
    main = MAIN_PARAMS[kind]
    numbers = [p for p in main if p not in BOOL_PARAMS]
    flags = [p for p in main if p in BOOL_PARAMS]
    with st.container(horizontal=True, vertical_alignment="bottom", gap="small", key=f"pl_params{sid}"):
        for p in numbers:
            with st.container(width=PARAM_WIDTH):
                _param_widget(sid, kind, p, prev_shape)
        if flags:
            with st.container(width="content"):
                for p in flags:
                    _param_widget(sid, kind, p, prev_shape)
    foreign = {k: v for k, v in params.items() if k in FOREIGN_PARAMS}
    if foreign:
        passed = ", ".join(f"{k}={v!r}" for k, v in foreign.items())
        st.caption(f":orange[Also passes {code(passed)}: not a torch.nn.{TORCH_NAMES[kind]} parameter (a Keras habit)]")


def _param_widget(sid: int, kind: LayerKind, p: str, prev_shape: Any) -> None:
    key = f"pl_p{sid}_{p}"
    if p in BOOL_PARAMS:
        st.checkbox(p, value=bool(_seeded(key)), key=key)
    elif p == "dropout":
        st.number_input(p, min_value=0.0, max_value=1.0, step=0.1, value=_seeded(key), key=key, format="%.2f")
    elif p == "padding_mode":
        st.selectbox(p, PADDING_MODES, key=key)
    elif p == "padding":
        st.text_input(p, key=key, help="an integer, or 'same' / 'valid'")
    elif p == INPUT_PARAM[kind]:
        guess = inferred_input_size(kind, tuple(prev_shape)) if prev_shape else None
        st.number_input(
            p,
            min_value=0,
            max_value=MAX_INT,
            value=_seeded(key),
            step=1,
            key=key,
            placeholder=f"{guess} (auto)" if guess is not None else "auto",
            help="Leave empty to infer it from the incoming tensor (what the app does); type a number to see "
            "what torch says when it does not match.",
        )
    else:
        st.number_input(p, min_value=0, max_value=MAX_INT, step=1, value=_seeded(key), key=key)


def _seeded(key: str) -> Any:
    """The value session state holds for a widget, passed as the widget's own default too.

    Loading a spec (a link, Apply fix, Undo, Back) seeds the widgets through session state, which wins;
    without a matching default the browser first draws a number widget's default (max_length "1", a hidden
    size of 0, layer 0) and then the real value, a visible flicker. (Streamlit logs that both are set; the
    project config turns that notice off, since it is on purpose.)
    """
    return st.session_state.get(key)


# ---------------------------------------------------------------------------------------- sidebar


def settle_inputs(ckpt: Any) -> None:
    """Before the spec is read: the sidebar inputs' defaults and the layer index for this checkpoint.

    The page draws the sidebar after its results (the answer reaches the browser first); a widget's new
    value is in session state before the run, so only values derived from widgets are settled here.
    """
    ss = st.session_state
    if ss.get("pl_source") == SOURCE_SYNTH:
        ss.setdefault("pl_shape", DEFAULT_SHAPE)
    if ss.get("pl_pooling") not in [p.value for p in Pooling]:
        ss["pl_pooling"] = "none"
    if ckpt is not None and ss.get("pl_source") != SOURCE_SYNTH:
        _settle_layer(ckpt.info.num_layers)


def input_sidebar(ckpt: Any) -> None:
    """Texts / synthetic shape, max length, layer, pooling, seed (the spec's top-level fields); drawn after
    ``settle_inputs``."""
    ss = st.session_state
    with st.sidebar:
        st.markdown("#### Input")
        st.segmented_control(
            "Source", [SOURCE_TEXT, SOURCE_SYNTH], key="pl_source", required=True, label_visibility="collapsed"
        )
        if ss.get("pl_source") == SOURCE_SYNTH:
            st.text_input("Shape of torch.randn", key="pl_shape", help="(batch, tokens, hidden), e.g. 32, 128, 768")
        else:
            st.text_area("Texts (one per line)", key="pl_texts", height=110)
            st.number_input(
                "Max length (tokens)",
                min_value=MIN_MAX_LENGTH,
                max_value=MAX_LENGTH_LIMIT,
                step=1,
                value=_seeded("pl_max_length"),
                key="pl_max_length",
                help="Longer texts are truncated; shorter ones are padded.",
            )
            if ckpt is not None:
                _layer_slider(ckpt.info.num_layers)
        st.pills(
            "Pooling",
            [p.value for p in Pooling],
            key="pl_pooling",
            required=True,
            help="How token vectors (B, L, H) become one vector per text (B, H); masked by the attention mask.",
        )
        st.caption(DESCRIPTIONS[Pooling(ss["pl_pooling"])])
        st.text_area(
            "Labels (one per line, for a loss step)",
            key="pl_labels",
            height=80,
            placeholder="1\n0   — or rows: [0, 1, 1]",
            help="One line per text (per row of a synthetic tensor): a class id, a float, or a [row] — multi-hot "
            "labels, or one label per token. In expressions they are the tensor `labels` (ints: long, floats: "
            "float32; shorter rows padded with -100).",
        )
        st.number_input(
            "Layer seed",
            min_value=0,
            max_value=2**31 - 1,
            step=1,
            value=_seeded("pl_seed"),
            key="pl_seed",
            help="Layers (LSTM, Conv1d, Linear) get random weights from this seed: same seed, "
            "same numbers (also in the exported script).",
        )


def _settle_layer(num_layers: int) -> None:
    """The slider's key for this depth (``pl_layer_v{num_layers}``) seeded from the spec's layer, and the
    spec's layer (``pl_layer_spec``, -1 = last) read back from the slider."""
    ss = st.session_state
    key = f"pl_layer_v{num_layers}"
    if key not in ss:
        spec_layer = ss.get("pl_layer_spec", -1)
        ss.pop("pl_layer_note", None)
        if -(num_layers + 1) <= spec_layer <= num_layers:
            ss[key] = spec_layer % (num_layers + 1)
        else:  # a link's layer this checkpoint does not have: say so, never wrap it around (64 % 7 = 1)
            ss[key] = num_layers
            ss["pl_layer_note"] = (
                f"The link asks for layer {spec_layer}, but this checkpoint has hidden states 0..{num_layers} "
                f"(0 = embeddings). Showing the last layer, {num_layers}."
            )
    v = ss[key]
    ss["pl_layer_spec"] = -1 if v == num_layers else v


def _layer_slider(num_layers: int) -> None:
    ss = st.session_state
    key = f"pl_layer_v{num_layers}"
    st.slider(
        "Layer (hidden_states index)",
        0,
        num_layers,
        value=_seeded(key),
        key=key,
        on_change=lambda: ss.pop("pl_layer_note", None),
        help=f"0 = embeddings, {num_layers} = last layer (the default). Pooling cls/mean/max and the steps read "
        "this layer.",
    )
    if ss.get("pl_layer_note"):
        st.warning(ss["pl_layer_note"], icon=":material/layers:")
