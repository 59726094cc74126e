"""Paste code on the Pipeline Explorer: a PyTorch / TensorFlow snippet or an nn.Module becomes the pipeline.

The code is read with ``ast`` by ``core.code_import`` (never run). The Spec it gives is loaded into the step
editor like a shared link, so the imported pipeline is an ordinary one (editable steps, share link, code
export). After the run, every line of the code is shown with the shape after it (the trace's own stage:
shape, axes, warnings); the failing line is highlighted with torch's message, the explanation and the fix.
Apply fix edits the pipeline and writes the fix into the code (``core.code_import.code_fix``).

State: ``pc_code`` the text area, ``pc_import`` the last ``CodeImport``, ``pc_note`` a message for the code
panel (a fix that could not be written into the code), ``pc_lines`` the last annotation of the code against
its own pipeline (kept, and labelled, when the pipeline moves away from the code), ``pc_file_gen`` the
uploader's generation (a new key after each upload lets the uploaded bytes go).
"""

from __future__ import annotations

import html
import re
from typing import Any

import streamlit as st

from core.code_import import CodeImport, CodeRefused, LineStatus, import_code
from core.code_import.annotate import LineShape, annotate
from core.code_import.code_fix import fix_code, fix_text
from core.code_import.guard import MAX_CODE_CHARS
from core.errors import SpecError
from core.fixes import Fix, apply_fix
from core.model.checkpoints import CHECKPOINT_CHOICES
from core.spec import MAX_LENGTH_LIMIT, LayerStep, Spec
from ui.common import OTHER
from ui.pipeline.state import PC_CODE, PC_NOTE, TORCH_DEFAULTS, current_spec_dict, load_spec, remember
from ui.safe_text import code as code_span
from ui.safe_text import markdown

