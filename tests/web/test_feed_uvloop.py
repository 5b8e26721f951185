"""The live feed under uvloop, as ``pursuit demo``/``serve``/``web`` run it: frames still written
straight to each connection's transport (uvloop's transports do not subclass asyncio's)."""

from __future__ import annotations

import asyncio
import time

import orjson
import redis.asyncio as aioredis
import uvloop
import websockets

from live.clock import RaceClock
from live.store.store import Store
from pursuit.web import create_app
from tests.helpers import running_uvicorn


def test_frames_are_written_directly_to_uvloop_transports(redis_server, paris):
    async def scenario():
        redis = aioredis.Redis.from_url(redis_server.url)
        try:
            await redis.flushall()
            store = Store(redis, paris)
            await store.setup()
            now = time.time()
            await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
            await store.record_gun(now - 600)
            app = create_app(paris, redis_server.url, dashboard=False)
            async with running_uvicorn(app) as base:
                feed = app.state.feed
                async with websockets.connect(base.replace("http://", "ws://") + "/ws/live") as ws:
                    messages = [orjson.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]
                    wires = [c.wire for c in feed.clients]
        finally:
            await redis.aclose()
        return type(asyncio.get_running_loop()), wires, messages

    loop_type, wires, messages = uvloop.run(scenario())
    assert loop_type is uvloop.Loop
    assert len(wires) == 1 and wires[0] is not None, "direct writes, not the queued fallback"
    assert wires[0].written > 0
    assert [m["type"] for m in messages] == ["snapshot", "tick", "tick"]
    assert [m["seq"] for m in messages] == [messages[0]["seq"] + i for i in range(3)]
