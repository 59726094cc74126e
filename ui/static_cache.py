"""Streamlit's own static assets (its JS chunks, CSS, fonts) answered from memory.

Streamlit serves them with Starlette's ``StaticFiles``: a ``stat``, a worker-thread hop and a streamed file for
each request, ~2 ms of server CPU per file on a 2-core machine. A new visitor fetches about a hundred (the
Explorer: 58 listed in ``index.html``, ~40 more as its widgets appear), and a workshop room's students fetch them
at the same moment. Measured (``benchmarks/bench_app.py`` and a 60-file fetch, same machine, same hour): 60 chunks
six at a time took 0.10 s from Streamlit's handler and 0.033 s from memory; the Explorer's warm page, 18 visits
each, 1.44 s -> 1.38 s.

Every file under ``static/`` has a content hash in its name and Streamlit serves it with ``Cache-Control: public,
immutable``: its answer never changes, so Streamlit's first answer for each is kept and replayed (its whole
``static/`` folder is ~25 MB; at most ``MAX_BYTES`` are kept). Only plain ``GET`` requests under ``static/`` are
looked up here, and only answers Streamlit marked immutable are kept; everything else (``index.html`` and the
page-path fallback, ``HEAD``, ranges, conditional requests, missing files) goes to Streamlit's handler
unchanged, as does everything when ``install`` finds Streamlit's server laid out differently (it then returns
False and patches nothing).
"""

from __future__ import annotations

import functools
import os
from typing import Any

MAX_BYTES = 64 * 1024 * 1024
PASS_THROUGH_HEADERS = (b"range", b"if-none-match", b"if-modified-since")


class MemoryStatic:
    """ASGI app: ``static/…`` files from memory, the rest from ``inner`` (Streamlit's static handler).

    The first answer for each file comes from ``inner`` and is recorded (status line, headers, body); later
    requests get the same bytes and headers replayed, so nothing here decides a content type or a cache policy.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.answers: dict[str, tuple[list[tuple[bytes, bytes]], bytes]] = {}  # path -> (headers, body)
        self.size = 0

    def __getattr__(self, name: str) -> Any:  # the rest of StaticFiles' interface, for whoever reads it
        return getattr(self.inner, name)

    def _key(self, scope: dict[str, Any]) -> str | None:
        """The mount-relative path of a plain GET under ``static/`` (None: not ours to answer)."""
        if scope.get("type") != "http" or scope.get("method") != "GET":
            return None
        if any(name.lower() in PASS_THROUGH_HEADERS for name, _ in scope.get("headers", ())):
            return None
        rel = self.inner.get_path(scope)  # '..' and '.' resolved by Starlette's own rule
        return rel if rel.startswith("static" + os.sep) else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        key = self._key(scope)
        if key is None:
            await self.inner(scope, receive, send)
            return
        answer = self.answers.get(key)
        if answer is not None:
            headers, body = answer
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        start: dict[str, Any] = {}
        parts: list[bytes] = []

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            await send(message)

        await self.inner(scope, receive, record)
        body = b"".join(parts)
        headers = dict(start.get("headers", []))
        immutable = b"immutable" in headers.get(b"cache-control", b"")  # a hashed asset, never index.html
        if start.get("status") == 200 and immutable and self.size + len(body) <= MAX_BYTES:
            self.answers[key] = (list(start.get("headers", [])), body)
            self.size += len(body)


def install() -> bool:
    """Make Streamlit's server answer its static assets from memory (call before the server starts).

    Returns False, patching nothing, when Streamlit's Starlette server is not laid out as in the pinned version.
    """
    try:
        from streamlit.web.server.starlette import starlette_static_routes as routes
    except ImportError:
        return False
    make = getattr(routes, "create_streamlit_static_handler", None)
    if make is None:
        return False
    if getattr(make, "in_memory", False):
        return True

    @functools.wraps(make)  # keeps the original reachable as ``__wrapped__``
    def create(directory: str, base_url: str | None) -> Any:
        inner = make(directory=directory, base_url=base_url)
        return MemoryStatic(inner) if hasattr(inner, "get_path") else inner

    create.in_memory = True  # type: ignore[attr-defined]
    routes.create_streamlit_static_handler = create
    return True
