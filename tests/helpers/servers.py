"""Real servers in the test's event loop: uvicorn on a free port, and a whole live race (ingestor,
store, web app) on real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import redis.asyncio as aioredis

from ingest.chronotrack_server import ChronoTrackServer
from live.clock import RaceClock
from live.race.race import Race
from live.store.store import Store
from pursuit.redis_server import RedisServer, free_port
from pursuit.serve import uvicorn_server
from tests.helpers.polling import eventually


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
