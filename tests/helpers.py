"""Helpers shared by tests: a real uvicorn server in the test's event loop, a whole live race
(ingestor, store, web app) in it, polling."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis.asyncio as aioredis

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.race.race import Race
from live.store.store import Store
from pursuit.redis_server import RedisServer, free_port
from pursuit.serve import uvicorn_server


@contextlib.asynccontextmanager
async def running_uvicorn(app: Any, **options: Any) -> AsyncIterator[str]:
    """Serve ``app`` with real uvicorn on a free port (``options``: ``uvicorn_server``'s, e.g.
    ``max_connections``); yields the base URL."""
    port = free_port()
    server = uvicorn_server(app, "127.0.0.1", port, **options)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.025)
    else:
        raise RuntimeError("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 10.0, every_s: float = 0.1) -> Any:
    """Await ``check()`` until it returns something truthy; fail after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last: Any = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s} s (last value: {last!r})")


@dataclass
class LiveRace:
    """A race served for real in the test's loop: the clock, the store, the ingestor's ChronoTrack
    port and an HTTP client on the web app."""

    clock: RaceClock
    store: Store
    ingest_port: int
    client: httpx.AsyncClient


@contextlib.asynccontextmanager
async def live_race(
    redis_server: RedisServer, redis: aioredis.Redis, race: Race, speed: float
) -> AsyncIterator[LiveRace]:
    """A race clock running at ``speed`` from now, the ChronoTrack ingestor and the web app
    (API and engine, no dashboard) on real sockets."""
    from pursuit.web import create_app

    store = Store(redis, race)
    await store.setup()
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=speed)
    await store.set_clock(clock)
    ingest = ChronoTrackServer(race, store, host="127.0.0.1", port=0)
    await ingest.start()
    app = create_app(race, redis_server.url, dashboard=False)
    try:
        async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield LiveRace(clock, store, ingest.port, client)
    finally:
        await ingest.close()


@dataclass
class PensStarted:
    """The web app of a race 15 minutes in, every pen started, nobody read yet, with a first tick."""

    base: str  # http://127.0.0.1:PORT
    ws_base: str  # ws://127.0.0.1:PORT
    http: httpx.AsyncClient
    store: Store
    app: Any
    now: float  # the wall (= race) time the pens' guns count from


@contextlib.asynccontextmanager
async def pens_started(redis_server: RedisServer, redis: aioredis.Redis, race: Race) -> AsyncIterator[PensStarted]:
    """Pens released a minute apart from 15 minutes ago, the web app (no dashboard) under real
    uvicorn, yielded once it has computed its first state."""
    from pursuit.web import create_app

    store = Store(redis, race)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    for i, _ in enumerate(race.pens):
        await store.record_gun(now - 900 + 60 * i)
    app = create_app(race, redis_server.url, dashboard=False)
    async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def ready() -> bool:
            return (await http.get("/api/state")).status_code == 200

        await eventually(ready)
        yield PensStarted(base, base.replace("http://", "ws://"), http, store, app, now)


