"""Paste code in a real browser: seed 004's third example (the view(32, 768, 128) one) pasted into a fresh
Pipeline Explorer shows every line's shape and the warning on the view line; Apply fix puts the transpose
(permute) into both the code and the pipeline. Screenshots of each state at 1400×1000 and 1024×768 land in
tests/artifacts/."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.export.share import spec_from_query
from tests.browser.conftest import assert_no_exception, screenshot, wait_ready

pytestmark = pytest.mark.browser

SEED = (Path(__file__).resolve().parents[1] / "code_import" / "seed_examples" / "004_3.txt").read_text()
CODE = "[data-testid='stMain'] .se-code"


def _url_spec(page):
    from urllib.parse import parse_qs, urlparse

    return spec_from_query({k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()})


def _eventually(check, timeout: float = 20.0) -> None:
    """Poll a condition (the URL and the widgets settle just after the script run)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the page did not settle"
        time.sleep(0.25)


def _row(page, fragment: str):
    return page.locator(f"{CODE} tr").filter(has_text=fragment).first


@pytest.mark.parametrize("size", [(1400, 1000), (1024, 768)], ids=["1400", "1024"])
def test_paste_seed_004_view_then_apply_fix(app_url, page, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{app_url}/pipeline")
    wait_ready(page)
    page.get_by_text("Paste your code").first.click()
    box = page.locator(".st-key-pc_code textarea")
    box.fill(SEED)
    page.keyboard.press("Control+Enter")
    wait_ready(page)
    page.locator(".st-key-pc_go button").first.click()
    wait_ready(page)
    page.locator(CODE).wait_for(timeout=120_000)
    assert_no_exception(page)

    # every statement with a tensor shows its shape; the view line carries the warning
    assert "(32, 128, 768)" in _row(page, "torch.randn(32, 128, 768)").inner_text()
    view = _row(page, "bert_output.view(32, 768, 128)")
    assert "(32, 768, 128)" in view.inner_text()
    assert "warn" in (view.get_attribute("class") or "")
    assert "(32, 512, 126)" in _row(page, "conv_output = conv1d(reshaped_output)").inner_text()
    assert page.locator(f"{CODE} tr.sub").filter(has_text="⚠").count() >= 1
    _eventually(lambda: _url_spec(page).to_dict()["steps"][0] == "x.view(32, 768, 128)")
    screenshot(page, f"paste_004_view_{size[0]}")

    page.locator(".st-key-pc_fix_0 button").first.click()
    wait_ready(page)
    assert_no_exception(page)
    fixed = _row(page, "reshaped_output = bert_output.permute(0, 2, 1)")
    assert "(32, 768, 128)" in fixed.inner_text()
    expect(page.locator(f"{CODE} tr.warn")).to_have_count(0)
    assert "permute(0, 2, 1)" in page.locator(".st-key-pc_code textarea").input_value()
    _eventually(lambda: _url_spec(page).to_dict()["steps"][0] == "x.permute(0, 2, 1)")
    expect(page.locator("input[value='x.permute(0, 2, 1)']").first).to_be_visible()  # the step editor shows it
    screenshot(page, f"paste_004_fixed_{size[0]}")
