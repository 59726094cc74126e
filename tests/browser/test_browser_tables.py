"""The Pipeline Explorer's HTML tables and shape flow at the two sizes a room uses (1024×768 and 1400×1000, in
normal and presenter mode): never cut at the right (the box never needs to scroll for these pipelines), no word
broken inside itself (``batch_fir / st=True``), a warning as a full-width row (no tall empty block), token ids
at 12 px or more; and ``/home`` opens the Overview instead of "Page not found"."""

from __future__ import annotations

import pytest

from core.export.share import encode_spec
from core.spec import Spec
from tests.browser.conftest import assert_no_exception, screenshot, wait_ready
from tests.browser.legibility import legibility_problems, summary

pytestmark = pytest.mark.browser

SIZES = [(1024, 768), (1400, 1000)]
# the newcomer's two pipelines: a padded LSTM with the "last step of a padded batch" warning, and a view used as a
# transpose before a Conv1d (synthetic source: no model)
LSTM = {
    "texts": ["This movie was absolutely amazing, I loved every single minute of it!", "Bad."],
    "steps": [
        {"lstm": {"hidden_size": 128, "num_layers": 2, "batch_first": True}},
        "x[:, -1, :]",
        {"linear": {"out_features": 2}},
    ],
}
CONV = {
    "shape": [32, 128, 768],
    "steps": ["x.view(32, 768, 128)", {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}],
}
OUR_HTML = ".pl-table td, .pl-table th, .sf-name"
GEOMETRY = """() => Array.from(document.querySelectorAll('.pl-wrap')).filter(w => w.offsetParent).map(w => {
  const warn = Array.from(w.querySelectorAll('tr.pl-warn td[colspan]')).map(td => td.getBoundingClientRect().width);
  const rows = Array.from(w.querySelectorAll('tbody tr:not(.pl-warn)')).map(tr => tr.getBoundingClientRect().height);
  return {scroll: w.scrollWidth, client: w.clientWidth, width: w.getBoundingClientRect().width, warn, rows};
})"""


def _open(page, spec: dict, size: tuple[int, int], present: bool) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{page.app_url}/pipeline?spec={encode_spec(Spec.from_dict(spec))}{'&present=1' if present else ''}")
    wait_ready(page)
    page.wait_for_selector(".pl-table")
    assert_no_exception(page)


@pytest.fixture
def pl(app_url, page):
    page.app_url = app_url
    return page


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("name", ["lstm", "conv"])
def test_stage_table_fits_and_breaks_no_word(pl, name, present):
    spec = {"lstm": LSTM, "conv": CONV}[name]
    for size in SIZES:
        _open(pl, spec, size, present)
        for tab in ("Stages", "Layer summary"):
            pl.get_by_role("tab", name=tab).first.click()
            pl.wait_for_timeout(400)
            wait_ready(pl)
            for box in pl.evaluate(GEOMETRY):
                where = f"{name} {tab} at {size[0]}×{size[1]}{' presenter' if present else ''}"
                assert box["scroll"] <= box["client"] + 1, f"{where}: the table is wider than its box: {box}"
                for w in box["warn"]:  # a warning takes the table's width, not a narrow column
                    assert w >= 0.8 * box["width"], f"{where}: warning row {w:.0f}px of {box['width']:.0f}px"
                assert max(box["rows"]) < 200, f"{where}: a row is {max(box['rows']):.0f}px tall (an empty block?)"
            problems = legibility_problems(pl, OUR_HTML)
            assert not problems["broken"] and not problems["truncated"], summary(problems)
        if size == SIZES[0]:
            pl.get_by_role("tab", name="Stages").first.click()
            wait_ready(pl)
            screenshot(pl, f"tables_{name}_{size[0]}{'_present' if present else ''}")


def test_a_long_name_scrolls_inside_the_box_and_is_never_cut(pl):
    """A single name wider than the step column cannot wrap: the table scrolls sideways inside its box (the last
    resort), and every cell stays reachable (nothing hidden by overflow)."""
    long_name = "x.reshape(4, 16, 32)" + ".contiguous()" * 12
    _open(pl, {"shape": [4, 16, 32], "steps": [long_name, "x.flatten(start_dim=1)"]}, SIZES[0], False)
    wrap = pl.locator(".pl-wrap").first
    assert wrap.evaluate("w => getComputedStyle(w).overflowX") == "auto"
    problems = legibility_problems(pl, OUR_HTML)
    assert not problems["broken"], summary(problems)
    text = pl.locator(".sf-name").nth(1).inner_text()
    assert text.replace("\n", "").endswith(".contiguous()"), "the shape flow shows the whole step, not an ellipsis"


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presenter"])
def test_token_ids_are_at_least_12px(pl, present):
    _open(pl, LSTM, SIZES[0], present)
    sizes = pl.evaluate(  # two texts: the Tokens expander is open
        """() => Array.from(document.querySelectorAll("[data-testid='stHtml'] span[title^='position']"))
             .flatMap(chip => Array.from(chip.querySelectorAll('span'))).map(s => {
               const z = parseFloat(getComputedStyle(s.closest("[data-testid='stHtml']")).zoom || '1') || 1;
               return parseFloat(getComputedStyle(s).fontSize) * z; })"""
    )
    assert sizes, "the token chips are on the page"
    assert min(sizes) >= 12, f"smallest chip text {min(sizes):.1f}px"
    if present:
        assert min(sizes) >= 15, "presenter mode zooms the chips (1.3×)"


def test_home_opens_the_overview(app_url, page):
    for size in SIZES:
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.goto(f"{app_url}/home")
        wait_ready(page)
        page.wait_for_timeout(800)
        wait_ready(page)
        assert page.get_by_text("Page not found").count() == 0
        assert page.locator("h1").first.inner_text() == "Shape Explorer"
        assert page.url.rstrip("/") == app_url, page.url
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
        assert not [h for h in hrefs if h.rstrip("/").endswith("/home")], hrefs
    screenshot(page, "home_alias_1400", full=False)