PC_IMPORT, PC_FILE, PC_CHOICE = "pc_import", "pc_file", "pc_checkpoint"
PC_LINES, PC_FILE_GEN, PC_OPEN = "pc_lines", "pc_file_gen", "pc_open"
# A file is refused by its size in bytes before it is read: UTF-8 spends at most 4 bytes a character, so a
# file over 4 × the importer's character limit cannot fit it. The uploader's own limit (whole megabytes) is the
# smallest one that lets every acceptable file through.
MAX_UPLOAD_BYTES = 4 * MAX_CODE_CHARS
UPLOAD_LIMIT_MB = -(-MAX_UPLOAD_BYTES // 1_000_000)
PLACEHOLDER = """import torch
import torch.nn as nn

bert_output = torch.randn(32, 128, 768)
reshaped_output = bert_output.view(32, 768, 128)
conv1d = nn.Conv1d(in_channels=768, out_channels=512, kernel_size=3)
print(conv1d(reshaped_output).shape)"""
_STATUS_CLASS = {
    LineStatus.STAGE: "st",
    LineStatus.NO_EFFECT: "ne",
    LineStatus.NOT_UNDERSTOOD: "nu",
}


# ------------------------------------------------------------------------------------------ callbacks


def _import(override: str | None = None) -> None:
    """Import the text area's code; on success the pipeline becomes the imported one."""
    ss = st.session_state
    ss.pop(PC_NOTE, None)
    ss.pop(PC_LINES, None)
    try:
        result = import_code(str(ss.get(PC_CODE, "")), override)
    except CodeRefused as e:
        ss[PC_IMPORT] = None
        ss["pl_flash"] = ("error", f"The code was refused: {e}")  # the page shows flashes through markdown()
        return
    ss[PC_IMPORT] = result
    if result.spec is None:
        ss["pl_flash"] = ("error", f"Nothing to trace in this code: {result.problem}")
        return
    remember(current_spec_dict(), "Import code")
    load_spec(result.spec.to_dict())
    _pick_checkpoint(result.spec)
    lost = len(result.not_understood)
    tail = f"; {lost} line(s) not understood — see below" if lost else ""
    steps = len(result.spec.steps)
    ss["pl_flash"] = ("info", f"Imported your code: {steps} step(s), every line annotated below{tail}.")


def _pick_checkpoint(spec: Spec) -> None:
    """Point the sidebar's model picker at the imported spec's checkpoint."""
    if not spec.uses_model:
        return
    ss = st.session_state
    name = spec.checkpoint
    ss["model_checkpoint"] = name
    if name in CHECKPOINT_CHOICES:
        ss["model_choice"] = name
    else:
        ss["model_choice"] = OTHER
        ss["model_custom"] = name


def _file_key() -> str:
    return f"{PC_FILE}_{st.session_state.get(PC_FILE_GEN, 0)}"


def _load_file() -> None:
    """Read an uploaded .py into the text area and import it; refused by size before it is read."""
    ss = st.session_state
    key = _file_key()
    upload = ss.get(key)
    if upload is None:
        return
    ss[PC_FILE_GEN] = ss.get(PC_FILE_GEN, 0) + 1  # a fresh uploader next run: this upload's bytes are let go
    ss.pop(key, None)
    text = read_upload(upload.name, upload.size, upload.getvalue)
    if isinstance(text, tuple):
        ss["pl_flash"] = text
        return
    ss[PC_CODE] = text
    _import()


def read_upload(name: str, size: int, read: Any) -> str | tuple[str, str]:
    """An uploaded file's text, or the ``("error", message)`` flash that refuses it.

    ``size`` (bytes) is checked before ``read()`` is called, so a file too large is never read or decoded;
    the text is checked against the importer's character limit (``core.code_import.guard.MAX_CODE_CHARS``)
    and named with its real length.
    """
    if size > MAX_UPLOAD_BYTES:
        return ("error", f"{name} is {size:,} bytes: over the limit of {MAX_CODE_CHARS:,} characters of code. "
                         "Nothing was imported; paste the part with the tensors.")  # fmt: skip
    try:
        text = read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return ("error", f"{name} is not UTF-8 text: nothing was imported.")
    if len(text) > MAX_CODE_CHARS:
        return ("error", f"{name} is {len(text):,} characters long: over the limit of {MAX_CODE_CHARS:,} "
                         "characters of code. Nothing was imported; paste the part with the tensors.")  # fmt: skip
    return text


def _clear() -> None:
    ss = st.session_state
    ss[PC_CODE] = ""
    ss[PC_IMPORT] = None
    ss.pop(PC_NOTE, None)
    ss.pop(PC_LINES, None)


def _choose_checkpoint() -> None:
    _import(st.session_state.get(PC_CHOICE))


def apply_fix_everywhere(spec_dict: dict[str, Any], fix: Fix) -> None:
    """Apply fix: edit the pipeline, and the pasted code when the pipeline is still the imported one."""
    try:
        new = apply_fix(spec_dict, fix)
        Spec.from_dict(new)
    except SpecError as e:
        st.session_state["pl_flash"] = ("error", f"The fix could not be applied: {e}")
        return
    ss = st.session_state
    pasted = {key: ss.get(key) for key in (PC_CODE, PC_IMPORT, PC_NOTE, PC_LINES)}
    load_spec(new, keep_model=True)
    fix_pasted_code(spec_dict, fix)
    # Undo puts the pasted code back too, unless it was edited after the fix
    remember(spec_dict, f"Apply fix ({fix.description})", restore=pasted, expect={PC_CODE: ss.get(PC_CODE)})
    ss["pl_flash"] = ("fixed", fix.description)


def fix_pasted_code(spec_dict: dict[str, Any], fix: Fix) -> None:
    """After a fix was applied to the pipeline: write it into the imported code too (or say why not)."""
    ss = st.session_state
    imported: CodeImport | None = ss.get(PC_IMPORT)
    if imported is None or imported.spec is None or not same_pipeline(spec_dict, imported.spec.to_dict()):
        return
    new = fix_code(imported, fix)
    if new is None:
        ss[PC_NOTE] = (
            f"The fix ({fix_text(imported, fix)}) is applied to the pipeline, but it could not be written into "
            "your code faithfully, so your code is unchanged. The shapes below are your code's as imported, "
            "before the fix; the fixed pipeline runs in the stage table, and its own code is under Share & export."
        )
        return
    ss.pop(PC_LINES, None)
    ss[PC_CODE] = new
    try:
        ss[PC_IMPORT] = import_code(new, imported.checkpoint_override)
    except CodeRefused:  # pragma: no cover - fix_code re-imported it already
        ss[PC_IMPORT] = None
    changed = [n for n, (a, b) in enumerate(zip(imported.source.split("\n"), new.split("\n")), 1) if a != b]
    where = f" (line {changed[0]})" if changed else ""
    ss[PC_NOTE] = f"The fix is written into your code{where} and into the pipeline."


# ------------------------------------------------------------------------------------------- widgets


def paste_panel() -> None:
    """The Paste code box: a text area, a .py upload, Import and Clear; its content is drawn only while
    the box is open (the code outlives a closed box: ``init_state`` keeps it)."""
    with st.expander(
        "Paste your code — a PyTorch or TensorFlow snippet, or an nn.Module class",
        icon=":material/code:",
        key=PC_OPEN,  # open or closed as the visitor left it (`expanded` stays False: it is part of its identity)
        on_change="rerun",
    ) as box:
        if not box.open:  # drawn when opened: the first view loads no text area or file uploader for it
            return
        st.caption(
            "Read with Python's `ast`: nothing you paste is ever run. The real model runs under it, and every "
            "line gets the shape after it."
        )
        st.text_area("Python code", key=PC_CODE, height=240, placeholder=PLACEHOLDER, label_visibility="collapsed")
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.button("Import and trace", key="pc_go", type="primary", icon=":material/play_arrow:", on_click=_import)
            st.button("Clear", key="pc_clear", icon=":material/delete:", on_click=_clear)
        st.file_uploader(
            "…or load a .py file",
            type=["py", "txt"],
            key=_file_key(),
            on_change=_load_file,
            max_upload_size=UPLOAD_LIMIT_MB,
            help=f"Up to {MAX_CODE_CHARS:,} characters of code",
        )


def code_panel(spec: Spec | None, trace: Any) -> None:
    """The imported code, every line annotated with the shape after it; the failing line explained."""
    ss = st.session_state
    imported: CodeImport | None = ss.get(PC_IMPORT)
    if imported is None:
        return
    st.markdown("#### Your code, line by line")
    if ss.get(PC_NOTE):
        st.info(markdown(ss[PC_NOTE]), icon=":material/auto_fix_high:")
    for note in imported.notes:
        st.caption(f":material/info: {markdown(note)}")
    if len(imported.checkpoint_choices) > 1 and imported.spec is not None:
        options = [c for c, _ in imported.checkpoint_choices]
        labels = dict(imported.checkpoint_choices)
        current = imported.spec.checkpoint if imported.spec.checkpoint in options else options[0]
        ss[PC_CHOICE] = current
        st.selectbox(
            f"The code loads {code_span(imported.checkpoint_named)} — run it on",
            options,
            key=PC_CHOICE,
            format_func=lambda c: labels.get(c, c),
            on_change=_choose_checkpoint,
        )
    read_for = imported.spec.checkpoint if imported.spec is not None else None
    if spec is not None and read_for is not None and spec.uses_model and spec.checkpoint != read_for:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.info(
                f"The sidebar now runs **{markdown(spec.checkpoint)}**; the code was read for "
                f"**{markdown(imported.spec.checkpoint)}** (sizes such as `config.hidden_size` come from the "
                "checkpoint).",
                icon=":material/swap_horiz:",
            )
            st.button(
                f"Re-read the code for {spec.checkpoint}",
                key="pc_reread",
                on_click=_import,
                args=(spec.checkpoint,),
            )
    current = spec is not None and imported.spec is not None and same_pipeline(spec.to_dict(), imported.spec.to_dict())
    if imported.spec is None or trace is None or not current:
        kept = ss.get(PC_LINES)
        if imported.spec is not None and not ss.get(PC_NOTE):
            st.info(
                "The pipeline was edited after the import, so it no longer runs your code as written. The shapes "
                "below are your code's as imported"
                + ("" if kept else " (not run yet)")
                + ". Press **Import and trace** to read the code again; the pipeline's own code is under Share "
                "& export.",
                icon=":material/edit_note:",
            )
        shown = kept if kept is not None else [LineShape(n) for n in imported.lines]
        st.html(annotated_html(imported.source, shown, stale=kept is None, fixable=False))  # no Apply fix here
        return
    lines = annotate(imported, trace)
    ss[PC_LINES] = lines  # the last good annotation: kept while the pipeline runs something else
    st.html(annotated_html(imported.source, lines))
    _fix_rows(imported, trace, spec.to_dict())  # type: ignore[union-attr]


def _fix_rows(imported: CodeImport, trace: Any, spec_dict: dict[str, Any]) -> None:
    """One Apply fix per fixable problem, named by the line of the code it is on."""
    items: list[tuple[str, Fix]] = []
    err = trace.error
    if err is not None and err.fix is not None:
        line = imported.step_lines.get(err.step_index)
        items.append((f"Line {line} fails" if line else "A step fails", err.fix))
    for stage in trace.stages:
        for w in stage.warnings:
            if w.fix is not None:
                line = imported.step_lines.get(stage.step_index) if stage.step_index is not None else None
                items.append((f"Line {line}: warning" if line else "Warning", w.fix))
    for n, (where, fix) in enumerate(items):
        cols = st.columns([3, 1], vertical_alignment="center")
        cols[0].markdown(f"**{where}** — fix: {markdown(fix_text(imported, fix))}")
        with cols[1]:
            st.button(
                "Apply fix",
                key=f"pc_fix_{n}",
                icon=":material/auto_fix_high:",
                type="primary" if n == 0 else "secondary",
                on_click=apply_fix_everywhere,
                args=(spec_dict, fix),
                help="Edits the pipeline and writes the fix into your code",
                width="stretch",
            )


def same_pipeline(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two spec dicts that run the same pipeline (the editor drops torch defaults and reorders parameters)."""

    def norm(d: dict[str, Any]) -> Any:
        spec = Spec.from_dict({k: v for k, v in d.items() if k != "title"})
        steps = []
        for s in spec.steps:
            if isinstance(s, LayerStep):
                kept = {k: v for k, v in s.params.items() if TORCH_DEFAULTS.get(k, object()) != v}
                steps.append((s.kind.value, kept, s.input, s.output, s.h0, s.c0))
            else:
                steps.append(" ".join(s.split()))
        length = spec.max_length if spec.max_length is not None else MAX_LENGTH_LIMIT
        return (spec.texts, spec.shape, spec.layer, spec.pooling, spec.seed, length, steps)

    return norm(a) == norm(b)


# --------------------------------------------------------------------------------------------- render

_CSS = """
<style>
.se-code{border:1px solid #dee2e6;border-radius:8px;overflow:hidden;font-size:13px}
.se-code table{border-collapse:collapse;width:100%;table-layout:fixed}
.se-code td{padding:1px 8px;vertical-align:top;border:none}
.se-code td.n{width:34px;color:#adb5bd;text-align:right;font-family:monospace;user-select:none}
.se-code td.c{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;
  word-break:break-word;color:#1f2430}
.se-code td.a{width:38%;font-size:12px;color:#495057;border-left:1px solid #e9ecef}
.se-code tr.st td.n{border-left:3px solid #2b8a3e}
.se-code tr.ne td.n{border-left:3px solid transparent}
.se-code tr.nu td.n{border-left:3px solid #e8590c}
.se-code tr.nu{background:#fff4e6}
.se-code tr.warn{background:#fff9db}
.se-code tr.err{background:#ffe3e3}
.se-code tr.sub td{padding:2px 8px 6px 8px;font-size:12px}
.se-code .shape{font-family:monospace;font-weight:700;color:#1f2430}
.se-code .ax{color:#868e96}
.se-code .muted{color:#adb5bd}
.se-code .bad{color:#c92a2a;font-weight:600}
.se-code .nu-r{color:#d9480f}
.se-code .w{color:#8f5e00}
.se-code .note{color:#868e96}
.se-code code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f3f5;padding:0 3px;
  border-radius:3px;font-size:12px}
</style>
"""


def _code_html(text: str) -> str:
    """Escaped text whose backtick spans (core's messages quote code that way) become ``<code>``."""
    parts = re.split(r"(`+)(.+?)\1", str(text))
    out = []
    for i in range(0, len(parts), 3):
        out.append(html.escape(parts[i]))
        if i + 2 < len(parts):
            out.append(f"<code>{html.escape(parts[i + 2])}</code>")
    return "".join(out)


def _annotation(a: LineShape, stale: bool = False) -> str:
    e = _code_html
    if a.status is LineStatus.NOT_UNDERSTOOD:
        return f"<span class='nu-r'>not understood: {e(a.reason)}</span>"
    if a.status is LineStatus.NO_EFFECT:
        if a.note.what == "print":
            if a.shape is None:
                return "<span class='muted'>prints a value that is not reached</span>"
            return f"<span class='muted'>prints</span> <span class='shape'>{e(str(tuple(a.shape)))}</span>"
        return f"<span class='muted'>{e(a.reason[:90])}</span>"
    if a.error is not None:
        return "<span class='bad'>✗ fails here</span>"
    if a.shape is None and stale:  # not run against this code: say what the line is, not that it was missed
        return f"<span class='muted'>{e(a.reason[:90])}</span>"
    if a.shape is None:
        return f"<span class='muted'>{e(a.extras or 'not reached')}</span>"
    lead = {"tokens": "input_ids, attention_mask ", "layer": "builds the layer → ", "part": "part of the pooling → ",
            "state": "final state "}.get(a.note.what, "→ ")  # fmt: skip
    if a.note.what == "tokens" and not a.reason.startswith("tokenizes"):
        lead = a.reason.split(":")[0] + " "  # the one name the line binds: attention_mask, input_ids, lengths
    axes = f" <span class='ax'>{e(' · '.join(a.axes))}</span>" if a.axes else ""
    extra = f"<br><span class='ax'>{e(a.extras)}</span>" if a.extras else ""
    return f"{e(lead)}<span class='shape'>{e(str(tuple(a.shape)))}</span>{axes}{extra}"


def _details(a: LineShape, fixable: bool = True) -> list[str]:
    e = _code_html
    out = []
    if a.error is not None:
        out.append(f"<span class='bad'>torch: {e(a.error['message'])}</span>")
        if a.error.get("explanation"):
            out.append(f"<b>Why:</b> {e(a.error['explanation'])}")
        if a.error.get("fix"):
            out.append(f"<b>Fix:</b> {e(a.error['fix'])}" + (" — press <b>Apply fix</b> below" if fixable else ""))
    out += [f"<span class='w'>⚠ {e(w)}</span>" for w in a.warnings]
    out += [f"<span class='note'>↳ {e(n)}</span>" for n in a.note.notes]
    return out


def annotated_html(source: str, lines: list[LineShape], stale: bool = False, fixable: bool = True) -> str:
    """The code as an HTML table: line number, code, and the shape after each statement (on its last line).

    ``stale``: the lines were not run against this code (the pipeline was edited before any run): a line
    without a shape says what it is instead of "not reached". ``fixable``: the page shows this run's Apply fix
    buttons under the code (False for the last annotation kept while the pipeline runs something else).
    """
    text = source.replace("\r\n", "\n").split("\n")
    while text and not text[-1].strip():
        text.pop()
    cover: dict[int, LineShape] = {}
    for a in lines:
        for n in range(a.line, a.end_line + 1):
            cover.setdefault(n, a)
    rows = []
    for n, code in enumerate(text, 1):
        a = cover.get(n)
        cls = _STATUS_CLASS.get(a.status, "ne") if a is not None else "ne"
        last = a is not None and n == a.end_line
        if a is not None and a.error is not None:
            cls += " err"
        elif a is not None and a.warnings:
            cls += " warn"
        note = _annotation(a, stale) if last and a is not None else ""
        rows.append(
            f"<tr class='{cls}' data-line='{n}'><td class='n'>{n}</td><td class='c'>{html.escape(code) or ' '}</td>"
            f"<td class='a'>{note}</td></tr>"
        )
        details = _details(a, fixable) if last and a is not None else []
        if details:
            rows.append(f"<tr class='sub {cls}'><td></td><td colspan='2'>{'<br>'.join(details)}</td></tr>")
    return f"{_CSS}<div class='se-code'><table>{''.join(rows)}</table></div>"
