"""The native JSON reader protocol: parsing, and the WebSocket endpoint with real clients."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
import websockets
from hypothesis import given
from hypothesis import strategies as st

from ingest.json_server import TOKENS_ENV, reader_tokens
from ingest.protocols.json_lines import GpsFix, JsonRead, parse_message
from live.clock import RaceClock
from live.store.store import Store
from pursuit.redis_server import RedisServer
from pursuit.settings import Settings
from pursuit.web import create_app
from tests.helpers import eventually, running_uvicorn

T = 1_730_369_100.25


def test_a_read_a_list_and_a_gps_fix():
    good, bad = parse_message(b'{"reader": "finish", "chip": "058A3F", "t": 1730369100.25, "rssi": -60, "seq": 17}')
    assert good == [JsonRead("finish", "058A3F", T, -60.0, 17)] and bad == []
    good, bad = parse_message(
        orjson.dumps([{"reader": "a", "chip": "X1", "t": T}, {"gps": {"lat": 48.87, "lon": 2.3, "t": T}}])
    )
    assert good == [JsonRead("a", "X1", T, None, None), GpsFix(48.87, 2.3, T)]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"reader": "a", "chip": "X 1", "t": 1730369100}', "chip must be"),
        (b'{"reader": "a", "chip": "X1", "t": 946684800}', "not a plausible date"),
        (b'{"reader": "a", "chip": "X1", "t": "noon"}', "unix seconds"),
        (b'{"reader": "a", "chip": "X1", "t": 1730369100, "seq": -1}', "seq must be"),
        (b'{"gps": {"lat": 123, "lon": 2, "t": 1730369100}}', "off the earth"),
        (b'"hello"', "expected a JSON object"),
    ],
)
def test_bad_messages_say_why(message, reason):
    good, bad = parse_message(message)
    assert good == [] and reason in bad[0].reason


def test_one_bad_item_spoils_nothing_else():
    good, bad = parse_message(
        orjson.dumps([{"reader": "a", "chip": "OK1", "t": T}, {"reader": "a"}, {"reader": "a", "chip": "OK2", "t": T}])
    )
    assert [g.chip for g in good] == ["OK1", "OK2"]  # type: ignore[union-attr]
    assert [b.item for b in bad] == [1]


@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data):
    parse_message(data)


def test_tokens_from_the_environment():
    assert reader_tokens("finish=abc, gps=xyz,broken,=x") == {"finish": "abc", "gps": "xyz"}


@pytest.fixture
async def web(redis_server, redis, paris, monkeypatch):
    monkeypatch.setenv(TOKENS_ENV, "finish=fin-token,gps=gps-token")
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    async with running_uvicorn(create_app(paris, redis_server.url, dashboard=False)) as base:
        yield base.replace("http://", "ws://"), base, store, now


async def test_unknown_reader_or_wrong_token_is_refused(web):
    ws_base, _, store, _ = web
    for query in ("?reader=finish&token=nope", "?reader=moon&token=x", ""):
        with pytest.raises(websockets.exceptions.InvalidStatus) as err:
            async with websockets.connect(f"{ws_base}/ingest/ws{query}"):
                pass
        assert err.value.response.status_code == 403
    assert int((await store.redis.hget(store.keys.ingest, "errors")) or 0) == 3


async def test_reads_and_gps_reach_the_live_state(web, paris):
    ws_base, base, store, now = web
    runner = paris.participants[60]
    async with websockets.connect(
        f"{ws_base}/ingest/ws?reader=finish", additional_headers={"Authorization": "Bearer fin-token"}
    ) as ws:
        await ws.send(orjson.dumps([{"reader": "finish", "chip": runner.chips[0], "t": now - 5, "seq": 1},
                                    {"reader": "finish", "chip": "bad chip", "t": now}]))  # fmt: skip
        ack = orjson.loads(await ws.recv())
        assert ack["accepted"] == 1 and ack["rejected"] == 1 and "chip must be" in ack["errors"][0]
        await ws.send(orjson.dumps({"gps": {"lat": 48.87, "lon": 2.3, "t": now}}))
        ack = orjson.loads(await ws.recv())
        assert ack["rejected"] == 1 and "may not send GPS" in ack["errors"][0]
    # the pursuer's GPS: 1,930 m down the course (the Concorde turn), a second ago
    lon, lat = paris.course.lonlat_at(1930.0)
    await store.set_gun("pursuer", now - 400)
    async with websockets.connect(f"{ws_base}/ingest/ws?reader=gps&token=gps-token") as ws:
        await ws.send(orjson.dumps({"gps": {"lat": float(lat), "lon": float(lon), "t": now - 1}}))
        assert orjson.loads(await ws.recv())["accepted"] == 1
    async with httpx.AsyncClient(base_url=base) as client:

        async def located():
            state = (await client.get("/api/state")).json()
            return state if state.get("pursuer", {}).get("distance_m", 0) > 1900 else None

        state = await eventually(located)
        assert 1925 < state["pursuer"]["distance_m"] < 1960
        body = (await client.get(f"/api/runners/{runner.bib}")).json()
        assert [s["mat"] for s in body["splits"]] == ["finish"]
    assert (await store.mat_health())["finish"]["errors"] == "2"


async def test_without_sentinel_the_answer_is_unchanged_and_a_read_sent_again_is_one_passing(web, paris):
    ws_base, _, store, now = web
    runner = paris.participants[61]
    read = orjson.dumps([{"reader": "finish", "chip": runner.chips[0], "t": now - 3, "rssi": -60, "seq": 1}])
    answers = []
    for _ in range(2):  # sent, then sent again on a new connection, as a reader resends what it kept
        async with websockets.connect(f"{ws_base}/ingest/ws?reader=finish&token=fin-token") as ws:
            await ws.send(read)
            answers.append(orjson.loads(await ws.recv()))
    assert answers == [{"accepted": 1, "rejected": 0, "errors": []}] * 2, "one server: no replicated field"
    assert await store.redis.xlen(store.keys.journal) == 2, "both journaled"
    # the same passing: one crossing, one (bib, timing point, time); the stream may carry it twice
    # (a time finer than the millisecond is re-stamped at its own rounding), readers of it keep the last
    passings = {(p.bib, p.tp, p.time) for p in await store.passings_after()}
    assert passings == {(runner.bib, paris.timing_points_of("finish")[0].index, round(now - 3, 3))}
    crossing = await store.redis.hget(store.keys.crossings, f"{runner.bib}|finish")
    assert crossing is not None and b"," not in crossing, f"one crossing, not two: {crossing!r}"
    assert (await store.mat_health())["finish"]["passings"] == "1"


async def test_redis_gone_closes_the_reader_with_1011_and_it_is_answered_again_once_redis_is_back(tmp_path, paris):
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    settings = Settings.from_env({TOKENS_ENV: "finish=fin-token"})
    runner = paris.participants[62]
    try:
        store = Store(aioredis.Redis.from_url(server.url), paris)
        now = time.time()
        await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
        read = orjson.dumps({"reader": "finish", "chip": runner.chips[0], "t": round(now - 2, 3)})
        app = create_app(paris, server.url, dashboard=False, engine=False, settings=settings)
        async with running_uvicorn(app) as base:
            url = f"{base.replace('http://', 'ws://')}/ingest/ws?reader=finish&token=fin-token"
            async with websockets.connect(url) as ws:
                server.process.kill()  # type: ignore[union-attr]
                server.process.wait()  # type: ignore[union-attr]
                await ws.send(read)
                with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
            assert "send again" in closed.value.rcvd.reason
            server.start()  # the same data (append-only file): the reader sends again what was not answered
            async with websockets.connect(url) as ws:
                await ws.send(read)
                answer = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        assert answer == {"accepted": 1, "rejected": 0, "errors": []}
        assert [p.bib for p in await store.passings_after()] == [runner.bib]
        await store.redis.aclose()
    finally:
        server.stop()
