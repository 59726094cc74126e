"""Pipeline Explorer state: the step chain kept in session state, and the one Spec read back from it.

State: ``pl_chain`` is a list of ``{"id": int, "step": <spec step>}``; each step's widgets are keyed by
its id (``pl_e{id}`` expression text, ``pl_p{id}_{param}`` layer parameters), so reordering keeps the
values. Every run reads the widget values back into the chain and builds ONE ``Spec`` from it
(``spec_from_state``); everything on the page is rendered from that spec and its trace, and the URL
carries the spec (``core.export.share``). Loading a spec (a shared link, a fix, a reset) rebuilds the chain
with fresh ids, so the widgets start from the new values.

Undo: Apply fix and Reset push the spec they replace on ``pl_undo`` (``remember``); ``undo`` loads it back,
with the pasted code a fix rewrote (unless edited since).
Browser history: every new spec is a new URL (Streamlit pushes a history entry when the query changes);
``follow_url`` notices when the URL holds a spec this session did not write (Back / Forward) and loads it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import streamlit as st

from core.errors import SpecError
from core.export import share
from core.loss_step import LOSS_KEY, LOSS_PARAMS, LossKind
from core.spec import (
    DEFAULT_CHECKPOINT,
    FOREIGN_PARAMS,
    LAYER_KEYS,
    LAYER_PARAMS,
    MAX_LENGTH_LIMIT,
    LayerKind,
    Spec,
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
PC_CODE = "pc_code"  # the Paste box's text area (ui/pipeline/paste.py), drawn only while the box is open
PC_NOTE = "pc_note"  # what the last Apply fix did to the pasted code: true of that pipeline only
# values that must survive a run in which their widget is hidden: the sidebar's (text vs synthetic source) and
# the pasted code (the Paste box closed)
PERSISTENT = ("pl_texts", "pl_max_length", "pl_shape", "pl_source", "pl_pooling", "pl_seed", "pl_labels", PC_CODE)
# the step editor's values (expression, layer parameters, names, loss fields) and the layer slider: kept through
# a run that stops before drawing them (a checkpoint that cannot load), which would otherwise drop them
STEP_WIDGET = re.compile(r"^pl_(?:e\d+|[psl]\d+_\w+|layer_v\d+)$")
# the loss step's widgets: pl_l{id}_<field>; the target is an expression, or a synthetic shape / dtype / high
TARGET_LABELS, TARGET_SYNTH = "labels / expression", "synthetic"
LOSS_FIELDS = ("kind", "reduction", "input", "target_mode", "target", "tshape", "tdtype", "thigh")
LOSS_MORE = ("ignore_index", "label_smoothing", "weight", "pos_weight")


UNDO_DEPTH = 20


def init_state(params: Any) -> str | None:
    """Every run: keep the sidebar's and the steps' values alive while their widgets are not drawn. First run
    of a session: load the link's spec (or the default); later runs follow Back / Forward (``follow_url``).
    Returns the link's error to show, if any."""
    for key in [k for k in st.session_state if k in PERSISTENT or STEP_WIDGET.match(str(k))]:
        st.session_state[key] = st.session_state[key]
    if st.session_state.get("pl_ready"):
        return follow_url(params)
    st.session_state["pl_ready"] = True
    st.session_state.setdefault("pl_next_id", 0)
    if share.has_spec(params):
        try:
            spec, adjusted = share.spec_from_query_clamped(params)
        except SpecError as e:
            load_spec(DEFAULT_SPEC)
            return str(e)
        load_spec(spec.to_dict())
        if adjusted:  # one number out of range: the shared texts and steps still open, and the visitor is told
            text = "; ".join(adjusted)
            st.session_state["pl_flash"] = ("warning", f"This shared link was opened with a setting adjusted: {text}.")
        return None
    load_spec(DEFAULT_SPEC)
    return None


