"""User and link text is shown as text on every page (issue 16, item 1).

Markdown / HTML / LaTeX / Streamlit-directive payloads go into every place that echoes input: lesson names
and share links, pipeline texts, steps, titles and checkpoint names, the sidebar's checkpoint box, Reshape
Lab steps, shapes, guesses and pasted errors, pooling labels, uploaded file names and CSV headers, quiz
answers. Every Markdown body the page then holds is parsed with markdown-it (the CommonMark reference
parser): no image, no link to the payload's host, no raw HTML, and no payload URL, math or directive left
in plain (unescaped) text, where Streamlit's GitHub-flavoured Markdown would autolink or render it.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from core.export.share import PARAM
from tests.app.conftest import pick_checkpoint
from tests.markdown_text import shown

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120
HOST = "example.invalid"
PAYLOADS = [
    f"![img](http://{HOST}/i.png)",
    f"[Session expired - sign in again](https://{HOST}/p)",
    f"<img src=http://{HOST}/h.png> <b>bold</b>",
    "$\\frac{1}{0}$ :red[PWN-red] :material/pwn_icon:",
    f"www.{HOST} *em* `tick` ``two``",
]
PAYLOAD = " ".join(PAYLOADS)
MD = (
    MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).disable("text_join")
)  # keep escapes apart
MARKDOWN_KINDS = ("markdown", "caption", "error", "warning", "info", "success", "title", "subheader", "header")


# GitHub-flavoured Markdown (Streamlit's) autolinks these in visible text, escaped or not
AUTOLINK = re.compile(r"(?i)\b(?:https?|ftp)://|\bwww\.|[\w.+-]+@[\w-]+\.\w")


def _violations(body: str) -> list[str]:
    """What in ``body`` would render as more than text (empty when it is safe)."""
    found = []
    visible: list[str] = []  # runs of text outside code spans, escapes resolved (what GFM autolinks)

    def walk(tokens) -> None:
        for t in tokens:
            if t.type == "image":
                found.append(f"image {t.attrs}")
            elif t.type == "link_open" and HOST in str(t.attrs.get("href", "")):
                found.append(f"link {t.attrs}")
            elif t.type in ("html_inline", "html_block"):
                found.append(f"html {t.content!r}")
            elif t.type == "text":  # unescaped text: remark-math would render $...$, Streamlit a :directive[]
                for marker in ("$\\frac", ":red[PWN", ":material/pwn"):
                    if marker in t.content:
                        found.append(f"unescaped {marker!r} in {t.content!r}")
            if t.type in ("text", "text_special"):
                visible[-1] += t.content
            else:
                visible.append("")
            if t.children:
                walk(t.children)

    visible.append("")
    walk(MD.parse(body))
    found += [f"autolink {m.group()!r} in {run!r}" for run in visible for m in AUTOLINK.finditer(run)]
    return found


def assert_shown_as_text(at: AppTest) -> str:
    """No element renders the payload as Markdown; returns everything shown (to check it is there)."""
    assert not at.exception, at.exception[0].value if at.exception else ""
    shown_text = []
    for kind in MARKDOWN_KINDS:
        for el in at.get(kind):
            body = str(el.value)
            problems = _violations(body)
            assert not problems, f"{kind}: {problems} in {body[:300]!r}"
            shown_text.append(shown(body))
    for el in at.get("html"):  # st.html bodies: the payload's tags arrive HTML-escaped
        body = str(el.proto.body)
        assert "<img" not in body, body[:300]
        assert "<b>bold" not in body, body[:300]
    return "\n".join(shown_text)


def _link(data: dict | str) -> str:
    raw = data if isinstance(data, str) else json.dumps(data)
    return base64.urlsafe_b64encode(zlib.compress(raw.encode(), 9)).decode().rstrip("=")


def _app(page: str = "pages/pipeline.py", query: dict | None = None, **state) -> AppTest:
    """The page through app.py's navigation (the Overview is the default page at /)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    for k, v in state.items():
        at.session_state[k] = v
    at.switch_page(page)
    return at.run()


# --- links ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", PAYLOADS, ids=["image", "link", "html", "latex-directive", "autolink-code"])
def test_a_lesson_name_from_a_link(payload):
    at = _app("pages/lessons.py", {"lesson": payload})
    text = assert_shown_as_text(at)
    assert "unknown lesson" in text and payload.split("(")[0].split("\\")[0][:12] in text


@pytest.mark.parametrize(
    "spec",
    [
        {"texts": ["a"], "pooling": PAYLOAD},  # an invalid value, quoted in the link's error
        {"texts": ["a"], "checkpoint": PAYLOADS[1]},  # a checkpoint no link may name, quoted in the refusal
        {"shape": [2, 3], PAYLOADS[0]: 1},  # an unknown key, listed
        {"shape": [2, 3], "steps": [{"lstm": {PAYLOADS[2]: 1}}]},  # an unknown layer parameter
    ],
    ids=["pooling", "checkpoint", "key", "param"],
)
def test_a_broken_share_link(spec):
    at = _app(query={PARAM: _link(spec)})
    text = assert_shown_as_text(at)
    assert "This shared link could not be opened" in text


def test_a_share_link_with_hostile_title_texts_and_steps():
    spec = {
        "title": PAYLOAD,
        "texts": [PAYLOAD, "second text"],
        "steps": [f'rearrange(x, "b l h -> b h l {PAYLOADS[0]}")', "x.view(`![i](http://example.invalid/s.png)`)"],
    }
    at = _app(query={PARAM: _link(spec)})
    assert_shown_as_text(at)


