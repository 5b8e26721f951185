"""What a hostile client costs is bounded: probes against a real ``pursuit serve`` process."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
import websockets

from ingest.unknown import MAX_UNKNOWN_CHIPS
from live.store.store import Store
from pursuit.redis_server import free_port
from pursuit.serve import uvicorn_server
from pursuit.settings import Settings
from pursuit.web import create_app
from tests.helpers import eventually, note
from tests.helpers.served import errors_at, hms, readers_table, send_lines, serve


async def test_one_connection_adds_at_most_1000_unknown_chips(served):
    t = hms(served.race, time.time())
    lines = "".join(f"CT01_33~{i}~finish~NOBODY{i:05d}~{t}~0~R~1\r\n" for i in range(1, 1201))
    await send_lines(served.ct_port, lines.encode())
    store = served.store

    async def refused() -> bool:
        return int((await store.mat_health())["finish"].get("errors", 0)) >= 200

    await eventually(refused, timeout_s=30)
    assert await store.redis.hlen(store.keys.unknown_chips) == MAX_UNKNOWN_CHIPS


async def test_one_mylaps_connection_adds_at_most_1000_unknown_chips(served):
    ut = int(time.time() * 1000)
    messages = b"".join(
        b"finish@Passing@" + b"@".join(b"c=N%06d|ut=%d" % (m * 100 + i, ut) for i in range(100)) + b"@%d@$" % m
        for m in range(12)
    )
    answer = await send_lines(served.mylaps_port, messages, lambda got: got.count(b"AckPassing") == 12)
    assert answer.count(b"AckPassing") == 12, "a message with refused records is still acknowledged"
    store = served.store
    assert await store.redis.hlen(store.keys.unknown_chips) == MAX_UNKNOWN_CHIPS
    assert await errors_at(served, "finish") == 200
    assert "this connection sent 1000 such already" in (await store.mat_health())["finish"]["last_error"]


async def test_a_websocket_message_over_64_kib_is_refused_before_the_journal(redis_server, redis, tmp_path):
    env = {"PURSUIT_READER_TOKENS": "finish=tok"}
    async with serve(redis_server, redis, tmp_path, env=env) as served:
        url = f"ws://127.0.0.1:{served.web_port}"
        big = "[" + ",".join(['{"reader": "finish", "chip": "X", "t": 1}'] * 2000) + "]"  # ~90 KB
        async with websockets.connect(f"{url}/ingest/ws?reader=finish&token=tok", max_size=2**20) as ws:
            await ws.send(big)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009, "message too big"
        assert await served.store.redis.xlen(served.store.keys.journal) == 0
        async with websockets.connect(f"{url}/ws/live", max_size=2**24) as spectator:
            await spectator.send("x" * 70_000)
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(spectator.recv(), 10)
        assert served.alive()


async def test_redis_near_its_maxmemory_is_an_alert(served):
    redis = served.store.redis
    before = (await redis.config_get("maxmemory"))["maxmemory"]
    # a ballast, so that what comes and goes in Redis from tick to tick (each published frame passes
    # through a client's buffer: a few hundred KB) moves the share by a point or so, not across 80 %;
    # measured before it is sent, since the 20 MB command itself fills a buffer for a moment
    used = int((await redis.info("memory"))["used_memory"]) + 20_000_000
    await redis.set("test:ballast", b"x" * 20_000_000)
    try:
        await redis.config_set("maxmemory", str(int(used / 0.88)))  # 88 % used: past the 80 % alert

        async def alerted() -> bool:
            events = (await served.http.get("/api/events", params={"kind": "redis_memory"})).json()
            return any(e["level"] == "alert" and e["maxmemory_mb"] >= 0 for e in events)

        await eventually(alerted, timeout_s=30)  # capacity is looked at every 10 s
    finally:
        await redis.config_set("maxmemory", before)
        await redis.delete("test:ballast")


async def test_a_new_events_client_replays_at_most_the_last_1000_events(served):
    store = served.store
    ids = [await store.append_event(note(time.time(), f"note {i}")) for i in range(1_050)]
    async with websockets.connect(f"ws://127.0.0.1:{served.web_port}/ws/events?after=0-0&kind=admin") as ws:
        first = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    assert first["id"] == ids[50], "the 1,000 newest, not the whole stream"
    params = {"after": "0-0", "kind": "admin"}
    async with served.http.stream("GET", "/api/events/stream", params=params) as sse:
        async for line in sse.aiter_lines():
            if line.startswith("id: "):
                assert line == f"id: {ids[50]}", "Server-Sent Events too"
                break
    page = (await served.http.get("/api/events", params={"after": "0-0", "limit": 1})).json()
    assert page[0]["id"] == ids[0], "the paged API still has everything"


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Read until the server closes the connection; what it sent before."""
    got = b""
    while chunk := await asyncio.wait_for(reader.read(65536), 30):
        got += chunk
    return got


