"""Streamlit pieces of the Reshape Lab: the source picker, stage blocks, verdict banners and the three modes.

All logic lives in core (lineage, einops_view, error_lab, figures_lineage); this file reads widgets and
renders records.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from core.diagnosis.error_lab import LayerCheck, build_error_lab
from core.diagnosis.explain import KINDS
from core.errors import SpecError
from core.export.share import PARAM, spec_from_query
from core.figures.lineage import colour_key, memory_figure, stage_figure
from core.lab.compare import MAX_VERDICT_NUMEL, Verdict, compare_chains, differing_cells
from core.lab.drawing import DrawPlan, plan_drawing
from core.lab.einops_view import EinopsEquivalent
from core.lab.lineage import Lineage, LineageStage, trace_lineage
from core.lab.shape_text import parse_shape_text

MODES = ("Lineage", "Compare chains", "Explain an error")
MODE_ICONS = {
    "Lineage": ":material/grid_on:",
    "Compare chains": ":material/compare:",
    "Explain an error": ":material/bug_report:",
}
LABELS = "ABC"
DEFAULT_CHAINS = ("x.transpose(1, 2)", "x.permute(0, 2, 1)", "x.view(x.size(0), x.size(2), x.size(1))")
SEED_004 = ("x.transpose(1, 2)", "x.permute(0, 2, 1)", "x.view(32, 768, 128)")
PRESETS = {
    "permute: tokens and features swap places": "x.permute(0, 2, 1)",
    "view to the swapped shape (right shape, scrambled)": "x.view(x.size(0), x.size(2), x.size(1))",
    "permute, then view (fails: not contiguous)": "x.permute(0, 2, 1)\nx.view(x.size(0), -1)",
    "permute, then reshape (copies)": "x.permute(0, 2, 1)\nx.reshape(x.size(0), -1)",
    "split the tokens into 2 groups (seed 000)": "x.reshape(x.size(0), 2, -1)",
    "einops: b (t k) h -> b t (k h)": 'rearrange(x, "b (t k) h -> b t (k h)", t=2)',
    "flatten, then unflatten": "x.flatten(1)\nx.unflatten(1, (x.size(1) // 2, -1))",
    "take the last token": "x[:, -1, :]",
    "F.pad: two padding tokens": "F.pad(x, (0, 0, 0, 2))",
    "mean over tokens (aggregates)": "x.mean(dim=1)",
    "unsqueeze, expand, squeeze": "x.unsqueeze(1)\nx.expand(-1, 2, -1, -1)\nx[:, 0]",
}
ERROR_EXAMPLES = {
    "Conv1d channels (seed 004)": (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 42, in <module>\n'
        "    conv_output = conv1d(bert_output)\n"
        '  File "/usr/lib/python3/site-packages/torch/nn/modules/conv.py", line 375, in forward\n'
        "    return self._conv_forward(input, self.weight, self.bias)\n"
        "RuntimeError: Given groups=1, weight of size [512, 768, 3], expected input[32, 128, 768] to have "
        "768 channels, but got 128 channels instead"
    ),
    "reshape size (seed 000)": "RuntimeError: shape '[32, 16, 6000]' is invalid for input of size 3145728",
    "view after transpose": (
        "RuntimeError: view size is not compatible with input tensor's size and stride (at least one "
        "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
    ),
    "Linear mat1/mat2": "RuntimeError: mat1 and mat2 shapes cannot be multiplied (32x98304 and 768x2)",
}
LAYER_CHOICES = ("no layer", "Conv1d: channels at dim 1", "Linear / LSTM: features last")
ROLE_ICONS = {
    "failing": ":red[:material/cancel:]",
    "wrong": ":orange[:material/warning:]",
    "fixed": ":green[:material/check_circle:]",
}
COLUMN_WIDTH = {1: 760, 2: 420, 3: 270}  # px of a grid in compare / explain columns
MEMORY_BADGES = {
    "source": ("the input", "gray"),
    "view": ("view of the same memory", "blue"),
    "copy": ("copied: new memory", "orange"),
    "new": ("new tensor (computed)", "violet"),
}


@dataclass(frozen=True)
class LabSource:
    """What x is: its shape, axis names, token labels and real values (BERT) or None (synthetic)."""

    shape: tuple[int, ...]
    names: tuple[str, ...] | None = None
    token_labels: tuple[tuple[str, ...], ...] | None = None
    values: np.ndarray | None = None
    description: str = ""


DEFAULTS: dict[str, object] = {
    "lab_mode": MODES[0],
    "lab_shape": "2, 4, 6",
    "lab_texts": "The movie was great\nI did not like it",
    "lab_tokens": 6,
    "lab_features": 8,
    "lab_steps": "x.permute(0, 2, 1)",
    "lab_memory": True,
    "lab_n": 3,
    "lab_layer_size": 768,
    **{f"lab_chain_{k}": v for k, v in zip(LABELS, DEFAULT_CHAINS)},
}


def mode_label(mode: str) -> str:
    return f"{MODE_ICONS.get(mode, '')} {mode}"


def init_state() -> None:
    """Widget defaults live in session state (so buttons can load presets without a default clash)."""
    for k, v in DEFAULTS.items():
        st.session_state.setdefault(k, v)


def load_link() -> None:
    """A lesson or share link (``?spec=...``) opens its source and expression steps in Lineage mode, once."""
    raw = st.query_params.get(PARAM)
    if not raw or st.session_state.get("lab_link") == raw:
        return
    st.session_state["lab_link"] = raw
    try:
        spec = spec_from_query({PARAM: raw})
    except SpecError as e:
        st.session_state["lab_link_note"] = ("warning", f"The link could not be opened: {e}")
        return
    steps: list[str] = []
    for step in spec.steps:
        if not isinstance(step, str):
            break
        steps.append(step)
    values: dict[str, object] = {"lab_mode": MODES[0], "lab_steps": "\n".join(steps) or "x", "lab_preset": "—"}
    if spec.shape is not None:
        values.update(lab_source="a synthetic tensor", lab_shape=", ".join(map(str, spec.shape)))
        what = f"x of shape {fmt(spec.shape)}"
    else:
        values.update(lab_source="a real BERT output", lab_texts="\n".join((spec.texts or ())[:3]))
        values["lab_checkpoint"] = spec.checkpoint
        what = f"{len(spec.texts or ())} text(s) through `{spec.checkpoint}`"
    _set(**values)
    note = f"Opened from a link: {what}, {len(steps)} expression step(s)."
    skipped = len(spec.steps) - len(steps)
    if skipped:
        note += (
            f" The lab traces expression steps only: the {skipped} step(s) from the first layer step on are left "
            "out (the Pipeline Explorer runs them)."
        )
    if spec.texts and str(spec.pooling) != "none":
        note += " Pooling is not applied here: the lab starts from the token vectors."
    st.session_state["lab_link_note"] = ("info", note)


def link_note() -> None:
    kind, text = st.session_state.get("lab_link_note", ("", ""))
    if text and st.session_state.get("lab_link") == st.query_params.get(PARAM):
        (st.warning if kind == "warning" else st.info)(text)


def _set(**values: object) -> None:
    for k, v in values.items():
        st.session_state[k] = v


def fmt(shape: tuple[int, ...] | None) -> str:
    """``(2, 6, 4)``; ``(5,)`` for one dim."""
    if shape is None:
        return "—"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# ------------------------------------------------------------------------------------------------ source


def source_section() -> LabSource | None:
    """The 'x' picker: a synthetic tensor of a typed shape, or a slice of a real BERT output."""
    c1, c2, c3 = st.columns([1.2, 2.2, 1.6])
    kind = c1.radio(
        "x is",
        ("a synthetic tensor", "a real BERT output"),
        key="lab_source",
        help="Synthetic: the numbers don't matter, only where each element goes. BERT: a few tokens × a few "
        "features of the last hidden state, so the grid stays readable.",
    )
    if kind == "a synthetic tensor":
        text = c2.text_input(
            "Shape of x",
            key="lab_shape",
            help="e.g. 2, 4, 6 = (batch, tokens, hidden). Shapes over 512 elements are drawn as a small "
            "analogue with the same pattern, e.g. (32, 128, 768) as (2, 4, 6).",
        )
        try:
            shape = parse_shape_text(text)
        except ValueError as e:
            c2.error(str(e))
            return None
        c3.caption(f"x: {math.prod(shape):,} elements; (batch, tokens, hidden) = (b, l, h) for 3 dims")
        return LabSource(shape)
    return _bert_source(c2, c3)


def _bert_source(c2: Any, c3: Any) -> LabSource | None:
    from core.model.encoding import encode
    from ui.common import load_or_stop, model_sidebar

    name, device, half = model_sidebar("lab")
    texts_raw = c2.text_area("Texts (one per line, up to 3)", key="lab_texts", height=80)
    tokens = c3.slider("Tokens", 2, 12, key="lab_tokens")
    features = c3.slider("Features", 2, 12, key="lab_features")
    texts = [t.strip() for t in (texts_raw or "").splitlines() if t.strip()][:3]
    if not texts:
        st.error("Type at least one text.")
        return None
    ckpt = load_or_stop(name, device, half)
    enc = encode(ckpt, texts, max_length=64)
    full = enc.hidden_states[-1]
    part = full[:, :tokens, :features].float().cpu().contiguous()
    labels = tuple(tuple(row[: part.shape[1]]) for row in enc.tokens)
    weights = "real weights" if ckpt.info.real_weights else "random weights: real shapes, meaningless values"
    desc = (
        f"x: the last hidden state of `{ckpt.info.id}` ({weights}) has shape {fmt(tuple(full.shape))}; the lab "
        f"takes its first {part.shape[1]} tokens × first {part.shape[2]} features: {fmt(tuple(part.shape))}. "
        "Hover a cell for its token and value."
    )
    return LabSource(tuple(part.shape), ("b", "l", "h"), labels, part.numpy(), desc)


# ----------------------------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class RealStage:
    """A drawn stage's facts at the real size (when the drawing is a scaled-down analogue)."""

    text: str
    layout: tuple[tuple[int, ...], tuple[int, ...]]
    einops: EinopsEquivalent | None


