"""The two end-to-end runs, on whatever Redis they are given (one server, or a Redis Cluster in
tests/cluster/): a simulated race through the ChronoTrack ingestor to the HTTP API, and an event of
two chases served by `pursuit serve`, each race's outcome against the simulator's truth."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path

import pytest

from live.race.event import load_event
from simulator.run import simulate
from simulator.trajectory import plan_race
from tests.helpers.event_dir import write_event
from tests.helpers.event_serve import served
from tests.helpers.polling import eventually
from tests.helpers.servers import live_race

SPEED = 400.0  # a 45-minute race in about 7 s
RUNNERS = 120
EVENT_SPEED = 300.0
EVENT_RUNNERS = 60  # per race


async def race_reaches_the_api_with_the_true_outcome(redis_server, redis, paris):
    async with live_race(redis_server, redis, paris, SPEED) as race:
        clock, store, client = race.clock, race.store, race.client
        first_gun = clock.at_wall(time.time() + 0.5)
        plan = plan_race(paris, first_gun, seed=11, runners=RUNNERS)
        sim = asyncio.create_task(
            simulate(paris, "127.0.0.1", race.ingest_port, clock=clock, first_gun=first_gun, seed=11,
                     runners=RUNNERS)
        )  # fmt: skip
        # while the race runs, the counts rise and the pursuer advances
        seen_started, seen_distance = set(), set()
        while not sim.done():
            response = await client.get("/api/state")
            if response.status_code != 200:  # the first tick has not run yet
                await asyncio.sleep(0.1)
                continue
            state = response.json()
            seen_started.add(state["counts"]["started"])
            seen_distance.add(state["pursuer"]["distance_m"])
            await asyncio.sleep(0.3)
        report = sim.result()
        assert len(seen_started) > 2 and len(seen_distance) > 2
        assert report.winners == sum(plan.winners().values())

        bib = str(plan.bibs[0])
        expected = [round(float(t), 2) for t in plan.crossings[0]]

        async def all_splits():
            body = (await client.get(f"/api/runners/{bib}")).json()
            return body if len(body["splits"]) == len(paris.timing_points) else None

        body = await eventually(all_splits)
        got = [s["time"] for s in body["splits"]]
        assert [s["at_m"] for s in body["splits"]] == [tp.at_m for tp in paris.timing_points]
        from datetime import datetime

        assert [datetime.fromisoformat(g).timestamp() for g in got] == pytest.approx(expected, abs=0.011)

        async def settled():
            state = (await client.get("/api/state")).json()
            return state if state["pursuer"]["status"] == "finished" else None

        state = await settled() or await eventually(settled)
        assert state["counts"]["started"] == RUNNERS
        assert state["counts"]["won"] == report.winners, "the live outcome equals the simulated truth"
        assert state["counts"]["won"] + state["counts"]["caught"] == RUNNERS

        # the story of the race, once each, in the durable events stream (appended just after the tick
        # that the state shows: a loaded machine may serve the state first)
        async def told():
            events = await store.events_after(count=10_000)
            kinds = [e["kind"] for e in events]
            return (events, kinds) if kinds.count("caught") >= state["counts"]["caught"] else None

        events, kinds = await eventually(told)
        assert kinds.count("caught") == state["counts"]["caught"]
        assert kinds.count("pursuer_split") == len(paris.timing_points) - 1
        assert kinds.count("final") == 1 and "milestone" in kinds
        final = next(e for e in events if e["kind"] == "final")
        assert final["won"] == report.winners and f"{report.winners:,} runners beat him" in final["text"]
        caught = next(e for e in events if e["kind"] == "caught")
        assert caught["bib"] and 0 < caught["at_m"] < paris.distance_m and "catches" in caught["text"]
        csv_text = (await client.get("/api/results.csv")).text
        rows = list(csv.DictReader(io.StringIO(csv_text)))
        winners = [r for r in rows if r["status"] == "won"]
        assert len(winners) == report.winners
        assert [int(r["place"]) for r in winners] == list(range(1, report.winners + 1))
        assert [r["finish_time"] for r in winners] == sorted(r["finish_time"] for r in winners)
        assert all(float(r["margin_s"]) > 0 for r in winners)
        assert sum(1 for r in rows if r["status"] == "caught" and r["caught_at_m"]) == state["counts"]["caught"]

        keys = [e["key"] for e in events]
        assert len(keys) == len(set(keys)), "no event twice"


async def event_times_each_race_apart(redis_server, redis, tmp_path: Path):
    event = load_event(write_event(tmp_path, runners=EVENT_RUNNERS + 5, delay_min=12))
    async with served(redis_server, redis, event, EVENT_SPEED) as serve:
        clock, http, ct, ml = serve.clock, serve.http, serve.chronotrack, serve.mylaps
        report = await simulate(event, "127.0.0.1", ct, clock=clock, first_gun=clock.at_wall(time.time() + 1),
                                seed=5, runners=EVENT_RUNNERS, mylaps_port=ml)  # fmt: skip
        assert set(report.outcomes) == {"chase-a", "chase-b"}
        for race in event.races:
            truth = report.outcomes[race.id]
            path = "" if race is event.first else f"/races/{race.id}"

            async def finished(path: str = path) -> dict[str, object] | None:
                state = (await http.get(f"{path}/api/state")).json()
                counts = state["counts"]
                done = state["pursuer"]["status"] == "finished" and counts["won"] + counts["caught"] == EVENT_RUNNERS
                return state if done else None

            state = await eventually(finished, timeout_s=60)
            assert state["counts"]["won"] == truth.winners, race.id
            rows = list(csv.DictReader(io.StringIO((await http.get(f"{path}/api/results.csv")).text)))
            ran = {r["bib"] for r in rows if r["status"] != "registered"}
            assert ran == set(truth.finish), "every runner of the race, none of the other's"
            assert {r["bib"] for r in rows if r["status"] == "won"} == {b for b, w in truth.won.items() if w}
        body = (await http.get("/api/event")).json()
        assert [r["counts"]["won"] for r in body["races"]] == [report.outcomes[r.id].winners for r in event.races]