def test_a_step_that_fails_with_its_text_quoted():
    spec = {"shape": [2, 3, 4], "steps": ["x.view(5, -1)", "x.permute(0, 2, 1)"]}
    at = _app(query={PARAM: _link(spec)})
    at.text_input(key="pl_e0").set_value("x.view(5, -1)  ").run()
    assert_shown_as_text(at)


@pytest.mark.parametrize("name", [PAYLOADS[0], PAYLOADS[1], "a_b_c *x*", f"/tmp/{PAYLOADS[2]}"])
def test_the_sidebar_checkpoint_box(name):
    at = _app()
    pick_checkpoint(at, "other (Hugging Face id or local folder)…")
    at.text_input(key="model_custom").set_value(name).run()
    text = assert_shown_as_text(at)
    assert "not available on this server" in text or "Not loaded yet" in text


@pytest.mark.parametrize(
    "spec",
    [
        {"shape": [2, 3], "steps": ["x.view(`![i](http://example.invalid/s.png)`)"]},
        {"shape": [2, 3], "title": PAYLOAD, "steps": ["x.T"]},
        {"texts": [PAYLOAD], "steps": []},
        "not a spec " + PAYLOAD,
    ],
    ids=["step", "title", "texts", "broken"],
)
def test_a_lesson_link_with_a_changed_pipeline(spec):
    value = _link(spec) if isinstance(spec, dict) else spec
    assert_shown_as_text(_app("pages/lessons.py", {"lesson": "view-is-not-transpose", PARAM: value}))


# --- Reshape Lab ---------------------------------------------------------------------------------------------
LAB = "pages/reshape-lab.py"


@pytest.mark.parametrize(
    "steps",
    [
        "x.view(`![i](http://example.invalid/s.png)`)",  # the issue: a step with a backtick
        f"x.permute(0, 2, 1)\n{PAYLOAD}",
        "x.view(2, 5)  # [a](http://example.invalid)",
    ],
    ids=["backtick", "payload-line", "comment"],
)
def test_reshape_lab_steps(steps):
    assert_shown_as_text(_app(LAB, lab_steps=steps))


def test_reshape_lab_shape_and_guess():
    assert_shown_as_text(_app(LAB, lab_shape=PAYLOADS[0]))
    at = _app(LAB, lab_predict=True)
    at.text_input(key="lab_guess").set_value(PAYLOADS[1]).run()
    assert_shown_as_text(at)


@pytest.mark.parametrize(
    "message",
    [
        PAYLOAD,
        f"RuntimeError: shape '[2, -1]' is invalid for input of size 5 {PAYLOAD}",
        f"RuntimeError: Given groups=1, weight of size [4, 3, 1], expected input[1, 5, 2] to have 3 channels, "
        f"but got 5 channels instead {PAYLOADS[1]}",
        f'Traceback (most recent call last):\n  File "{PAYLOADS[0]}", line 1\nRuntimeError: {PAYLOADS[2]}',
    ],
    ids=["garbage", "reshape", "conv", "traceback"],
)
def test_reshape_lab_pasted_error(message):
    assert_shown_as_text(_app(LAB, lab_mode="Explain an error", lab_error=message))


# --- pooling -------------------------------------------------------------------------------------------------
POOL = "pages/pooling.py"


def test_pooling_labels_and_texts():
    at = _app(POOL)
    lines = [f"{PAYLOADS[i % 5]}\ttext number {i} {PAYLOADS[(i + 1) % 5]}" for i in range(10)]
    at.text_area(key="po_text").set_value("\n".join(lines))  # inside a form: sent with the submit
    at.button(key="FormSubmitter:po_paste_form-Compare these texts").click().run()
    text = assert_shown_as_text(at)
    assert PAYLOADS[0] in text, "the labels are shown, as text"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (f"{PAYLOADS[0]}.csv", f"sentence,{PAYLOADS[1]}\nhello,1\n".encode()),  # CSV header quoted in the error
        (f"{PAYLOADS[2]}.txt", b"\x00\x01binary"),
        (f"{PAYLOADS[3]}.csv", b"text,label\nfine,a\nalso fine,b\n"),  # a good file: its name in the caption
    ],
    ids=["header", "binary", "good"],
)
def test_pooling_upload_name_and_header(name, data):
    at = _app(POOL)
    at.file_uploader(key="po_upload").set_value((name, data, "text/csv")).run()
    assert_shown_as_text(at)


# --- lessons quiz --------------------------------------------------------------------------------------------
def test_quiz_answer_is_echoed_as_text():
    at = _app("pages/lessons.py", {"lesson": "view-is-not-transpose"})
    key = next(t.key for t in at.text_input if t.key and t.key.startswith("ans_"))
    at.text_input(key=key).set_value(PAYLOAD)  # inside a form: sent with the submit
    form = next(b for b in at.button if "Check" in str(b.label))
    form.click().run()
    assert_shown_as_text(at)


# --- the checker itself can fail ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [*PAYLOADS[:4], f"see http://{HOST}/x", f"see http\\://{HOST}/x", f"www\\.{HOST}", "mail a\\@b\\.co"],
)
def test_the_checker_catches_raw_payloads(body):
    assert _violations(body), body


def test_the_checker_passes_escaped_payloads():
    from ui.safe_text import code, markdown, text

    for p in PAYLOADS:
        assert not _violations(text(p)) and not _violations(code(p)) and not _violations(markdown(p)), p
