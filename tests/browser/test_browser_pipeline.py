"""Pipeline Explorer in a real browser: defaults, typing a text, adding a step, an error + Apply fix, links."""

from __future__ import annotations

import time

import pytest

from core.export.share import PARAM, encode_spec, spec_from_query
from core.spec import Spec
from tests.browser.conftest import READY, assert_no_exception, screenshot, wait_ready

pytestmark = pytest.mark.browser

CHART = "[data-testid='stPlotlyChart']"
FLOW = ".sf .sf-row"  # the shape flow, plain HTML
TALL = {"width": 1440, "height": 2600}


def _shot(page, name: str) -> None:
    """Streamlit scrolls inside its own container, so a tall viewport shows the whole page."""
    size = page.viewport_size
    page.set_viewport_size(TALL)
    page.wait_for_timeout(600)
    screenshot(page, name)
    page.set_viewport_size(size)


def _url_spec(page) -> Spec:
    from urllib.parse import parse_qs, urlparse

    return spec_from_query({k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()})


def _success(page, text: str) -> None:
    page.locator("[data-testid='stAlert']").filter(has_text=text).first.wait_for(timeout=60_000)


def _click(page, key: str) -> None:
    """Click the button of a keyed widget (Streamlit renders a hidden twin, hence .first) and wait."""
    page.locator(f".st-key-{key} button").first.click()
    wait_ready(page)


def test_pipeline_default_edit_error_fix(app_url, page):
    t0 = time.perf_counter()
    page.goto(f"{app_url}/pipeline")
    wait_ready(page)
    page.wait_for_selector(FLOW, timeout=120_000)
    first_load = time.perf_counter() - t0
    assert_no_exception(page)
    assert page.locator(CHART).count() == 0, "the first view draws no plotly chart"
    assert page.locator(FLOW).count() == 4 and page.locator(".pl-table").count() == 1
    _success(page, "Runs: final shape (2, 2)")
    assert page.get_by_text("[PAD]").first.is_visible(), "padding of the shorter text is shown"
    assert _url_spec(page).steps[1] == "x[:, -1, :]", "the URL carries the pipeline"
    _shot(page, "pipeline_default")

    # type texts (one per line) in the sidebar
    box = page.get_by_label("Texts (one per line)")
    box.fill("I loved every minute.\nNot my kind of film.\nThree texts now")
    page.keyboard.press("Control+Enter")
    wait_ready(page)
    _success(page, "Runs: final shape (3, 2)")
    assert_no_exception(page)

    # change a layer parameter: time until the new final shape is on screen (the encoder output is cached)
    out_features = page.locator(".st-key-pl_p2_out_features input")
    timings = []
    for k in (5, 3):
        out_features.fill(str(k))
        t0 = time.perf_counter()
        out_features.press("Enter")
        _success(page, f"Runs: final shape (3, {k})")
        timings.append(time.perf_counter() - t0)
        wait_ready(page)
    rerender = min(timings)

    # change a step: the expression of step 2
    step2 = page.locator(".st-key-pl_e1 input")
    step2.fill("x[:, 0, :]")
    step2.press("Enter")
    wait_ready(page)
    _success(page, "Runs: final shape (3, 3)")
    assert _url_spec(page).steps[1] == "x[:, 0, :]"

    # add a step: an LSTM after the Linear reads (3, 3) as one unbatched sequence
    _click(page, "pl_add_lstm")
    _success(page, "Runs: final shape (3, 128)")
    assert_no_exception(page)
    _shot(page, "pipeline_added_step")

    # the seed-004 mistake: Conv1d(in_channels=384) straight on BERT's (B, L, H)
    _click(page, "pl_reset")
    for sid in (4, 5, 6):  # the reset chain got fresh ids 4, 5, 6 (0-2 default, 3 the added LSTM)
        _click(page, f"pl_rm{sid}")
    _click(page, "pl_add_conv1d")
    channels = page.locator(".st-key-pl_p7_in_channels input")
    channels.fill("384")
    channels.press("Enter")
    wait_ready(page)
    assert_no_exception(page)
    page.get_by_text("Step 1 failed").first.wait_for()
    assert page.get_by_text("to have 384 channels, but got").first.is_visible()
    _shot(page, "pipeline_error")

    page.get_by_role("button", name="Apply fix").first.click()
    wait_ready(page)
    assert_no_exception(page)
    _success(page, "Fix applied")
    assert isinstance(_url_spec(page).steps[0], str), "a permute/transpose was inserted before the Conv1d"
    _shot(page, "pipeline_fixed")
    print(f"first load {first_load:.1f} s; edit -> new shape on screen {rerender * 1000:.0f} ms (browser)")