def real_stage(plan: DrawPlan, chain: int, index: int) -> RealStage | None:
    if not plan.scaled:
        return None
    try:
        return RealStage(
            plan.full_sources[chain][index], plan.full_layouts[chain][index], plan.full_einops[chain][index]
        )
    except IndexError:
        return None


def _einops_md(eq: EinopsEquivalent | None) -> str:
    if eq is None:
        return ""
    return f"`{eq.code}`" if eq.exists else html.escape(eq.code)


def _facts(stage: LineageStage, real: RealStage | None) -> str:
    shape = f"`{fmt(stage.shape)}`"
    strides = f"`{fmt(stage.strides)}`"
    if real is not None:
        shape = f"`{fmt(tuple(real.layout[0]))}` (drawn {shape})"
        strides = f"`{fmt(tuple(real.layout[1]))}` (drawn {strides})"
    lines = [
        f"**shape** {shape}",
        f"**strides** {strides}",
        f"**contiguous** {'yes ✓' if stage.contiguous else 'no ✗ (memory order ≠ reading order)'}",
    ]
    eq = real.einops if real is not None and real.einops is not None else stage.einops
    if eq is not None:
        lines.append(f"**einops** {_einops_md(eq)}")
    return "  \n".join(lines)


def _title(stage: LineageStage, real: RealStage | None) -> tuple[str, str]:
    """(the op as written at the real size, a 'drawn as' note when the drawn op reads differently)."""
    if stage.index == 0:
        return "x", ""
    text = real.text if real is not None else stage.source
    return text, (f"drawn as `{stage.source}`" if text != stage.source else "")


