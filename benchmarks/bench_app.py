"""Benchmark: the app in headless Chromium against a started server — what a visitor waits for.

Measured (each a median of ``--rounds`` runs, five by default):

- cold first result: a fresh server (started as ``make run`` starts it, healthy), then the first visitor
  opens ``/pipeline`` (the Explorer) and waits until the default pipeline's result is on screen ("Runs: final
  shape" and the shape flow drawn). One fresh server per round.
- warm page: the same server, a new browser context each time (a second visitor: empty browser cache,
  new session), ``/pipeline`` until the result is on screen and the script has finished.
- edit -> new shape: on a loaded page, type a new ``out_features`` into the Linear step and press Enter;
  time until the new final shape is on screen.
- pooling, 2-D <-> 3-D: the pooling page with the sentiment sample loaded; flip the 3-D toggle and time until
  the script has finished and every PCA panel is drawn again (no re-encoding should happen).
- pooling, strategy switch: drop / restore one strategy pill; time until the page has settled.
- bare Streamlit page (the peer, same run): a one-line ``streamlit run`` script, a new browser context each
  time, until its text is on screen; what any Streamlit page costs a new visitor on this machine at this
  moment. The warm page is also reported as a ratio to it (the machine's speed varies by the hour: the bare
  page took 0.90 s at one hour and 1.15 s at another on the same day).

Targets (issue 15): warm page <= 1.5 s, cold first result <= 5 s. The machine's load average is printed
with the figures: on a shared machine read them as a range, and compare runs made under similar load.

    python benchmarks/bench_app.py                # make bench
    python benchmarks/bench_app.py --rounds 3 --skip-cold
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from _browser import BROWSER_ARGS, READY, app_server_command, chromium_path, free_port, started, write_results

CHART_DRAWN = "[data-testid='stPlotlyChart'] .main-svg"
FLOW_DRAWN = ".sf .sf-row"  # the Explorer's shape flow (plain HTML)
RESULT_TEXT = "Runs: final shape"
TARGETS = {"cold first result": 5.0, "warm page": 1.5}
BARE_TEXT = "A bare Streamlit page"
BARE_APP = f"import streamlit as st\nst.write({BARE_TEXT!r})\n"


@contextmanager
def server(log: Path):
    """A started, healthy app server on a free loopback port; yields (url, seconds until healthy)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [*app_server_command(port), "--server.headless", "true"]
    with started(cmd, log, f"{url}/_stcore/health") as (_, startup):
        yield url, startup


def settled(pg, timeout_s: float = 120) -> None:
    """The script has finished, stably (three checks 100 ms apart), and nothing is stale on screen."""
    deadline = time.monotonic() + timeout_s
    stable = 0
    while stable < 3:
        if time.monotonic() > deadline:
            raise TimeoutError("the page did not settle")
        stable = stable + 1 if pg.locator(READY).count() else 0
        pg.wait_for_timeout(100)


def new_visitor(browser, timeout_ms: int = 120_000) -> tuple[object, object]:
    """A new browser context (empty cache, new session) at 1400x1000 and its page: (context, page)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(timeout_ms)
    return ctx, pg


def open_pipeline(browser, url: str) -> tuple[float, object, object]:
    """A new visitor opens the Explorer (``/pipeline``); seconds until the result and the shape flow are on screen."""
    ctx, pg = new_visitor(browser)
    t0 = time.perf_counter()
    pg.goto(f"{url}/pipeline")  # the Explorer; `/` is the Overview since issue 14
    pg.get_by_text(RESULT_TEXT).first.wait_for()
    pg.wait_for_selector(FLOW_DRAWN)
    elapsed = time.perf_counter() - t0
    return elapsed, ctx, pg


def bare_page(browser, url: str) -> float:
    """A new visitor opens a one-line Streamlit page; seconds until its text is on screen."""
    ctx, pg = new_visitor(browser)
    t0 = time.perf_counter()
    pg.goto(url)
    pg.get_by_text(BARE_TEXT).first.wait_for()
    elapsed = time.perf_counter() - t0
    settled(pg)
    ctx.close()
    return elapsed


def edit_shape(pg, k: int) -> float:
    """Type ``k`` as the Linear step's out_features; seconds until ``(2, k)`` is on screen."""
    box = pg.locator(".st-key-pl_p2_out_features input")
    box.fill(str(k))
    t0 = time.perf_counter()
    box.press("Enter")
    pg.locator("[data-testid='stAlert']").filter(has_text=f"{RESULT_TEXT} ({2}, {k})").first.wait_for()
    elapsed = time.perf_counter() - t0
    settled(pg)
    return elapsed


