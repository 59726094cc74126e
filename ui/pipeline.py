"""Pipeline Explorer, Streamlit side: the step chain kept in session state, its editor, and the renderers.

State: ``pl_chain`` is a list of ``{"id": int, "step": <spec step>}``; each step's widgets are keyed by
its id (``pl_e{id}`` expression text, ``pl_p{id}_{param}`` layer parameters), so reordering keeps the
values. Every run reads the widget values back into the chain and builds ONE ``Spec`` from it
(``spec_from_state``); everything on the page is rendered from that spec and its trace, and the URL
carries the spec (``core.export.share``). Loading a spec (a shared link, a fix, a reset) rebuilds the chain
with fresh ids, so the widgets start from the new values.
"""

from __future__ import annotations

import html
import re
from typing import Any

import streamlit as st

from core.engine.layers import inferred_input_size
from core.errors import SpecError
from core.export import share
from core.fixes import Fix, apply_fix
from core.model.pooling import DESCRIPTIONS
from core.spec import (
    DEFAULT_CHECKPOINT,
    FOREIGN_PARAMS,
    INPUT_PARAM,
    LAYER_PARAMS,
    MAX_LENGTH_LIMIT,
    MAX_STEPS,
    LayerKind,
    Pooling,
    Spec,
    step_source,
)