def stage_block(
    stage: LineageStage,
    src: LabSource,
    real: RealStage | None = None,
    show_memory: bool = True,
    key: str = "",
    highlight: tuple[tuple[int, ...], ...] = (),
) -> None:
    """One stage: the grid, its facts (shape, strides, contiguity, memory, einops) and the memory strips."""
    with st.container(border=True):
        text, drawn = _title(stage, real)
        label, color = MEMORY_BADGES[stage.memory]
        head = "**x** — the input" if stage.index == 0 else f"**{stage.index}.** `{text}` — {stage.description}"
        st.markdown(f"{head} &nbsp; :{color}-badge[{label}]" + (f"  \n:gray[{drawn}]" if drawn else ""))
        left, right = st.columns([3, 2])
        with left:
            fig = stage_figure(
                stage, token_labels=src.token_labels, values=src.values, highlight=highlight, max_width=520
            )
            st.plotly_chart(fig, width="content", key=f"{key}grid{stage.index}", config={"displayModeBar": False})
        with right:
            st.markdown(_facts(stage, real))
            if stage.memory == "copy":
                st.caption("New memory (its data_ptr differs from the stage before): the elements were copied.")
            elif stage.memory == "view" and stage.shares_source_memory:
                st.caption("Same memory as the input (same data_ptr); only shape/strides changed.")
        if show_memory and stage.numel:
            st.plotly_chart(
                memory_figure(stage), width="content", key=f"{key}mem{stage.index}", config={"displayModeBar": False}
            )


