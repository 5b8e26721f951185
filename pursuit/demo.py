"""``pursuit demo`` and ``pursuit simulate``: a whole simulated race on one machine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from ingest.chronotrack_server import ChronoTrackServer
from ingest.mylaps_server import MyLapsServer
from ingest.raceresult_client import RaceResultClient
from live.clock import RaceClock
from live.race.event import Event, event_of
from live.race.race import Race, RaceResultDecoder
from live.store.connection import redis_client
from live.store.event_store import ingest_store
from live.store.store import Store
from pursuit.event_web import create_event_app
from pursuit.redis_server import RedisServer, free_port
from pursuit.serve import race_exempt, uvicorn_server
from pursuit.settings import Settings
from pursuit.web import create_app
from simulator.run import assign_protocols, simulate

log = logging.getLogger(__name__)

DATA_DIR = Path(".pursuit")
LEAD_IN_WALL_S = 3.0  # wall seconds between start-up and the first gun


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def run_demo(
    race: Race | Event,
    *,
    runners: int | None,
    speed: float,
    port: int,
    ingest_port: int | None,
    seed: int,
    protocols: str = "mixed",
    settings: Settings | None = None,
) -> int:
    """Redis (private unless REDIS_URL is set), ingestor, web and the simulated race (or every race of
    an event, each starting when its race file says), until Ctrl-C.

    By default the mats speak every protocol (``assign_protocols(race, "mixed")``): ChronoTrack to
    our CTP01 server, MYLAPS to our T&S server, RACE RESULT decoders that our client pulls from, and
    JSON over ``/ingest/ws`` with tokens made up for the demo, so the demo exercises all of ingest.
    """
    event = race if isinstance(race, Event) else event_of(race)
    race = event.ingest_race()
    by_mat = assign_protocols(race, protocols)
    rr_ports = {mat: free_port() for mat, proto in by_mat.items() if proto == "raceresult"}
    tokens = {mat: secrets.token_hex(8) for mat, proto in by_mat.items() if proto == "json"}
    settings = (settings or Settings()).with_reader_tokens(tokens)  # the web app lets the demo's readers in
    redis_url = settings.redis_url
    private = None
    if not redis_url:
        private = RedisServer(DATA_DIR / "redis", die_with_parent=True).start()
        redis_url = private.url
        print(f"redis: private redis-server on port {private.port} (data in {private.data_dir})", flush=True)
    redis = redis_client(redis_url)
    ingest = mylaps = None
    stopping = asyncio.Event()
    pulls: list[asyncio.Task[None]] = []
    try:
        for each in event.races:
            await Store(redis, each).reset()
        store = ingest_store(redis, event)
        await store.setup()
        wall = time.time()
        clock = RaceClock(origin_wall=wall, origin_race=wall, speed=speed)
        await store.set_clock(clock)

        wanted = ingest_port or race.readers.port("chronotrack", ChronoTrackServer.DEFAULT_PORT)
        ingest = ChronoTrackServer(race, store, host="127.0.0.1", port=wanted if _port_free(wanted) else free_port())
        await ingest.start()
        mylaps_port = race.readers.port("mylaps", MyLapsServer.DEFAULT_PORT)
        mylaps = MyLapsServer(
            race, store, host="127.0.0.1", port=mylaps_port if _port_free(mylaps_port) else free_port()
        )
        await mylaps.start()
        print(
            f"ingest: ChronoTrack CTP01 on 127.0.0.1:{ingest.port}, MYLAPS T&S on 127.0.0.1:{mylaps.port}", flush=True
        )
        pulls += [
            asyncio.create_task(RaceResultClient(race, store, RaceResultDecoder(mat, "127.0.0.1", p)).run(stopping))
            for mat, p in rr_ports.items()
        ]
        print("mats: " + ", ".join(f"{m} {p}" for m, p in by_mat.items()), flush=True)

        app: Any = (
            create_app(race, redis_url, settings=settings)
            if len(event.races) == 1
            else create_event_app(event, redis_url, settings=settings)
        )
        web = uvicorn_server(
            app,
            "127.0.0.1",
            port,
            max_connections=settings.max_connections_for(event.first.web),
            exempt=race_exempt(event),
        )
        web_task = asyncio.create_task(web.serve(), name="web")
        while not web.started:
            if web_task.done():
                web_task.result()
                return 1
            await asyncio.sleep(0.05)

        first_gun = clock.at_wall(time.time() + LEAD_IN_WALL_S)
        for each in event.races:
            runners_of = len(each.participants) - (each.pursuer is not None)
            field = f"{min(runners, runners_of):,}" if runners else f"{runners_of:,}"
            print(f"simulating {each.name}: {field} runners at {speed:g}x real time", flush=True)
        print(f"\n  dashboard: http://127.0.0.1:{port}/\n  API:       http://127.0.0.1:{port}/api/state", flush=True)
        if len(event.races) > 1:
            print(f"  event:     http://127.0.0.1:{port}/event (each race under /races/<id>/)", flush=True)
        print(flush=True)
        sim_task = asyncio.create_task(
            simulate(
                event,
                "127.0.0.1",
                ingest.port,
                clock=clock,
                first_gun=first_gun,
                seed=seed,
                runners=runners,
                protocols=by_mat,
                mylaps_port=mylaps.port,
                raceresult_ports=rr_ports,
                web_url=f"ws://127.0.0.1:{port}",
                reader_tokens=tokens,
            ),
            name="simulator",
        )
        sim_task.add_done_callback(_report_simulation)
        await web_task
        sim_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sim_task
        return 0
    finally:
        stopping.set()
        await asyncio.gather(*pulls, return_exceptions=True)
        for server in (ingest, mylaps):
            if server is not None:
                await server.close()
        await redis.aclose()
        if private is not None:
            private.stop()


def _report_simulation(task: asyncio.Task[object]) -> None:
    if task.cancelled():
        return
    if task.exception() is not None:
        log.error("simulation failed", exc_info=task.exception())
        return
    print(f"simulation finished: {task.result()}", flush=True)
