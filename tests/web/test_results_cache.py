"""``/api/results.csv`` is built once per tick however many ask, and again after the next tick."""

from __future__ import annotations

import asyncio

from starlette.routing import Route

from live.chase.snapshot import Snapshot
from tests.helpers import eventually, pens_started


async def test_results_csv_is_built_once_per_tick_however_many_ask(redis_server, redis, paris):
    async with pens_started(redis_server, redis, paris) as s:
        route = next(r for r in s.app.router.routes if isinstance(r, Route) and r.path == "/api/results.csv")
        api = route.endpoint.__wrapped__.__self__  # the handler under api_route's answers_errors
        build = api._results_csv
        built: list[Snapshot] = []

        def counted(snap: Snapshot) -> str:
            built.append(snap)
            return build(snap)

        api._results_csv = counted
        engine = api.engine
        ticks: list[Snapshot] = []

        async def tick(snap: Snapshot) -> None:
            ticks.append(snap)

        engine.listeners.append(tick)
        before = engine.snapshot
        answers = await asyncio.gather(*(s.http.get("/api/results.csv") for _ in range(30)))
        assert all(a.status_code == 200 for a in answers)
        assert len({a.text for a in answers}) <= len(built)
        assert len(built) == len({id(b) for b in built}), "never built twice for one tick"
        assert set(map(id, built)) <= {id(before), *map(id, ticks)}
        assert len(built) <= 1 + len(ticks) < 30, "30 requests, far fewer builds"

        seen = len(ticks)
        await eventually(lambda: asyncio.sleep(0, len(ticks) > seen))  # a new tick: the next request builds anew
        n = len(built)
        assert (await s.http.get("/api/results.csv")).status_code == 200
        assert len(built) == n + 1 and built[-1] is not before