def pooling_page(browser, url: str):
    ctx, pg = new_visitor(browser, 180_000)
    pg.goto(f"{url}/pooling")
    pg.locator(".st-key-po_sample_sentiment button").first.wait_for()
    settled(pg)
    pg.locator(".st-key-po_sample_sentiment button").first.click()
    pg.wait_for_selector(CHART_DRAWN)
    settled(pg)
    return ctx, pg


def timed(pg, action) -> float:
    t0 = time.perf_counter()
    action()
    pg.wait_for_timeout(50)  # let the rerun start before waiting for its end
    settled(pg)
    pg.wait_for_selector(CHART_DRAWN)
    return time.perf_counter() - t0


def toggle_3d(pg) -> None:
    pg.locator(".st-key-po_3d label").first.click()


def toggle_strategy(pg) -> None:
    pg.locator(".st-key-po_strategies button").filter(has_text="max").first.click()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="runs per figure (median reported; default 5)")
    p.add_argument("--skip-cold", action="store_true", help="skip the cold rounds (one fresh server each)")
    p.add_argument("--skip-pooling", action="store_true", help="skip the pooling page figures")
    args = p.parse_args(argv)
    chromium = chromium_path()
    if chromium is None:
        print("bench_app: Chromium not found (install Debian's chromium); skipped", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench_app_"))
    load_before = os.getloadavg()[0]
    figures: dict[str, list[float]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=BROWSER_ARGS)
        if not args.skip_cold:
            for r in range(args.rounds):
                with server(work / f"cold{r}.log") as (url, startup):
                    elapsed, ctx, _ = open_pipeline(browser, url)
                    ctx.close()
                figures.setdefault("server start until healthy", []).append(startup)
                figures.setdefault("cold first result", []).append(elapsed)
                print(f"  cold round {r + 1}: healthy after {startup:.1f} s, first result {elapsed:.2f} s", flush=True)
        with server(work / "warm.log") as (url, _):
            _, ctx, pg = open_pipeline(browser, url)  # the first visitor: not counted
            settled(pg)
            ctx.close()
            for r in range(args.rounds):
                elapsed, ctx, pg = open_pipeline(browser, url)
                figures.setdefault("warm page", []).append(elapsed)
                settled(pg)
                for k in (3, 2):
                    figures.setdefault("edit -> new shape", []).append(edit_shape(pg, k))
                ctx.close()
                print(f"  warm round {r + 1}: page {elapsed:.2f} s", flush=True)
            bare = work / "bare.py"
            bare.write_text(BARE_APP)
            port = free_port()
            cmd = [sys.executable, "-m", "streamlit", "run", str(bare), "--server.port", str(port)]
            cmd += ["--server.address", "127.0.0.1", "--server.headless", "true"]
            with started(cmd, work / "bare.log", f"http://127.0.0.1:{port}/_stcore/health"):
                bare_page(browser, f"http://127.0.0.1:{port}")  # its first visitor: not counted
                for _ in range(args.rounds):
                    figures.setdefault("bare Streamlit page (peer)", []).append(
                        bare_page(browser, f"http://127.0.0.1:{port}")
                    )
            if not args.skip_pooling:
                ctx, pg = pooling_page(browser, url)
                for _ in range(args.rounds):
                    figures.setdefault("pooling: 2-D <-> 3-D", []).append(timed(pg, lambda: toggle_3d(pg)))
                    figures.setdefault("pooling: strategy on/off", []).append(timed(pg, lambda: toggle_strategy(pg)))
                ctx.close()
        browser.close()

    load_after = os.getloadavg()[0]
    lines = [
        "",
        f"app in headless Chromium, 1400x1000, {os.cpu_count()} CPUs, load average {load_before:.1f} -> "
        f"{load_after:.1f}; medians of {args.rounds} (min-max)",
    ]
    ok = True
    for name, values in figures.items():
        med = statistics.median(values)
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            verdict = f"   target <= {target:.1f} s: {'ok' if med <= target else 'OVER'}"
            ok = ok and med <= target
        lines.append(f"  {name:28} {med:6.2f} s   ({min(values):.2f}-{max(values):.2f}){verdict}")
    if "bare Streamlit page (peer)" in figures and "warm page" in figures:
        ratio = statistics.median(figures["warm page"]) / statistics.median(figures["bare Streamlit page (peer)"])
        lines.append(f"  warm page / bare Streamlit page: {ratio:.2f}x (medians, same run)")
    print("\n".join(lines))
    record = {
        "rounds": args.rounds,
        "figures": figures,
        "medians": {k: statistics.median(v) for k, v in figures.items()},
        "load_average": [load_before, load_after],
    }
    write_results("bench_app", lines, record)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
