"""An event's pages in a real headless Chromium: race control's /event view, and a race's pages under
/races/{id}/ talking to that race (its feed, its API, its server callbacks), not to the first race:
two chases on interleaved starts, and the shipped races/paris-2024 with its 10 km at /races/10k/."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.race.event import load_event
from live.store.event_store import ingest_store
from pursuit.event_web import create_event_app
from simulator.run import simulate
from tests.helpers import ARTIFACTS, CHROMIUM_ARGS, open_page, require_chromium, running_uvicorn, write_event

pytestmark = pytest.mark.browser


async def test_the_event_view_and_a_race_under_its_prefix(redis_server, redis, tmp_path: Path):
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    event = load_event(write_event(tmp_path, runners=300, delay_min=2))
    store = ingest_store(redis, event)
    await store.setup()
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=60.0)
    await store.set_clock(clock)
    ingest = ChronoTrackServer(event.ingest_race(), store, host="127.0.0.1", port=0)
    await ingest.start()
    stop = asyncio.Event()
    sim = asyncio.create_task(
        simulate(event, "127.0.0.1", ingest.port, clock=clock, first_gun=clock.now() + 20, runners=300, stop_event=stop)
    )
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        async with running_uvicorn(create_event_app(event, redis_server.url)) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(f"/event: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"/event: {e}"))
            await page.goto(base + "/event")
            await page.wait_for_function("document.querySelector('#conn').innerText === 'live'", timeout=30000)
            await page.wait_for_function(
                "[...document.querySelectorAll('.card dt')].filter(d => d.innerText === 'pursuer').length === 2",
                timeout=30000,
            )
            cards = await page.eval_on_selector_all(".card", "cs => cs.map(c => c.innerText)")
            assert len(cards) == 2 and all("Eliud Kipchoge" in c and "forecast" in c for c in cards)
            await page.screenshot(path=str(ARTIFACTS / "event.png"))
            await page.click('.card[data-race="chase-b"] .card-links a[href$="/follow"]')
            await page.wait_for_url("**/races/chase-b/follow")
            await page.close()

            follow = await open_page(browser, base, "/races/chase-b/follow", errors)
            meta = await follow.evaluate("JSON.parse(document.querySelector('#race-meta').dataset.race)")
            assert meta["id"] == "chase-b" and meta["base"] == "/races/chase-b"
            asked: list[str] = []
            follow.on("request", lambda r: asked.append(r.url))
            await follow.fill("#follow-search", "1")
            await follow.wait_for_timeout(1500)
            assert any("/races/chase-b/api/runners?" in u for u in asked), asked
            await follow.screenshot(path=str(ARTIFACTS / "event-race-b-follow.png"))
            control = await open_page(browser, base, "/races/chase-b/", errors)
            await control.wait_for_function(
                "/\\d/.test(document.querySelector('#kpi-started')?.innerText || '')",
                timeout=30000,
            )
            await control.screenshot(path=str(ARTIFACTS / "event-race-b-control.png"))
            await browser.close()
    finally:
        stop.set()
        await sim
        await ingest.close()
    assert not errors, errors


PARIS_2024 = Path(__file__).resolve().parents[2] / "races" / "paris-2024"


async def test_the_shipped_event_s_10k_under_races_10k(redis_server, redis):
    """races/paris-2024 with the chase over and the 10 km under way: /event shows the chase's
    pursuer and the 10 km's leader; /races/10k/follow and /races/10k/ draw the 10 km, live."""
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    event = load_event(PARIS_2024)
    store = ingest_store(redis, event)
    await store.setup()
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=30.0)
    await store.set_clock(clock)
    ingest = ChronoTrackServer(event.ingest_race(), store, host="127.0.0.1", port=0)
    await ingest.start()
    stop = asyncio.Event()
    ten_k_gun = 2700.0  # the 10 km is released 45 min after the chase's first pen
    sim = asyncio.create_task(
        simulate(event, "127.0.0.1", ingest.port, clock=clock, first_gun=clock.now() - ten_k_gun + 10, runners=300,
                 stop_event=stop)
    )  # fmt: skip
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        async with running_uvicorn(create_event_app(event, redis_server.url)) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda e: errors.append(f"/event: {e}"))
            await page.goto(base + "/event")
            await page.wait_for_function(
                "document.querySelector('.card[data-race=\"10k\"]').innerText.includes('leader')"
                " && document.querySelector('.card[data-race=\"paris-j1000\"]').innerText.includes('Kipchoge')",
                timeout=30000,
            )
            await page.screenshot(path=str(ARTIFACTS / "event-paris-2024.png"))
            await page.close()

            follow = await open_page(browser, base, "/races/10k/follow", errors)
            meta = await follow.evaluate("JSON.parse(document.querySelector('#race-meta').dataset.race)")
            assert meta["id"] == "10k" and meta["base"] == "/races/10k" and meta["pursuer"] is None
            assert await follow.get_attribute(".nav a[href='/event']", "href") == "/event", "back to every race"
            await follow.screenshot(path=str(ARTIFACTS / "event-10k-follow.png"))
            control = await open_page(browser, base, "/races/10k/", errors)
            await control.wait_for_function(
                "/\\d/.test(document.querySelector('#kpi-running')?.innerText || '')", timeout=30000
            )
            assert await control.locator("#kpi-forecast").count() == 0, "a race without a pursuer: no forecast"
            await control.screenshot(path=str(ARTIFACTS / "event-10k-control.png"))
            await browser.close()
    finally:
        stop.set()
        await sim
        await ingest.close()
    assert not errors, errors


