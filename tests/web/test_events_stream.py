"""The events stream (SSE with Last-Event-ID, /ws/events) over real uvicorn and real clients."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
import websockets

from tests.helpers import NOTE, note, pens_started


@pytest.fixture
async def web(redis_server, redis, paris):
    async with pens_started(redis_server, redis, paris) as started:
        yield started.base, started.ws_base, started.store, started.app, started.now


async def recv(ws) -> dict:
    return orjson.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_events_stream_resumes_from_last_event_id_without_loss_or_duplicates(web):
    base, ws_base, store, _, now = web
    first = [await store.append_event(note(now, f"event {i}", n=i)) for i in range(3)]
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        got = await read_sse(client, {}, until=lambda evs: len([e for e in evs if e["kind"] == NOTE]) >= 3)
        tests = [e for e in got if e["kind"] == NOTE]
        assert [e["n"] for e in tests] == [0, 1, 2] and tests[0]["id"] == first[0]
        more = [await store.append_event(note(now, f"event {i}", n=i)) for i in range(3, 5)]
        resumed = await read_sse(client, {"last-event-id": first[-1]}, until=lambda evs: len(evs) >= 2)
        assert [e["id"] for e in resumed][:2] == more
        assert [e["n"] for e in resumed if e["kind"] == NOTE] == [3, 4]
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