def test_pipeline_opens_a_shared_link(app_url, page):
    spec = Spec.from_dict(
        {
            "title": "Seed 004: BERT output into Conv1d",
            "shape": [32, 128, 768],
            "steps": ["x.transpose(1, 2)", {"conv1d": {"in_channels": 768, "out_channels": 512, "kernel_size": 3}}],
        }
    )
    page.goto(f"{app_url}/?{PARAM}={encode_spec(spec)}")
    wait_ready(page)
    page.wait_for_selector(FLOW, timeout=120_000)
    assert_no_exception(page)
    _success(page, "Runs: final shape (32, 512, 126)")
    assert page.get_by_text("Seed 004: BERT output into Conv1d").first.is_visible()
    assert _url_spec(page) == spec
    page.get_by_text("Share & export").first.click()
    page.get_by_text("pipeline.py").first.wait_for()
    _shot(page, "pipeline_shared_link")


def test_pipeline_hostile_link_shows_defaults(app_url, page):
    page.goto(f"{app_url}/?{PARAM}=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    wait_ready(page)
    assert_no_exception(page)
    page.get_by_text("This shared link could not be opened").first.wait_for()
    _success(page, "Runs: final shape (2, 2)")
    _shot(page, "pipeline_hostile_link")


def test_flow_legend_wraps_and_explains_the_hatching(app_url, page):
    spec = Spec.from_dict({"shape": [4, 16, 32], "steps": ["x.permute(0, 2, 1)", "x.flatten(1)"]})
    page.goto(f"{app_url}/?{PARAM}={encode_spec(spec)}")
    wait_ready(page)
    page.wait_for_selector(FLOW)
    legend = page.locator(".sf-legend")
    assert "hatched = not contiguous" in legend.inner_text()
    # nothing is clipped: no scrollbar, the legend and every bar stay inside the column
    box = page.locator(".sf").bounding_box()
    assert legend.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    for seg in page.locator(".sf-seg").all():
        b = seg.bounding_box()
        assert b["x"] + b["width"] <= box["x"] + box["width"] + 1
    # the stage table fits its column: no cell cut off at the right
    table = page.locator(".pl-wrap").first
    assert table.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the stage table is cut off at the right"


def test_undo_after_apply_fix_and_browser_back(app_url, page):
    page.goto(f"{app_url}/pipeline")
    wait_ready(page)
    page.wait_for_selector(FLOW)
    original = _url_spec(page)
    page.get_by_role("button", name="Apply fix").first.click()  # the padded-last-step warning's fix
    wait_ready(page)
    _success(page, "Fix applied")
    fixed = _url_spec(page)
    assert fixed != original
    page.locator(".st-key-pl_undo_btn button").first.click()
    wait_ready(page)
    page.get_by_text("Undone: Apply fix").first.wait_for()
    assert _url_spec(page) == original
    # the browser's Back button walks the same history: back to the fixed pipeline, then forward again
    page.go_back()
    wait_ready(page)
    page.wait_for_timeout(500)
    wait_ready(page)
    assert _url_spec(page) == fixed
    page.get_by_text("browser's history").first.wait_for()
    assert page.locator(".st-key-pl_e1 input, [class*='st-key-pl_e'] input").count() >= 1
    page.go_forward()
    wait_ready(page)
    page.wait_for_timeout(500)
    wait_ready(page)
    assert _url_spec(page) == original


def test_attention_model_view_click_enlarges_a_head(app_url, page):
    page.goto(f"{app_url}/pipeline")
    wait_ready(page)
    page.get_by_role("tab", name="BERT attention").click()
    wait_ready(page)
    page.wait_for_selector(f"{CHART} .main-svg")
    model = page.locator(CHART).first
    # plotly's own PNG export, in the browser: no kaleido on the server
    model.hover()
    assert model.locator("[data-title='Download plot as a PNG']").count() == 1
    # click the tile of layer 2, head 3: the tiles trace is the last scatter; its points are in tile order
    points = model.locator(".scatterlayer .trace").last.locator(".points path")
    assert points.count() == 72
    points.nth(12 + 3).scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = points.nth(12 + 3).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 9, box["y"] + box["height"] / 2 - 7)  # off-centre, same tile
    wait_ready(page)
    page.wait_for_timeout(300)
    wait_ready(page)
    title = page.locator(CHART).nth(1).locator(".gtitle").text_content()
    assert title.startswith("layer 2, head 3"), title
    _shot(page, "pipeline_attention_model_view")