def failure_block(lin: Lineage, plan: DrawPlan, src: LabSource, key: str = "") -> None:
    """The failing step: torch's message, the explanation, the fix and, for view, the reshape that copies."""
    err = lin.error
    if err is None:
        return
    where = f"step {err.line + 1} `{err.op_source}`"
    shape = f" on {fmt(err.input_shape)}" if err.input_shape is not None else ""
    kind = "is refused" if err.refused else "fails"
    real = plan.full_errors[0] if plan.scaled and plan.full_errors else ""
    if real and real != err.message:
        st.error(f"**Step {err.line + 1} `{plan.chains[0][err.line]}` {kind}:** {real}")
        st.caption(f"On the drawn analogue: {where}{shape}: {err.message}")
    else:
        st.error(f"**{where} {kind}{shape}:** {err.message}")
    if err.explanation:
        st.markdown(f"**Why:** {err.explanation}")
    if err.fix:
        st.info(f"**Fix:** {err.fix}")
    if err.alternative:
        steps = [*lin.steps[: err.line], *err.alternative]
        alt = trace_lineage(plan.drawn_shape, steps, names=src.names)
        if alt.ok:
            st.markdown(
                f"**With `.reshape` instead** (`{err.alternative[0]}`): reshape cannot make a view either, so it "
                "**copies** the elements into reading order. The copy has new memory (a different data_ptr), and "
                "its memory strip now matches the reading order."
            )
            first_new = next((s for s in alt.stages if s.line >= err.line), None)
            for s in alt.stages:
                if first_new is not None and s.index >= first_new.index:
                    stage_block(s, src, None, True, key=f"{key}alt")  # drawn sizes: the copy is what matters


def _message(plan: DrawPlan, chain: int, drawn: str) -> str:
    """The failing step's message at the real size (the drawn analogue's in brackets when it differs)."""
    real = plan.full_errors[chain] if plan.scaled and chain < len(plan.full_errors) else ""
    return f"{real} (drawn: {drawn})" if real and real != drawn else drawn


def _real_layouts(plan: DrawPlan, chain: int) -> tuple:
    return plan.full_layouts[chain] if plan.scaled and chain < len(plan.full_layouts) else ()


# -------------------------------------------------------------------------------------------- lineage mode


def _load_preset() -> None:
    choice = st.session_state.get("lab_preset")
    if choice in PRESETS:
        _set(lab_steps=PRESETS[choice])


