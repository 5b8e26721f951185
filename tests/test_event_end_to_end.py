"""End to end for an event: `pursuit serve` of an event directory (a real process against a real
Redis), emulated mats shared by its races over real sockets, each race's outcome against the truth."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from live.race.event import load_event
from simulator.run import simulate
from tests.helpers import eventually
from tests.helpers.end_to_end import event_times_each_race_apart
from tests.helpers.event_serve import served
from tests.helpers.paths import ROOT

PARIS_2024 = ROOT / "races" / "paris-2024"


async def test_an_event_served_by_pursuit_serve_times_each_race_apart(redis_server, redis, tmp_path: Path):
    await event_times_each_race_apart(redis_server, redis, tmp_path)


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
