"""core.figures.flow_html: the shape flow as light HTML, checked against the stages it draws."""

from __future__ import annotations

import re

import pytest

from core.figures.flow_html import shape_flow_html
from core.figures.pipeline import ROLE_COLORS, segment_width
from core.spec import Spec
from core.trace import run_spec


def _trace(data):
    return run_spec(Spec.from_dict(data))


def test_one_row_per_stage_one_segment_per_dimension():
    trace = _trace({"shape": [4, 16, 32], "steps": ["x.transpose(1, 2)", "x.flatten(1)"]})
    html = shape_flow_html(trace.stages)
    rows = html.split("class='sf-row'")[1:]
    assert len(rows) == len(trace.stages) == 3
    for row, stage in zip(rows, trace.stages):
        assert row.count("class='sf-seg ") == len(stage.shape)
        assert f"<div class='sf-shape'>{tuple(stage.shape)}</div>" in row
        roles = re.findall(r"data-role='(\w+)'", row)
        assert roles == [a.role if a.role in ROLE_COLORS else "other" for a in stage.axes]


def test_widths_follow_log_sizes_and_compare_across_rows():
    trace = _trace({"shape": [2, 1024], "steps": ["x.reshape(2, 32, 32)"]})
    html = shape_flow_html(trace.stages)
    flex = [float(v) for v in re.findall(r"class='sf-seg [^']*' data-role='\w+' style='flex: ([\d.]+)", html)]
    span = max(sum(segment_width(d) for d in s.shape) for s in trace.stages)
    expected = [segment_width(d) / span * 100 for s in trace.stages for d in s.shape]
    assert flex == pytest.approx(expected, abs=0.01)


def test_each_segment_carries_three_labels_and_a_rule_picks_the_one_that_fits():
    trace = _trace({"shape": [2, 8, 384], "steps": []})
    html = shape_flow_html(trace.stages)
    seg = re.findall(r"<span class='sf-seg w(\d+) v(\d+)'[^>]*>(.*?)</span></span>", html)
    assert len(seg) == 3
    w, v, inner = seg[2]
    assert re.findall(r"<span class='l(\d)'>([^<]*)", inner + "</span>") == [
        ("3", "hidden H=384"),
        ("2", "H=384"),
        ("1", "384"),
    ]
    assert int(w) == int(len("hidden H=384") * 7.5 + 6) and int(v) == int(len("H=384") * 7.5 + 6)
    assert f"@container (max-width: {w}px) {{ .w{w} .l3 {{display: none;}}" in html
    assert f"@container (max-width: {v}px) {{ .v{v} .l2 {{display: none;}}" in html


def test_hatching_only_on_non_contiguous_rows_and_explained_in_the_legend():
    trace = _trace({"shape": [2, 3, 4], "steps": ["x.permute(0, 2, 1)"]})
    html = shape_flow_html(trace.stages)
    rows = html.split("class='sf-row'")[1:]
    assert "repeating-linear-gradient" not in rows[0].split("</div></div>")[0]
    assert "data-contiguous='false'" in rows[1] and "repeating-linear-gradient" in rows[1]
    # a hatched segment's label sits on a plain patch of the segment's own colour (readable through the stripes)
    assert "sf-hatch" not in rows[0] and rows[1].count("sf-hatch") == 3
    for colour, background in re.findall(r"--c: ([^;]+); background: ([^']+)'", rows[1]):
        assert background.endswith(", " + colour)
    assert ".sf-hatch span {background: var(--c)" in html
    legend = html.split("class='sf-legend'")[1]
    assert "hatched = not contiguous" in legend and ".contiguous()" in legend
    plain = shape_flow_html(_trace({"shape": [2, 3], "steps": ["x.transpose(0, 1).contiguous()"]}).stages)
    assert "hatched" not in plain.split("class='sf-legend'")[1]


def test_failed_step_adds_a_red_row_with_torch_message_escaped():
    trace = _trace({"shape": [2, 3, 4], "steps": ["x.view(5, -1)"]})
    assert trace.error is not None
    html = shape_flow_html(trace.stages, trace.error)
    assert "sf-error" in html and "✗ step 1" in html
    assert "shape '[5, -1]' is invalid for input of size 24".replace("'", "&#x27;") in html


def test_user_text_is_escaped():
    trace = _trace({"shape": [2, 3], "steps": ["x.reshape(2, 3)"]})
    html = shape_flow_html(trace.stages)
    assert "<script" not in html
    stage = trace.stages[1]
    from dataclasses import replace

    hostile = replace(stage, source="<img src=x onerror=alert(1)>", name="<b>x</b>")
    out = shape_flow_html([trace.stages[0], hostile])
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out and "&lt;b&gt;x&lt;/b&gt;" in out
