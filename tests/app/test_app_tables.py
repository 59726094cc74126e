"""The Pipeline Explorer's HTML tables (ui/pipeline/tables.py) and the code wrapping they share with the shape
flow (core/figures/html_text.py): warnings are a full-width row under their stage with code spans as <code>,
user text is HTML-escaped before any markup is added, and code breaks only between tokens."""

from __future__ import annotations

import dataclasses
import html
import itertools
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from core.figures.flow_html import shape_flow_html
from core.figures.html_text import code_breaks
from core.records import Finding
from core.spec import Spec
from core.trace import run_spec
from ui.pipeline.tables import shorten_code, stage_table_html
from ui.safe_text import html_message


class _Cells(HTMLParser):
    """Rows of the table as lists of (tag, attrs, text) cells, and every element's tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[dict]] = []
        self.tags: list[str] = []
        self._cell: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag not in ("wbr", "br"):  # void elements: no end tag
            self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = {"tag": tag, "attrs": dict(attrs), "text": "", "code": []}
            self.rows[-1].append(self._cell)
        elif tag == "code" and self._cell is not None:
            self._cell["code"].append("")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data
            if self.tags and self.tags[-1] == "code" and self._cell["code"]:
                self._cell["code"][-1] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._cell = None
        if self.tags and self.tags[-1] == tag:
            self.tags.pop()


def _parse(markup: str) -> _Cells:
    p = _Cells()
    p.feed(markup.split("</style>", 1)[1])
    return p


@pytest.fixture(scope="module")
def view_trace():
    """A synthetic pipeline whose step 1 is flagged (view used as a transpose); no model needed."""
    return run_spec(Spec.from_dict({"shape": [2, 4, 6], "steps": ["x.view(2, 6, 4)", "x.sum(dim=1)"]}))


def test_a_warning_is_a_full_width_row_under_its_stage(view_trace):
    assert view_trace.stages[1].warnings, "the view-as-transpose finding is expected on step 1"
    rows = _parse(stage_table_html(view_trace)).rows
    head, body = rows[0], rows[1:]
    assert [c["text"] for c in head] == ["stage", "step", "shape", "axes", "strides", "bytes"]
    assert [r[0]["text"] for r in body] == ["synthetic tensor", "step 1", "", "step 2"]
    warn = body[2]
    assert len(warn) == 2 and warn[1]["attrs"]["colspan"] == str(len(head) - 1), "spans every column but one"
    assert warn[1]["text"].startswith("⚠ A view used as a transpose — ")
    assert "x.view(2, 6, 4)" in warn[1]["code"], "the message's code spans are <code>"
    assert "`" not in warn[1]["text"], "no raw backticks"
    assert len(body[1]) == len(head), "the stage row itself has no warnings column"


def test_uniform_dtype_and_device_are_said_once(view_trace):
    markup = stage_table_html(view_trace)
    assert "<caption>Every stage is float32 on cpu.</caption>" in markup
    mixed = run_spec(Spec.from_dict({"shape": [2, 4, 6], "steps": ["x.argmax(dim=-1)"]}))
    rows = _parse(stage_table_html(mixed)).rows
    assert [c["text"] for c in rows[0]] == ["stage", "step", "shape", "axes", "dtype", "strides", "bytes"]
    assert [r[4]["text"] for r in rows[1:]] == ["float32", "int64"]
    assert "Every stage's device: cpu." in stage_table_html(mixed)


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "a ` b",  # an unmatched backtick stays text
    "`<b>x</b>`",  # markup inside a code span is escaped too
    "&amp; already escaped",
    "'\" quotes",
    "``a`b``",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_warning_messages_are_escaped_before_code_spans_become_code(view_trace, payload):
    stage = view_trace.stages[1]
    finding = Finding("view_as_permute", f"user wrote {payload} and `{payload}`", step_index=0)
    trace = dataclasses.replace(
        view_trace,
        stages=(*view_trace.stages[:1], dataclasses.replace(stage, warnings=(finding,)), *view_trace.stages[2:]),
    )
    p = _parse(stage_table_html(trace))
    assert set(p.tags) <= {
        "div",
        "table",
        "caption",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "b",
        "code",
        "wbr",
        "br",
        "span",
    }
    assert not {"script", "img"} & set(p.tags)
    cell = p.rows[3][1]
    shown = " ".join(cell["text"].split())
    if "`" not in payload:  # (backticks pair up into code spans: their own test below)
        assert f"user wrote {payload} and {payload}" in shown  # the text reads as typed (parsed back)
        assert cell["code"] == [payload]


def test_html_message_pairs_backticks_like_markdown():
    assert html_message("use `x.t()` & <b>") == "use <code>x<wbr>.t()</code> &amp; &lt;b&gt;"
    assert html_message("`<b>x</b>` <i>") == "<code>&lt;b&gt;x&lt;/b&gt;</code> &lt;i&gt;"
    assert html_message("a ` b") == "a ` b"
    assert html_message("``a`b`` ok") == "<code>a`b</code> ok"
    assert html_message("`` `x` ``") == "<code>`x`</code>"  # CommonMark: one padding space each side stripped


@pytest.mark.parametrize(
    ("code", "pieces"),
    [
        ("outputs.hidden_states[-1]", ["outputs", ".hidden_states[-1]"]),  # the issue: "outputs.h idden_sta tes"
        (
            "nn.LSTM(hidden_size=128, num_layers=2, batch_first=True)",
            ["nn", ".LSTM(", "hidden_size=128, num_layers=2, batch_first=True)"],  # the spaces break already,
        ),
        ("x[:, -1, :]", ["x[:, -1, :]"]),  # spaces already break; nothing added inside the subscript
        ("x * 1.5e-3", ["x * 1.5e-3"]),  # never inside a number
        ("torch.randn(32,128)", ["torch", ".randn(", "32,", "128)"]),
    ],
)
def test_code_breaks_only_between_tokens(code, pieces):
    assert code_breaks(code).split("<wbr>") == [html.escape(p) for p in pieces]


@given(hs.text(alphabet=hs.sampled_from(list("abcxyz_019.,()[] =<>&'\"-")), max_size=60))
def test_code_breaks_keeps_the_text_and_never_splits_a_name(code):
    marked = code_breaks(code)
    assert html.unescape(marked.replace("<wbr>", "")) == code
    pieces = [html.unescape(p) for p in marked.split("<wbr>")]
    for before, after in itertools.pairwise(pieces):  # a break point never falls inside a name or a number
        assert not (re.search(r"\w$", before) and re.match(r"\w", after)), (before, after)


def test_long_steps_are_shortened_at_a_token_boundary_and_whole_on_hover():
    step = "x.reshape(4, 2, 16, 16).permute(0, 2, 1, 3).reshape(4, 16, 32).flatten(start_dim=1)"
    short = shorten_code(step, 60)
    assert short.endswith(" …") and step.startswith(short[:-2].rstrip()) and len(short) <= 60
    assert re.search(r"[ ,] …$", short[:-1] + " …") and not re.search(r"\w …$", short.replace(", …", ""))
    trace = run_spec(Spec.from_dict({"shape": [4, 16, 32], "steps": [step + " " * 0 + ".unsqueeze(0)" * 8]}))
    cell = _parse(stage_table_html(trace)).rows[2][1]
    assert cell["attrs"]["title"] == trace.stages[1].source and cell["text"].endswith(" …")


def test_the_shape_flow_wraps_code_between_tokens_too():
    trace = run_spec(Spec.from_dict({"shape": [2, 4, 6], "steps": ["x.permute(0, 2, 1).contiguous().view(2, 24)"]}))
    markup = shape_flow_html(trace.stages)
    assert "<code>x<wbr>.permute(<wbr>0, 2, 1)<wbr>.contiguous()<wbr>.view(<wbr>2, 24)</code>" in markup
    assert "text-overflow: ellipsis" not in markup.split("</style>")[0].split(".sf-seg")[0], "names are not cut"
