"""The shape flow as plain HTML: the Pipeline Explorer's first view, with no charting library to load.

One row per stage: its name and source on a first line (long code wraps between tokens, never inside a
name), then one coloured segment per dimension (width ~ log2(size), colour = the axis role, the same colours
as the plotly ``shape_flow``) and the shape tuple.
Non-contiguous stages are hatched; a failing step adds a red row with torch's message. The legend wraps
(never a scrollbar) and says what the hatching means. Every piece of text is HTML-escaped; each segment's
``title`` gives the dimension's name, symbol, size, stride, role and formula on hover.

    >>> html = shape_flow_html(trace.stages, trace.error)                            # doctest: +SKIP
    >>> html.count("class='sf-row'") == len(trace.stages)                               # doctest: +SKIP
    True
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from core.figures.html_text import code_breaks
from core.figures.pipeline import ERROR_COLOR, ROLE_COLORS, ROLE_ORDER, role_color, segment_width
from core.records import Stage

CHAR_PX = 7.5  # a 13 px bold label character: a label needs len * CHAR_PX + 6 px
HATCH = "repeating-linear-gradient(135deg, rgba(255,255,255,.5) 0 3px, transparent 3px 8px)"
LEGEND_NOTES = {
    "hatched": "hatched = not contiguous: the stride order no longer matches the shape (after a permute or "
    "transpose); .view() refuses it, .reshape() or .contiguous() copies",
}
STYLE = f"""
<style>
.sf {{font-family: "Source Sans", sans-serif; font-size: 14px; color: #1f2430; width: 100%;}}
.sf-row {{padding: 3px 0 6px 0; border-bottom: 1px solid #eef0f4;}}
.sf-name {{font-size: 13px; line-height: 1.5; overflow-wrap: normal; word-break: normal;}}
.sf-name b {{white-space: nowrap; padding-right: 6px;}}
.sf-name code {{color: #555b66; font-size: 13px; background: none; padding: 0; white-space: normal;
  overflow-wrap: normal; word-break: normal;}}
.sf-line {{display: flex; align-items: center; gap: 10px;}}
.sf-bars {{display: flex; gap: 3px; min-width: 0; flex: 1 1 auto;}}
.sf-seg {{color: #fff; font-size: 13px; font-weight: 600; text-align: center; white-space: nowrap;
  overflow: hidden; text-overflow: clip; border-radius: 4px; padding: 5px 0; min-width: 10px;
  text-shadow: 0 0 2px rgba(0,0,0,.45); container-type: inline-size;}}
.sf-seg .l2, .sf-seg .l1 {{display: none;}}
.sf-hatch span {{background: var(--c); padding: 1px 5px; border-radius: 3px;}}
.sf-shape {{font-family: "Source Code Pro", monospace; font-weight: 600; font-size: 13px; white-space: nowrap;
  flex: 0 0 auto;}}
.sf-error .sf-name, .sf-error .sf-name code {{color: {ERROR_COLOR}; font-weight: 700;}}
.sf-error .sf-msg {{color: {ERROR_COLOR}; background: #fff5f5; border: 1px solid {ERROR_COLOR};
  border-radius: 4px; padding: 4px 8px; font-size: 13px; overflow-wrap: break-word;}}
.sf-legend {{display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 8px; font-size: 13px; color: #3d4450;}}
.sf-key {{display: inline-flex; align-items: center; gap: 5px;}}
.sf-swatch {{display: inline-block; flex: 0 0 22px; width: 22px; height: 13px; border-radius: 3px;}}
</style>
"""


def _segment(stage: Stage, dim: int, size: int, span: float) -> str:
    axis = stage.axes[dim] if dim < len(stage.axes) else None
    role = axis.role if axis is not None and axis.role in ROLE_COLORS else "other"
    name = axis.name if axis is not None else f"dim {dim}"
    symbol = axis.symbol if axis is not None else f"d{dim}"
    strides = stage.strides or ()
    stride = strides[dim] if dim < len(strides) else "?"
    hover = f"{stage.name} · dim {dim}: {name} ({symbol}) = {size}; stride {stride}; role {role}"
    if axis is not None and axis.formula:
        hover += f"; {axis.formula}"
    share = segment_width(size) / span * 100
    # three labels, the longest that fits is shown (CSS container queries on the segment's real width):
    # "tokens L=9", "L=9", "9"; the hover has everything
    labels = (f"{name} {symbol}={size}", f"{symbol}={size}", str(size))
    long_px, mid_px = (_needed_px(t) for t in labels[:2])
    background = role_color(role) if stage.contiguous else f"{HATCH}, {role_color(role)}"
    hatch = "" if stage.contiguous else " sf-hatch"  # its label sits on a plain patch of the colour (--c)
    spans = "".join(f"<span class='l{3 - i}'>{html.escape(t)}</span>" for i, t in enumerate(labels))
    return (
        f"<span class='sf-seg w{long_px} v{mid_px}{hatch}' data-role='{role}' style='flex: {share:.2f} 1 0; "
        f"--c: {role_color(role)}; background: {background}' title='{html.escape(hover, quote=True)}'>{spans}</span>"
    )


def _needed_px(text: str) -> int:
    return int(len(text) * CHAR_PX + 6)


def _label_rules(html_text: str) -> str:
    """One container query per label width used: below it, the segment shows its next shorter label."""
    pairs = re.findall(r"class='sf-seg w(\d+) v(\d+)'", html_text)
    rules = [(int(w), "w", "l3", "l2") for w, _ in pairs] + [(int(v), "v", "l2", "l1") for _, v in pairs]
    css = [
        f"@container (max-width: {px}px) {{ .{cls}{px} .{hide} {{display: none;}} .{cls}{px} .{show} "
        "{display: inline;} }"
        for px, cls, hide, show in sorted(set(rules), key=lambda r: (-r[0], r[1]))  # wider first: narrower wins
    ]
    return "<style>\n" + "\n".join(css) + "\n</style>"


def _name(stage: Stage) -> str:
    source = stage.source.split("#")[0].strip() if stage.kind == "source" else stage.source
    return (
        f"<div class='sf-name' title='{html.escape(source, quote=True)}'><b>{html.escape(stage.title)}</b>"
        f"<code>{code_breaks(source)}</code></div>"
    )


def shape_flow_html(stages: Sequence[Stage], error: Any = None) -> str:
    """HTML of the shape flow (see the module docstring); ``error`` is an optional ``ShapeError``."""
    span = max([sum(segment_width(d) for d in s.shape) for s in stages] + [8.0])
    rows = []
    roles: list[str] = []
    hatched = False
    for stage in stages:
        segments = "".join(_segment(stage, dim, size, span) for dim, size in enumerate(stage.shape))
        if not stage.shape:
            segments = "<span class='sf-seg' style='flex: 0 0 40px; background: #b9c0ca'>scalar</span>"
        hatched = hatched or not stage.contiguous
        for axis in stage.axes:
            role = axis.role if axis.role in ROLE_COLORS else "other"
            if role not in roles:
                roles.append(role)
        # the free share of the row stays empty, so widths compare across rows
        filler = max(span - sum(segment_width(d) for d in stage.shape), 0.0) / span * 100
        rows.append(
            f"<div class='sf-row' data-stage='{stage.index}' data-contiguous='{str(stage.contiguous).lower()}'>"
            f"{_name(stage)}<div class='sf-line'>"
            f"<div class='sf-bars'>{segments}<span style='flex: {filler:.2f} 1 0'></span></div>"
            f"<div class='sf-shape'>{html.escape(str(tuple(stage.shape)))}</div></div></div>"
        )
    if error is not None:
        step_no = error.step_index + 1 if getattr(error, "step_index", None) is not None else "?"
        message = " ".join(str(getattr(error, "message", error)).split())
        step = str(getattr(error, "step", "") or "")
        rows.append(
            f"<div class='sf-row sf-error'><div class='sf-name' title='{html.escape(step, quote=True)}'>"
            f"<b>✗ step {step_no}</b><code>{code_breaks(step)}</code></div>"
            f"<div class='sf-msg'>{html.escape(message)}</div></div>"
        )
    swatch = "<span class='sf-key'><span class='sf-swatch' style='background:{}'></span>{}</span>"
    keys = [swatch.format(role_color(r), html.escape(r)) for r in ROLE_ORDER if r in roles]
    if hatched:
        keys.append(swatch.format(f"{HATCH}, #7f8c9a", html.escape(LEGEND_NOTES["hatched"])))
    legend = f"<div class='sf-legend'><span>axis role:</span>{''.join(keys)}</div>" if keys else ""
    body = "".join(rows)
    return f"{STYLE}{_label_rules(body)}<div class='sf' role='figure' aria-label='shape flow'>{body}{legend}</div>"


__all__ = ["shape_flow_html"]
