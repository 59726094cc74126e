"""Offline means offline: every page, opened and used in Chromium, asks nothing of any host but the app's own.

Every request that is not to the loopback server is blocked and recorded; the test fails if any was attempted
(a favicon from a font CDN, a web font, a telemetry ping, an image in user text…).
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser.conftest import assert_no_exception, wait_ready

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
PAGES = ["/", "/pooling", "/reshape-lab", "/lessons"]


@pytest.fixture
def guarded(browser):
    """A browser context whose requests beyond the loopback server are aborted and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    attempted: list[str] = []

    def route(r):
        url = r.request.url
        host = urlparse(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
            r.continue_()
        else:
            attempted.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page, attempted
    context.close()


def test_no_page_requests_anything_beyond_the_server(app_url, guarded):
    page, attempted = guarded
    for path in PAGES:
        page.goto(f"{app_url}{path}")
        wait_ready(page)
        assert_no_exception(page)
    # use the heavy parts too: a sample comparison with its tabs, the Explorer's charts and attention view
    page.goto(f"{app_url}/pooling")
    wait_ready(page)
    page.get_by_role("button", name="Load sample: sentiment").click()
    wait_ready(page)
    for tab in ("Cosine similarity", "Token vectors across layers"):
        page.get_by_role("tab", name=tab).click()
        wait_ready(page)
    page.goto(f"{app_url}/pipeline")
    wait_ready(page)
    for tab in ("Layer summary", "LSTM / GRU over time", "BERT attention"):
        page.get_by_role("tab", name=tab).click()
        wait_ready(page)
    page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg")
    icon = page.evaluate("() => document.querySelector(\"link[rel='shortcut icon']\")?.href || ''")
    assert attempted == [], f"requests beyond the server: {attempted}"
    assert urlparse(icon).hostname in LOOPBACK, f"the favicon comes from {icon}"