def load_spec(data: dict[str, Any], keep_model: bool = False) -> None:
    """Put a spec dict into the widgets' session state and rebuild the chain with fresh ids.

    The checkpoint goes to ``model_checkpoint``, which the shared sidebar picker starts from; with
    ``keep_model`` (Reset, Apply fix) the checkpoint the user picked stays.
    """
    ss = st.session_state
    ss.pop(PC_NOTE, None)  # a note on how a fix reached the pasted code is about the pipeline being replaced
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
    labels = data.get("labels")
    ss["pl_labels"] = "\n".join(json.dumps(v) for v in labels) if isinstance(labels, list) else ""
    ss["pl_title"] = str(data.get("title", ""))
    ss["pl_chain"] = []
    for step in data.get("steps", []):
        append_step(step)


def append_step(step: Any, at: int | None = None) -> None:
    """Add one step to the chain (at the end, or at ``at``) with a fresh id and its widgets seeded."""
    ss = st.session_state
    sid = ss.get("pl_next_id", 0)
    ss["pl_next_id"] = sid + 1
    item = {"id": sid, "step": step}
    init_widgets(item)
    chain = ss.setdefault("pl_chain", [])
    chain.insert(len(chain) if at is None else at, item)


def step_key(step: dict[str, Any]) -> str:
    """The key naming a step object's kind: ``"lstm"``, ``"linear"``, … or ``"loss"`` (siblings are the rest)."""
    if LOSS_KEY in step:
        return LOSS_KEY
    return next(k for k in step if k not in LAYER_KEYS)