async def test_a_silent_connection_on_either_reader_port_is_closed_after_the_idle_timeout(
    redis_server, redis, tmp_path
):
    async with serve(redis_server, redis, tmp_path, prepare=readers_table("idle_timeout_s = 2")) as served:
        ct_silent = await asyncio.open_connection("127.0.0.1", served.ct_port)
        mylaps_silent = await asyncio.open_connection("127.0.0.1", served.mylaps_port)
        talking_reader, talking = await asyncio.open_connection("127.0.0.1", served.ct_port)
        closing = asyncio.gather(_closed_by_server(ct_silent[0]), _closed_by_server(mylaps_silent[0]))
        deadline = asyncio.get_running_loop().time() + 30
        try:
            acks = 0
            while not closing.done():  # a reader that keeps talking is not silent: it stays
                assert asyncio.get_running_loop().time() < deadline, "silent connections still open after 30 s"
                talking.write(b"ping\r\n")
                await talking.drain()
                line = await asyncio.wait_for(talking_reader.readline(), 10)
                acks += line == b"ack~ping\r\n"
            ct_sent, mylaps_sent = await closing
            assert ct_sent.startswith(b"pursuit~"), "greeted, then closed when it said nothing"
            assert mylaps_sent == b""
            assert acks > 0
            talking.write(b"ping\r\n")
            assert await asyncio.wait_for(talking_reader.readline(), 10) == b"ack~ping\r\n"
        finally:
            for _, writer in (ct_silent, mylaps_silent, (talking_reader, talking)):
                writer.close()
        assert "closed: silent for 2 s" in served.log()
        assert served.alive()


async def test_the_web_port_closes_a_request_not_wholly_sent_and_refuses_a_huge_head(redis_server, redis, paris):
    store = Store(redis, paris)
    await store.setup()
    app = create_app(paris, redis_server.url, dashboard=False, settings=Settings.from_env({"PURSUIT_ADMIN_TOKEN": "a"}))
    port = free_port()
    server = uvicorn_server(app, "127.0.0.1", port, request_timeout_s=1.0)
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started))
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/live", max_size=2**24) as spectator:
            await asyncio.wait_for(spectator.recv(), 10)  # the snapshot
            silent = await asyncio.open_connection("127.0.0.1", port)
            half = await asyncio.open_connection("127.0.0.1", port)
            half[1].write(b"GET /api/state HTTP/1.1\r\nHost: x\r\n")  # no blank line: the head never ends
            slow = await asyncio.open_connection("127.0.0.1", port)
            slow[1].write(b"POST /api/admin/chips HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n"
                          b"Content-Length: 100\r\n\r\n{")  # fmt: skip
            for reader, _ in (silent, half, slow):
                assert await _closed_by_server(reader) == b"", "closed without an answer"
            ticks = 0  # the WebSocket upgraded before its deadline: it goes on
            while ticks < 2:
                ticks += isinstance(await asyncio.wait_for(spectator.recv(), 10), str)
            for _, writer in (silent, half, slow):
                writer.close()
        big = await asyncio.open_connection("127.0.0.1", port)
        big[1].write(b"GET /api/state HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 70_000 + b"\r\n")
        answer = await _closed_by_server(big[0])
        big[1].close()
        assert answer.startswith(b"HTTP/1.1 400") and b"Request head larger than 65536 bytes" in answer
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert (await http.get("/healthz")).status_code in (200, 503), "a whole request is served"
            assert (await http.get("/api/race")).status_code == 200, "and the next one on the same connection"
    finally:
        server.should_exit = True
        await serving
