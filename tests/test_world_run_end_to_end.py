"""The catcher-car format end to end (issue 23, "Done when"): ``races/world-run-paris`` played by the
simulator's ChronoTrack mats over real sockets → ingestor → real Redis → live engine → HTTP API, at
high speed, to the last catch: every runner's ``caught_at_m`` against the simulator's truth, the
results ranked by it with places in sex and category, and the commentary's last man and woman."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path

import numpy as np
import pytest

from live.race.race_file import load_race
from simulator.run import simulate
from tests.helpers import eventually, live_race

WORLD_RUN = Path(__file__).resolve().parent.parent / "races" / "world-run-paris"
SPEED = 400.0  # the last of 400 runners is caught about 5 h in: under a minute
RUNNERS = 400


@pytest.fixture(scope="module")
def world_run():
    return load_race(WORLD_RUN)


async def test_world_run_catch_distances_match_the_simulated_truth(redis_server, redis, world_run):
    race = world_run
    async with live_race(redis_server, redis, race, SPEED) as live:
        clock, store, client = live.clock, live.store, live.client
        first_gun = clock.at_wall(time.time() + 0.5)
        sim = asyncio.create_task(
            simulate(race, "127.0.0.1", live.ingest_port, clock=clock, first_gun=first_gun, seed=23, runners=RUNNERS)
        )
        seen_predictions = 0
        while not sim.done():  # while they run: predicted catches with their band, the milestone forecast
            response = await client.get("/api/runners?status=ahead&limit=5")
            if response.status_code == 200:
                for r in response.json()["runners"]:
                    detail = (await client.get(f"/api/runners/{r['bib']}")).json()
                    p = detail["predicted_catch"]
                    if p is not None:
                        assert (
                            p["low"] <= p["at_m"] <= p["high"] and p["level"] == 0.8 and detail["caught_at_m"] is None
                        )
                        seen_predictions += 1
            await asyncio.sleep(0.5)
        report = sim.result()
        truth = report.outcome.caught_at_m
        assert len(truth) == RUNNERS and seen_predictions > 0
        assert f"the car caught {RUNNERS:,} runners, half of them by " in str(report)

        async def all_caught():
            state = (await client.get("/api/state")).json()
            if state["counts"]["running"] or state["counts"]["caught"] != RUNNERS:
                return None
            runners = (await client.get("/api/runners?status=caught&limit=500")).json()["runners"]
            return runners if all(r["caught_at_m"] is not None for r in runners) else None

        runners = await eventually(all_caught, timeout_s=30)
        error = np.array([abs(r["caught_at_m"] - truth[r["bib"]]) for r in runners])
        assert np.mean(error <= 20.0) >= 0.99, f"errors p50/p99/max {np.percentile(error, [50, 99, 100])}"
        state = (await client.get("/api/state")).json()
        assert state["counts"]["won"] == 0
        milestones = state["forecast"]["milestones"]
        assert [m["at_m"] for m in milestones] == list(race.milestones_m)
        for m in milestones:  # the car is past every milestone
            true_count = sum(1 for d in truth.values() if d > m["at_m"])
            assert abs(m["expected"] - true_count) <= 0.01 * RUNNERS

        # results.csv: ranked by caught_at_m, furthest first, with places in sex and category
        rows = list(csv.DictReader(io.StringIO((await client.get("/api/results.csv")).text)))
        assert list(rows[0])[-2:] == ["place_sex", "place_category"]
        assert [r["status"] for r in rows[:RUNNERS]] == ["caught"] * RUNNERS  # then the 4,600 not in the sample
        assert all(r["place"] == "" for r in rows[RUNNERS:])
        rows = rows[:RUNNERS]
        assert {r["bib"]: float(r["caught_at_m"]) for r in rows} == {r["bib"]: r["caught_at_m"] for r in runners}
        distances = [float(r["caught_at_m"]) for r in rows]
        assert distances == sorted(distances, reverse=True)
        assert [int(r["place"]) for r in rows][:3] == [1, 2, 3]
        assert [int(r["place"]) for r in rows] == list(range(1, RUNNERS + 1))
        for column, keys in (("place_sex", ("sex",)), ("place_category", ("sex", "category"))):  # category within sex
            for group in {tuple(r[k] for k in keys) for r in rows}:
                places = [int(r[column]) for r in rows if tuple(r[k] for k in keys) == group]
                assert places == list(range(1, len(places) + 1)), (column, group)

        # commentary: the last man and the last woman caught, named, where the simulator caught them
        async def last_caught():
            events = await store.events_after(count=10_000)
            found = {e["sex"]: e for e in events if e["kind"] == "last_caught"}
            return events if len(found) == 2 else None

        events = await eventually(last_caught, timeout_s=10)
        for sex, word in (("M", "man"), ("F", "woman")):
            bibs = [b for b in truth if race.participant(b).sex == sex]
            last = max(bibs, key=lambda b: truth[b])
            event = next(e for e in events if e["kind"] == "last_caught" and e["sex"] == sex)
            assert event["bib"] == last and event["text"].startswith(f"Last {word} caught at ")
            assert race.participant(last).name in event["text"]
        assert sum(1 for e in events if e["kind"] == "car_milestone") == len(race.milestones_m)
        assert sum(1 for e in events if e["kind"] == "caught") == RUNNERS
