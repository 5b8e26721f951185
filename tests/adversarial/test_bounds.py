"""What a hostile client costs is bounded: probes against a real ``pursuit serve`` process."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
import websockets

from ingest.unknown import MAX_UNKNOWN_CHIPS
from tests.adversarial.conftest import send_lines, serve
from tests.adversarial.test_numbers import hms
from tests.helpers import eventually


async def test_one_connection_adds_at_most_1000_unknown_chips(served):
    t = hms(served.race, time.time())
    lines = "".join(f"CT01_33~{i}~finish~NOBODY{i:05d}~{t}~0~R~1\r\n" for i in range(1, 1201))
    await send_lines(served.ct_port, lines.encode())
    store = served.store

    async def refused() -> bool:
        return int((await store.mat_health())["finish"].get("errors", 0)) >= 200

    await eventually(refused, timeout_s=30)
    assert await store.redis.hlen(store.keys.unknown_chips) == MAX_UNKNOWN_CHIPS


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
    used = int((await redis.info("memory"))["used_memory"])
    try:
        await redis.config_set("maxmemory", str(int(used / 0.85)))  # 85 % used: past the 80 % alert

        async def alerted() -> bool:
            events = (await served.http.get("/api/events", params={"kind": "redis_memory"})).json()
            return any(e["level"] == "alert" and e["maxmemory_mb"] >= 0 for e in events)

        await eventually(alerted, timeout_s=30)  # capacity is looked at every 10 s
    finally:
        await redis.config_set("maxmemory", before)


async def test_a_new_events_client_replays_at_most_the_last_1000_events(served):
    store = served.store
    ids = [await store.append_event("admin", time.time(), f"note {i}", {"level": "info"}) for i in range(1_050)]
    async with websockets.connect(f"ws://127.0.0.1:{served.web_port}/ws/events?after=0-0&kind=admin") as ws:
        first = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    assert first["id"] == ids[50], "the 1,000 newest, not the whole stream"
    page = (await served.http.get("/api/events", params={"after": "0-0", "limit": 1})).json()
    assert page[0]["id"] == ids[0], "the paged API still has everything"
