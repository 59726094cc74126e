"""No dead ends: every link on every page, and every URL a page prints (room links, lesson links, share links),
opens its page in Chromium without Streamlit's "Page not found" — collected from the rendered DOM.

The server listens like `make run` does (all interfaces), so the room links use this machine's LAN address and
are followed too. Old share links to the root (``/?spec=…``) forward to the Pipeline Explorer.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import pytest

from core.export.share import spec_to_query
from core.room.address import lan_address
from core.teaching.lessons import get_lesson, lesson_names
from tests.browser.conftest import assert_no_exception, streamlit_server, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KEY = "links-test-key"
PAGES = ["/", "/pipeline", "/pooling", "/reshape-lab", "/lessons", f"/teacher?key={KEY}"]
PER_PATH = 4  # distinct URLs followed per path (different specs / lessons), beyond the pages above
URL_RE = re.compile(r"https?://[^\s'\"<>`]+")


@pytest.fixture(scope="module")
def room_url(chromium_path):
    with streamlit_server("streamlit-links", env={"SHAPE_EXPLORER_TEACHER_KEY": KEY}, address="0.0.0.0") as url:
        yield url


def _ours(url: str, hosts: set[str]) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc not in hosts:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def _collect(pg, hosts: set[str]) -> set[str]:
    hrefs = pg.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    printed = pg.eval_on_selector_all(
        "[data-testid='stCode'], [data-testid='stMarkdownContainer'] code, [data-testid='stCaptionContainer']",
        "els => els.map(e => e.innerText)",
    )
    found = set()
    for url in [*hrefs, *(u for text in printed for u in URL_RE.findall(text.replace("\n", "")))]:
        ours = _ours(url.rstrip(".,;)"), hosts)
        if ours:
            found.add(ours)
    return found


def _open(pg, url: str) -> None:
    pg.goto(url)
    wait_ready(pg)
    dialogs = pg.locator("[data-testid='stDialog']")
    text = dialogs.first.inner_text() if dialogs.count() else ""
    assert "Page not found" not in text and "does not seem to exist" not in text, f"{url}: {text}"
    assert_no_exception(pg)
    assert pg.locator("h1").count() >= 1, f"{url}: no page title"


def test_every_link_and_printed_url_opens_its_page(browser, room_url):
    port = urlsplit(room_url).port
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    lan = lan_address()
    if lan:
        hosts.add(f"{lan}:{port}")
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    pg = ctx.new_page()
    pg.set_default_timeout(120_000)
    start = [room_url + p for p in PAGES] + [f"{room_url}/lessons?lesson={n}" for n in lesson_names()]
    todo: list[str] = []
    seen: set[str] = set()
    per_path: Counter[str] = Counter()
    room_links = 0
    for url in start:
        _open(pg, url)
        seen.add(url)
        for link in sorted(_collect(pg, hosts)):
            if link not in seen and link not in todo:
                todo.append(link)
    visited = len(seen)
    while todo:
        link = todo.pop(0)
        path = urlsplit(link).path
        if link in seen or (per_path[path] >= PER_PATH and path in {urlsplit(s).path for s in seen}):
            continue
        per_path[path] += 1
        seen.add(link)
        _open(pg, link)
        visited += 1
        room_links += bool(lan) and urlsplit(link).hostname == lan
        for more in _collect(pg, hosts):  # second level: new paths only
            if urlsplit(more).path not in {urlsplit(s).path for s in seen} and more not in todo:
                todo.append(more)
    ctx.close()
    paths = {urlsplit(s).path for s in seen}
    print(f"opened {visited} URLs on {len(paths)} paths, {room_links} of them room links: {sorted(paths)}")
    assert {"/", "/pipeline", "/pooling", "/reshape-lab", "/lessons", "/teacher"} <= paths
    assert visited >= 30
    if lan:
        assert room_links >= 1, "the room links (LAN address) were printed and followed"


def test_old_root_share_links_open_the_pipeline_explorer(browser, room_url):
    spec = get_lesson("transpose-for-conv1d").spec
    ((key, value),) = spec_to_query(spec).items()
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    pg = ctx.new_page()
    pg.set_default_timeout(120_000)
    _open(pg, f"{room_url}/?{key}={value}")
    pg.wait_for_function("() => location.pathname.endsWith('/pipeline')", timeout=60_000)
    wait_ready(pg)
    assert pg.locator("h1").first.inner_text().strip() == "Pipeline Explorer"
    assert pg.get_by_text("torch.transpose(x, 1, 2)", exact=False).count() >= 1
    ctx.close()


def test_unknown_paths_are_the_only_page_not_found(browser, room_url):
    """The check above can fail: a made-up path does show Streamlit's dialog."""
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    pg = ctx.new_page()
    pg.set_default_timeout(120_000)
    pg.goto(f"{room_url}/no-such-page")
    wait_ready(pg)
    assert "Page not found" in pg.locator("[data-testid='stDialog']").first.inner_text()
    ctx.close()