async def test_the_world_leaderboard_on_the_event_view(redis_server, redis, tmp_path: Path):
    """A World Run of two locations (Vienna, Tokyo) with a fast car: /event shows the world ranking
    as catches are confirmed, filtered by nation, with catch times in UTC and local, and each card in
    its race's own zone next to the event's UTC clock."""
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    from simulator.event import WORLD_LOCATIONS, write_world_event

    event = load_event(write_world_event(tmp_path, WORLD_LOCATIONS[:2], runners=60, schedule=((0, 25), (900, 40))))
    store = ingest_store(redis, event)
    await store.setup()
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=400.0)
    await store.set_clock(clock)
    ingest = ChronoTrackServer(event.ingest_race(), store, host="127.0.0.1", port=0)
    await ingest.start()
    stop = asyncio.Event()
    sim = asyncio.create_task(
        simulate(event, "127.0.0.1", ingest.port, clock=clock, first_gun=clock.now() + 5, runners=60, stop_event=stop)
    )
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        async with running_uvicorn(create_event_app(event, redis_server.url)) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(f"/event: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"/event: {e}"))
            await page.goto(base + "/event")
            caught = "[...document.querySelectorAll('#leaderboard tbody tr')].filter(r => /caught/.test(r.innerText))"
            await page.wait_for_function(f"{caught}.length >= 3", timeout=40000)
            assert await page.is_visible("#leaderboard")
            assert (await page.inner_text("#utc")).endswith(" UTC")
            cards = await page.eval_on_selector_all(".card", "cs => cs.map(c => c.innerText)")
            assert "Europe/Vienna" in cards[0] and "Asia/Tokyo" in cards[1] and all(" UTC" in c for c in cards)
            assert not any("NaN" in c for c in cards), cards
            rows = await page.eval_on_selector_all(
                "#leaderboard tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.innerText))"
            )
            assert [r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
            assert {r[4] for r in rows} <= {"World Run Vienna", "World Run Tokyo"}
            done = [r for r in rows if r[7] == "caught"]
            assert done and all(" UTC · " in r[6] and r[6].endswith(" local") for r in done)
            await page.select_option(".board-filter select[name=nation]", "JPN")
            await page.wait_for_function(
                "[...document.querySelectorAll('#leaderboard tbody tr')].every(r => r.cells[3].innerText === 'JPN')",
                timeout=10000,
            )
            nation_rows = await page.eval_on_selector_all(
                "#leaderboard tbody tr", "rs => rs.map(r => r.cells[0].innerText)"
            )
            assert nation_rows[:3] == ["1", "2", "3"], "places within the nation"
            await page.screenshot(path=str(ARTIFACTS / "event-world-run.png"))
            await browser.close()
    finally:
        stop.set()
        await sim
        await ingest.close()
    assert not errors, errors
