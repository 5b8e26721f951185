"""The three pages of a race without a pursuer in a real headless Chromium: they render without a
JavaScript error, draw the runners and no pursuer, show the leader and the finish counts instead of a
forecast, and the follow card gives a finisher's places (overall, in his sex, in his category) and
no gap, margin nor chance."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from live.clock import RaceClock
from live.race.race import Race
from live.race.race_file import load_race
from live.store.store import RawRead, Store
from pursuit.web import create_app
from tests.helpers import CHROMIUM_ARGS, open_page, require_chromium, running_uvicorn
from tests.helpers.plain_race import write_plain_race

pytestmark = pytest.mark.browser


def reads_at_pace(race: Race, chip: str, gun: float, total_s: float, upto_m: float) -> list[RawRead]:
    return [RawRead(tp.mat, chip, gun + total_s * tp.at_m / race.distance_m) for tp in race.timing_points
            if tp.at_m <= upto_m]  # fmt: skip


@pytest.fixture
async def plain_site(redis_server, redis, tmp_path) -> AsyncIterator[tuple[str, Race, dict[str, str]]]:
    """Wave A 50 min ago, wave B 45 min ago: three finishers, a runner on his second lap; the whole app."""
    race = load_race(write_plain_race(tmp_path / "plain-10k"))
    store = Store(redis, race)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    guns = {"A": now - 3000, "B": now - 2700}
    for pen, t in guns.items():
        await store.set_gun(f"pen:{pen}", t)
    women = [p for p in race.runners if p.sex == "F" and p.category == "Senior"]
    men = [p for p in race.runners if p.sex == "M"]
    who = {"first": women[0].bib, "second": women[1].bib, "man": men[0].bib, "running": men[1].bib}
    reads = reads_at_pace(race, women[0].chips[0], guns[women[0].pen], 2500, 10000)
    reads += reads_at_pace(race, men[0].chips[0], guns[men[0].pen], 2550, 10000)
    reads += reads_at_pace(race, women[1].chips[0], guns[women[1].pen], 2600, 10000)
    reads += reads_at_pace(race, men[1].chips[0], guns[men[1].pen], 4000, 6930)
    await store.apply_reads(sorted(reads, key=lambda r: r.time), wall_s=now)
    async with running_uvicorn(create_app(race, redis_server.url)) as base:
        yield base, race, who


async def test_the_three_pages_render_without_a_pursuer(plain_site):
    base, race, who = plain_site
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1600, "height": 1000})
        await context.add_init_script(
            f"localStorage.setItem('pursuit.follow', '{json.dumps([who['second'], who['running']])}')"
        )
        control = await open_page(context, base, "/", errors)
        await control.wait_for_function("document.querySelector('#kpi-finished')?.innerText === '3'", timeout=15000)
        assert await control.inner_text("#kpi-running") == "1"
        assert who["running"] in await control.inner_text("#kpi-leader"), "the leader on the course, by bib"
        assert await control.query_selector("#kpi-forecast") is None, "no forecast of winners"
        assert await control.query_selector("#kpi-pursuer") is None
        await control.wait_for_selector("#group-rows", timeout=15000)
        groups = await control.inner_text("#group-rows")
        assert "finished" in groups and "sex F" in groups and "50" in groups, groups
        assert await control.evaluate("window.pursuit.view.pd") is None, "no pursuer drawn"

        follow = await open_page(context, base, "/follow", errors)
        card = f".card[data-bib='{who['second']}']"
        await follow.wait_for_selector(f"{card} .card-status", timeout=15000)
        text = await follow.inner_text(card)
        assert "3rd overall · 2nd woman · 2nd in Senior (F)" in text, text
        assert "finished" in text.lower()
        running = await follow.inner_text(f".card[data-bib='{who['running']}']")
        for said in ("gap to the pursuer", "to beat him", "margin"):
            assert said not in text and said not in running, (text, running)
        assert "overall" not in running, "not placed until home"

        commentary = await open_page(context, base, "/commentary", errors)
        await commentary.wait_for_function("document.querySelector('#story-won')?.innerText === '3'", timeout=15000)
        assert await commentary.inner_text("#story-forecast") == "1"
        assert who["running"] in await commentary.inner_text("#story-pursuer-sub")
        await commentary.wait_for_function(
            "document.querySelector('#ticker')?.innerText.includes('First finisher')", timeout=15000
        )
        await browser.close()
    assert errors == []
