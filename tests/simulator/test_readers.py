"""Every emulated reader, in its real role over real sockets, into a real ingestor and Redis."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
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
from simulator.faults import Faults
from simulator.jsonws import MESSAGE_BYTES, EmulatedJsonReader
from simulator.observations import Observation
from simulator.run import SimulationReport, assign_protocols, simulate
from simulator.trajectory import RacePlan, plan_race
from tests.helpers import eventually, journaled, running_uvicorn

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
    """Simulate, then wait until the ingestor has applied the last ChronoTrack line (that protocol
    has no acknowledgement; the others return only once the ingestor has taken everything)."""
    report = await asyncio.wait_for(
        simulate(race, "127.0.0.1", ing.ct_port, clock=ing.clock, first_gun=first_gun, mylaps_port=ing.mylaps_port,
                 raceresult_ports=ing.rr_ports, web_url=ing.web_url, reader_tokens=ing.tokens, protocols=protocols,
                 **options),
        60,
    )  # fmt: skip
    ct_mats = [m for m, p in protocols.items() if p == "chronotrack"]

    async def applied() -> bool:
        expected = {m: report.lines_per_mat[m] for m in ct_mats}
        return not ct_mats or await ing.store.last_sequences(ct_mats) == expected

    await eventually(applied, timeout_s=10)
    await asyncio.sleep(0.05)  # a garbled line after the last good one is counted just after it
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


async def test_every_protocol_delivers_every_crossing_late_and_out_of_order(redis, paris: Race):
    async with ingestor(redis, paris, ["concorde"]) as ing:
        report = await run_race(ing, paris, MIXED, seed=4, runners=60, late_max_s=6.0)
        health = await ing.store.mat_health()
    plan = plan_race(paris, FIRST_GUN, seed=4, runners=60)
    assert report.protocols == MIXED and report.missing == [] and report.noise == 0
    assert same_crossings(await crossings(ing.store), planned_crossings(plan)), "every mat, every runner"
    assert await ing.store.guns() == pytest.approx(
        {("pursuer" if g.pen == "" else f"pen:{g.pen}"): g.time for g in plan.guns}, abs=0.011
    )
    assert {m: int(h.get("errors", 0)) for m, h in health.items()} == dict.fromkeys(MIXED, 0)
    assert all(int(h["passings"]) > 0 for h in health.values())
    # per-crossing decoders send one record per crossing, the others every raw read
    assert report.lines_per_mat["concorde"] == len(plan.crossings)
    assert report.lines_per_mat["marbeuf"] == 2 * len(plan.crossings)
    assert report.lines_per_mat["george-v"] == sum(r.mat == "george-v" for r in plan.reads)
    statuses = await results(paris, ing.store)
    assert sum(s == "won" for s in statuses.values()) == report.winners
    assert {b for b, s in statuses.items() if s == "won"} == {b for b, w in report.outcome.won.items() if w}


async def test_mylaps_start_gives_the_guns_and_a_race_result_clock_offset_is_measured(redis, paris: Race):
    protocols = dict.fromkeys(MIXED, "mylaps") | {"finish": "raceresult"}
    async with ingestor(redis, paris, ["finish"]) as ing:
        report = await run_race(ing, paris, protocols, seed=8, runners=25, clock_offsets={"finish": 12.5})
        health = await ing.store.mat_health()
    plan = plan_race(paris, FIRST_GUN, seed=8, runners=25)
    assert len(await ing.store.guns()) == len(plan.guns) == 6, "Gunshot markers start the pens, then the pursuer"
    assert float(health["finish"]["clock_offset_s"]) == pytest.approx(12.5, abs=1.0), "GETTIME, race clock"
    # the decoder stamps its own clock: the ingestor shows the offset and keeps the decoder's times
    assert same_crossings(await crossings(ing.store), planned_crossings(plan, {"finish": 12.5}))
    assert report.connections == 5 and report.lines_per_mat["finish"] == len(plan.crossings)


def test_protocol_assignment(paris: Race):
    mixed = assign_protocols(paris, "mixed")
    assert mixed["start"] == "chronotrack" and set(mixed.values()) == {"chronotrack", "mylaps", "raceresult", "json"}
    assert assign_protocols(paris, "concorde=raceresult,FINISH=json") == {
        "start": "chronotrack", "marbeuf": "chronotrack", "concorde": "raceresult", "george-v": "chronotrack",
        "finish": "json",
    }  # fmt: skip
    with pytest.raises(ValueError, match="carries the guns"):
        assign_protocols(paris, "start=json")
    with pytest.raises(ValueError, match="is none of"):
        assign_protocols(paris, "concorde=ultra")
    with pytest.raises(ValueError, match="<mat>=<protocol>"):
        assign_protocols(paris, "nowhere=mylaps")
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.parse("drop,flood")
    assert Faults.parse("all") == Faults(True, True, True, True, True, True)


async def test_a_json_reader_with_a_backlog_sends_messages_the_ingestor_takes(redis, paris: Race):
    """2,000 reads due at once: 1,000 to a message would be ~81 kB, over the web server's 64 KiB."""
    chips = [p.chips[0] for p in paris.participants]
    reads = [Observation(ORIGIN - 60, ORIGIN - 600 + 0.25 * i, chips[i % len(chips)], -60.0, 1) for i in range(2000)]
    async with ingestor(redis, paris) as ing:
        reader = EmulatedJsonReader("george-v", ing.clock, reads, ing.web_url, ing.tokens["george-v"])
        await asyncio.wait_for(reader.run(), 30)
        health = (await ing.store.mat_health())["george-v"]
        lines = [unit.encode() for units in await journaled(ing.store) for unit in units]
    assert reader.done and reader.connections == 1 and reader.resent == 0
    assert len(lines) >= 3 and max(len(line) for line in lines) <= MESSAGE_BYTES
    assert int(health["reads"]) == 2000 and int(health.get("errors", 0)) == 0
