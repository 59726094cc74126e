"""A fresh server whose very first request is a deep link still runs through app.py's navigation."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_exception, screenshot, streamlit_server, wait_ready

pytestmark = pytest.mark.browser

DEEP_LINKS = [
    ("", "Shape Explorer"),
    ("pipeline", "Pipeline Explorer"),
    ("reshape-lab", "Reshape Lab"),
    ("lessons?lesson=view-is-not-transpose", "Lessons & workshop"),
    ("pooling", "Pooling comparison"),
]


@pytest.mark.parametrize("path,title", DEEP_LINKS, ids=[p[0].split("?")[0] or "root" for p in DEEP_LINKS])
def test_first_request_deep_link(chromium_path, page, path, title):
    with streamlit_server(f"streamlit-deeplink-{path.split('?')[0]}") as url:
        page.goto(f"{url}/{path}")
        wait_ready(page)
        assert_no_exception(page)
        assert page.locator("h1").first.inner_text().strip().startswith(title.split(" ")[0])
        nav = page.locator("[data-testid='stSidebarNav']").inner_text()
        # the app's own navigation, not the legacy listing of every file in pages/
        assert "Pipeline Explorer" in nav and "common" not in nav.lower()
        assert page.locator("[data-testid='stDialog']").count() == 0, "no 'Page not found' dialog"
        screenshot(page, f"deeplink_{path.split('?')[0] or 'root'}")
