"""Reshape Lab, Lineage mode: steps one per line, every stage drawn with where each element came from."""

from __future__ import annotations

import streamlit as st

from core.figures.lineage import colour_key
from core.lab.drawing import plan_drawing
from core.lab.lineage import trace_lineage
from core.lab.shape_text import parse_shape_text
from ui.lab.blocks import failure_block, real_layouts, real_stage, stage_block
from ui.lab.source import LabSource, fmt, set_values
from ui.safe_text import code, markdown

PRESETS = {
    "permute: tokens and features swap places": "x.permute(0, 2, 1)",
    "view to the swapped shape (right shape, scrambled)": "x.view(x.size(0), x.size(2), x.size(1))",
    "permute, then view (fails: not contiguous)": "x.permute(0, 2, 1)\nx.view(x.size(0), -1)",
    "permute, then reshape (copies)": "x.permute(0, 2, 1)\nx.reshape(x.size(0), -1)",
    "split the tokens into 2 groups (as for LSTM steps)": "x.reshape(x.size(0), 2, -1)",
    "einops: b (t k) h -> b t (k h)": 'rearrange(x, "b (t k) h -> b t (k h)", t=2)',
    "flatten, then unflatten": "x.flatten(1)\nx.unflatten(1, (x.size(1) // 2, -1))",
    "take the last token": "x[:, -1, :]",
    "F.pad: two padding tokens": "F.pad(x, (0, 0, 0, 2))",
    "mean over tokens (aggregates)": "x.mean(dim=1)",
    "unsqueeze, expand, squeeze": "x.unsqueeze(1)\nx.expand(-1, 2, -1, -1)\nx[:, 0]",
}


def _load_preset() -> None:
    choice = st.session_state.get("lab_preset")
    if choice in PRESETS:
        set_values(lab_steps=PRESETS[choice])


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
        st.warning(markdown(plan.note))
        return
    if plan.scaled:
        drawn = " · ".join(code(s) for s in plan.drawn_sources[0]) if plan.drawn_sources else ""
        st.info(markdown(plan.note) + (f" Drawn steps: {drawn}" if drawn else ""))
    lin = trace_lineage(plan.drawn_shape, plan.drawn_chains[0], names=src.names)
    real = real_layouts(plan, 0)
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
                st.warning(markdown(e))
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