def lineage_mode(src: LabSource) -> None:
    left, right = st.columns([3, 2])
    steps_text = left.text_area(
        "Steps (one per line; each line's x is the result of the line before)",
        key="lab_steps",
        height=110,
        help="The safe expression language: reshape, view, permute, transpose, flatten, unflatten, "
        "(un)squeeze, indexing, F.pad, mean/sum/amax, chunk/split, expand/repeat, cat/stack, "
        'rearrange(x, "...") and reduce(x, "...", "mean").',
    )
    right.selectbox("Start from an example", ("—", *PRESETS), key="lab_preset", on_change=_load_preset)
    c1, c2 = right.columns(2)
    predict = c1.toggle("Predict first", key="lab_predict", help="Hide the result until you type your guess.")
    show_memory = c2.toggle("Memory strips", key="lab_memory", help="Each stage's memory in address order.")
    steps = [line for line in (steps_text or "").splitlines() if line.strip()]
    plan = plan_drawing(src.shape, [steps])
    if not plan.ok:
        st.warning(plan.note)
        return
    if plan.scaled:
        drawn = " · ".join(f"`{s}`" for s in plan.drawn_sources[0]) if plan.drawn_sources else ""
        st.info(plan.note + (f" Drawn steps: {drawn}" if drawn else ""))
    lin = trace_lineage(plan.drawn_shape, plan.drawn_chains[0], names=src.names)
    real = _real_layouts(plan, 0)
    st.caption(colour_key(src.shape))
    final_shape = tuple(real[-1][0]) if real else lin.final.shape
    stages = list(lin.stages)
    if predict and len(stages) > 1:
        guess = st.text_input(
            "Your guess: the shape after the last step", key="lab_guess", placeholder="e.g. 2, 6, 4"
        ).strip()
        if not guess:
            st.info("Predict first: type the shape you expect, then the result appears.")
            stages = stages[:1]
        else:
            try:
                guessed = parse_shape_text(guess)
            except ValueError as e:
                st.warning(str(e))
                stages = stages[:1]
            else:
                if lin.error is not None:
                    st.warning(f"Trick question: a step fails, so there is no final shape. You guessed {fmt(guessed)}.")
                elif guessed == final_shape:
                    st.success(f"Right: {fmt(final_shape)}.")
                else:
                    st.error(f"Not quite: you guessed {fmt(guessed)}, the result is {fmt(final_shape)}.")
    for s in stages:
        stage_block(s, src, real_stage(plan, 0, s.index), show_memory, key="lin")
    if len(stages) == len(lin.stages):
        failure_block(lin, plan, src, key="linfail")


# -------------------------------------------------------------------------------------------- compare mode


def _load_seed_004() -> None:
    _set(
        lab_source="a synthetic tensor",
        lab_shape="32, 128, 768",
        lab_n=3,
        lab_chain_A=SEED_004[0],
        lab_chain_B=SEED_004[1],
        lab_chain_C=SEED_004[2],
        lab_layer=LAYER_CHOICES[1],
        lab_layer_size=768,
    )


def _layer_check(c1: Any, c2: Any) -> LayerCheck | None:
    choice = c1.selectbox("Then a layer reads the result", LAYER_CHOICES, key="lab_layer")
    if choice == LAYER_CHOICES[0]:
        return None
    size = int(c2.number_input("its input size", 1, 100_000, key="lab_layer_size"))
    if choice == LAYER_CHOICES[1]:
        return LayerCheck(f"Conv1d(in_channels={size})", 1, size, (2, 3), unbatched_dim=0)
    return LayerCheck(f"Linear(in_features={size})", -1, size)


@st.cache_data(max_entries=64, show_spinner=False)
def _verdict(shape: tuple[int, ...], a: tuple, b: tuple, labels: tuple[str, str]) -> Verdict:
    return compare_chains(shape, list(a), list(b), labels)


def verdict_for(plan: DrawPlan, i: int, j: int, labels: tuple[str, str]) -> Verdict:
    """On the real shape when small enough, else on the drawn analogue (said in the verdict)."""
    if math.prod(plan.shape) <= MAX_VERDICT_NUMEL:
        return _verdict(plan.shape, plan.chains[i], plan.chains[j], labels)
    v = _verdict(plan.drawn_shape, plan.drawn_sources[i], plan.drawn_sources[j], labels)
    return Verdict(**{**v.__dict__, "scaled": True})


def verdict_banner(v: Verdict) -> None:
    text = f"**{v.headline}** — {v.detail}"
    if v.scaled:
        text += f" (computed on the drawn {fmt(v.on_shape)} analogue)"
    if v.kind == "identical":
        st.success(text, icon=":material/check_circle:")
    elif v.kind == "same_shape_different_data":
        st.error(text, icon=":material/warning:")
    else:
        st.warning(text, icon=":material/info:")
    if v.memory:
        st.caption(v.memory)


