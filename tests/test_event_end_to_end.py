"""End to end for an event: `pursuit serve` of an event directory (a real process against a real
Redis), emulated mats shared by its races over real sockets, each race's outcome against the truth."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from live.clock import RaceClock
from live.race.event import Event, load_event
from live.store.store import Store
from pursuit.redis_server import free_port
from simulator.run import simulate
from tests.helpers import eventually, write_event

SPEED = 300.0
RUNNERS = 60  # per race


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


async def test_an_event_served_by_pursuit_serve_times_each_race_apart(redis_server, redis, tmp_path: Path):
    event = load_event(write_event(tmp_path, runners=RUNNERS + 5, delay_min=12))
    async with served(redis_server, redis, event, SPEED) as serve:
        clock, http, ct, ml = serve.clock, serve.http, serve.chronotrack, serve.mylaps
        report = await simulate(event, "127.0.0.1", ct, clock=clock, first_gun=clock.at_wall(time.time() + 1),
                                seed=5, runners=RUNNERS, mylaps_port=ml)  # fmt: skip
        assert set(report.outcomes) == {"chase-a", "chase-b"}
        for race in event.races:
            truth = report.outcomes[race.id]
            path = "" if race is event.first else f"/races/{race.id}"

            async def finished(path: str = path) -> dict[str, object] | None:
                state = (await http.get(f"{path}/api/state")).json()
                counts = state["counts"]
                done = state["pursuer"]["status"] == "finished" and counts["won"] + counts["caught"] == RUNNERS
                return state if done else None

            state = await eventually(finished, timeout_s=60)
            assert state["counts"]["won"] == truth.winners, race.id
            rows = list(csv.DictReader(io.StringIO((await http.get(f"{path}/api/results.csv")).text)))
            ran = {r["bib"] for r in rows if r["status"] != "registered"}
            assert ran == set(truth.finish), "every runner of the race, none of the other's"
            assert {r["bib"] for r in rows if r["status"] == "won"} == {b for b, w in truth.won.items() if w}
        body = (await http.get("/api/event")).json()
        assert [r["counts"]["won"] for r in body["races"]] == [report.outcomes[r.id].winners for r in event.races]


PARIS_2024 = Path(__file__).resolve().parent.parent / "races" / "paris-2024"


async def test_paris_2024_the_chase_and_the_10k_on_shared_mats(redis_server, redis):
    """The shipped event through `pursuit serve`: the J-1000 chase and, after it, a 10 km without a
    pursuer on the same five mats; every read lands in its runner's race and each race's results are
    the simulator's truth."""
    event = load_event(PARIS_2024)
    chase, ten_k = event.races
    runners = 150
    speed = 500.0  # the chase and then the 10 km: about 2 h 30 of race time in 18 s
    async with served(redis_server, redis, event, speed) as serve:
        clock, http, ct, ml = serve.clock, serve.http, serve.chronotrack, serve.mylaps
        report = await simulate(event, "127.0.0.1", ct, clock=clock, first_gun=clock.at_wall(time.time() + 1),
                                seed=3, runners=runners, mylaps_port=ml)  # fmt: skip

        async def chase_over() -> dict[str, object] | None:
            state = (await http.get("/api/state")).json()
            counts = state["counts"]
            done = state["pursuer"]["status"] == "finished" and counts["won"] + counts["caught"] == runners
            return state if done else None

        state = await eventually(chase_over, timeout_s=60)
        assert state["counts"]["won"] == report.outcomes[chase.id].winners

        async def ten_k_over() -> dict[str, object] | None:
            state = (await http.get("/races/10k/api/state")).json()
            return state if state["counts"]["finished"] == runners else None

        state = await eventually(ten_k_over, timeout_s=60)
        assert state["pursuer"] is None and state["forecast"] is None
        truth = report.outcomes[ten_k.id]
        gun = {g.pen: g.time for g in report.guns if g.pen in ("A", "B")}
        pen_of = {p.bib: p.pen for p in ten_k.participants}
        by_gun_time = sorted(truth.finish, key=lambda bib: truth.finish[bib] - gun[pen_of[bib]])
        rows = list(csv.DictReader(io.StringIO((await http.get("/races/10k/api/results.csv")).text)))
        placed = sorted((r for r in rows if r["place"]), key=lambda r: int(r["place"]))
        assert [r["bib"] for r in placed] == by_gun_time, "placed by gun time from each wave's gun"
        assert all(r["place_sex"] and r["place_category"] for r in placed)

        # a 10 km runner is never seen by the chase, and a chase runner never by the 10 km
        assert (await http.get(f"/api/runners/{ten_k.runners[0].bib}")).status_code == 404
        assert (await http.get(f"/races/10k/api/runners/{chase.runners[0].bib}")).status_code == 404
        for path in ("", "/races/paris-j1000", "/races/10k"):
            mats = (await http.get(f"{path}/api/mats")).json()
            assert sum(m["unknown_chips"] for m in mats) == 0, path
            assert {m["id"] for m in mats} == {"start", "marbeuf", "concorde", "george-v", "finish"}
        body = (await http.get("/api/event")).json()
        assert [r["id"] for r in body["races"]] == ["paris-j1000", "10k"]
        assert body["races"][1]["forecast"] is None and body["races"][1]["leader"] is not None
        for path in ("/races/paris-j1000", "/races/10k"):
            for route in ("/api/race", "/api/roster", "/api/events", "/api/readers", "/healthz"):
                assert (await http.get(f"{path}{route}")).status_code == 200, f"{path}{route}"