def write_event(root: Path, runners: int = 40, second: str = "chase-b", delay_min: int = 0) -> Path:
    """An event directory at ``root``: two copies of the Paris J-1000 with ``runners`` runners each
    (and the pursuer), sharing every mat; the second race's id is ``second``, its chips differ and it
    starts ``delay_min`` minutes after the first."""
    import csv
    import shutil

    paris = Path(__file__).resolve().parent.parent / "races" / "paris-j1000"
    for name, prefix in (("chase-a", ""), (second, "B")):
        directory = root / name
        shutil.copytree(paris, directory)
        toml = (directory / "race.toml").read_text(encoding="utf-8").replace('id = "paris-j1000"', f'id = "{name}"')
        if prefix:
            toml = toml.replace('start = "10:19:00"', f'start = "10:{19 + delay_min:02d}:00"')
        (directory / "race.toml").write_text(toml, encoding="utf-8")
        with (paris / "participants.csv").open(encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        with (directory / "participants.csv").open("w", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            out.writerow(rows[0])
            for row in rows[1 : runners + 2]:
                out.writerow([row[0], prefix + row[1], *row[2:]])
    (root / "event.toml").write_text(
        '[event]\nid = "paris-2024"\nname = "Paris 2024"\ntimezone = "Europe/Paris"\ndate = 2021-10-31\n'
        f'races = ["chase-a", "{second}"]\n',
        encoding="utf-8",
    )
    return root


# Browser tests: Debian's Chromium driven by Playwright; screenshots go to test-artifacts/.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def require_chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("PURSUIT_REQUIRE_BROWSER"):
        pytest.fail("chromium is not installed but PURSUIT_REQUIRE_BROWSER is set (CI): install Debian's chromium")
    pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")


async def open_page(browser, base: str, path: str, errors: list[str], init_script: str = ""):  # type: ignore[no-untyped-def]
    page = await browser.new_page()
    if init_script:
        await page.add_init_script(init_script)
    page.on("console", lambda m: errors.append(f"{path}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{path}: {e}"))
    page.on("dialog", lambda d: errors.append(f"{path}: a dialog opened: {d.message}"))
    await page.goto(base + path)
    await page.wait_for_function(
        "window.pursuit && document.querySelector('#conn')?.innerText === 'live'", timeout=30000
    )
    if path != "/commentary":  # the pages with a map: the runners are drawn
        await page.wait_for_function("window.pursuit.view.painted > 0", timeout=10000)
    return page


# The world leaderboard against the simulator's truth: the world end-to-end test and the cluster rehearsal.
CATCH_TOLERANCE_M = 20.0  # a catch is interpolated between mats: within 20 m of the truth (issue 23)
WorldTruth = dict[tuple[str, str], float]  # (race, bib) -> where the car truly passed the runner (m)


def world_truth(caught_at_m: Mapping[str, Mapping[str, float]]) -> WorldTruth:
    """The truth of every race (race -> bib -> true catch distance) keyed by (race, bib)."""
    return {(race, bib): m for race, by_bib in caught_at_m.items() for bib, m in by_bib.items()}


def assert_ranked_as_truth(board: list[dict[str, Any]], place: str, truth: WorldTruth) -> None:
    """``board`` ranks as the truth does, up to catches closer than the tolerance, and its ``place``
    column counts 1, 2, 3…: ranked by distance, and no runner placed above one the car truly passed
    2 × the tolerance further on (among the runners placed within the tolerance: the 1 % beyond it aside)."""
    tolerance = CATCH_TOLERANCE_M
    assert [r[place] for r in board] == list(range(1, len(board) + 1)), place
    shown = [float(r["distance_m"]) for r in board]
    assert shown == sorted(shown, reverse=True)
    true = np.array([truth[r["race"], r["bib"]] for r in board])
    close = np.abs(np.array(shown) - true) <= tolerance
    above = np.triu(np.ones((len(true), len(true)), dtype=bool), 1)  # i placed above j
    wrong = above & (true[:, None] < true[None, :] - 2 * tolerance) & close[:, None] & close[None, :]
    assert not wrong.any(), [(board[i]["bib"], board[j]["bib"]) for i, j in zip(*np.nonzero(wrong), strict=True)]


def assert_world_board_is_the_truth(
    rows: list[dict[str, Any]], truth: WorldTruth, sex: Mapping[tuple[str, str], str]
) -> None:
    """The whole world leaderboard (``rows``, every page) against the truth: every runner of every race
    once, 99 % of catches within the tolerance, ranked as the truth overall and per sex (``sex``: (race,
    bib) -> M/F), the world champions — the last man and the last woman caught anywhere — first."""
    assert {(r["race"], r["bib"]) for r in rows} == set(truth), "every runner of every location, once"
    error = np.array([abs(r["caught_at_m"] - truth[r["race"], r["bib"]]) for r in rows])
    assert np.mean(error <= CATCH_TOLERANCE_M) >= 0.99, f"errors p50/p99/max {np.percentile(error, [50, 99, 100])}"
    print(f"catch distance errors p50/p99/max {np.percentile(error, [50, 99, 100]).round(1)} m")
    assert_ranked_as_truth(rows, "place", truth)
    for s in ("M", "F"):
        mine = [r for r in rows if sex[r["race"], r["bib"]] == s]
        assert_ranked_as_truth(mine, "place_sex", truth)
        best = max((k for k in truth if sex[k] == s), key=truth.__getitem__)
        first = (mine[0]["race"], mine[0]["bib"])
        assert first == best or truth[best] - truth[first] < 2 * CATCH_TOLERANCE_M