def _diff_table(a: LineageStage, b: LineageStage, la: str, lb: str, limit: int = 6) -> None:
    cells = differing_cells(a, b)
    if not cells:
        return
    rows = []
    for cell in cells[:limit]:
        rows.append(
            {
                "cell": fmt(cell),
                f"{la} has": _src_text(a.source_index(cell), a.origin_at(cell)),
                f"{lb} has": _src_text(b.source_index(cell), b.origin_at(cell)),
            }
        )
    st.markdown(f"**Cell by cell ({lb} vs {la}, drawn tensor)** — {len(cells)} of {a.numel} cells differ:")
    st.dataframe(rows, hide_index=True, width="content")


def _src_text(idx: tuple[int, ...] | None, code: int) -> str:
    if idx is None:
        return "padding" if code == -1 else "mixed"
    return "x[" + ", ".join(map(str, idx)) + "]"


def compare_mode(src: LabSource) -> None:
    c0, c1, c2, c3, c4 = st.columns([1.6, 2, 0.9, 0.8, 1.1], vertical_alignment="bottom")
    c0.button(
        "Load seed 004",
        on_click=_load_seed_004,
        key="lab_seed004",
        icon=":material/science:",
        help="The article's three fixes before Conv1d(768, 512, 3) on a (32, 128, 768) BERT output: "
        "transpose, permute and view(32, 768, 128).",
        width="stretch",
    )
    check = _layer_check(c1, c2)
    n = c3.radio("Chains", (2, 3), horizontal=True, key="lab_n")
    all_stages = c4.toggle("Every stage", key="lab_all_stages", help="Draw the intermediate stages too.")
    cols = st.columns(n)
    chains: list[list[str]] = []
    for i in range(n):
        with cols[i]:
            text = st.text_area(f"Chain {LABELS[i]}", key=f"lab_chain_{LABELS[i]}", height=68)
            chains.append([line for line in (text or "").splitlines() if line.strip()])
    plan = plan_drawing(src.shape, chains)
    if not plan.ok:
        st.warning(plan.note)
        return
    if plan.scaled:
        st.caption(plan.note)
    lins = [trace_lineage(plan.drawn_shape, d, names=src.names) for d in plan.drawn_chains]
    for j in range(1, n):
        verdict_banner(verdict_for(plan, 0, j, ("A", LABELS[j])))
    st.caption(colour_key(src.shape, short=True))
    first_diff: dict[int, tuple[tuple[int, ...], ...]] = {}
    for j in range(1, n):
        cells = differing_cells(lins[0].final, lins[j].final) if lins[0].ok and lins[j].ok else ()
        if cells:
            first_diff[j] = (cells[0],)
            first_diff.setdefault(0, (cells[0],))
    cols = st.columns(n)
    for i in range(n):
        with cols[i]:
            lin = lins[i]
            real = _real_layouts(plan, i)
            stages = lin.stages if all_stages else lin.stages[-1:]
            for s in stages:
                _compact_stage(s, src, real_stage(plan, i, s.index), first_diff.get(i, ()), f"c{i}", n)
            if lin.error is not None:
                e = lin.error
                st.error(f"`{e.op_source}` {'is refused' if e.refused else 'fails'}: {_message(plan, i, e.message)}")
                if e.fix:
                    st.caption(f"Fix: {e.fix}")
            elif check is not None:
                final = tuple(real[-1][0]) if real else lin.final.shape
                ok, why = check.check(final)
                (st.success if ok else st.warning)(why)
    for j in range(1, n):
        if j in first_diff:
            _diff_table(lins[0].final, lins[j].final, "A", LABELS[j])


