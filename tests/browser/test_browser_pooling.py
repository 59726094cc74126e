"""Pooling comparison in a real browser: load a sample, see the side-by-side charts, switch to 3-D, bad input."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_exception, screenshot, wait_ready

pytestmark = pytest.mark.browser

CHART = "[data-testid='stPlotlyChart']"


def _show(pg, heading: str) -> None:
    """Scroll the page's own scroll container so ``heading`` is at the top (screenshots show the viewport)."""
    pg.get_by_text(heading, exact=True).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    pg.wait_for_timeout(600)


def test_pooling_page_loads_a_sample_and_draws_every_strategy(app_url, page):
    page.goto(f"{app_url}/pooling")
    wait_ready(page)
    # a fresh server's first deep link reruns once through app.py (pages/_common.ensure_app_navigation)
    page.get_by_role("button", name="Load sample: sentiment").wait_for(timeout=60_000)
    wait_ready(page)
    assert_no_exception(page)
    assert page.get_by_role("heading", name="Pooling comparison").is_visible()
    assert page.locator("[data-testid='stSidebarNav']").get_by_text("Pooling comparison").count() == 1
    screenshot(page, "pooling_01_empty")

    page.get_by_role("button", name="Load sample: sentiment").click()
    wait_ready(page)
    assert_no_exception(page)
    # 7 PCA scatters + 7 heatmaps + the token view, each drawn by plotly
    page.wait_for_function(f'document.querySelectorAll("{CHART} .main-svg").length >= 15', timeout=60_000)
    assert page.locator(CHART).count() == 15
    assert page.get_by_text("Best: mean", exact=False).first.is_visible()
    assert page.get_by_text("chance level of 0.50", exact=False).first.is_visible()
    _show(page, "Separation scores")
    screenshot(page, "pooling_02_scores")
    _show(page, "PCA of each strategy (2-D)")
    screenshot(page, "pooling_03_pca")

    # the camera button is plotly's own PNG export (toImageButtonOptions sets its file name and scale)
    first = page.locator(CHART).first
    first.hover()
    assert first.locator("[data-title='Download plot as a PNG']").count() == 1

    _show(page, "Cosine similarity")
    screenshot(page, "pooling_04_similarity")
    _show(page, "Token vectors across layers")
    screenshot(page, "pooling_05_tokens")

    page.get_by_text("3-D PCA", exact=True).click()
    wait_ready(page)
    assert_no_exception(page)
    _show(page, "PCA of each strategy (3-D)")
    page.wait_for_function(f'document.querySelectorAll("{CHART} .gl-container canvas").length >= 7', timeout=60_000)
    screenshot(page, "pooling_06_pca_3d")


def test_pooling_page_refuses_bad_paste_with_a_message(app_url, page):
    page.goto(f"{app_url}/pooling")
    wait_ready(page)
    page.get_by_role("button", name="Compare these texts").wait_for(timeout=60_000)
    page.get_by_role("textbox", name="One text per line").fill("positive\tA fine film.\nno tab on this line")
    page.get_by_role("button", name="Compare these texts").click()
    wait_ready(page)
    assert_no_exception(page)
    alert = page.locator("[data-testid='stAlert']").filter(has_text="mixed input")
    assert alert.count() == 1
    assert "line(s) 2 have no tab" in alert.inner_text()
    assert page.locator(CHART).count() == 0
    screenshot(page, "pooling_07_refused")
