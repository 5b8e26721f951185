"""Race control names the readers whose input is refused: reader name, address, count and why."""

from __future__ import annotations

import time

import pytest

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.store.store import Store
from pursuit.web import create_app
from tests.helpers import CHROMIUM_ARGS, require_chromium, running_uvicorn
from tests.helpers.served import send_lines

pytestmark = pytest.mark.browser

HOSTILE = "<b id=injected>Gremlin</b>"


async def test_race_control_lists_the_readers_sending_garbage(redis_server, redis, paris):
    chromium = require_chromium()
    from playwright.async_api import async_playwright

    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    ingest = ChronoTrackServer(paris, store, host="127.0.0.1", port=0)
    await ingest.start()
    errors: list[str] = []
    try:
        async with running_uvicorn(create_app(paris, redis_server.url)) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(base + "/")
            await page.wait_for_function(
                "document.querySelector('#reader-errors')?.innerText.includes('no reader has sent refused input')",
                timeout=20000,
            )
            garbage = b"".join(b"\x00\xff garbage %d\r\n" % i for i in range(7))
            await send_lines(ingest.port, HOSTILE.encode() + b"~1.0~CTP01\r\n" + garbage)
            await page.wait_for_function(
                "document.querySelector('#reader-errors table')?.innerText.includes('127.0.0.1')", timeout=20000
            )
            row = await page.inner_text("#reader-errors tbody tr")
            assert HOSTILE in row, "the reader's name, as text"
            assert "\t7\t" in row and "not ASCII" in row
            assert await page.query_selector("#injected") is None, "no markup from a reader reaches the page"
            await browser.close()
    finally:
        await ingest.close()
    assert not errors
