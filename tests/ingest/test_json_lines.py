"""The native JSON reader protocol: parsing, and the WebSocket endpoint with real clients."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st

from ingest.json_server import TOKENS_ENV, reader_tokens
from ingest.protocols.json_lines import GpsFix, JsonRead, parse_message
from live.clock import RaceClock
from live.store import Store
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
