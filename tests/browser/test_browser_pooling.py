"""Pooling comparison in a real browser: load a sample, see the side-by-side charts, switch to 3-D, bad input."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_exception, screenshot, wait_ready
from tests.browser.legibility import legibility_problems, summary

pytestmark = pytest.mark.browser

CHART = "[data-testid='stPlotlyChart']"


def _shown_value(pg, key_prefix: str) -> str:
    """What a selectbox shows: its text and its input's value (Streamlit puts the choice in either)."""
    box = pg.locator(f"[class*='st-key-{key_prefix}']").first
    return box.evaluate("e => e.innerText + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')")


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
    # the open tab: one map per strategy, each drawn by plotly; the heatmaps and token view wait for their tab
    page.wait_for_function(f'document.querySelectorAll("{CHART} .main-svg").length >= 7', timeout=60_000)
    assert page.locator(CHART).count() == 7
    assert page.get_by_text("Best: mean", exact=False).first.is_visible()
    assert page.get_by_text("majority-class baseline of 0.50", exact=False).first.is_visible()
    _show(page, "Separation scores")
    screenshot(page, "pooling_02_scores")
    _show(page, "Maps, neighbours, similarity")
    screenshot(page, "pooling_03_pca")

    # the camera button is plotly's own PNG export (toImageButtonOptions sets its file name and scale)
    first = page.locator(CHART).first
    first.hover()
    assert first.locator("[data-title='Download plot as a PNG']").count() == 1

    # click a dot in the cls map: that text is picked, ringed in every map, its neighbours listed
    dot = page.locator(CHART).first.locator(".scatterlayer .trace .points path").nth(4)
    dot.click(force=True)
    page.locator("h5", has_text="Nearest neighbours").wait_for()
    page.wait_for_function(
        f"""() => [...document.querySelectorAll("{CHART}")].filter(
                c => c.querySelectorAll(".scatterlayer .trace").length === 4).length === 7""",
        timeout=60_000,
    )  # two labels + the neighbours' rings + the picked ring, in all seven maps
    wait_ready(page)
    picked = _shown_value(page, "po_pick_")
    assert "#" in picked and "[" in picked, picked  # "#12 [positive] …"
    rows = page.locator("[data-testid='stDataFrame']").first  # the scores table is HTML, not a data grid
    rows.wait_for()
    assert page.get_by_text("nearest texts under mean share the label", exact=False).first.is_visible()
    _show(page, "Nearest neighbours")
    screenshot(page, "pooling_04_neighbours")

    page.get_by_role("tab", name="Cosine similarity").click()
    wait_ready(page)
    page.wait_for_function(f'document.querySelectorAll("{CHART} .main-svg").length >= 7', timeout=60_000)
    screenshot(page, "pooling_05_similarity")
    page.get_by_role("tab", name="Token vectors across layers").click()
    wait_ready(page)
    page.wait_for_function(f'document.querySelectorAll("{CHART} .main-svg").length >= 1', timeout=60_000)
    screenshot(page, "pooling_06_tokens")

    page.get_by_role("tab", name="Map & nearest neighbours").click()
    wait_ready(page)
    page.locator(".st-key-po_3d label").first.click()
    wait_ready(page)
    assert_no_exception(page)
    page.wait_for_function(f'document.querySelectorAll("{CHART} .gl-container canvas").length >= 1', timeout=60_000)
    screenshot(page, "pooling_07_pca_3d")


def test_token_picker_follows_new_texts(app_url, page):
    """No stale widget: after other texts are loaded, the token picker shows the new first text."""
    page.goto(f"{app_url}/pooling")
    wait_ready(page)
    page.get_by_role("button", name="Load sample: sentiment").click()
    wait_ready(page)
    page.get_by_role("tab", name="Token vectors across layers").click()
    wait_ready(page)
    assert "#1 [positive]" in _shown_value(page, "po_token_text_")
    page.get_by_role("button", name="Load sample: topics").click()
    wait_ready(page)
    page.wait_for_timeout(500)
    from core.analysis.samples import load_sample

    first = load_sample("topics")
    shown = _shown_value(page, "po_token_text_")
    assert f"#1 [{first.labels[0]}] {first.texts[0][:30]}" in shown, shown


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


SCORES_GEOMETRY = """() => Array.from(document.querySelectorAll('.pl-wrap')).filter(w => w.offsetParent).map(w => {
  const cells = Array.from(w.querySelectorAll('td')).map(td => ({text: td.innerText, scroll: td.scrollWidth,
    client: td.clientWidth}));
  return {scroll: w.scrollWidth, client: w.clientWidth, cells};
})"""


@pytest.mark.parametrize("size", [(1024, 768), (1400, 1000)], ids=["1024", "1400"])
def test_scores_table_fits_and_shows_every_description(app_url, page, size):
    """The Separation scores table, like the Pipeline page's Stages table: no sideways scroll inside its box,
    the "what it is" column wrapped in full, no word broken inside itself."""
    from core.model.pooling import DESCRIPTIONS
    from core.spec import Pooling

    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{app_url}/pooling")
    wait_ready(page)
    page.get_by_role("button", name="Load sample: sentiment").click()
    wait_ready(page)
    page.locator(".pl-table").first.wait_for(timeout=60_000)
    (box,) = page.evaluate(SCORES_GEOMETRY)
    assert box["scroll"] <= box["client"] + 1, f"the scores table is wider than its box at {size}: {box}"
    texts = {c["text"].strip() for c in box["cells"]}
    assert {DESCRIPTIONS[s] for s in DESCRIPTIONS if s is not Pooling.NONE} <= texts, "every description in full"
    assert all(c["scroll"] <= c["client"] + 1 for c in box["cells"]), "no cell cut"
    problems = legibility_problems(page, ".pl-table td, .pl-table th")
    assert not problems["broken"] and not problems["truncated"], summary(problems)
    _show(page, "Separation scores")
    screenshot(page, f"pooling_scores_{size[0]}", full=False)
