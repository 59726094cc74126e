"""ui.static_cache: Streamlit's static assets replayed from memory, answer for answer the same as Streamlit's own.

The reference is Streamlit's handler itself (``create_streamlit_static_handler`` of the pinned version), driven
through plain ASGI calls.
"""

from __future__ import annotations

import asyncio
import glob
import os

import pytest

routes = pytest.importorskip("streamlit.web.server.starlette.starlette_static_routes")
from streamlit import file_util  # noqa: E402

from ui import static_cache  # noqa: E402

STATIC = file_util.get_static_dir()
ORIGINAL = getattr(routes.create_streamlit_static_handler, "__wrapped__", routes.create_streamlit_static_handler)


def _first(pattern: str) -> str:
    found = sorted(glob.glob(os.path.join(STATIC, "static", pattern)))
    assert found, f"no {pattern} in Streamlit's static folder"
    return "/" + os.path.relpath(found[0], STATIC).replace(os.sep, "/")


ASSETS = [_first("js/index.*.js"), _first("css/*.css"), _first("media/*.woff2")]


class Counting:
    """Streamlit's handler, counting the requests it answers."""

    def __init__(self) -> None:
        self.handler = ORIGINAL(directory=STATIC, base_url=None)
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.handler, name)

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await self.handler(scope, receive, send)


def call(app, path: str, method: str = "GET", headers: tuple[tuple[str, str], ...] = ()):
    """One HTTP request to an ASGI app: (status, headers dict, body)."""
    messages = []
    requested = []

    async def receive():  # the request once, then a client that stays connected
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in headers],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 8501),
        "client": ("127.0.0.1", 50000),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], dict(start.get("headers", [])), body


def _same(a, b) -> None:
    status_a, headers_a, body_a = a
    status_b, headers_b, body_b = b
    assert status_a == status_b
    assert body_a == body_b
    for name in (b"content-type", b"cache-control", b"content-length"):
        assert headers_a.get(name) == headers_b.get(name), name


@pytest.mark.parametrize("path", ASSETS, ids=["js", "css", "font"])
def test_an_asset_is_read_once_then_replayed_identically(path):
    inner = Counting()
    app = static_cache.MemoryStatic(inner)
    reference = call(ORIGINAL(directory=STATIC, base_url=None), path)
    assert reference[0] == 200 and b"immutable" in reference[1][b"cache-control"]
    first, second, third = (call(app, path) for _ in range(3))
    for answer in (first, second, third):
        _same(answer, reference)
    assert inner.calls == 1, "the second and third requests were answered from memory"
    assert app.size == len(reference[2])


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        ("/", "GET", ()),  # index.html: no-cache, never kept
        ("/pipeline", "GET", ()),  # a page's address: Streamlit's index fallback
        ("/static/js/no-such-chunk.js", "GET", ()),  # missing: Streamlit answers (its fallback), not kept
        ("/static/../index.html", "GET", ()),
        (ASSETS[0], "HEAD", ()),
        (ASSETS[0], "GET", (("range", "bytes=0-99"),)),
        (ASSETS[0], "GET", (("if-none-match", '"x"'),)),
    ],
    ids=["index", "page-path", "missing", "traversal", "head", "range", "conditional"],
)
def test_everything_else_is_streamlits_own_answer_and_never_kept(path, method, headers):
    inner = Counting()
    app = static_cache.MemoryStatic(inner)
    reference = call(ORIGINAL(directory=STATIC, base_url=None), path, method, headers)
    for _ in range(2):
        _same(call(app, path, method, headers), reference)
    assert inner.calls == 2, "both requests went to Streamlit's handler"
    assert app.answers == {}


def test_the_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(static_cache, "MAX_BYTES", 10)
    inner = Counting()
    app = static_cache.MemoryStatic(inner)
    reference = call(ORIGINAL(directory=STATIC, base_url=None), ASSETS[0])
    for _ in range(2):
        _same(call(app, ASSETS[0]), reference)
    assert inner.calls == 2 and app.answers == {} and app.size == 0


def test_install_wraps_streamlits_static_mount(monkeypatch):
    monkeypatch.setattr(routes, "create_streamlit_static_handler", ORIGINAL)
    assert static_cache.install()
    assert static_cache.install(), "a second install is a no-op"
    (mount,) = routes.create_streamlit_static_assets_routes(base_url=None)
    assert isinstance(mount.app, static_cache.MemoryStatic)
    assert type(mount.app.inner).__name__ == type(ORIGINAL(directory=STATIC, base_url=None)).__name__
    _same(call(mount.app, ASSETS[0]), call(ORIGINAL(directory=STATIC, base_url=None), ASSETS[0]))
