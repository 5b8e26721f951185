"""The live feed and the events stream over real uvicorn, with real WebSocket and HTTP clients."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
import websockets

from live.clock import RaceClock
from live.store import RawRead, Store
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


async def test_snapshot_then_ticks_with_consecutive_sequence_numbers(web, paris):
    base, ws_base, store, _, now = web
    runner = paris.participants[700]
    async with websockets.connect(f"{ws_base}/ws/live", compression=None) as ws:
        snap = await recv(ws)
        assert snap["type"] == "snapshot" and snap["race"] == "paris-j1000"
        assert len(snap["class"]) == len(snap["distance_m"]) == len(snap["speed_cm_s"]) == 3599
        assert snap["classes"][0] == "registered"
        async with httpx.AsyncClient(base_url=base) as client:
            roster = (await client.get("/api/roster")).json()
        row = roster["bibs"].index(runner.bib)
        assert roster["names"][row] == runner.name
        ticks = [await recv(ws) for _ in range(2)]
        assert [t["type"] for t in ticks] == ["tick", "tick"]
        assert ticks[1]["seq"] == ticks[0]["seq"] + 1
        await store.apply_reads([RawRead("start", runner.chips[0], now - 850)], wall_s=now)
        for _ in range(5):
            tick = await recv(ws)
            if row in tick["changed"]["index"]:
                break
        else:
            raise AssertionError("the runner's passing never showed in a tick")
        k = tick["changed"]["index"].index(row)
        assert tick["changed"]["distance_m"][k] > 0 and tick["changed"]["speed_cm_s"][k] > 0
        assert len(tick["changed"]["index"]) < 10, "ticks are sparse"
        await ws.send(orjson.dumps({"resync": True}))
        for _ in range(5):
            msg = await recv(ws)
            if msg["type"] == "snapshot":
                break
        else:
            raise AssertionError("no snapshot after a resync")


async def test_follow_returns_the_detail_of_the_followed_bibs(web, paris):
    _, ws_base, *_ = web
    bib = paris.participants[42].bib
    async with websockets.connect(f"{ws_base}/ws/live") as ws:
        await recv(ws)
        await ws.send(orjson.dumps({"follow": [bib, "nobody"]}))
        for _ in range(5):
            msg = await recv(ws)
            if msg["type"] == "follow":
                break
        assert [r["bib"] for r in msg["runners"]] == [bib]
        assert {"status", "gap_m", "margin_s", "splits", "catch"} <= set(msg["runners"][0])
        await ws.send(b"not json")
        for _ in range(5):
            msg = await recv(ws)
            if msg["type"] == "error":
                break
        assert "JSON" in msg["message"]


async def test_a_client_that_does_not_read_is_dropped_without_holding_others(web):
    _, ws_base, _, app, _ = web
    feed = app.state.feed
    async with websockets.connect(f"{ws_base}/ws/live") as slow:
        await eventually(lambda: _async(len(feed.clients) == 1))
        (stuck,) = feed.clients
        async with websockets.connect(f"{ws_base}/ws/live") as good:
            await recv(good)
            for _ in range(20):  # more frames than a client may have waiting, faster than it drains
                feed._offer(stuck, "{}")
            assert stuck.dropped and feed.dropped == 1
            seqs = [(await recv(good))["seq"] for _ in range(3)]
            assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2], "the others keep their ticks"
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(slow.recv(), 5)
            assert closed.value.rcvd.code == 1013


async def _async(value):
    return value


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