def split_layer(step: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(layer key, its parameters, the sibling keys input / output / h0 / c0) of a layer step's JSON."""
    kind_name = step_key(step)
    return kind_name, dict(step[kind_name] or {}), {k: v for k, v in step.items() if k in LAYER_KEYS}


def init_widgets(item: dict[str, Any]) -> None:
    """Seed the widget keys of one chain item from its step (only keys not already set)."""
    ss = st.session_state
    sid, step = item["id"], item["step"]
    if isinstance(step, str):
        ss.setdefault(f"pl_e{sid}", step)
        return
    kind_name = step_key(step)
    if kind_name == LOSS_KEY:
        _init_loss(sid, step)
        return
    params = step[kind_name]
    kind = LayerKind(kind_name)
    for key in LAYER_KEYS:
        ss.setdefault(f"pl_s{sid}_{key}", step.get(key) or ("x" if key == "input" else ""))
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


def _init_loss(sid: int, step: dict[str, Any]) -> None:
    ss = st.session_state
    body = step[LOSS_KEY] if isinstance(step[LOSS_KEY], dict) else {"kind": step[LOSS_KEY]}
    target = step.get("target", "labels")
    synthetic = isinstance(target, dict)
    values = {
        "kind": str(body.get("kind", LossKind.CROSS_ENTROPY.value)),
        "reduction": body.get("reduction", "mean"),
        "input": step.get("input", "x"),
        "target_mode": TARGET_SYNTH if synthetic else TARGET_LABELS,
        "target": "labels" if synthetic else str(target),
        "tshape": ", ".join(map(str, target.get("shape", []))) if synthetic else "",
        "tdtype": target.get("dtype", "long") if synthetic else "long",
        "thigh": target.get("high") if synthetic else None,
        "ignore_index": body.get("ignore_index", -100),
        "label_smoothing": float(body.get("label_smoothing", 0.0)),
        "weight": ", ".join(map(str, body.get("weight", []))),
        "pos_weight": ", ".join(map(str, body.get("pos_weight", []))),
    }
    for field, value in values.items():
        ss.setdefault(f"pl_l{sid}_{field}", value)


def _numbers(text: Any, what: str) -> list[float]:
    parts = [p for p in str(text or "").replace("[", " ").replace("]", " ").replace(",", " ").split() if p]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise SpecError(f"{what} must be numbers separated by commas, e.g. 1, 2.5, 1") from None


def _sync_loss(sid: int) -> dict[str, Any]:
    """The loss step JSON from its widgets (torch's defaults left out)."""
    ss = st.session_state
    get = lambda field, default=None: ss.get(f"pl_l{sid}_{field}", default)  # noqa: E731
    kind = LossKind(get("kind", LossKind.CROSS_ENTROPY.value))
    body: dict[str, Any] = {"kind": kind.value}
    if get("reduction", "mean") != "mean":
        body["reduction"] = get("reduction")
    allowed = LOSS_PARAMS[kind]
    if "ignore_index" in allowed and get("ignore_index", -100) not in (None, -100):
        body["ignore_index"] = int(get("ignore_index"))
    if "label_smoothing" in allowed and float(get("label_smoothing", 0.0) or 0.0) > 0:
        body["label_smoothing"] = float(get("label_smoothing"))
    for key in ("weight", "pos_weight"):
        if key in allowed and str(get(key, "") or "").strip():
            body[key] = _numbers(get(key), key)
    out: dict[str, Any] = {LOSS_KEY: body}
    name = str(get("input", "x") or "x").strip()
    if name != "x":
        out["input"] = name
    if get("target_mode") == TARGET_SYNTH:
        target: dict[str, Any] = {"shape": parse_shape(str(get("tshape", "") or "")), "dtype": get("tdtype", "long")}
        if get("thigh"):
            target["high"] = int(get("thigh"))
        out["target"] = target
    else:
        out["target"] = str(get("target", "labels") or "labels").strip()
    return out


def parse_labels_text(text: str) -> list[Any] | None:
    """The sidebar's labels: one JSON value per line (``1``, ``[0, 1, 1]``, ``0.5``); empty -> None."""
    lines = [ln.strip() for ln in str(text or "").splitlines() if ln.strip()]
    if not lines:
        return None
    out = []
    for n, line in enumerate(lines, 1):
        try:
            out.append(json.loads(line))
        except (json.JSONDecodeError, RecursionError):
            raise SpecError(f"labels, line {n}: {line[:40]!r} is not a number or a [list] of numbers") from None
    return out


def sync_chain() -> list[Any]:
    """Read every step's widget values back into the chain; returns the spec steps."""
    ss = st.session_state
    steps = []
    for item in ss.get("pl_chain", []):
        sid, step = item["id"], item["step"]
        if isinstance(step, str):
            item["step"] = str(ss.get(f"pl_e{sid}", step)).strip()
        elif step_key(step) == LOSS_KEY:
            item["step"] = _sync_loss(sid)
        else:
            kind_name, params, _ = split_layer(step)
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
            item["step"] = {kind_name: new, **_siblings(sid, kind)}
        steps.append(item["step"])
    return steps


def _siblings(sid: int, kind: LayerKind) -> dict[str, str]:
    """A layer step's input / output names and initial states (h0 / c0 for LSTM / GRU) from their widgets."""
    ss = st.session_state
    out: dict[str, str] = {}
    for key in LAYER_KEYS:
        value = str(ss.get(f"pl_s{sid}_{key}", "") or "").strip()
        if key in ("h0", "c0") and kind not in (LayerKind.LSTM, LayerKind.GRU):
            continue
        if key == "c0" and kind is LayerKind.GRU:
            continue
        if value and not (key == "input" and value == "x"):
            out[key] = value
    return out


def _param_value(p: str, value: Any) -> Any:
    if value is None:
        return None
    if p == "padding":
        text = str(value).strip().strip("'\"")
        if text.lstrip("-").isascii() and text.lstrip("-").isdigit():
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
    if not parts or not all(p.isascii() and p.isdigit() for p in parts):  # "2²".isdigit() is True, int() fails
        raise SpecError(
            f"the synthetic shape {text.strip()[:40]!r} is not a list of positive integers, e.g. 32, 128, 768"
        )
    return [int(p) for p in parts]


def spec_dict_from_state(checkpoint: str) -> dict[str, Any]:
    ss = st.session_state
    data: dict[str, Any] = {"steps": sync_chain(), "seed": int(ss.get("pl_seed", 0)), "pooling": ss["pl_pooling"]}
    labels = parse_labels_text(ss.get("pl_labels", ""))
    if labels is not None:
        data["labels"] = labels
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
    """Make the URL carry the spec; returns a message when the spec is too large for a link.

    A changed query is a new browser-history entry (Streamlit pushes one), so Back returns to the
    previous pipeline; ``pl_url_written`` remembers what this session wrote, for ``follow_url``.
    """
    try:
        query = share.spec_to_query(spec)
    except SpecError as e:
        if share.PARAM in st.query_params:
            del st.query_params[share.PARAM]
        st.session_state["pl_url_written"] = None
        return str(e)
    if st.query_params.get(share.PARAM) != query[share.PARAM]:
        st.query_params[share.PARAM] = query[share.PARAM]
    st.session_state["pl_url_written"] = query[share.PARAM]
    return None


def follow_url(params: Any) -> str | None:
    """Back / Forward: the URL holds a spec this session did not write last, so the visitor went there in the
    browser's history: load it (the checkpoint picked stays). Returns an error to show for a bad link."""
    ss = st.session_state
    value = params.get(share.PARAM) if hasattr(params, "get") else None
    if not value or value == ss.get("pl_url_written") or "pl_url_written" not in ss:
        return None
    try:
        spec = share.spec_from_query({share.PARAM: value})
    except SpecError as e:
        return str(e)
    load_spec(spec.to_dict(), keep_model=True)
    ss["pl_url_written"] = value
    ss["pl_flash"] = ("info", "Moved through the browser's history (Back / Forward): the pipeline you had there.")
    return None


def remember(
    spec_dict: dict[str, Any] | None,
    what: str,
    restore: dict[str, Any] | None = None,
    expect: dict[str, Any] | None = None,
) -> None:
    """Push the spec about to be replaced (by ``what``: "Apply fix", "Reset") for ``undo``.

    ``restore``: other session values to put back with it (key -> value; None = absent), such as the pasted
    code that a fix rewrote; put back only while the session still holds ``expect`` (what the action left
    there), so an edit made since is never thrown away.
    """
    if spec_dict is None:
        return
    stack = st.session_state.setdefault("pl_undo", [])
    stack.append((what, spec_dict, dict(restore or {}), dict(expect or {})))
    del stack[:-UNDO_DEPTH]


def undo_label() -> str | None:
    """What Undo would undo ("Apply fix: …", "Reset"), or None when there is nothing to undo."""
    stack = st.session_state.get("pl_undo") or []
    return stack[-1][0] if stack else None


def undo() -> None:
    """Load back the spec the last Apply fix / Reset replaced (the checkpoint picked stays), and the values
    remembered with it (the pasted code as it was before a fix wrote into it, unless edited since)."""
    ss = st.session_state
    stack = ss.get("pl_undo") or []
    if not stack:
        return
    what, spec_dict, restore, expect = stack.pop()
    unchanged = all(ss.get(key) == value for key, value in expect.items())
    rewrote = PC_CODE in restore and restore[PC_CODE] != expect.get(PC_CODE)  # the action wrote into the code
    load_spec(spec_dict, keep_model=True)
    if unchanged:
        for key, value in restore.items():
            if value is None:
                ss.pop(key, None)
            else:
                ss[key] = value
    also = ""
    if rewrote and unchanged:
        also = " Your pasted code is back as it was too."
    elif rewrote:
        also = " Your pasted code was edited after the fix, so it stays as it is."
    ss["pl_flash"] = ("info", f"Undone: {what}. The pipeline is back as it was.{also}")


def current_spec_dict() -> dict[str, Any] | None:
    """The spec the widgets hold now (for ``remember`` from a callback), or None when it does not build."""
    try:
        return spec_from_state(st.session_state.get("model_checkpoint", DEFAULT_CHECKPOINT)).to_dict()
    except SpecError:
        return None


def flash() -> tuple[str, str] | None:
    """The (kind, text) message a callback left for this run, once."""
    return st.session_state.pop("pl_flash", None)
