"""Race control in a real headless Chromium against a running, simulated race."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from dashboard.figures import kpi_texts, lateral_offsets, positions_xy
from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.store import Store
from pursuit.web import create_app
from simulator.run import simulate
from tests.helpers import running_uvicorn

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
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


def test_runners_spread_across_the_carriageway(paris):
    bibs = np.array([p.bib for p in paris.participants[:500]])
    offsets = lateral_offsets(bibs)
    assert offsets.min() < -5 and offsets.max() > 5 and np.all(np.abs(offsets) <= 9.0)
    assert np.array_equal(offsets, lateral_offsets(bibs)), "stable from tick to tick"
    x, y = positions_xy(paris, np.full(500, 1000.0), offsets)
    cx, cy = paris.course.xy_at(1000.0)
    assert np.all(np.hypot(x - cx, y - cy) <= 9.01)


@pytest.mark.browser
async def test_race_control_shows_the_course_and_the_race_moving(redis_server, redis, paris):
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    store = Store(redis, paris)
    await store.setup()
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=60.0)
    await store.set_clock(clock)
    ingest = ChronoTrackServer(paris, store, host="127.0.0.1", port=0)
    await ingest.start()
    stop = asyncio.Event()
    sim = asyncio.create_task(
        simulate(paris, "127.0.0.1", ingest.port, clock=clock, first_gun=clock.now() + 30, runners=800, stop_event=stop)
    )
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        async with running_uvicorn(create_app(paris, redis_server.url)) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(base + "/")
            started = "document.querySelector('#kpi-started')"
            await page.wait_for_function(f"{started} && {started}.innerText !== '–'", timeout=20000)
            first = await page.inner_text("#kpi-started")
            await page.wait_for_function(
                f"document.querySelector('#kpi-started').innerText !== {first!r}", timeout=20000
            )
            data = await page.evaluate(
                "() => document.querySelector('#map .js-plotly-plot')._fullData.map(t => [t.name, (t.x || []).length])"
            )
            traces = dict(data)
            assert traces["course"] > 100, "the course line is drawn"
            assert traces["runners"] == 3599, "every runner has a dot"
            assert traces["pursuer"] == 1
            assert "Arc de Triomphe" in await page.inner_text("#map")
            await page.screenshot(path=str(ARTIFACTS / "dashboard-race-control.png"))
            assert errors == [], f"console errors: {errors}"
            await browser.close()
    finally:
        stop.set()
        await sim
        await ingest.close()


def test_kpis_are_plain_text(paris):
    from live.snapshot import Forecast, PursuerState, Snapshot

    n = 3
    snap = Snapshot(
        now=0.0, elapsed_s=3725.0,
        pursuer=PursuerState("1", "running", 1234.0, 0.0, 0.0, 173.0, None, None),
        bibs=np.array(["a", "b", "c"]), pens=np.array(["1", "1", "1"]), status=np.zeros(n, dtype=np.int8),
        distance_m=np.zeros(n), lat=np.zeros(n), lon=np.zeros(n), gap_m=np.zeros(n), gap_s=np.zeros(n),
        margin_s=np.zeros(n), catch_at_m=np.zeros(n), catch_in_s=np.zeros(n), overdue=np.zeros(n, dtype=bool),
        counts={"started": 1200, "ahead": 3, "caught": 2, "won": 1},
        forecast=Forecast(winners=1018, low=950, high=1100, quota=500, by_pen={}),
    )  # fmt: skip
    texts = kpi_texts(paris, snap)
    assert texts["kpi-clock"] == "1:02:05"
    assert texts["kpi-pursuer"] == "1.23 km · 2:53/km · running"
    assert texts["kpi-started"] == "1,200"
    assert texts["kpi-forecast"] == "1,018 (950–1,100) / quota 500"
