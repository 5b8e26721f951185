"""An event served by a `pursuit serve` process on the test's Redis, shared by the event tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from live.clock import RaceClock
from live.race.event import Event
from live.store.store import Store
from pursuit.redis_server import free_port
from tests.helpers.polling import eventually


@dataclass
class Served:
    """An event served by a `pursuit serve` process: its clock, an HTTP client, its reader ports."""

    clock: RaceClock
    http: httpx.AsyncClient
    chronotrack: int
    mylaps: int


@contextlib.asynccontextmanager
async def served(redis_server, redis, event: Event, speed: float) -> AsyncIterator[Served]:  # type: ignore[no-untyped-def]
    """`pursuit serve --race DIR` of ``event`` against the test's Redis, the race clock at ``speed``
    from now written for every race; yields once /api/event answers; no traceback in its output."""
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=speed)
    for race in event.races:
        await Store(redis, race).set_clock(clock)
    web, ct, ml = free_port(), free_port(), free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pursuit.cli", "serve", "--race", str(event.directory), "--host", "127.0.0.1",
        "--port", str(web), "--ingest-port", str(ct), "--mylaps-port", str(ml),
        env={**os.environ, "REDIS_URL": redis_server.url}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web}", timeout=20) as http:

            async def up() -> bool:
                try:
                    return (await http.get("/api/event")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(up, timeout_s=60)
            yield Served(clock, http, ct, ml)
    finally:
        proc.terminate()
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert b"Traceback" not in out, out.decode()
