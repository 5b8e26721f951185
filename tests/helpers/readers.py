"""The real ingestor of a race with the simulator's emulated readers speaking to it over real sockets,
and what ended in Redis: crossings, results."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis
from starlette.applications import Starlette

from ingest.chronotrack_server import ChronoTrackServer
from ingest.json_server import JsonIngest
from ingest.mylaps_server import MyLapsServer
from ingest.raceresult_client import RaceResultClient
from live.chase.snapshot import STATUSES
from live.clock import RaceClock
from live.engine.engine import LiveEngine
from live.race.race import Race, RaceResultDecoder
from live.store.store import Store
from pursuit.redis_server import free_port
from simulator.run import SimulationReport, simulate
from simulator.trajectory import RacePlan
from tests.helpers.polling import eventually
from tests.helpers.servers import running_uvicorn

ORIGIN = 1635670000.0  # 2021-10-31 09:46:40 Paris: the race day of the Paris race file
FIRST_GUN = ORIGIN + 60.0
SPEED = 3000.0  # the ~50-minute race in about a second of wall time
MIXED = {
    "start": "chronotrack",
    "marbeuf": "mylaps",
    "concorde": "raceresult",
    "george-v": "json",
    "finish": "chronotrack",
}


@dataclass
class Ingestor:
    store: Store
    clock: RaceClock
    ct_port: int
    mylaps_port: int
    web_url: str
    tokens: dict[str, str]
    rr_ports: dict[str, int]


@contextlib.asynccontextmanager
async def ingestor(
    redis: aioredis.Redis,
    race: Race,
    rr_mats: list[str] = (),  # type: ignore[assignment]
    origin: float = ORIGIN,
) -> AsyncIterator[Ingestor]:
    """The real ingestor of the race: ChronoTrack and MYLAPS servers, the JSON WebSocket ingest on
    real uvicorn, and a RACE RESULT client per decoder (which listens on a free port); the race
    clock reads ``origin`` now and runs at ``SPEED``."""
    store = Store(redis, race)
    await store.setup()
    clock = RaceClock(origin_wall=time.time(), origin_race=origin, speed=SPEED)
    await store.set_clock(clock)
    ct = ChronoTrackServer(race, store, host="127.0.0.1", port=0)
    mylaps = MyLapsServer(race, store, host="127.0.0.1", port=0)
    await ct.start()
    await mylaps.start()
    tokens = {m.id: f"token-{m.id}" for m in race.mats}
    app = Starlette(routes=JsonIngest(race, store, tokens=tokens).routes())
    stop = asyncio.Event()
    rr_ports = {m: free_port() for m in rr_mats}
    clients = [
        asyncio.create_task(RaceResultClient(race, store, RaceResultDecoder(m, "127.0.0.1", p), poll_s=0.1).run(stop))
        for m, p in rr_ports.items()
    ]
    try:
        async with running_uvicorn(app) as base:
            yield Ingestor(store, clock, ct.port, mylaps.port, base.replace("http://", "ws://"), tokens, rr_ports)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*clients), 10)
        await ct.close()
        await mylaps.close()


async def run_race(  # type: ignore[no-untyped-def]
    ing: Ingestor, race: Race, protocols: dict[str, str], first_gun: float = FIRST_GUN, **options
) -> SimulationReport:
    """Simulate, then wait until the ingestor has applied the last ChronoTrack line and let its
    connections go (that protocol has no acknowledgement; the others return only once the ingestor has
    taken everything): a garbled line after the last good one is counted before a connection is."""
    report = await asyncio.wait_for(
        simulate(race, "127.0.0.1", ing.ct_port, clock=ing.clock, first_gun=first_gun, mylaps_port=ing.mylaps_port,
                 raceresult_ports=ing.rr_ports, web_url=ing.web_url, reader_tokens=ing.tokens, protocols=protocols,
                 **options),
        60,
    )  # fmt: skip
    ct_mats = [m for m, p in protocols.items() if p == "chronotrack"]

    async def applied() -> bool:
        expected = {m: report.lines_per_mat[m] for m in ct_mats}
        if ct_mats and await ing.store.last_sequences(ct_mats) != expected:
            return False
        health = await ing.store.mat_health()
        return all(int(health.get(m, {}).get("connected", 0)) <= 0 for m in ct_mats)

    await eventually(applied, timeout_s=10)
    return report


async def crossings(store: Store) -> dict[str, list[float]]:
    """``bib|mat`` -> crossing times held in Redis (participants only; RSSI and backup marks dropped)."""
    raw = await store.redis.hgetall(store.keys.crossings)
    out = {}
    for field, value in raw.items():
        key = field.decode()
        if not key.startswith("chip:"):
            out[key] = [float(re.match(r"[\d.]+", v).group()) for v in value.decode().split(",")]  # type: ignore[union-attr]
    return out


def planned_crossings(plan: RacePlan, offsets: dict[str, float] | None = None) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for c in plan.crossing_list:
        out.setdefault(f"{c.bib}|{c.mat}", []).append(round(c.time + (offsets or {}).get(c.mat, 0.0), 3))
    return {k: sorted(v) for k, v in out.items()}


def same_crossings(got: dict[str, list[float]], expected: dict[str, list[float]], tolerance_s: float = 0.0011) -> bool:
    """The same ``bib|mat`` keys, each with as many times, each within ``tolerance_s``; the differences are shown."""
    wrong = {k: (got.get(k), expected.get(k)) for k in got.keys() | expected.keys()
             if len(got.get(k, [])) != len(expected.get(k, []))
             or any(abs(a - b) > tolerance_s for a, b in zip(got[k], expected[k], strict=True))}  # fmt: skip
    assert not wrong, f"{len(wrong)} crossings differ, e.g. {sorted(wrong.items())[:5]}"
    return True


async def results(race: Race, store: Store) -> dict[str, str]:
    """Every runner's status as the live engine computes it from Redis."""
    snapshot = await LiveEngine(race, store).refresh()
    return {str(b): STATUSES[s] for b, s in zip(snapshot.bibs, snapshot.status, strict=True)}
