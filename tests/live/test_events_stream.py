"""The events stream (SSE with Last-Event-ID, /ws/events) over real uvicorn and real clients."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
import websockets

from live.clock import RaceClock
from live.store import Store
from pursuit.web import create_app
from tests.helpers import eventually, running_uvicorn


@pytest.fixture
async def web(redis_server, redis, paris):
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    for i, _ in enumerate(paris.pens):
        await store.record_gun(now - 900 + 60 * i)
    app = create_app(paris, redis_server.url, dashboard=False)
    async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        await eventually(lambda: _ready(client))
        yield base, base.replace("http://", "ws://"), store, app, now


async def _ready(client):
    return (await client.get("/api/state")).status_code == 200


async def recv(ws) -> dict:
    return orjson.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_events_stream_resumes_from_last_event_id_without_loss_or_duplicates(web):
    base, ws_base, store, _, now = web
    first = [await store.append_event("test", now, f"event {i}", {"n": i}) for i in range(3)]
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        got = await read_sse(client, {}, until=lambda evs: len([e for e in evs if e["kind"] == "test"]) >= 3)
        tests = [e for e in got if e["kind"] == "test"]
        assert [e["n"] for e in tests] == [0, 1, 2] and tests[0]["id"] == first[0]
        more = [await store.append_event("test", now, f"event {i}", {"n": i}) for i in range(3, 5)]
        resumed = await read_sse(client, {"last-event-id": first[-1]}, until=lambda evs: len(evs) >= 2)
        assert [e["id"] for e in resumed][:2] == more
        assert [e["n"] for e in resumed if e["kind"] == "test"] == [3, 4]
        assert (await client.get("/api/events/stream", headers={"last-event-id": "nope"})).status_code == 400
    async with websockets.connect(f"{ws_base}/ws/events?after={more[0]}") as ws:
        event = await recv(ws)
        assert event["id"] == more[1] and event["text"] == "event 4"


async def read_sse(client, headers, until) -> list[dict]:
    events: list[dict] = []
    async with client.stream("GET", "/api/events/stream", headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        data = {}
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                data["id"] = line[4:]
            elif line.startswith("data: "):
                events.append(orjson.loads(line[6:]))
                if until(events):
                    return events
    return events
