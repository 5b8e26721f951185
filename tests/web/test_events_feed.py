"""The events stream: SSE resume by Last-Event-ID and /ws/events, over real uvicorn and a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
import websockets

from live.clock import RaceClock
from live.store.store import Store
from pursuit.web import create_app
from tests.helpers import NOTE, eventually, note, running_uvicorn
from web.events_feed import EventsFeed, stream_id


@pytest.fixture
async def web(redis_server, redis, paris):
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    app = create_app(paris, redis_server.url, dashboard=False)
    async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        await eventually(lambda: _ready(http))
        yield http, base.replace("http://", "ws://"), store, now


async def _ready(http):
    return (await http.get("/api/state")).status_code == 200


async def append(store: Store, now: float, *numbers: int) -> list[str]:
    return [await store.append_event(note(now, f"note {n}", n=n)) for n in numbers]


async def read_sse(http, n: int, headers=None, params=None, during=None) -> list[tuple[str, str, dict]]:
    """The first ``n`` events of one SSE connection as (id line, event line, data); ``during`` runs
    once the stream is open."""
    got: list[tuple[str, str, dict]] = []
    params = {"kind": NOTE, **(params or {})}
    async with http.stream("GET", "/api/events/stream", headers=headers or {}, params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        lines = response.aiter_lines()
        if during is not None:
            assert await anext(lines) == "retry: 2000"
            await during()
        async for line in lines:
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
            elif "data" in fields:
                got.append((fields["id"], fields["event"], orjson.loads(fields["data"])))
                fields = {}
                if len(got) == n:
                    return got
    raise AssertionError(f"the stream ended after {len(got)} events")


async def test_sse_resumes_from_last_event_id_without_loss_or_duplicates(web):
    http, _, store, now = web
    ids = await append(store, now, 0, 1, 2)
    first = await asyncio.wait_for(read_sse(http, 2), 5)  # the connection drops after two
    assert [(i, kind, e["n"]) for i, kind, e in first] == [(ids[0], NOTE, 0), (ids[1], NOTE, 1)]
    assert first[0][2]["id"] == ids[0] and first[0][2]["text"] == "note 0" and "+0" in first[0][2]["time"]

    ids += await append(store, now, 3, 4)
    live: list[str] = []

    async def more():  # appended while the resumed stream is open: delivered live
        live.extend(await append(store, now, 5, 6))

    resumed = await asyncio.wait_for(read_sse(http, 5, headers={"last-event-id": first[-1][0]}, during=more), 5)
    assert [e["n"] for *_, e in resumed] == [2, 3, 4, 5, 6], "exactly the rest, in order, once each"
    assert [i for i, *_ in resumed] == ids[2:] + live

    by_query = await asyncio.wait_for(read_sse(http, 2, params={"after": ids[4]}), 5)
    assert [e["n"] for *_, e in by_query] == [5, 6]
    for bad in ("nope", "12-x", "1-2-3"):
        response = await http.get("/api/events/stream", headers={"last-event-id": bad})
        assert response.status_code == 400 and "event id" in response.json()["error"]


async def test_ws_events_start_after_the_id_the_client_sends_then_go_on_live(web):
    _, ws_base, store, now = web
    ids = await append(store, now, 0, 1, 2)
    async with websockets.connect(f"{ws_base}/ws/events?kind={NOTE}") as ws:
        await ws.send(orjson.dumps({"after": ids[0]}))
        got = [orjson.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
        assert [(e["type"], e["id"], e["n"]) for e in got] == [("event", ids[1], 1), ("event", ids[2], 2)]
        (new,) = await append(store, now, 3)
        event = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        assert event["id"] == new and event["text"] == "note 3"
        await ws.send("hello")
        error = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        assert error["type"] == "error" and "after" in error["message"]
        await ws.send('{"after": "$"}')  # start over: only what comes next
        appended: list[str] = []
        for n in range(4, 54):  # until the restart has taken effect: no fixed wait for it
            appended += await append(store, now, n)
            with contextlib.suppress(TimeoutError):
                first = orjson.loads(await asyncio.wait_for(ws.recv(), 0.2))
                break
        else:
            raise AssertionError("no event after the restart at $")
        assert first["id"] in appended, "nothing from before the restart"


async def test_one_blocking_read_per_process_and_a_slow_subscriber_loses_nothing(redis, paris):
    store = Store(redis, paris)
    feed = EventsFeed(store, queue_events=2, block_ms=500)
    now = time.time()
    streams = [feed.events("0-0", frozenset({NOTE})) for _ in range(3)]
    try:
        waiting = [asyncio.ensure_future(anext(s)) for s in streams]

        async def subscribed() -> bool:  # all three caught up (nothing yet) and wait on the shared reader
            return len(feed._subscribers) == 3 and feed._reader is not None

        await eventually(subscribed)

        async def blocked_reads() -> int:
            clients = await redis.client_list()
            return sum(c["cmd"] == "xread" for c in clients)

        assert await eventually(blocked_reads) == 1, "one XREAD BLOCK for all subscribers"
        ids = await append(store, now, *range(40))  # nobody reads: queues of 2 overflow
        firsts = await asyncio.wait_for(asyncio.gather(*waiting), 5)
        assert [e["id"] for e in firsts] == [ids[0]] * 3
        for s in streams:
            rest = [(await asyncio.wait_for(anext(s), 5))["id"] for _ in range(39)]
            assert rest == ids[1:], "every event once, in order, after catching up from Redis"
        assert sorted(ids, key=stream_id) == ids
    finally:
        for s in streams:
            await s.aclose()
        await feed.close()
    assert feed._reader is None


async def test_an_idle_stream_keeps_blocking_within_the_redis_client_timeout(redis_server, redis, paris, caplog):
    client = aioredis.Redis.from_url(redis_server.url, socket_timeout=0.4)  # redis-py's default is 5 s
    feed = EventsFeed(Store(client, paris), block_ms=5_000, keepalive_s=0.3)
    stream = feed.events("$", frozenset({NOTE}))
    try:
        for _ in range(4):  # keep-alives while nothing happens: over a second, several blocking reads come back empty
            assert await asyncio.wait_for(anext(stream), 2) is None, "a keep-alive while nothing happens"
        (new,) = await append(Store(redis, paris), time.time(), 1)
        event = await asyncio.wait_for(anext(stream), 2)
        while event is None:
            event = await asyncio.wait_for(anext(stream), 2)
        assert event["id"] == new
        assert not [r for r in caplog.records if r.name == "web.events_feed"], "no failed reads"
    finally:
        await stream.aclose()
        await feed.close()
        await client.aclose()
