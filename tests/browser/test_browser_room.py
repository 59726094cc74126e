"""A workshop room in Chromium: two students (two browser contexts) answer a quiz; a third context with the
teacher key sees both answers counted with the wrong answer's meaning; one without the key cannot open the
class results; students' pages and presenter mode show no teacher link; a hostile stored answer is shown as
text."""

from __future__ import annotations

import pytest

from core.room.store import RoomStore
from tests.browser.conftest import assert_no_exception, screenshot, streamlit_server, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KEY = "room-test-key-42"
LESSON = "permute-for-conv1d"
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture(scope="module")
def room_server(chromium_path, tmp_path_factory):
    data = tmp_path_factory.mktemp("room-data")
    env = {"SHAPE_EXPLORER_DATA": str(data), "SHAPE_EXPLORER_TEACHER_KEY": KEY}
    with streamlit_server("streamlit-room", env=env) as url:
        yield url, data


def _wait_text(pg, text: str, timeout: float = 30_000) -> None:
    pg.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)


def _answer(pg, answer: str) -> None:
    box = pg.get_by_placeholder("e.g. 32, 16, 6144 — or error").first
    box.fill(answer)
    box.press("Enter")
    wait_ready(pg)
    assert pg.get_by_text("You said", exact=False).count() == 1


def _student_answers(browser, url: str, answer: str, then_reload_and_answer: str | None = None) -> None:
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    pg = ctx.new_page()
    pg.set_default_timeout(120_000)
    try:
        pg.goto(f"{url}/lessons?lesson={LESSON}")
        wait_ready(pg)
        assert_no_exception(pg)
        _answer(pg, answer)
        if then_reload_and_answer:  # same browser, new session: still the same anonymous student
            pg.reload()
            wait_ready(pg)
            _answer(pg, then_reload_and_answer)
        body = pg.locator("[data-testid='stApp']").inner_text()
        assert "Class results" not in body and "/teacher" not in body and "teacher key" not in body.lower()
        assert pg.locator("a[href*='teacher']").count() == 0
    finally:
        ctx.close()


def test_two_students_answer_and_the_teacher_sees_both(browser, room_server):
    url, data = room_server
    _student_answers(browser, url, "32, 768, 128", then_reload_and_answer="error")  # right; a 2nd try is ignored
    _student_answers(browser, url, "(32,128,768)")  # wrong: forgot the permute
    rows = RoomStore(data / "room.sqlite3").answers()
    assert sorted(a.answer for a in rows) == ["(32, 128, 768)", "(32, 768, 128)"]
    assert len({a.student for a in rows}) == 2

    # without the key: the form, nothing else; a wrong key is refused
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    pg = ctx.new_page()
    pg.set_default_timeout(120_000)
    pg.goto(f"{url}/teacher")
    wait_ready(pg)
    assert pg.get_by_label("Teacher key").count() == 1
    assert pg.get_by_text("forgot the permute", exact=False).count() == 0
    pg.get_by_label("Teacher key").fill("not-the-key")
    pg.get_by_role("button", name="Open the class results").click()
    wait_ready(pg)
    assert pg.get_by_text("not this server's teacher key", exact=False).count() == 1
    assert pg.get_by_text("student(s)", exact=False).count() == 0
    ctx.close()

    # with the key (typed): both answers counted, the wrong one explained
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    pg = ctx.new_page()
    pg.set_default_timeout(120_000)
    pg.goto(f"{url}/teacher")
    wait_ready(pg)
    pg.get_by_label("Teacher key").fill(KEY.upper())  # case does not matter
    pg.get_by_role("button", name="Open the class results").click()
    wait_ready(pg)
    assert_no_exception(pg)
    _wait_text(pg, "2 student(s)")
    table = pg.locator("[data-testid='stTable']").first.inner_text()
    assert "50%" in table and "(32, 768, 128)" in table
    assert pg.get_by_text("forgot the permute: that is its input shape", exact=False).count() == 1
    screenshot(pg, "room-teacher-results")

    # live: a third student's answer appears without reloading (the results refresh every few seconds)
    RoomStore(data / "room.sqlite3").record("s3", LESSON, 1, HOSTILE, False)
    _wait_text(pg, "3 student(s)")
    _wait_text(pg, HOSTILE)  # shown as text…
    assert pg.locator("img[src='x']").count() == 0  # …never as an element
    assert pg.evaluate("document.title") != "pwned"
    # the teacher page is in the teacher's navigation; presenter mode hides it and the results
    assert pg.locator("[data-testid='stSidebarNav'] a[href$='/teacher']").count() == 1
    pg.goto(f"{url}/teacher?present=1")
    wait_ready(pg)
    assert pg.get_by_text("never shown in presenter mode", exact=False).count() == 1
    assert pg.locator("a[href*='teacher']").count() == 0
    ctx.close()


def test_teacher_link_with_the_key_unlocks_and_leaves_the_address_bar(browser, room_server):
    url, _ = room_server
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    pg = ctx.new_page()
    pg.set_default_timeout(120_000)
    pg.goto(f"{url}/teacher?key={KEY}")
    wait_ready(pg)
    assert "key=" not in pg.url
    assert pg.get_by_role("button", name="Start a new room").count() == 1
    # the same session (moving through the app's navigation) shows the answers on a lesson
    pg.locator("[data-testid='stSidebarNav'] a[href$='/lessons']").click()
    wait_ready(pg)
    assert pg.get_by_text("Answer: (32, 768, 128)", exact=False).count() == 0
    pg.get_by_text("Show the answers", exact=True).click()
    wait_ready(pg)
    assert pg.get_by_text("Answer: ", exact=False).count() >= 1
    ctx.close()
