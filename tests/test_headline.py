"""The J-1000 headline, end to end: the whole default field (3,599 runners and the pursuer) played at
high speed by emulated ChronoTrack mats into the real ingestor, Redis and live engine, read back
from the HTTP API. The J-1000 (Paris, 2021): "more than 1,000" beat Kipchoge where 400–600 were planned; the
slowest pens were swallowed within the first kilometre or so."""

from __future__ import annotations

import time

from simulator.run import simulate
from tests.helpers import eventually, live_race

SPEED = 150.0  # about 50 minutes of race in about 20 s


async def test_the_default_race_through_the_ingestor_gives_the_j1000_headline(redis_server, redis, paris):
    async with live_race(redis_server, redis, paris, SPEED) as race:
        clock, client = race.clock, race.client
        first_gun = clock.at_wall(time.time() + 0.5)
        report = await simulate(paris, "127.0.0.1", race.ingest_port, clock=clock, first_gun=first_gun)
        field_size = len(paris.participants) - 1
        print(f"\n{report}")

        async def settled():
            state = (await client.get("/api/state")).json()
            done = state["pursuer"]["status"] == "finished" and state["counts"]["started"] == field_size
            return state if done and state["counts"]["won"] + state["counts"]["caught"] == field_size else None

        state = await eventually(settled, timeout_s=60)
        won = state["counts"]["won"]
        assert 850 <= won <= 1250, f"{won} winners: the J-1000 had 'more than 1,000', planned 400-600"
        assert won == report.winners, "the live outcome is the simulated truth"

        live_per_pen = {}
        for pen in paris.pens:
            answer = await client.get("/api/runners", params={"status": "won", "pen": pen.id, "limit": 1})
            entered = await client.get("/api/runners", params={"pen": pen.id, "limit": 1})
            live_per_pen[pen.id] = (answer.json()["total"], entered.json()["total"])
        print("winners per pen (live, entered):", live_per_pen)
        assert {p: w for p, (w, _) in live_per_pen.items()} == report.winners_per_pen
        for pen in ("4", "5"):
            winners, entered = live_per_pen[pen]
            assert entered > 300 and winners < 0.02 * entered, f"pen {pen}: few or no winners"
        assert all(live_per_pen[p][0] > 0.2 * live_per_pen[p][1] for p in ("1", "2", "3"))