def test_layer_summary_tab(app_url, page):
    page.goto(f"{app_url}/pipeline")
    wait_ready(page)
    page.get_by_role("tab", name="Layer summary").click()
    wait_ready(page)
    table = page.locator(".pl-table").first
    table.wait_for()
    text = table.inner_text()
    assert "LSTM" in text and "Linear" in text and "395,522" in text
    assert page.get_by_text("As torchinfo counts them", exact=False).first.is_visible()


def test_a_shared_link_never_shows_a_stale_default_first(app_url, page):
    """After opening a link, max_length and the layer's hidden_size show the link's values from the first
    frame (not "1" and "0" for a moment, as number widgets seeded through session state did)."""
    spec = Spec.from_dict(
        {"texts": ["hello world", "second text"], "max_length": 64, "steps": [{"gru": {"hidden_size": 24}}]}
    )
    page.goto(f"{app_url}/?{PARAM}={encode_spec(spec)}", wait_until="commit")
    probe = """() => {
        const ml = document.querySelector('.st-key-pl_max_length input');
        const ex = document.querySelector(".st-key-pl_p0_hidden_size input");
        return [ml ? ml.value : null, ex ? ex.value : null];
    }"""
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        values = tuple(page.evaluate(probe))
        seen.add(values)
        if values == ("64", "24") and page.locator(READY).count():
            break
        page.wait_for_timeout(20)
    for _ in range(20):  # and it stays so
        seen.add(tuple(page.evaluate(probe)))
        page.wait_for_timeout(20)
    shown_ml = {ml for ml, _ in seen if ml is not None}
    shown_ex = {ex for _, ex in seen if ex is not None}
    assert shown_ml == {"64"}, f"max_length showed {shown_ml}"
    assert shown_ex == {"24"}, f"hidden_size showed {shown_ex}"


def _pick_checkpoint(page, name: str) -> None:
    """Open the sidebar's checkpoint picker (a popover with a list) and choose ``name``."""
    page.locator("[data-testid='stSidebar'] [data-testid='stPopover'] button").filter(
        has_text="Checkpoint"
    ).first.click()
    page.locator("[data-testid='stPopoverBody'] label").filter(has_text=name).first.click()
    wait_ready(page)


def _checkpoint_button(page) -> str:
    """The checkpoint button's label as read (its non-breaking hyphens and wrap points back to plain text)."""
    button = page.locator("[data-testid='stSidebar'] [data-testid='stPopover'] button").first
    label = button.locator("[data-testid='stMarkdownContainer']").first.inner_text()  # not the icons' names
    return " ".join(label.replace("\u2011", "-").replace("\u200b", "").split())


def test_a_checkpoint_that_cannot_load_keeps_the_steps(app_url, page):
    """A run that stops on a load error draws no step editor; the steps' values must outlive it (a browser drops
    the values of widgets a run did not draw), so picking a working checkpoint runs the same pipeline again."""
    page.goto(f"{app_url}/pipeline")
    wait_ready(page)
    _success(page, "Runs: final shape (2, 2)")
    _pick_checkpoint(page, "other (Hugging Face id or local folder)…")
    custom = page.locator(".st-key-model_custom input").first
    custom.fill("prajjwal1/bert-tiny")
    custom.press("Enter")
    wait_ready(page)
    page.keyboard.press("Escape")  # close the picker
    _click(page, "model_approve")  # the server is offline: the load fails and the run stops
    page.get_by_text("Cannot load this checkpoint").first.wait_for(timeout=60_000)
    assert _checkpoint_button(page) == "Checkpoint: prajjwal1/bert-tiny", "the sidebar is drawn: pick another"
    _pick_checkpoint(page, "random:bert-tiny")
    page.keyboard.press("Escape")
    _success(page, "Runs: final shape (2, 2)")
    wait_ready(page)
    assert_no_exception(page)
    assert page.locator("input[value='x[:, -1, :]']").count() >= 1, "step 2's expression is still there"
    assert _url_spec(page).steps[1] == "x[:, -1, :]"
    assert page.get_by_text("Invalid pipeline").count() == 0
    assert _checkpoint_button(page) == "Checkpoint: random:bert-tiny"