DEFAULT_SPEC: dict[str, Any] = {
    "texts": ["This movie was absolutely amazing!", "The plot was confusing."],
    "checkpoint": DEFAULT_CHECKPOINT,
    "max_length": 128,
    "layer": -1,
    "pooling": "none",
    "steps": [
        {"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}},
        "x[:, -1, :]",
        {"linear": {"out_features": 2}},
    ],
    "seed": 0,
}
DEFAULT_SHAPE = "32, 128, 768"
SOURCE_TEXT, SOURCE_SYNTH = "Text → BERT", "Synthetic tensor"
NEW_STEPS: dict[str, Any] = {
    "expression": "x.transpose(1, 2)",
    "lstm": {"lstm": {"hidden_size": 128, "batch_first": True}},
    "gru": {"gru": {"hidden_size": 128, "batch_first": True}},
    "conv1d": {"conv1d": {"out_channels": 256, "kernel_size": 3, "padding": 1}},
    "linear": {"linear": {"out_features": 2}},
}
ADD_LABELS = {"expression": "+ expr", "lstm": "+ LSTM", "gru": "+ GRU", "conv1d": "+ Conv1d", "linear": "+ Linear"}
ADD_HELP = {
    "expression": "a PyTorch expression over x: reshape, permute, transpose, indexing…",
    "lstm": "torch.nn.LSTM (input_size inferred)",
    "gru": "torch.nn.GRU (input_size inferred)",
    "conv1d": "torch.nn.Conv1d (in_channels inferred from dim 1)",
    "linear": "torch.nn.Linear (in_features inferred from the last dim)",
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
}
TORCH_NAMES = {LayerKind.LSTM: "LSTM", LayerKind.GRU: "GRU", LayerKind.CONV1D: "Conv1d", LayerKind.LINEAR: "Linear"}
TORCH_DEFAULTS: dict[str, Any] = {
    "num_layers": 1,
    "bias": True,
    "batch_first": False,
    "dropout": 0.0,
    "bidirectional": False,
    "proj_size": 0,
    "stride": 1,
    "padding": 0,
    "dilation": 1,
    "groups": 1,
    "padding_mode": "zeros",
}
BOOL_PARAMS = {"bias", "batch_first", "bidirectional"}
MAIN_PARAMS: dict[LayerKind, tuple[str, ...]] = {
    LayerKind.LSTM: ("input_size", "hidden_size", "num_layers", "batch_first", "bidirectional"),
    LayerKind.GRU: ("input_size", "hidden_size", "num_layers", "batch_first", "bidirectional"),
    LayerKind.CONV1D: ("in_channels", "out_channels", "kernel_size", "padding"),
    LayerKind.LINEAR: ("in_features", "out_features", "bias"),
}
MORE_PARAMS: dict[LayerKind, tuple[str, ...]] = {
    LayerKind.LSTM: ("dropout", "bias", "proj_size"),
    LayerKind.GRU: ("dropout", "bias"),
    LayerKind.CONV1D: ("stride", "dilation", "groups", "bias", "padding_mode"),
    LayerKind.LINEAR: (),
}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
MAX_INT = 1_000_000
# sidebar values that must survive a run in which their widget is hidden (text vs synthetic source)
PERSISTENT = ("pl_texts", "pl_max_length", "pl_shape", "pl_source", "pl_pooling", "pl_seed")


# ------------------------------------------------------------------------------------- state <-> spec


def init_state(params: Any) -> str | None:
    """Every run: keep the sidebar values alive while their widgets are hidden. First run of a session:
    load the link's spec (or the default). Returns the link's error to show, if any."""
    for key in PERSISTENT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    if st.session_state.get("pl_ready"):
        return None
    st.session_state["pl_ready"] = True
    st.session_state.setdefault("pl_next_id", 0)
    if share.has_spec(params):
        try:
            spec = share.spec_from_query(params)
        except SpecError as e:
            load_spec(DEFAULT_SPEC)
            return str(e)
        load_spec(spec.to_dict())
        return None
    load_spec(DEFAULT_SPEC)
    return None


def load_spec(data: dict[str, Any], keep_model: bool = False) -> None:
    """Put a spec dict into the widgets' session state and rebuild the chain with fresh ids.

    The checkpoint goes to ``model_checkpoint``, which the shared sidebar picker starts from; with
    ``keep_model`` (Reset, Apply fix) the checkpoint the user picked stays.
    """
    ss = st.session_state
    if data.get("texts") is not None:
        texts = data["texts"] if isinstance(data["texts"], list) else [data["texts"]]
        ss["pl_source"] = SOURCE_TEXT
        ss["pl_texts"] = "\n".join(" ".join(t.splitlines()) for t in texts)  # one text per line
        if not keep_model:
            ss["model_checkpoint"] = (data.get("checkpoint") or DEFAULT_CHECKPOINT).strip()
    else:
        ss["pl_source"] = SOURCE_SYNTH
        ss["pl_shape"] = ", ".join(str(d) for d in data.get("shape") or [])
    max_length = data.get("max_length", 128)
    ss["pl_max_length"] = int(max_length) if isinstance(max_length, int) else MAX_LENGTH_LIMIT
    ss["pl_layer_spec"] = int(data.get("layer", -1))
    for key in [k for k in ss if str(k).startswith("pl_layer_v")]:
        del ss[key]
    ss["pl_pooling"] = str(data.get("pooling", "none"))
    ss["pl_seed"] = int(data.get("seed", 0))
    ss["pl_title"] = str(data.get("title", ""))
    ss["pl_chain"] = []
    for step in data.get("steps", []):
        _append(step)


def _append(step: Any, at: int | None = None) -> None:
    ss = st.session_state
    sid = ss.get("pl_next_id", 0)
    ss["pl_next_id"] = sid + 1
    item = {"id": sid, "step": step}
    _init_widgets(item)
    chain = ss.setdefault("pl_chain", [])
    chain.insert(len(chain) if at is None else at, item)


def _init_widgets(item: dict[str, Any]) -> None:
    """Seed the widget keys of one chain item from its step (only keys not already set)."""
    ss = st.session_state
    sid, step = item["id"], item["step"]
    if isinstance(step, str):
        ss.setdefault(f"pl_e{sid}", step)
        return
    ((kind_name, params),) = step.items()
    kind = LayerKind(kind_name)
    for p in (*MAIN_PARAMS[kind], *MORE_PARAMS[kind]):
        key = f"pl_p{sid}_{p}"
        if key in ss:
            continue
        value = params.get(p, TORCH_DEFAULTS.get(p))
        if p == "padding":
            value = str(value)
        elif p == "dropout":
            value = float(value or 0.0)
        ss[key] = value


def sync_chain() -> list[Any]:
    """Read every step's widget values back into the chain; returns the spec steps."""
    ss = st.session_state
    steps = []
    for item in ss.get("pl_chain", []):
        sid, step = item["id"], item["step"]
        if isinstance(step, str):
            item["step"] = str(ss.get(f"pl_e{sid}", step)).strip()
        else:
            ((kind_name, params),) = step.items()
            kind = LayerKind(kind_name)
            managed = (*MAIN_PARAMS[kind], *MORE_PARAMS[kind])
            new: dict[str, Any] = {}
            for p in LAYER_PARAMS[kind]:  # torch constructor order
                if p not in managed:
                    if p in params:
                        new[p] = params[p]
                    continue
                value = ss.get(f"pl_p{sid}_{p}", params.get(p, TORCH_DEFAULTS.get(p)))
                value = _param_value(p, value)
                if value is None or (p in TORCH_DEFAULTS and value == TORCH_DEFAULTS[p]):
                    continue  # torch's default: left out, so links and exported code stay short
                new[p] = value
            new.update({k: v for k, v in params.items() if k in FOREIGN_PARAMS})
            item["step"] = {kind_name: new}
        steps.append(item["step"])
    return steps


def _param_value(p: str, value: Any) -> Any:
    if value is None:
        return None
    if p == "padding":
        text = str(value).strip().strip("'\"")
        if text.lstrip("-").isdigit():
            return int(text)
        return text or 0
    if p in BOOL_PARAMS:
        return bool(value)
    if p == "dropout":
        return float(value)
    if p == "padding_mode":
        return str(value)
    return int(value)


def parse_shape(text: str) -> list[int]:
    """``"32, 128, 768"`` -> ``[32, 128, 768]`` (also accepts ``(32, 128, 768)`` or spaces)."""
    cleaned = text.replace("(", " ").replace(")", " ").replace("[", " ").replace("]", " ").replace("x", ",")
    parts = [p for p in cleaned.replace(",", " ").split() if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise SpecError(
            f"the synthetic shape {text.strip()[:40]!r} is not a list of positive integers, e.g. 32, 128, 768"
        )
    return [int(p) for p in parts]


def spec_dict_from_state(checkpoint: str) -> dict[str, Any]:
    ss = st.session_state
    data: dict[str, Any] = {"steps": sync_chain(), "seed": int(ss.get("pl_seed", 0)), "pooling": ss["pl_pooling"]}
    if ss.get("pl_title"):
        data["title"] = ss["pl_title"]
    if ss.get("pl_source") == SOURCE_SYNTH:
        data["shape"] = parse_shape(ss.get("pl_shape", DEFAULT_SHAPE))
    else:
        texts = [t.strip() for t in str(ss.get("pl_texts", "")).splitlines() if t.strip()]
        if not texts:
            raise SpecError("type at least one text in the sidebar (one text per line)")
        data.update(texts=texts, checkpoint=checkpoint, max_length=int(ss["pl_max_length"]), layer=ss["pl_layer_spec"])
    return data


def spec_from_state(checkpoint: str) -> Spec:
    """The one Spec of the page, built from the widgets (raises SpecError with a clear message)."""
    return Spec.from_dict(spec_dict_from_state(checkpoint))


def sync_url(spec: Spec) -> str | None:
    """Make the URL carry the spec; returns a message when the spec is too large for a link."""
    try:
        query = share.spec_to_query(spec)
    except SpecError as e:
        if share.PARAM in st.query_params:
            del st.query_params[share.PARAM]
        return str(e)
    if st.query_params.get(share.PARAM) != query[share.PARAM]:
        st.query_params[share.PARAM] = query[share.PARAM]
    return None


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
    _append(dict(step) if isinstance(step, dict) else step)


def _chip(sid: int) -> None:
    choice = st.session_state.get(f"pl_c{sid}")
    if choice:
        st.session_state[f"pl_e{sid}"] = SUGGESTIONS[choice]
    st.session_state[f"pl_c{sid}"] = None


def _apply(spec_dict: dict[str, Any], fix: Fix) -> None:
    try:
        new = apply_fix(spec_dict, fix)
        Spec.from_dict(new)
    except SpecError as e:
        st.session_state["pl_flash"] = ("error", f"The fix could not be applied: {e}")
        return
    load_spec(new, keep_model=True)
    st.session_state["pl_flash"] = ("fixed", fix.description)


def _reset() -> None:
    load_spec(DEFAULT_SPEC, keep_model=True)
    st.session_state["pl_flash"] = ("info", "Back to the default pipeline (the checkpoint stays as picked).")


def apply_fix_button(spec_dict: dict[str, Any], fix: Fix, key: str, primary: bool = True) -> None:
    st.button(
        "Apply fix",
        key=key,
        icon=":material/auto_fix_high:",
        type="primary" if primary else "secondary",
        on_click=_apply,
        args=(spec_dict, fix),
        help=fix.description,
    )


# --------------------------------------------------------------------------------------------- editor


def step_editor(trace: Any) -> None:
    """The chain: one bordered box per step with its widgets, its output shape and ↑ ↓ ✕."""
    chain = st.session_state.get("pl_chain", [])
    stages = {s.step_index: s for s in trace.stages if s.step_index is not None} if trace else {}
    sources = [s for s in trace.stages if s.step_index is None] if trace else []
    failed = trace.error.step_index if trace is not None and trace.error is not None else None
    prev_shape = sources[-1].shape if sources else None
    head = st.columns([5, 2], vertical_alignment="center")
    head[0].markdown("#### Steps")
    head[1].button(
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
            _step_box(i, item, len(chain), stage, failed, prev_shape)
        if stage is not None:
            prev_shape = stage.shape
        elif failed is not None and i >= failed:
            prev_shape = None
    st.caption("Add a step at the end (then move it with ↑ ↓)")
    for col, (kind, label) in zip(st.columns(len(ADD_LABELS), gap="small"), ADD_LABELS.items()):
        col.button(
            label,
            key=f"pl_add_{kind}",
            on_click=_add,
            args=(kind,),
            width="stretch",
            help=ADD_HELP[kind],
        )


def _step_box(i: int, item: dict[str, Any], n: int, stage: Any, failed: int | None, prev_shape: Any) -> None:
    sid, step = item["id"], item["step"]
    kind = None if isinstance(step, str) else LayerKind(next(iter(step)))
    title = "expression" if kind is None else f"nn.{TORCH_NAMES[kind]}"
    if stage is not None:
        status = f":green[→ `{tuple(stage.shape)}`]"
        if stage.warnings:
            status += f" :orange[⚠ {len(stage.warnings)}]"
    elif failed == i:
        status = ":red[**✗ fails here**]"
    else:
        status = ":gray[not run]"
    cols = st.columns([5.2, 2.2, 0.7, 0.7, 0.7], vertical_alignment="center", gap="small")
    cols[0].markdown(f"**{i + 1}** · {title} &nbsp; {status}")
    if kind is not None and MORE_PARAMS[kind]:
        with cols[1].popover("More", icon=":material/tune:", help="Other torch.nn parameters"):
            _init_widgets(item)
            for p in MORE_PARAMS[kind]:
                _param_widget(sid, kind, p, prev_shape)
    cols[2].button(
        "",
        icon=":material/arrow_upward:",
        key=f"pl_up{sid}",
        on_click=_move,
        args=(sid, -1),
        disabled=i == 0,
        type="tertiary",
        help="Move up",
    )
    cols[3].button(
        "",
        icon=":material/arrow_downward:",
        key=f"pl_dn{sid}",
        on_click=_move,
        args=(sid, 1),
        disabled=i == n - 1,
        type="tertiary",
        help="Move down",
    )
    cols[4].button(
        "",
        icon=":material/close:",
        key=f"pl_rm{sid}",
        on_click=_remove,
        args=(sid,),
        type="tertiary",
        help="Remove this step",
    )
    _init_widgets(item)
    if kind is None:
        st.text_input(
            f"Step {i + 1} expression",
            key=f"pl_e{sid}",
            label_visibility="collapsed",
            placeholder="a PyTorch expression over x, e.g. x.transpose(1, 2)",
            help="A safe subset of PyTorch over x (and h_n, c_n, lengths): reshape, view, permute, transpose, "
            "indexing, flatten, unsqueeze, F.pad, rearrange… Press Enter to run.",
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


def _layer_widgets(sid: int, kind: LayerKind, params: dict[str, Any], prev_shape: Any) -> None:
    """Number inputs side by side, the checkboxes stacked in the last column."""
    main = MAIN_PARAMS[kind]
    numbers = [p for p in main if p not in BOOL_PARAMS]
    flags = [p for p in main if p in BOOL_PARAMS]
    width = max(4, len(numbers) + (1 if flags else 0))  # same column widths for every layer kind
    cols = st.columns(width, vertical_alignment="bottom")
    for col, p in zip(cols, numbers):
        with col:
            _param_widget(sid, kind, p, prev_shape)
    if flags:
        with cols[-1]:
            for p in flags:
                _param_widget(sid, kind, p, prev_shape)
    foreign = {k: v for k, v in params.items() if k in FOREIGN_PARAMS}
    if foreign:
        text = ", ".join(f"{k}={v!r}" for k, v in foreign.items())
        st.caption(f":orange[Also passes {text}: not a torch.nn.{TORCH_NAMES[kind]} parameter (a Keras habit)]")


def _param_widget(sid: int, kind: LayerKind, p: str, prev_shape: Any) -> None:
    key = f"pl_p{sid}_{p}"
    if p in BOOL_PARAMS:
        st.checkbox(p, key=key)
    elif p == "dropout":
        st.number_input(p, min_value=0.0, max_value=1.0, step=0.1, key=key, format="%.2f")
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
            value=None,
            step=1,
            key=key,
            placeholder=f"inferred: {guess}" if guess is not None else "inferred",
            help="Leave empty to infer it from the incoming tensor (what the app does); type a number to see "
            "what torch says when it does not match.",
        )
    else:
        st.number_input(p, min_value=0, max_value=MAX_INT, step=1, key=key)


# ---------------------------------------------------------------------------------------- sidebar


def input_sidebar(ckpt: Any) -> None:
    """Texts / synthetic shape, max length, layer, pooling, seed (the spec's top-level fields)."""
    ss = st.session_state
    with st.sidebar:
        st.markdown("#### Input")
        st.segmented_control(
            "Source", [SOURCE_TEXT, SOURCE_SYNTH], key="pl_source", required=True, label_visibility="collapsed"
        )
        if ss.get("pl_source") == SOURCE_SYNTH:
            ss.setdefault("pl_shape", DEFAULT_SHAPE)
            st.text_input("Shape of torch.randn", key="pl_shape", help="(batch, tokens, hidden), e.g. 32, 128, 768")
        else:
            st.text_area("Texts (one per line)", key="pl_texts", height=110)
            st.number_input(
                "Max length (tokens)",
                min_value=1,
                max_value=MAX_LENGTH_LIMIT,
                step=1,
                key="pl_max_length",
                help="Longer texts are truncated; shorter ones are padded.",
            )
            if ckpt is not None:
                _layer_slider(ckpt.info.num_layers)
        options = [p.value for p in Pooling]
        if ss.get("pl_pooling") not in options:
            ss["pl_pooling"] = "none"
        st.selectbox(
            "Pooling",
            options,
            key="pl_pooling",
            help="How token vectors (B, L, H) become one vector per text (B, H); masked by the attention mask.",
        )
        st.caption(DESCRIPTIONS[Pooling(ss["pl_pooling"])])
        st.number_input(
            "Layer seed",
            min_value=0,
            max_value=2**31 - 1,
            step=1,
            key="pl_seed",
            help="Layers (LSTM, Conv1d, Linear) get random weights from this seed: same seed, "
            "same numbers (also in the exported script).",
        )


def _layer_slider(num_layers: int) -> None:
    ss = st.session_state
    key = f"pl_layer_v{num_layers}"
    if key not in ss:
        spec_layer = ss.get("pl_layer_spec", -1)
        ss[key] = min(max(spec_layer % (num_layers + 1), 0), num_layers)
    st.slider(
        "Layer (hidden_states index)",
        0,
        num_layers,
        key=key,
        help=f"0 = embeddings, {num_layers} = last layer (the default). Pooling cls/mean/max and the steps read "
        "this layer.",
    )
    v = ss[key]
    ss["pl_layer_spec"] = -1 if v == num_layers else v


# ---------------------------------------------------------------------------------------- renderers


def header(spec: Spec | None, info: Any) -> None:
    st.title("Pipeline Explorer")
    if spec is not None and spec.title:
        st.html(f"<div style='font-weight:600;font-size:1.05rem'>{html.escape(spec.title)}</div>")
    if info is not None:
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            if info.real_weights:
                st.badge("real weights", icon=":material/verified:", color="green")
            else:
                st.badge("RANDOM weights: real shapes, meaningless values", icon=":material/warning:", color="orange")
            st.badge(info.device.upper(), icon=":material/memory:", color="gray")
            st.caption(html.escape(info.label))
    elif spec is not None and spec.shape is not None:
        st.caption(f"Synthetic source: torch.randn{tuple(spec.shape)} read as (batch, tokens, hidden) · no model")


def flash() -> tuple[str, str] | None:
    return st.session_state.pop("pl_flash", None)


def tokens_panel(enc: Any, limit_texts: int = 8, limit_tokens: int = 160) -> None:
    """Word pieces per text with their ids; padding greyed; truncation reported."""
    rows = []
    for b, toks in enumerate(enc.tokens[:limit_texts]):
        ids = enc.input_ids[b].tolist()
        mask = enc.attention_mask[b].tolist()
        chips = []
        for t, (tok, tid, m) in enumerate(zip(toks[:limit_tokens], ids, mask)):
            special = tok in ("[CLS]", "[SEP]", "<s>", "</s>")
            if not m:
                style = "background:#f1f3f5;color:#adb5bd;border:1px dashed #ced4da"
            elif special:
                style = "background:#e7f5ff;color:#1864ab;border:1px solid #a5d8ff"
            else:
                style = "background:#fff;color:#1f2430;border:1px solid #ced4da"
            chips.append(
                f"<span title='position {t} · id {tid} · mask {m}' style='display:inline-flex;flex-direction:column;"
                f"align-items:center;margin:2px;padding:1px 6px;border-radius:6px;{style}'>"
                f"<span style='font-family:monospace;font-size:13px'>{html.escape(tok)}</span>"
                f"<span style='font-size:10px;opacity:.7'>{tid}</span></span>"
            )
        if len(toks) > limit_tokens:
            chips.append(f"<span style='color:#868e96'> … {len(toks) - limit_tokens} more</span>")
        cut = enc.truncated[b]
        note = f" · <span style='color:#e8590c'>✂ {cut} token(s) cut by max_length</span>" if cut else ""
        pad = len(toks) - enc.lengths[b]
        pad_note = f" · {pad} padding" if pad else ""
        rows.append(
            f"<div style='margin:4px 0'><div style='font-size:12px;color:#495057'>#{b + 1} · {enc.lengths[b]} "
            f"tokens{pad_note}{note}</div><div style='display:flex;flex-wrap:wrap'>{''.join(chips)}</div></div>"
        )
    more = len(enc.tokens) - limit_texts
    if more > 0:
        rows.append(f"<div style='color:#868e96;font-size:12px'>… and {more} more text(s)</div>")
    legend = (
        "<div style='font-size:11px;color:#868e96;margin-top:2px'>small number = token id · "
        "<span style='color:#1864ab'>blue</span> = special token · dashed grey = padding (attention mask 0)</div>"
    )
    st.html("".join(rows) + legend)


def error_panel(err: Any, spec_dict: dict[str, Any]) -> None:
    """torch's own message, the explanation, the fix and the Apply fix button."""
    where = f"Step {err.step_index + 1}" if err.step_index is not None else "A step"
    axes = f" — {' · '.join(err.input_axes)}" if err.input_axes else ""
    shape = f" on input `{tuple(err.input_shape)}`{axes}" if err.input_shape is not None else ""
    with st.container(border=True, key="pl_error"):
        st.error(f"**{where} failed:** {code_span(err.step)}{shape}", icon=":material/error:")
        st.code(err.message, language=None, wrap_lines=True)
        if err.explanation:
            st.markdown(f"**Why:** {err.explanation}")
        if err.fix is not None:
            st.markdown(f"**Fix:** {err.fix.description}")
            apply_fix_button(spec_dict, err.fix, key="pl_fix_error")
        else:
            st.caption("No automatic fix for this one; the explanation says what to change.")


def findings_panel(trace: Any, spec_dict: dict[str, Any]) -> None:
    """Warnings (runs but probably means the wrong thing) and notes, each with Apply fix when possible."""
    for n, f in enumerate(trace.warnings):
        where = f"Step {f.step_index + 1}: " if f.step_index is not None else ""
        cols = st.columns([8, 1.4], vertical_alignment="center")
        if f.severity == "note":
            cols[0].info(f"{where}{f.message}", icon=":material/info:")
        else:
            cols[0].warning(f"{where}{f.message}", icon=":material/warning:")
        if f.fix is not None:
            with cols[1]:
                apply_fix_button(spec_dict, f.fix, key=f"pl_fix_w{n}", primary=False)


def code_span(text: str) -> str:
    """Markdown inline code that user text cannot break out of (fence longer than any backtick run)."""
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}"


def human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def stage_rows(trace: Any) -> list[dict[str, Any]]:
    rows = []
    for s in trace.stages:
        source = s.source.split("  #")[0]
        rows.append(
            {
                "stage": s.name,
                "step": source if len(source) <= 70 else source[:69] + "…",
                "shape": str(tuple(s.shape)),
                "axes": " · ".join(s.axis_labels),
                "dtype": s.dtype,
                "device": s.device,
                "strides": str(tuple(s.strides)),
                "contiguous": s.contiguous,
                "size": human_bytes(s.bytes),
                "warnings": " | ".join(w.message for w in s.warnings),
            }
        )
    return rows


def stage_table(trace: Any) -> None:
    rows = stage_rows(trace)
    order = ["stage", "step", "shape", "axes", "dtype", "device", "strides", "contiguous", "size"]
    if any(r["warnings"] for r in rows):
        order.append("warnings")
    st.dataframe(
        rows,
        hide_index=True,
        column_order=order,
        column_config={
            "stage": st.column_config.TextColumn("stage", width=108),
            "step": st.column_config.TextColumn("step", width=190, help="the step's source text"),
            "shape": st.column_config.TextColumn("shape", width=100),
            "axes": st.column_config.TextColumn("axes", width=230, help="what each dimension means"),
            "dtype": st.column_config.TextColumn("dtype", width=62),
            "device": st.column_config.TextColumn("device", width=52),
            "strides": st.column_config.TextColumn("strides", width=105, help="elements to skip per dimension"),
            "contiguous": st.column_config.CheckboxColumn("contiguous", width=78),
            "size": st.column_config.TextColumn("bytes", width=70),
            "warnings": st.column_config.TextColumn("warnings", width=320),
        },
        key="pl_stage_table",
    )


def step_caption(step: Any) -> str:
    return step_source(step)


# ------------------------------------------------------------------------------------- live outputs


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
    final = trace.stages[-1] if trace.stages else None
    logits = final is not None and final.step_index is not None and len(final.shape) in (1, 2) and final.shape[-1] <= 64
    enc = trace.encoding
    names = []
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
            st.plotly_chart(fp.logits_bar(trace.tensors[-1], trace.spec.texts), key="pl_logits")
            st.caption(
                f"Final tensor {tuple(final.shape)}. Layer weights are random (seed {trace.spec.seed}), so these "
                "scores are untrained: the point is the shape, one row of scores per text."
            )
    tab = tabs.get("BERT attention")
    if tab is not None and tab.open is not False:
        with tab:
            attention_panel(trace)


def _token_ticks(trace: Any, b: int, length: int) -> list[str] | None:
    enc = trace.encoding
    if enc is None or b >= len(enc.tokens) or len(enc.tokens[b]) != length:
        return None
    return list(enc.tokens[b])


def _recurrent_output(trace: Any, i: int, b: int, fp: Any) -> None:
    stage, out = trace.stages[i], trace.tensors[i]
    params = dict(stage.extra("params", ()) or ())
    if out.dim() == 3:
        seq = out[b] if params.get("batch_first") else out[:, b]  # (T, H_out) of text b
    else:
        seq = out  # unbatched (T, H_out)
    states = ", ".join(f"{k} `{tuple(stage.extra(k))}`" for k in ("h_n", "c_n") if stage.extra(k) is not None)
    st.markdown(f"**{stage.name}** · {code_span(stage.source)} → output `{tuple(stage.shape)}`; {states}")
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
    stage, out = trace.stages[i], trace.tensors[i]
    grid = out[b] if out.dim() == 3 else out  # (C_out, L_out)
    formula = stage.extra("formula")
    st.markdown(f"**{stage.name}** · {code_span(stage.source)} → `{tuple(stage.shape)}`")
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


# --------------------------------------------------------------------------------------- share / export


def share_url(page_url: str, spec: Spec) -> str:
    """The app's root URL (the Pipeline Explorer is the default page) with the spec: ``http://host/?spec=…``.

    Root, not ``/pipeline``: a fresh server that gets a sub-page URL first runs that page without app.py.
    """
    base = page_url.split("?")[0].split("#")[0]
    trimmed = base.rstrip("/")
    if trimmed.endswith("/pipeline"):
        base = trimmed[: -len("pipeline")]
    return f"{base}?{share.PARAM}={share.encode_spec(spec)}"


def share_and_export(spec: Spec, trace: Any, url_problem: str | None) -> None:
    from core.export.codegen import export_script

    box = st.expander(
        "Share & export: link, spec JSON, runnable PyTorch script",
        icon=":material/ios_share:",
        key="pl_export",
        on_change="rerun",
    )
    if box.open is False:  # lazy: nothing is built until the expander is opened
        return
    with box:
        if url_problem:
            st.warning(url_problem)
        else:
            link = share_url(getattr(st.context, "url", None) or "", spec)
            st.caption("The page URL always holds this pipeline; copy it (or this link) to share it.")
            st.code(link, language=None, wrap_lines=True)
        script = export_script(spec, trace)
        cols = st.columns([1, 1, 4])
        cols[0].download_button(
            "pipeline.py",
            script,
            file_name="pipeline.py",
            mime="text/x-python",
            icon=":material/download:",
            on_click="ignore",
            key="pl_dl_py",
        )
        cols[1].download_button(
            "spec.json",
            spec.to_json(),
            file_name="spec.json",
            mime="application/json",
            icon=":material/download:",
            on_click="ignore",
            key="pl_dl_json",
        )
        st.code(script, language="python", line_numbers=False)
