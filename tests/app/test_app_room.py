"""AppTest of the Overview and Class results pages: the four tools and the room link/QR, the teacher-key gate
(typed, from the printed link, wrong), new room and clear room, results per question with meanings, hostile
answers shown as text, presenter mode closing the teacher view."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.room.store import RoomStore
from tests.markdown_text import shown

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120
KEY = "apptest-key-7"


@pytest.fixture(autouse=True)
def teacher_key(monkeypatch, tmp_path):
    from ui import room

    monkeypatch.setenv("SHAPE_EXPLORER_TEACHER_KEY", KEY)
    monkeypatch.setenv("SHAPE_EXPLORER_DATA", str(tmp_path))
    room.teacher_key.clear()
    room.answers_store.clear()
    yield
    room.teacher_key.clear()
    room.answers_store.clear()


def open_page(page: str, teacher: bool = False, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if teacher:
        at.session_state["room_teacher"] = True
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def body(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [c.value for c in at.code]
    parts += [h.value for h in (*at.title, *at.subheader, *at.header)]
    parts += [e.value for e in (*at.success, *at.error, *at.warning, *at.info)]
    parts += [shown(cell) for t in at.table for row in t.value.astype(str).values.tolist() for cell in row]
    return "\n".join(str(p) for p in parts)


def test_overview_lists_the_tools_and_the_room_link():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "Shape Explorer"
    links = {el.proto.label: el.proto.page for el in at.get("page_link")}
    assert set(links) == {"Pipeline Explorer", "Pooling comparison", "Reshape Lab", "Lessons & workshop"}
    text = body(at)
    assert "localhost" not in text and "127.0.0.1" not in text
    assert "Join the room" in text
    assert ("http://" in text and at.get("image")) or "cannot reach this server" in text
    assert "Class results (teacher)" not in [el.proto.label for el in at.get("page_link")]


def test_the_teacher_page_asks_for_the_key_and_shows_nothing_else():
    RoomStore().record("s1", "permute-for-conv1d", 1, "(32, 128, 768)", False)
    at = open_page("pages/teacher.py")
    assert [t.label for t in at.text_input] == ["Teacher key"]
    assert "forgot the permute" not in body(at) and not at.table
    at.text_input[0].input("wrong-key-1")
    next(b for b in at.button if b.label == "Open the class results").click().run()
    assert "not this server's teacher key" in body(at) and not at.table


def test_the_right_key_opens_the_results_with_meanings():
    store = RoomStore()
    store.record("s1", "permute-for-conv1d", 1, "(32, 768, 128)", True)
    store.record("s2", "permute-for-conv1d", 1, "(32, 128, 768)", False)
    store.record("s3", "permute-for-conv1d", 1, "(32, 128, 768)", False)
    at = open_page("pages/teacher.py")
    at.text_input[0].input(KEY.upper().replace("-", " "))
    next(b for b in at.button if b.label == "Open the class results").click().run()
    assert not at.exception
    text = body(at)
    assert "**3** student(s)" in text and "33%" in text
    assert "forgot the permute: that is its input shape" in text
    assert "\n(32, 128, 768)\n" in text  # the wrong answer, shown as code


def test_the_printed_link_unlocks_and_the_key_leaves_the_url():
    at = open_page("pages/teacher.py", key=KEY)
    assert "key" not in at.query_params
    assert any(b.label == "Start a new room" for b in at.button)


def test_new_room_starts_empty_and_clear_room_needs_a_tick():
    store = RoomStore()
    store.record("s1", "permute-for-conv1d", 1, "(32, 768, 128)", True)
    at = open_page("pages/teacher.py", teacher=True)
    clear = next(b for b in at.button if b.label == "Clear this room")
    assert clear.disabled
    at.checkbox(key="teacher_confirm_clear").check().run()
    next(b for b in at.button if b.label == "Clear this room").click().run()
    assert "1 answer(s) deleted" in body(at) and store.answers() == []
    store.record("s1", "permute-for-conv1d", 1, "(32, 768, 128)", True)
    old = store.current_room()
    next(b for b in at.button if b.label == "Start a new room").click().run()
    assert store.current_room() == old + 1 and store.answers() == []
    assert f"Room {old + 1} started" in body(at) and "No answers yet" in body(at)


@pytest.mark.parametrize(
    "hostile",
    [
        "<img src=x onerror=alert(1)>",
        "[sign in](https://evil.example/p)",
        "![t](http://evil.example/x.png)",
        "`x` $$y$$",
    ],
)
def test_hostile_answers_are_shown_as_text(hostile):
    RoomStore().record("s1", "permute-for-conv1d", 1, hostile, False)
    at = open_page("pages/teacher.py", teacher=True)
    cells = [str(v) for t in at.table for v in t.value.to_dict().get("wrong answer", {}).values()]
    (cell,) = cells
    # the answer sits inside a code span whose fence is longer than any backtick run in it: not Markdown
    fence = cell.split(" ", 1)[0]
    assert set(fence) == {"`"} and cell.endswith(fence) and hostile.replace("  ", " ") in cell
    assert "not a shape" in body(at)


def test_presenter_mode_never_shows_the_results():
    RoomStore().record("s1", "permute-for-conv1d", 1, "(32, 768, 128)", True)
    at = open_page("pages/teacher.py", teacher=True, present="1")
    assert "never shown in presenter mode" in body(at) and not at.table


def test_the_xsrf_token_is_unmasked_so_a_reload_keeps_the_student():
    from ui.room import xsrf_token_of

    # two cookie values of one browser (seen in Chromium): different masks, the same token
    a = xsrf_token_of("2|b3181ead|35dd4b916dc9721b2d6b97a81a5f5a8e|1795964985")
    b = xsrf_token_of("2|b2c75e12|34020b2e6c1632a42cb4d7171b801a31|1795964985")
    assert a == b and len(a) == 32
    for bad in (None, "", "1|aa|bb|1", "2|zz|bb|1", "2||bb|1", "2|aa|bb", "x" * 300):
        assert xsrf_token_of(bad) is None
