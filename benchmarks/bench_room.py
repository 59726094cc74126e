"""Benchmark: a workshop room — N students open the room link and answer a quiz at once; the teacher sees it.

Issue 14's "done when": a teacher runs ``make run``, puts the printed room URL on the projector, twenty
students open it, and the teacher sees the room's answers per question. This measures that, end to end:

1. the server starts as ``make run`` starts it: ``python -m core.room.serve`` on a free port, listening on
   every network (``0.0.0.0``) so the room link is this machine's LAN address, a fresh data folder
   (``$SHAPE_EXPLORER_DATA``) and a teacher key (``$SHAPE_EXPLORER_TEACHER_KEY``); the room link is read from
   the banner it prints (``--address 127.0.0.1`` keeps it on loopback, with ``--room-url``);
2. the teacher opens ``<room link>teacher?key=…``, starts a new (empty) room and keeps the page open;
3. N students (``--students``, default 20), each in its own browser context (own cookies: its own anonymous
   student), open ``<room link>lessons?lesson=view-is-not-transpose`` at the same moment and wait until the
   page is ready (the quiz's answer box on screen, the script finished, stably);
4. together they answer stage 1 (``x.view(32, 768, 128)``): two in four right, one in four the transpose's
   shape, one in four "error"; each waits until its verdict ("You said …") is on screen;
5. the teacher's page (live, refreshed every 3 s) is watched until it shows N students and stage 1 answered
   by N with the share right that was sent; the room's SQLite file is read as a cross-check.

Reported: page ready per student (median, max), answer checked per student, last answer -> the teacher's
page shows N, the server's peak RSS (``VmRSS`` of its processes, sampled every 0.2 s), errors (an
``stException`` on any page, a page not ready within ``--ready-timeout`` s, a count that does not match) and
the load average before and after: on a shared machine read the figures together with the load. One
headless Chromium holds every student's page, so on a small machine the browser competes with the server.

    python benchmarks/bench_room.py                # make bench-room
    python benchmarks/bench_room.py --students 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _browser import BROWSER_ARGS, CONTENT, READY, chromium_path, free_port, server_env, started, write_results

from core.room.store import DB_NAME, RoomStore

LESSON = "view-is-not-transpose"
STAGE = 1
# (typed, right?) — cycled over the students: 2 in 4 right; the transpose's shape and "error" are wrong
ANSWERS = [("32, 768, 128", True), ("32, 768, 128", True), ("(32, 128, 768)", False), ("error", False)]
ANSWER_BOX = "input[placeholder^='e.g. 32, 16, 6144']"
TEACHER_KEY = "bench-room-key-2024"
BANNER_ROOM = re.compile(r"Room link for students:\s+(\S+)")
BANNER_TIMEOUT_S = 30


def planned(n: int) -> list[tuple[str, bool]]:
    """What student i types, and whether it is right."""
    return [ANSWERS[i % len(ANSWERS)] for i in range(n)]


# ------------------------------------------------------------------------------------------ server side


class ProcessSampler(threading.Thread):
    """Samples a process and its descendants (less ``exclude``'s subtree) every ``every_s`` seconds:
    ``VmRSS`` (``/proc/<pid>/status``) — ``peak_mb`` the largest sum seen, ``peak_app_mb`` the largest single
    process (the Streamlit server) — and CPU time (``/proc/<pid>/stat``) — ``cpu_peak_s`` the largest sum seen,
    which counts processes that exit later (Chromium's) up to their last sample."""

    def __init__(self, pid: int, every_s: float = 0.2, exclude: int | None = None) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s, self.exclude = pid, every_s, exclude
        self.peak_mb = self.peak_app_mb = self.last_mb = self.cpu_peak_s = 0.0
        self._halt = threading.Event()  # not _stop: Thread has a _stop method

    @staticmethod
    def _rss_mb(pid: int) -> float:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024  # kB -> MB
        except (OSError, ValueError):
            pass
        return 0.0

    def tree(self) -> list[int]:
        """The process and its descendants (by the parent pid in ``/proc/<pid>/stat``)."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                    parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        found, todo = [self.pid], [self.pid]
        while todo:
            parent = todo.pop()
            kids = [p for p, pp in parents.items() if pp == parent and p != self.exclude]
            found += kids
            todo += kids
        return found

    def cpu_s(self, pids: list[int] | None = None) -> float:
        """CPU seconds (user + system) the process and its descendants (or ``pids``) have used so far."""
        total = 0
        for pid in self.tree() if pids is None else pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of proc(5))
            except (OSError, ValueError, IndexError):
                continue
        return total / os.sysconf("SC_CLK_TCK")

    def sample(self) -> float:
        pids = self.tree()
        sizes = [self._rss_mb(p) for p in pids]
        self.last_mb = sum(sizes)
        self.peak_mb = max(self.peak_mb, self.last_mb)
        self.peak_app_mb = max(self.peak_app_mb, *sizes, 0.0)
        self.cpu_peak_s = max(self.cpu_peak_s, self.cpu_s(pids))
        return self.last_mb

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.every_s)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def room_server_command(port: int, address: str) -> list[str]:
    """``make run``'s command (``python -m core.room.serve``) on ``port``; headless: never opens a browser."""
    cmd = [sys.executable, "-m", "core.room.serve", "--port", str(port), "--address", address]
    if address != "0.0.0.0":
        cmd += ["--room-url", f"http://{address}:{port}/"]
    return [*cmd, "--", "--server.headless", "true"]


def banner_room_link(log: Path, proc, timeout_s: float = BANNER_TIMEOUT_S) -> str:
    """The room link the launcher printed (it prints its banner once the server answers).

    Raises RuntimeError when the banner has no room link or does not come."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        found = BANNER_ROOM.search(text)
        if found:
            return found.group(1)
        if "No room link" in text:
            raise RuntimeError(f"the launcher printed no room link; see {log}")
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"the launcher printed no banner within {timeout_s:.0f} s; see {log}")


# ----------------------------------------------------------------------------------------- browser side


@dataclass
class Student:
    index: int
    typed: str
    right: bool
    ready_s: float | None = None  # from the common start until the page was ready
    answer_s: float | None = None  # from pressing Enter until the verdict was on screen
    answered_at: float | None = None  # perf_counter() when the verdict was on screen
    errors: list[str] = field(default_factory=list)


@dataclass
class RoomRound:
    """One round: every student's figures, the teacher's view of stage 1, the errors of the round."""

    students: list[Student]
    teacher_s: float | None = None  # last answer on screen -> the teacher's page shows every student
    teacher_row: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def expected_right(self) -> int:
        return sum(s.right for s in self.students)

    @property
    def expected_share(self) -> str:
        """The share right as the teacher's table writes it."""
        return f"{self.expected_right / len(self.students):.0%}"


async def page_ready(pg, timeout_s: float, also: str | None = None) -> float:
    """Wait until the script has finished and the main area has content (and ``also`` is on the page) on three
    checks 250 ms apart; returns perf_counter() at the first of them. Raises TimeoutError."""
    deadline = time.monotonic() + timeout_s
    stable, since = 0, 0.0
    while stable < 3:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready within {timeout_s:.0f} s")
        ok = await pg.locator(READY).count() > 0 and await pg.locator(CONTENT).count() > 0
        if ok and also is not None:
            ok = await pg.locator(also).count() > 0
        if ok:
            since = since if stable else time.perf_counter()
            stable += 1
        else:
            stable = 0
        await asyncio.sleep(0.25)
    return since


async def exceptions(pg) -> list[str]:
    boxes = pg.locator("[data-testid='stException']")
    return [(await boxes.nth(i).inner_text())[:300] for i in range(await boxes.count())]


async def open_lesson(browser, url: str, student: Student, t0: float, limit_s: float, give_up_s: float):
    """A student opens the lesson; a page ready later than ``limit_s`` is an error but still measured (and still
    answers), one not ready after ``give_up_s`` is left out."""
    ctx = await browser.new_context(viewport={"width": 1024, "height": 768})
    pg = await ctx.new_page()
    pg.set_default_timeout(give_up_s * 1000)
    try:
        await pg.goto(url, wait_until="commit")  # the page's own readiness is what counts, below
        student.ready_s = await page_ready(pg, give_up_s - (time.perf_counter() - t0), also=ANSWER_BOX) - t0
        if student.ready_s > limit_s:
            student.errors.append(f"page ready after {student.ready_s:.0f} s, over the {limit_s:.0f} s limit")
        student.errors += await exceptions(pg)
    except Exception as e:  # a timeout or a dead page is a result here, not a crash of the benchmark
        state = await _state(pg)
        student.errors.append(f"page not ready: {type(e).__name__}: {str(e).splitlines()[0][:200]} ({state})")
    return ctx, pg


async def _state(pg) -> str:
    """What a page shows, for an error message: the script's state and the start of the main area."""
    try:
        state = await pg.locator("[data-testid='stApp']").first.get_attribute("data-test-script-state", timeout=2000)
        main = (await pg.locator("[data-testid='stMain']").first.inner_text(timeout=2000))[:160]
    except Exception as e:
        return f"page unreadable: {type(e).__name__}"
    return f"script {state}; page: {' '.join(main.split())!r}"


async def answer(pg, student: Student, timeout_s: float) -> None:
    """Type the planned answer, press Enter, wait for the verdict; check it says right / wrong as planned."""
    try:
        box = pg.locator(ANSWER_BOX).first
        await box.fill(student.typed)
        pressed = time.perf_counter()
        await box.press("Enter")
        await pg.get_by_text("You said", exact=False).first.wait_for(timeout=timeout_s * 1000)
        student.answered_at = time.perf_counter()
        student.answer_s = student.answered_at - pressed
        verdict = pg.locator("[data-testid='stAlertContentSuccess'], [data-testid='stAlertContentError']")
        kind = await verdict.filter(has_text="You said").first.get_attribute("data-testid")
        if (kind == "stAlertContentSuccess") != student.right:
            student.errors.append(f"the quiz said {kind} to {student.typed!r}")
        student.errors += await exceptions(pg)
    except Exception as e:
        student.errors.append(f"answer not checked: {type(e).__name__}: {str(e).splitlines()[0][:200]}")


async def stage_row(pg) -> dict[str, str]:
    """The teacher's results table row for stage STAGE (header -> cell text), or {}."""
    rows = await pg.evaluate(
        """() => {
            const t = document.querySelector("[data-testid='stTable'] table");
            if (!t) return null;
            const head = Array.from(t.querySelectorAll('thead th')).map(c => c.innerText.trim());
            const body = Array.from(t.querySelectorAll('tbody tr')).map(
                r => Array.from(r.querySelectorAll('th, td')).map(c => c.innerText.trim()));
            return {head, body};
        }"""
    )
    if not rows:
        return {}
    head = rows["head"]
    for cells in rows["body"]:
        row = dict(zip(head[-len(cells) :], cells))  # an index column, if any, is left out
        if row.get("question", "").startswith(f"Stage {STAGE}"):
            return row
    return {}


async def teacher_page(browser, room_url: str, key: str, timeout_s: float, new_room: bool):
    """The teacher's page, unlocked with the key and (``new_room``) on a new, empty room."""
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = await ctx.new_page()
    pg.set_default_timeout(timeout_s * 1000)
    await pg.goto(f"{room_url}teacher?key={key}")
    await page_ready(pg, timeout_s)
    start = pg.get_by_role("button", name="Start a new room")
    if await start.count() == 0:
        raise RuntimeError("the teacher page did not open with the key: " + (await pg.inner_text("body"))[:300])
    if new_room:
        await start.click()
        await pg.get_by_text("it is empty", exact=False).first.wait_for()
        await page_ready(pg, timeout_s)
    return ctx, pg


async def watch_teacher(pg, rnd: RoomRound, last_answer: float, timeout_s: float) -> None:
    """Poll the teacher's page until it shows every student and stage 1 answered by all; then check the
    share right against what was sent."""
    n = len(rnd.students)
    deadline = time.monotonic() + timeout_s
    row: dict[str, str] = {}
    while time.monotonic() < deadline:
        body = await pg.locator("[data-testid='stMain']").inner_text()
        if f"{n} student(s)" in body:
            row = await stage_row(pg)
            if row.get("answered") == str(n):
                rnd.teacher_s = time.perf_counter() - last_answer
                break
        await asyncio.sleep(0.1)
    rnd.teacher_row = row
    if rnd.teacher_s is None:
        rnd.errors.append(f"the teacher's page did not show {n} students within {timeout_s:.0f} s (row: {row})")
    elif row.get("share right") != rnd.expected_share:
        rnd.errors.append(f"the teacher's page says {row.get('share right')} right; {rnd.expected_share} was sent")
    rnd.errors += [f"teacher: {e}" for e in await exceptions(pg)]


async def room_round_async(
    chromium: str,
    room_url: str,
    key: str,
    n: int,
    ready_limit_s: float = 60,
    give_up_s: float = 300,
    new_room: bool = True,
) -> RoomRound:
    from playwright.async_api import async_playwright

    rnd = RoomRound([Student(i, typed, right) for i, (typed, right) in enumerate(planned(n))])
    lesson_url = f"{room_url}lessons?lesson={LESSON}"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=BROWSER_ARGS)
        try:
            tctx, tpg = await teacher_page(browser, room_url, key, 120, new_room)
            t0 = time.perf_counter()  # every student opens the room link now
            opened = await asyncio.gather(
                *(open_lesson(browser, lesson_url, s, t0, ready_limit_s, give_up_s) for s in rnd.students)
            )
            ready = [(s, pg) for s, (_, pg) in zip(rnd.students, opened) if s.ready_s is not None]
            await asyncio.gather(*(answer(pg, s, give_up_s) for s, pg in ready))
            answered = [s.answered_at for s in rnd.students if s.answered_at is not None]
            await watch_teacher(tpg, rnd, max(answered, default=time.perf_counter()), 120)
            for s in rnd.students:
                rnd.errors += [f"student {s.index + 1}: {e}" for e in s.errors]
            for ctx, _ in opened:
                await ctx.close()
            await tctx.close()
        finally:
            await browser.close()
    return rnd


def room_round(chromium: str, room_url: str, key: str, n: int, **kw) -> RoomRound:
    """One room round against a running server (``room_url`` ends in ``/``). Runs in a thread of its own, so
    it works beside a running Playwright sync API (whose event loop owns the calling thread, as in pytest)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, room_round_async(chromium, room_url, key, n, **kw)).result()


# ----------------------------------------------------------------------------------------------- report


def _median_max(values: list[float]) -> str:
    if not values:
        return "—"
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=20, help="students at once (default 20)")
    p.add_argument(
        "--ready-limit", type=float, default=60, help="a page ready later than this (s) is an error (default 60)"
    )
    p.add_argument(
        "--give-up", type=float, default=300, help="a page not ready after this (s) is left out (default 300)"
    )
    p.add_argument(
        "--address",
        default="0.0.0.0",
        help="where the server listens: 0.0.0.0 as make run (room link = LAN address); 127.0.0.1 = loopback",
    )
    args = p.parse_args(argv)
    if args.students < 1:
        p.error("--students must be at least 1")
    chromium = chromium_path()
    if chromium is None:
        print("bench_room: Chromium not found (install Debian's chromium); skipped", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="bench_room_"))
    data = work / "data"
    log = work / "server.log"
    port = free_port()
    env = server_env(SHAPE_EXPLORER_DATA=str(data), SHAPE_EXPLORER_TEACHER_KEY=TEACHER_KEY)
    load_before = os.getloadavg()
    health = f"http://127.0.0.1:{port}/_stcore/health"
    print(f"bench_room: {args.students} students, load average {load_before[0]:.1f}; server log {log}", flush=True)
    with started(room_server_command(port, args.address), log, health, env=env) as (proc, startup):
        room_url = banner_room_link(log, proc)
        rss = ProcessSampler(proc.pid)
        idle_mb = rss.sample()
        browser_side = ProcessSampler(
            os.getpid(), every_s=0.5, exclude=proc.pid
        )  # Chromium, Playwright's driver, this script
        browser_side.sample()
        rss.start()
        browser_side.start()
        print(f"  healthy after {startup:.1f} s; room link {room_url}; server RSS {idle_mb:.0f} MB", flush=True)
        t_round, cpu_before, browser_cpu_before = time.perf_counter(), rss.cpu_s(), browser_side.cpu_peak_s
        try:
            rnd = room_round(
                chromium, room_url, TEACHER_KEY, args.students, ready_limit_s=args.ready_limit, give_up_s=args.give_up
            )
        finally:
            rss.stop()
            browser_side.stop()
        round_s, server_cpu_s = time.perf_counter() - t_round, rss.cpu_s() - cpu_before
        browser_cpu_s = browser_side.cpu_peak_s - browser_cpu_before

    # the cross-check: the room's file, read after the server stopped (nothing may be lost)
    rows = [a for a in RoomStore(data / DB_NAME).answers() if a.lesson == LESSON and a.stage == STAGE]
    stored_right = sum(a.correct for a in rows)
    if len({a.student for a in rows}) != args.students or stored_right != rnd.expected_right:
        rnd.errors.append(
            f"the room's file has {len(rows)} answers ({stored_right} right) from "
            f"{len({a.student for a in rows})} students; {args.students} ({rnd.expected_right} right) were sent"
        )
    load_after = os.getloadavg()

    ready = [s.ready_s for s in rnd.students if s.ready_s is not None]
    answers = [s.answer_s for s in rnd.students if s.answer_s is not None]
    n = args.students
    teacher = f"{rnd.teacher_s:.2f} s (the page refreshes every 3 s)" if rnd.teacher_s is not None else "never"
    table = [
        ("server start until healthy", f"{startup:.1f} s"),
        (f"student page ready ({len(ready)}/{n})", _median_max(ready)),
        (f"answer checked ({len(answers)}/{n})", _median_max(answers)),
        ("last answer -> teacher sees all", teacher),
        (
            f"teacher's table, stage {STAGE}",
            f"answered {rnd.teacher_row.get('answered', '?')}, share right "
            f"{rnd.teacher_row.get('share right', '?')} (sent {rnd.expected_share})",
        ),
        ("room file (cross-check)", f"{len(rows)} answers, {stored_right} right"),
        (
            "server RSS",
            f"idle {idle_mb:.0f} MB, peak {rss.peak_mb:.0f} MB (Streamlit process {rss.peak_app_mb:.0f} MB)",
        ),
        ("whole round", f"{round_s:.1f} s"),
        ("CPU time in the round", f"server {server_cpu_s:.1f} s, browser side {browser_cpu_s:.1f} s"),
        ("errors", str(len(rnd.errors) or "none")),
    ]
    lines = [
        "",
        f"room: {n} students open {LESSON} and answer stage {STAGE} at once ({rnd.expected_right} right, "
        f"{n - rnd.expected_right} wrong); {os.cpu_count()} CPUs, load average (1 min) {load_before[0]:.1f} -> "
        f"{load_after[0]:.1f}",
        *[f"  {name:34} {value}" for name, value in table],
        *[f"    - {e}" for e in rnd.errors[:20]],
    ]
    print("\n".join(lines))
    record = {
        "students": n,
        "lesson": LESSON,
        "stage": STAGE,
        "server_start_s": startup,
        "ready_s": {"median": statistics.median(ready) if ready else None, "max": max(ready, default=None)},
        "answer_s": {"median": statistics.median(answers) if answers else None, "max": max(answers, default=None)},
        "teacher_sees_all_s": rnd.teacher_s,
        "teacher_row": rnd.teacher_row,
        "expected": {"answered": n, "right": rnd.expected_right, "share_right": rnd.expected_share},
        "room_file": {"answers": len(rows), "right": stored_right},
        "server_rss_mb": {"idle": idle_mb, "peak": rss.peak_mb, "peak_streamlit_process": rss.peak_app_mb},
        "round_s": round_s,
        "server_cpu_s": server_cpu_s,
        "browser_side_cpu_s": browser_cpu_s,
        "load_average": {"before": load_before, "after": load_after},
        "errors": rnd.errors,
        "per_student": [asdict(s) for s in rnd.students],
    }
    write_results(f"bench_room-{n}", lines, record)
    return 0 if not rnd.errors else 1


if __name__ == "__main__":
    sys.exit(main())
