"""Lessons & workshop in headless Chromium: open a lesson from the list, answer the quiz right and wrong,
follow a lesson link (``?lesson=NAME``; an old ``&teacher=1`` shows no answers) and the "Open in Pipeline Explorer"
button.
Screenshots go to tests/artifacts/lessons-*.png."""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from core.export.share import spec_from_query
from core.teaching.lessons import get_lesson
from tests.browser.conftest import assert_no_exception, screenshot, wait_ready

pytestmark = pytest.mark.browser


def _answer(pg, text: str) -> None:
    box = pg.get_by_placeholder("e.g. 32, 16, 6144 — or error")
    box.first.fill(text)
    box.first.press("Enter")
    wait_ready(pg)


def test_open_a_lesson_and_answer_the_quiz(app_url, page):
    page.goto(f"{app_url}/lessons")
    wait_ready(page)
    assert_no_exception(page)
    assert page.get_by_role("heading", name="Lessons & workshop").count() == 1
    screenshot(page, "lessons-default")

    page.get_by_role("button", name="Pad 125 tokens to 128, then reshape").click()
    wait_ready(page)
    assert "lesson=pad-then-reshape" in page.url
    assert page.get_by_role("heading", name="Pad 125 tokens to 128, then reshape").count() == 1

    _answer(page, "(32,128,768)")  # right
    assert page.get_by_text("Right: (32, 128, 768).").count() == 1
    _answer(page, "32x16x6000")  # wrong: the seed's comment
    assert page.get_by_text("Not quite: this step cannot run", exact=False).count() == 1
    assert page.get_by_text("Score: 1 / 2", exact=False).count() == 1
    assert page.get_by_text("invalid for input of size 3145728", exact=False).count() >= 1
    assert_no_exception(page)
    screenshot(page, "lessons-quiz")


def test_an_old_teacher_link_shows_a_student_no_answers(app_url, page):
    """``&teacher=1`` used to show every answer; now they need the teacher key (see test_browser_room)."""
    page.goto(f"{app_url}/lessons?lesson=view-is-not-transpose&teacher=1")
    wait_ready(page)
    assert_no_exception(page)
    assert page.get_by_role("heading", name="view(32, 768, 128) is not a transpose").count() == 1
    assert page.get_by_text("Answer: (32, 512, 126)", exact=False).count() == 0
    assert page.get_by_text("Show the answers", exact=False).count() == 0
    screenshot(page, "lessons-student")


def test_open_in_pipeline_explorer_carries_the_spec(app_url, page):
    lesson = get_lesson("transpose-for-conv1d")
    page.goto(f"{app_url}/lessons?lesson={lesson.name}")
    wait_ready(page)
    link = page.get_by_role("link", name="Open in Pipeline Explorer")
    href = link.get_attribute("href")
    target = urljoin(page.url, href)
    parts = urlsplit(target)
    assert parts.path.endswith("/pipeline")
    assert spec_from_query({k: v[-1] for k, v in parse_qs(parts.query).items()}) == lesson.spec
    page.goto(target)  # the button opens a new tab; the same URL in this tab
    wait_ready(page)
    assert_no_exception(page)
    assert page.get_by_text("torch.transpose(x, 1, 2)", exact=False).count() >= 1
    screenshot(page, "lessons-open-pipeline")
