"""While the race's Redis is down, the web process answers 503 saying so, never 500, keeps serving
what it holds, and is whole again once Redis is back."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import orjson
import redis.asyncio as aioredis
import websockets

from live.clock import RaceClock
from live.store.store import Store
from pursuit.redis_server import RedisServer
from pursuit.settings import Settings
from pursuit.web import create_app
from tests.helpers import NOTE, eventually, note, running_uvicorn

TOKEN = "outage-token"
NEEDS_REDIS = [
    ("GET", "/api/mats"),
    ("GET", "/api/readers"),
    ("GET", "/api/events"),
    ("GET", "/metrics"),
    ("GET", "/api/admin/whoami"),
    ("GET", "/api/admin/log"),
    ("POST", "/api/admin/pens/1/start"),
    ("POST", "/api/admin/passings"),
]


async def test_redis_down_is_503_with_retry_after_and_the_held_state_still_served(tmp_path, paris, caplog):
    server = RedisServer(tmp_path / "redis", appendonly=False).start()
    try:
        redis = aioredis.Redis.from_url(server.url)
        store = Store(redis, paris)
        await store.setup()
        now = time.time()
        await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
        await redis.aclose()
        app = create_app(paris, server.url, dashboard=False, settings=Settings.from_env({paris.admin_token_env: TOKEN}))
        headers = {"authorization": f"Bearer {TOKEN}"}
        async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=20, headers=headers) as c:
            await eventually(lambda: _answers(c, "/api/state", 200))
            assert (await c.get("/api/mats")).status_code == 200
            commentator = await websockets.connect(base.replace("http", "ws") + f"/ws/events?kind={NOTE}")
            await commentator.send(orjson.dumps({"after": "$"}))
            before = await note_from(server.url, paris, "before")
            assert orjson.loads(await asyncio.wait_for(commentator.recv(), 10))["id"] == before
            late = await websockets.connect(base.replace("http", "ws") + f"/ws/events?kind={NOTE}")
            server.stop(release=False)
            await late.send(orjson.dumps({"after": "$"}))  # asked while Redis is away
            caplog.clear()
            caplog.set_level(logging.WARNING)
            for method, path in NEEDS_REDIS:
                r = await c.request(method, path, json={"bib": "100", "mat": "start"} if method == "POST" else None)
                assert r.status_code == 503, f"{method} {path}: {r.status_code} {r.text[:200]}"
                assert "Redis is unavailable" in r.json()["error"] and r.headers["retry-after"] == "1"
            assert (await c.get("/api/state")).status_code == 200, "the last snapshot is still served"
            assert (await c.get("/healthz")).status_code == 503
            said = [r.getMessage() for r in caplog.records if r.name == "pursuit.web"]
            assert len(said) == 1 and "Redis failed 1 request(s)" in said[0], f"once, not per request: {said}"
            assert not any(r.exc_info for r in caplog.records), "no traceback per request or per tick"
            server.start()
            await eventually(lambda: _answers(c, "/api/mats", 200), timeout_s=15)
            await eventually(lambda: _answers(c, "/healthz", 200), timeout_s=15)
            assert (await c.get("/api/admin/whoami")).json() == {"operator": "admin"}
            # the commentator's socket stayed open through the outage and gets what comes after it
            back = await note_from(server.url, paris, "back on air")
            for socket in (commentator, late):
                event = orjson.loads(await asyncio.wait_for(socket.recv(), 10))
                assert (event["id"], event["text"]) == (back, "back on air")
                await socket.close()
            said = [r.getMessage() for r in caplog.records if r.name == "web.events_feed"]
            assert len(said) == 2 and "failed" in said[0] and "again" in said[1], said
    finally:
        server.stop()


async def note_from(url: str, race, text: str) -> str:  # type: ignore[no-untyped-def]
    """Append an event on a connection of its own, as another process would; its id."""
    async with aioredis.Redis.from_url(url) as redis:
        return await Store(redis, race).append_event(note(time.time(), text))


async def _answers(client: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await client.get(path)).status_code == status


async def test_a_redis_refusing_writes_at_maxmemory_is_503_and_reads_go_on(redis_server, redis, paris):
    """At ``maxmemory`` (policy ``noeviction``) Redis refuses writes: an action is answered 503 with
    what Redis said; the reads still answer, and the action goes through once memory is freed."""
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    app = create_app(
        paris, redis_server.url, dashboard=False, settings=Settings.from_env({paris.admin_token_env: TOKEN})
    )
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=20, headers=headers) as c:
        await eventually(lambda: _answers(c, "/api/state", 200))
        await redis.config_set("maxmemory", "1")
        try:
            r = await c.post("/api/admin/pens/1/start")
            assert r.status_code == 503 and "maxmemory" in r.json()["error"], r.text
            assert (await c.get("/api/mats")).status_code == 200, "reads go on"
        finally:
            await redis.config_set("maxmemory", "2gb")
        assert (await c.post("/api/admin/pens/1/start")).status_code == 200
