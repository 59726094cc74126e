"""Reshape Lab, Explain an error mode: a pasted torch error or traceback recognised, explained, and replayed
on a synthetic tensor (the failing chain, the tempting wrong fix, the right fix).
"""

from __future__ import annotations

import streamlit as st

from core.diagnosis.error_lab import build_error_lab
from core.diagnosis.explain import KINDS
from core.figures.lineage import colour_key
from core.lab.compare import differing_cells
from core.lab.drawing import plan_drawing
from core.lab.lineage import trace_lineage
from ui.lab.blocks import compact_stage, real_layouts, real_stage, step_message, verdict_banner, verdict_for
from ui.lab.source import LabSource, set_values
from ui.safe_text import markdown

ERROR_EXAMPLES = {
    "Conv1d channels (BERT output into a Conv1d)": (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 42, in <module>\n'
        "    conv_output = conv1d(bert_output)\n"
        '  File "/usr/lib/python3/site-packages/torch/nn/modules/conv.py", line 375, in forward\n'
        "    return self._conv_forward(input, self.weight, self.bias)\n"
        "RuntimeError: Given groups=1, weight of size [512, 768, 3], expected input[32, 128, 768] to have "
        "768 channels, but got 128 channels instead"
    ),
    "reshape size (128 tokens into 16 LSTM steps)": (
        "RuntimeError: shape '[32, 16, 6000]' is invalid for input of size 3145728"
    ),
    "view after transpose": (
        "RuntimeError: view size is not compatible with input tensor's size and stride (at least one "
        "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
    ),
    "Linear mat1/mat2": "RuntimeError: mat1 and mat2 shapes cannot be multiplied (32x98304 and 768x2)",
}
ROLE_ICONS = {
    "failing": ":red[:material/cancel:]",
    "wrong": ":orange[:material/warning:]",
    "fixed": ":green[:material/check_circle:]",
}


def explain_mode() -> None:
    st.markdown("Paste a PyTorch error message, or the whole traceback. Or try one:")
    with st.container(horizontal=True, gap="small"):  # wraps: every example's label stays whole
        for label, text in ERROR_EXAMPLES.items():
            st.button(label, key=f"lab_ex_{label}", on_click=set_values, kwargs={"lab_error": text})
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
        st.warning("**Not recognized.** " + markdown(e.explanation))
        st.info(f"**Tip:** {markdown(e.fix)}")
        return
    if e.message:
        st.code(e.message, language=None, wrap_lines=True)
    st.markdown(f"**Why:** {markdown(e.explanation)}")
    st.info(f"**Fix:** {markdown(e.fix)}")
    if lab.note:
        st.caption(markdown(lab.note))
    if not lab.chains or lab.shape is None:
        return
    st.subheader("See it on a synthetic tensor")
    st.caption(f"x: {markdown(lab.shape_note)}.")
    plan = plan_drawing(lab.shape, [c.steps for c in lab.chains])
    if not plan.ok:
        st.warning(markdown(plan.note))
        return
    if plan.scaled:
        st.info(markdown(plan.note.replace("Shapes, strides", "Small scaled-down sizes for drawing; shapes, strides")))
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
                st.caption(markdown(chain.note))
            real = real_layouts(plan, i)
            hl: tuple[tuple[int, ...], ...] = ()
            if fixed is not None and chain.compare and lins[fixed].ok and lin.ok:
                cells = differing_cells(lins[fixed].final, lin.final)
                hl = cells[:1]
            compact_stage(lin.final, src, real_stage(plan, i, lin.final.index), hl, f"e{i}", len(lab.chains))
            if lin.error is not None:
                err = lin.error
                st.error(f"fails: {markdown(step_message(plan, i, err.message))}")
            elif chain.layer is not None:
                final = tuple(real[-1][0]) if real else lin.final.shape
                ok, why = chain.layer.check(final)
                (st.success if ok else st.warning)(why)
            if fixed is not None and chain.compare and i != fixed:
                verdict_banner(verdict_for(plan, fixed, i, ("the fix", chain.label)))
