"""Pipeline Explorer outputs: the header, the tokens panel, the error and findings panels (with Apply fix)
and the share & export box. The tables are in ``tables.py``, the live charts of the real numbers in ``live.py``.
"""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from core.diagnosis.titles import finding_title
from core.export import share
from core.fixes import Fix
from core.spec import Spec, step_source
from ui.pipeline.paste import apply_fix_everywhere
from ui.safe_text import code, markdown, text

# ------------------------------------------------------------------------------------------- apply fix


def _apply(spec_dict: dict[str, Any], fix: Fix) -> None:
    """Edit the pipeline (and the pasted code, when the pipeline came from it)."""
    apply_fix_everywhere(spec_dict, fix)


def apply_fix_button(spec_dict: dict[str, Any], fix: Fix, key: str, primary: bool = True) -> None:
    st.button(
        "Apply fix",
        key=key,
        icon=":material/auto_fix_high:",
        type="primary" if primary else "secondary",
        on_click=_apply,
        args=(spec_dict, fix),
        help=markdown(fix.description),
    )


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
            st.caption(text(info.label))
    elif spec is not None and spec.shape is not None:
        st.caption(f"Synthetic source: torch.randn{tuple(spec.shape)} read as (batch, tokens, hidden) · no model")


def tokens_panel(enc: Any, limit_texts: int = 8, limit_tokens: int = 160) -> None:
    """Word pieces per text with their ids; padding greyed; truncation reported. No text below 12 px (ids
    included; presenter mode zooms the whole block 1.3×)."""
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
                f"<span style='font-size:12px;opacity:.75'>{tid}</span></span>"
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
        "<div style='font-size:12px;color:#6c757d;margin-top:2px'>small number = token id · "
        "<span style='color:#1864ab'>blue</span> = special token · dashed grey = padding (attention mask 0)</div>"
    )
    st.html("".join(rows) + legend)


def error_panel(err: Any, spec_dict: dict[str, Any]) -> None:
    """torch's own message, the explanation, the fix and the Apply fix button."""
    where = f"Step {err.step_index + 1}" if err.step_index is not None else "A step"
    axes = f" — {' · '.join(err.input_axes)}" if err.input_axes else ""
    shape = f" on input `{tuple(err.input_shape)}`{axes}" if err.input_shape is not None else ""
    refused = err.kind in ("refused", "stopped", "out_of_memory")
    verb = {
        "refused": "was refused (the steps before it ran)",
        "stopped": "was stopped at the server's time limit (the steps before it ran)",
        "out_of_memory": "ran out of memory",
    }.get(err.kind, "failed")
    with st.container(border=True, key="pl_error"):
        st.error(f"**{where} {verb}:** {code(err.step)}{shape if not refused else ''}", icon=":material/error:")
        st.code(err.message, language=None, wrap_lines=True)
        if err.explanation:
            st.markdown(f"**Why:** {markdown(err.explanation)}")
        if err.fix is not None:
            st.markdown(f"**Fix:** {markdown(err.fix.description)}")
            apply_fix_button(spec_dict, err.fix, key="pl_fix_error")
        else:
            st.caption("No automatic fix for this one; the explanation says what to change.")


def findings_panel(trace: Any, spec_dict: dict[str, Any]) -> None:
    """Warnings (runs but probably means the wrong thing) and notes under a human title, each with Apply fix
    when possible (the button below its message, so it never shrinks to "A…" in a narrow column)."""
    for n, f in enumerate(trace.warnings):
        where = f"Step {f.step_index + 1}: " if f.step_index is not None else ""
        body = f"**{finding_title(f.code)}** — {where}{markdown(f.message)}"
        if f.severity == "note":
            st.info(body, icon=":material/info:")
        else:
            st.warning(body, icon=":material/warning:")
        if f.fix is not None:
            apply_fix_button(spec_dict, f.fix, key=f"pl_fix_w{n}", primary=False)


def code_span(value: str) -> str:
    """Markdown inline code that user text cannot break out of (``ui.safe_text.code``)."""
    return code(value)


def where_to_fix(problem: Exception, synthetic: bool) -> str:
    """Where to change what a refused spec complains about: the sidebar for its source, else the steps."""
    text = str(problem)
    if text.startswith(("'shape'", "the synthetic shape")) or (synthetic and "shape" in text.split(":")[0]):
        return "Change the shape of torch.randn in the sidebar (Input), or press Reset."
    if text.startswith(("'texts'", "'max_length'", "type at least one text")):
        return "Change the texts or the max length in the sidebar (Input), or press Reset."
    return "Edit or remove the step in the editor, or press Reset."


def step_caption(step: Any) -> str:
    return step_source(step)


# --------------------------------------------------------------------------------------- share / export


def share_url(page_url: str, spec: Spec) -> str:
    """The link that opens ``spec`` in the Pipeline Explorer: ``http://room-address/pipeline?spec=…``.

    The room's address when students can reach this server (never ``localhost``), else this page's own URL.
    Old links to the root (``/?spec=…``) still open the Explorer: the Overview forwards them.
    """
    from ui import room

    query = f"{share.PARAM}={share.encode_spec(spec)}"
    link = room.room_link(f"pipeline?{query}")
    if link is not None:
        return link
    base = page_url.split("?")[0].split("#")[0].rstrip("/")
    if not base.endswith("/pipeline"):
        base = base + "/pipeline" if base else "pipeline"
    return f"{base}?{query}"


def share_and_export(spec: Spec, trace: Any, url_problem: str | None) -> None:
    from core.export.codegen import export_script

    box = st.expander(
        "Share & export: link, spec JSON, runnable PyTorch script, PNG",
        icon=":material/ios_share:",
        key="pl_export",
        on_change="rerun",
    )
    if box.open is False:  # lazy: nothing is built until the expander is opened
        return
    with box:
        if url_problem:
            st.warning(markdown(url_problem))
        else:
            link = share_url(getattr(st.context, "url", None) or "", spec)
            st.caption("The page URL always holds this pipeline; copy it (or this link) to share it.")
            st.code(link, language=None, wrap_lines=True)
        script = export_script(spec, trace)
        row = st.container(horizontal=True, gap="small")
        row.download_button(
            "pipeline.py",
            script,
            file_name="pipeline.py",
            mime="text/x-python",
            icon=":material/download:",
            on_click="ignore",
            key="pl_dl_py",
        )
        row.download_button(
            "spec.json",
            spec.to_json(),
            file_name="spec.json",
            mime="application/json",
            icon=":material/download:",
            on_click="ignore",
            key="pl_dl_json",
        )
        st.code(script, language="python", line_numbers=False)
        if st.toggle("Shape flow as a chart, to save as PNG", key="pl_flow_chart"):
            from core.figures.pipeline import shape_flow

            st.plotly_chart(
                shape_flow(trace.stages, trace.error),
                key="pl_flow",
                config={
                    "displaylogo": False,
                    "toImageButtonOptions": {"format": "png", "filename": "shape_flow", "scale": 2},
                },
            )
            st.caption("The camera icon in the chart's toolbar saves it as a PNG (drawn by your browser).")
