"""End to end: emulated ChronoTrack mats → ingestor (TCP) → Redis → live engine → HTTP API."""

from __future__ import annotations

import asyncio
import csv
import io
import time

import pytest

from simulator.run import simulate
from simulator.trajectory import plan_race
from tests.helpers import eventually, live_race

SPEED = 400.0  # a 45-minute race in about 7 s
RUNNERS = 120


async def test_simulated_race_reaches_the_api_with_the_true_outcome(redis_server, redis, paris):
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
