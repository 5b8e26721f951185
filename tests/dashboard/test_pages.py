"""The three pages in a real headless Chromium against a running, simulated race.

One race for the module: Redis, the ChronoTrack ingestor, the simulator at 60× and the web app
under uvicorn. Each page must load without console errors, show the course and the runners, and
move; the follow page finds a runner whose name is an HTML payload and shows it as text.
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.race import Race, load_race
from live.store import Store
from pursuit.web import create_app
from simulator.run import simulate
from tests.conftest import PARIS
from tests.helpers import running_uvicorn

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
XSS_BIB = "120"
XSS_NAME = "<img src=x onerror=alert(1)>"
RUNNERS = 800


def require_chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("PURSUIT_REQUIRE_BROWSER"):
        pytest.fail("chromium is not installed but PURSUIT_REQUIRE_BROWSER is set (CI): install Debian's chromium")
    pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")


def race_with_a_hostile_name(tmp: Path) -> Race:
    """The default race, with one runner named like an HTML injection."""
    shutil.copytree(PARIS, tmp, dirs_exist_ok=True)
    path = tmp / "participants.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["bib"] == XSS_BIB:
            row["name"] = XSS_NAME
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return load_race(tmp)


@pytest.fixture
async def site(redis_server, redis, tmp_path) -> AsyncIterator[str]:
    """A live race at 60× served by real uvicorn; yields the base URL."""
    race = race_with_a_hostile_name(tmp_path / "race")
    store = Store(redis, race)
    await store.setup()
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=60.0)
    await store.set_clock(clock)
    ingest = ChronoTrackServer(race, store, host="127.0.0.1", port=0)
    await ingest.start()
    stop = asyncio.Event()
    sim = asyncio.create_task(
        simulate(
            race, "127.0.0.1", ingest.port, clock=clock, first_gun=clock.now() + 30, runners=RUNNERS, stop_event=stop
        )
    )
    try:
        async with running_uvicorn(create_app(race, redis_server.url)) as base:
            yield base
    finally:
        stop.set()
        await sim
        await ingest.close()


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


async def test_three_pages_live_in_a_real_browser(site: str):
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1600, "height": 1000})

        # race control: the course, every runner drawn, counts moving, mats and tables filled
        page = await open_page(context, site, "/", errors)
        started = "document.querySelector('#kpi-started')"
        await page.wait_for_function(f"{started} && {started}.innerText !== '–'", timeout=20000)
        first = await page.inner_text("#kpi-started")
        await page.wait_for_function(f"{started}.innerText !== {first!r}", timeout=30000)
        traces = dict(
            await page.evaluate(
                "() => document.querySelector('#map .js-plotly-plot')._fullData.map(t => [t.name, (t.x || []).length])"
            )
        )
        assert traces["course"] > 100 and traces["mats"] == 5, traces
        registered = len(load_race(PARIS).participants) - 1  # everyone but the pursuer, started or not
        assert await page.evaluate("window.pursuit.view.painted") == registered, "every runner has a dot"
        assert "Arc de Triomphe" in await page.inner_text("#map")
        await page.wait_for_selector("#mat-table table", timeout=10000)
        assert "marbeuf" in await page.inner_text("#mat-table")
        assert await page.inner_text("#conn") == "live"
        feed = await page.evaluate("window.pursuit.feed")
        assert feed["gzip"] and feed["binary"] >= 1, f"the snapshot came gzipped, as a binary message: {feed}"
        await page.wait_for_selector("#margins .bars, #margins .point", state="attached", timeout=10000)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-race-control.png"))

        # zoom survives the updates: plotly's figure is never replaced, the runners repaint over it
        graph = "document.querySelector('#map .js-plotly-plot')"
        await page.evaluate(f"Plotly.relayout({graph}, {{'xaxis.range': [-300, 300], 'yaxis.range': [-200, 200]}})")
        zoomed = await page.evaluate(f"{graph}._fullLayout.xaxis.range")  # as plotly kept the aspect ratio
        assert zoomed[1] - zoomed[0] < 1500, "zoomed in from the whole course"
        seq = await page.evaluate("window.pursuit.state.seq")
        await page.wait_for_function(f"window.pursuit.state.seq >= {seq + 2}", timeout=15000)
        kept = await page.evaluate(f"{graph}._fullLayout.xaxis.range")
        assert kept == zoomed, "the zoom was kept across two ticks"

        # a dropped connection says so, then comes back by itself, from a new (gzipped) snapshot
        binary = await page.evaluate("window.pursuit.feed.binary")
        await page.evaluate("window.pursuit.drop()")
        await page.wait_for_function("document.querySelector('#conn').innerText.includes('reconnecting')", timeout=5000)
        await page.wait_for_function("document.querySelector('#conn').innerText === 'live'", timeout=15000)
        assert await page.evaluate("window.pursuit.feed.binary") > binary
        seq = await page.evaluate("window.pursuit.state.seq")
        await page.wait_for_function(f"window.pursuit.state.seq >= {seq + 2}", timeout=15000)  # ticks applied after it
        await page.close()

        # spectators: search by bib, follow, a card with the name as text, kept across a reload
        page = await open_page(context, site, "/follow", errors)
        await page.fill("#follow-search", XSS_BIB)
        await page.click(f".result:has(.result-bib:text-is('{XSS_BIB}')) .result-add")
        card = f".card[data-bib='{XSS_BIB}']"
        await page.wait_for_selector(f"{card} .card-status", timeout=15000)
        assert await page.inner_text(f"{card} .card-name") == XSS_NAME, "the name shows literally"
        assert await page.locator("#follow-cards img").count() == 0, "and is never parsed as HTML"
        assert "km" in await page.inner_text(f"{card} .card-distance")
        await page.screenshot(path=str(ARTIFACTS / "dashboard-follow.png"))
        await page.reload()
        await page.wait_for_selector(f"{card} .card-status", timeout=15000)
        await page.close()

        # on a phone: the same follow list (same browser storage), nothing wider than the screen
        phone = await context.new_page()
        await phone.set_viewport_size({"width": 390, "height": 844})
        await phone.goto(site + "/follow")
        await phone.wait_for_selector(f"{card} .card-status", timeout=15000)
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
        await phone.screenshot(path=str(ARTIFACTS / "dashboard-follow-phone.png"), full_page=True)
        await phone.close()

        # commentators: the story numbers and the ticker
        page = await open_page(context, site, "/commentary", errors)
        await page.wait_for_function("document.querySelector('#story-forecast').innerText !== '–'", timeout=15000)
        await page.wait_for_selector("#ticker li", timeout=60000)
        assert await page.inner_text("#story-pursuer-sub") != ""
        await page.screenshot(path=str(ARTIFACTS / "dashboard-commentary.png"))
        await page.close()

        # a browser without DecompressionStream does not ask for gzip, and gets the JSON text as before
        page = await open_page(context, site, "/commentary", errors, "delete window.DecompressionStream")
        assert await page.evaluate("window.pursuit.feed") == {"gzip": False, "binary": 0}
        await page.close()
        await browser.close()
    assert errors == [], f"console errors: {errors}"