def _compact_stage(
    stage: LineageStage,
    src: LabSource,
    real: RealStage | None,
    highlight: tuple[tuple[int, ...], ...],
    key: str,
    columns: int = 3,
) -> None:
    shape = fmt(tuple(real.layout[0])) if real is not None else fmt(stage.shape)
    text, drawn = _title(stage, real)
    head = "x (input)" if stage.index == 0 else f"`{text}`"
    contiguous = "contiguous" if stage.contiguous else "not contiguous"
    label, color = MEMORY_BADGES[stage.memory]
    st.markdown(f"{head} → **{shape}** · {contiguous} · :{color}-badge[{label}]")
    hl = highlight if stage.index and highlight and stage.shape and len(highlight[0]) == len(stage.shape) else ()
    width = COLUMN_WIDTH.get(columns, 270)
    fig = stage_figure(
        stage, token_labels=src.token_labels, values=src.values, highlight=hl, max_width=width, max_height=330
    )
    st.plotly_chart(fig, width="content", key=f"{key}g{stage.index}", config={"displayModeBar": False})
    eq = real.einops if real is not None and real.einops is not None else stage.einops
    notes = [drawn] if drawn else []
    if eq is not None:
        notes.append(f"einops: {_einops_md(eq)}")
    if notes:
        st.caption("  \n".join(notes))


# -------------------------------------------------------------------------------------------- explain mode


def explain_mode() -> None:
    st.markdown("Paste a PyTorch error message, or the whole traceback. Or try one:")
    cols = st.columns(len(ERROR_EXAMPLES))
    for col, (label, text) in zip(cols, ERROR_EXAMPLES.items()):
        col.button(label, key=f"lab_ex_{label}", on_click=_set, kwargs={"lab_error": text}, width="stretch")
    text = st.text_area(
        "Error message or traceback",
        key="lab_error",
        height=160,
        placeholder="RuntimeError: Given groups=1, weight of size [512, 768, 3], expected input[32, 128, 768] "
        "to have 768 channels, but got 128 channels instead",
    )
    if not (text or "").strip():
        return
    lab = build_error_lab(text)
    e = lab.explanation
    if e.recognized:
        st.success(f"**Recognized:** {KINDS.get(e.kind, e.kind)}")
    else:
        st.warning("**Not recognized.** " + e.explanation)
        st.info(f"**Tip:** {e.fix}")
        return
    if e.message:
        st.code(e.message, language=None, wrap_lines=True)
    st.markdown(f"**Why:** {e.explanation}")
    st.info(f"**Fix:** {e.fix}")
    if lab.note:
        st.caption(lab.note)
    if not lab.chains or lab.shape is None:
        return
    st.subheader("See it on a synthetic tensor")
    st.caption(f"x: {lab.shape_note}.")
    plan = plan_drawing(lab.shape, [c.steps for c in lab.chains])
    if not plan.ok:
        st.warning(plan.note)
        return
    if plan.scaled:
        st.info(plan.note.replace("Shapes, strides", "Small scaled-down sizes for drawing; shapes, strides"))
    fixed = next((i for i, c in enumerate(lab.chains) if c.role == "fixed"), None)
    src = LabSource(plan.drawn_shape)
    lins = [trace_lineage(plan.drawn_shape, d) for d in plan.drawn_chains]
    st.caption(colour_key(plan.drawn_shape, short=True))
    cols = st.columns(len(lab.chains))
    for i, (chain, lin) in enumerate(zip(lab.chains, lins)):
        with cols[i]:
            icon = ROLE_ICONS[chain.role]
            st.markdown(f"{icon} **{chain.label}**")
            st.code("\n".join(chain.steps), language="python")
            if chain.note:
                st.caption(chain.note)
            real = _real_layouts(plan, i)
            hl: tuple[tuple[int, ...], ...] = ()
            if fixed is not None and chain.compare and lins[fixed].ok and lin.ok:
                cells = differing_cells(lins[fixed].final, lin.final)
                hl = cells[:1]
            _compact_stage(lin.final, src, real_stage(plan, i, lin.final.index), hl, f"e{i}", len(lab.chains))
            if lin.error is not None:
                err = lin.error
                st.error(f"fails: {_message(plan, i, err.message)}")
            elif chain.layer is not None:
                final = tuple(real[-1][0]) if real else lin.final.shape
                ok, why = chain.layer.check(final)
                (st.success if ok else st.warning)(why)
            if fixed is not None and chain.compare and i != fixed:
                verdict_banner(verdict_for(plan, fixed, i, ("the fix", chain.label)))
