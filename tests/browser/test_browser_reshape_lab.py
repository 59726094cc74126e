"""Reshape Lab in a real browser: lineage grids, the Conv1d article's three chains on one screen, a pasted traceback."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_exception, screenshot, wait_ready

pytestmark = pytest.mark.browser

CHART = "[data-testid='stPlotlyChart']"
ALERT = "[data-testid='stAlert']"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/home/me/project/train.py", line 42, in <module>\n'
    "    conv_output = conv1d(bert_output)\n"
    '  File "/usr/lib/python3.11/site-packages/torch/nn/modules/conv.py", line 375, in forward\n'
    "    return self._conv_forward(input, self.weight, self.bias)\n"
    "RuntimeError: Given groups=1, weight of size [512, 768, 3], expected input[32, 128, 768] to have 768 "
    "channels, but got 128 channels instead"
)


def _open(page, app_url: str) -> None:
    page.goto(f"{app_url}/reshape-lab")
    wait_ready(page)
    assert_no_exception(page)


def _to_top(page, locator) -> None:
    """Scroll Streamlit's main container so ``locator`` is at the top of the screen."""
    locator.first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(400)


def _mode(page, name: str) -> None:
    page.locator("[data-testid='stButtonGroup']").first.get_by_text(name, exact=True).click()
    wait_ready(page)
    assert_no_exception(page)


def test_lineage_draws_every_stage_with_memory_strips(app_url, page):
    _open(page, app_url)
    assert page.get_by_text("Reshape Lab", exact=True).first.is_visible()
    page.wait_for_selector(f"{CHART} .main-svg", timeout=60_000)
    # source + permute: a grid and a memory strip each
    page.wait_for_function(f'document.querySelectorAll("{CHART}").length >= 4', timeout=60_000)
    assert page.get_by_text("view of the same memory").first.is_visible()
    assert page.get_by_text('rearrange(x, "b l h -> b h l")').first.is_visible()
    _to_top(page, page.get_by_text("Colour = where the element came from", exact=False))
    screenshot(page, "reshape_lab_01_lineage")

    _to_top(page, page.get_by_text("Steps (one per line", exact=False))
    page.get_by_label("Start from an example").click()
    page.keyboard.type("permute, then view")
    page.keyboard.press("Enter")
    wait_ready(page)
    assert_no_exception(page)
    assert page.locator(ALERT).filter(has_text="view size is not compatible").count() == 1
    assert page.get_by_text("With .reshape instead", exact=False).first.is_visible()
    assert page.get_by_text("copied: new memory").first.is_visible()
    _to_top(page, page.locator(ALERT).filter(has_text="view size is not compatible"))
    screenshot(page, "reshape_lab_02_view_fails_reshape_copies")


def test_seed_004_three_chains_on_one_screen(app_url, page):
    _open(page, app_url)
    _mode(page, "Compare chains")
    page.get_by_role("button", name="Load the three Conv1d fixes", exact=False).click()
    wait_ready(page)
    assert_no_exception(page)
    page.wait_for_selector(f"{CHART} .main-svg", timeout=60_000)
    assert page.locator(ALERT).filter(has_text="same shape, different data").count() == 1
    assert page.locator(ALERT).filter(has_text="identical: same shape, same data").count() == 1
    assert page.get_by_text("drawn as (2, 4, 8)", exact=False).first.is_visible()
    # the Conv1d accepts all three: only the lineage shows that the view is wrong
    assert page.locator(ALERT).filter(has_text="Conv1d(in_channels=768) reads dim 1: 768").count() == 3
    page.wait_for_function(f'document.querySelectorAll("{CHART}").length >= 3', timeout=60_000)
    _to_top(page, page.get_by_text("Chain A", exact=True))
    screenshot(page, "reshape_lab_03_seed004_compare")


def test_pasted_traceback_is_explained_and_drawn(app_url, page):
    _open(page, app_url)
    _mode(page, "Explain an error")
    box = page.get_by_label("Error message or traceback")
    box.fill(TRACEBACK)
    box.press("Control+Enter")
    wait_ready(page)
    assert_no_exception(page)
    assert page.locator(ALERT).filter(has_text="Recognized").count() == 1
    assert page.get_by_text("See it on a synthetic tensor").first.is_visible()
    page.wait_for_function(f'document.querySelectorAll("{CHART}").length >= 3', timeout=60_000)
    assert page.locator(ALERT).filter(has_text="same shape, different data").count() >= 1
    _to_top(page, page.get_by_text("See it on a synthetic tensor"))
    screenshot(page, "reshape_lab_04_explain_traceback")

    box.fill("this is not an error message at all")
    box.press("Control+Enter")
    wait_ready(page)
    assert_no_exception(page)
    assert page.locator(ALERT).filter(has_text="Not recognized").count() == 1
    screenshot(page, "reshape_lab_05_not_recognized")


def test_real_bert_output_hover_names_the_token(app_url, page):
    _open(page, app_url)
    page.get_by_text("a real BERT output", exact=True).click()
    wait_ready(page)
    assert_no_exception(page)
    page.wait_for_selector(f"{CHART} .main-svg", timeout=120_000)
    assert page.get_by_text("first 6 tokens × first 8 features", exact=False).first.is_visible()
    _to_top(page, page.get_by_text("Colour = where the element came from", exact=False))
    stage1 = page.locator(CHART).nth(2)  # input grid, input memory, then stage 1's grid
    stage1.scroll_into_view_if_needed()
    box = stage1.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + 12, box["y"] + 12)  # the first cell of panel [0]
    page.wait_for_timeout(600)
    hover = stage1.locator(".hoverlayer").first.text_content() or ""
    screenshot(page, "reshape_lab_06_bert_hover")
    assert "token" in hover and "value" in hover
