"""The sites the page tests open, shared by the modules of tests/dashboard/: a race live at 60x
(``site``), a race nobody has started (``no_data_yet``) and a runner caught (``one_caught``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.store.store import RawRead, Store
from pursuit.web import create_app
from simulator.run import simulate
from tests.helpers import running_uvicorn
from tests.helpers.pages import RUNNERS, race_with_a_hostile_name


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


@pytest.fixture
async def no_data_yet(redis_server, redis, paris) -> AsyncIterator[str]:
    """The web app of a race nobody has started: no clock, no gun, no read."""
    async with running_uvicorn(create_app(paris, redis_server.url)) as base:
        yield base


@pytest.fixture
async def one_caught(redis_server, redis, paris) -> AsyncIterator[tuple[str, str]]:
    """Pens out for 10 minutes, the pursuer for 4 and read at the Concorde; a walker read at
    marbeuf long before him and not since: caught, well behind him. Yields (base URL, his bib)."""
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    t0, gun = now - 600, now - 240
    for i, _ in enumerate(paris.pens):
        await store.record_gun(t0 + 60 * i)
    await store.record_gun(gun)
    kip, walker = paris.participant(paris.pursuer.bib).chips[0], paris.participants[3]
    await store.apply_reads(
        [
            RawRead("start", walker.chips[0], t0 + 5),
            RawRead("marbeuf", walker.chips[0], gun + 60),  # 400 m in 415 s
            RawRead("start", kip, gun + 0.5),
            RawRead("marbeuf", kip, gun + 69),
            RawRead("concorde", kip, gun + 334),
        ],
        wall_s=now,
    )
    async with running_uvicorn(create_app(paris, redis_server.url)) as base:
        yield base, walker.bib
