"""The catcher-car race's pages in a real headless Chromium (issue 23, "Done when"): the follow card
says "predicted catch: 23.4 km (21.9–25.0)" while the runner runs and "caught at 23.4 km" once the car
has passed him (where the simulator caught him); race control shows the car's km and speed and the
milestone forecast instead of winners against a quota. ``races/world-run-paris`` simulated at 150×."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.race.race_file import load_race
from live.store.store import Store
from pursuit.web import create_app
from simulator.run import simulate
from simulator.trajectory import plan_race
from tests.helpers import ARTIFACTS, CHROMIUM_ARGS, open_page, require_chromium, running_uvicorn

pytestmark = pytest.mark.browser

WORLD_RUN = Path(__file__).resolve().parents[2] / "races" / "world-run-paris"
RUNNERS, SEED, SPEED = 300, 7, 150.0


@pytest.fixture
async def world_run_site(redis_server, redis) -> AsyncIterator[tuple[str, dict[str, float]]]:
    """The race served by real uvicorn while the simulator plays it; yields the base URL and the
    simulator's true catch distance of each runner."""
    race = load_race(WORLD_RUN)
    store = Store(redis, race)
    await store.setup()
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=SPEED)
    await store.set_clock(clock)
    ingest = ChronoTrackServer(race, store, host="127.0.0.1", port=0)
    await ingest.start()
    first_gun = clock.now() + 300  # two wall seconds to start the browser
    plan = plan_race(race, first_gun, seed=SEED, runners=RUNNERS)
    truth = dict(zip([str(b) for b in plan.bibs[:-1]], plan.caught_at_m[:-1].tolist(), strict=True))
    stop = asyncio.Event()
    sim = asyncio.create_task(
        simulate(race, "127.0.0.1", ingest.port, clock=clock, first_gun=first_gun, seed=SEED, runners=RUNNERS,
                 stop_event=stop)
    )  # fmt: skip
    try:
        async with running_uvicorn(create_app(race, redis_server.url)) as base:
            yield base, truth
    finally:
        stop.set()
        await sim
        await ingest.close()


async def test_catcher_car_follow_card_and_race_control(world_run_site):
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    site, truth = world_run_site
    ARTIFACTS.mkdir(exist_ok=True)
    order = sorted(truth, key=truth.get)
    early, late = order[0], order[-1]  # the first the car catches, and the last
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1600, "height": 1000})
        follow = f"localStorage.setItem('pursuit.follow', {json.dumps(json.dumps([early, late]))});"
        page = await open_page(context, site, "/follow", errors, init_script=follow)
        late_card, early_card = f".card[data-bib='{late}']", f".card[data-bib='{early}']"
        # while he runs: the predicted catch with its band
        await page.wait_for_function(
            f"document.querySelector(\"{late_card}\")?.innerText.includes('predicted catch: ')", timeout=30000
        )
        text = await page.inner_text(late_card)
        got = re.search(r"predicted catch: (\d+\.\d) km \((\d+\.\d)–(\d+\.\d)\)", text)
        assert got, text
        median, low, high = (float(x) for x in got.groups())
        assert low <= median <= high and " of " not in await page.inner_text(f"{late_card} .card-distance")
        # once the car has passed him: where it did, as the simulator has it
        await page.wait_for_function(
            f"document.querySelector(\"{early_card}\")?.innerText.includes('caught at ')", timeout=60000
        )
        text = await page.inner_text(early_card)
        caught = re.search(r"caught at (\d+\.\d) km", text)
        assert caught and abs(float(caught.group(1)) - truth[early] / 1000) <= 0.051, (text, truth[early])
        assert "predicted catch" not in text and "status-caught" in await page.get_attribute(
            f"{early_card} .card-status", "class"
        )
        await page.screenshot(path=str(ARTIFACTS / "dashboard-catcher-follow.png"))
        await page.close()

        # race control: the car's km and speed, still running, the milestone forecast
        page = await open_page(context, site, "/", errors)
        await page.wait_for_function("document.querySelector('#kpi-won')?.innerText.endsWith('km/h')", timeout=20000)
        labels = [t.lower() for t in await page.locator(".kpi-label").all_inner_texts()]  # CSS capitals them
        assert {"car speed", "next milestone", "still running"} <= set(labels) and "forecast winners" not in labels
        assert re.fullmatch(r"1[5-7] km/h", await page.inner_text("#kpi-won"))
        assert re.match(r"[\d.]+ km · 1[5-7] km/h · running", await page.inner_text("#kpi-pursuer"))
        forecast = await page.inner_text("#kpi-forecast")
        assert re.match(r"[\d,]+ running at [\d.]+ km \([\d,]+–[\d,]+ at 80%\)", forecast), forecast
        await page.wait_for_selector("#pens .bars, #pens .point", state="attached", timeout=10000)
        title = await page.text_content("#pens .gtitle")
        assert title.startswith("Still running at each milestone"), title
        assert (await page.text_content("#margins .gtitle")).startswith("Catch distances")
        assert await page.text_content("#forecast-history .gtitle") == "Runners still running over the race"
        await page.screenshot(path=str(ARTIFACTS / "dashboard-catcher-control.png"))
        await page.close()

        # commentary: the count still running and the next milestone's forecast, not winners
        page = await open_page(context, site, "/commentary", errors)
        await page.wait_for_function(
            "document.querySelector('#story-forecast-sub')?.innerText.startsWith('at ')", timeout=20000
        )
        labels = [t.lower() for t in await page.locator(".story-label").all_inner_texts()]
        assert {"still running", "at the next milestone", "the car"} <= set(labels), labels
        assert re.fullmatch(r"at [\d.]+ km \([\d,]+–[\d,]+\)", await page.inner_text("#story-forecast-sub"))
        assert re.fullmatch(r"[\d,]+", await page.inner_text("#story-won"))
        await page.close()
        await browser.close()
    assert not errors, errors
    assert np.isfinite(truth[early])
