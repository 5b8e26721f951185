"""The web process's connection cap (``web.connection_cap``) under real uvicorn with real clients:
beyond it a spectator is refused in words (WebSocket closed 1013 with a reason, HTTP 503 with
Retry-After), each refusal is counted on ``/metrics``, and ``/metrics`` and ``/healthz`` are still
answered at the cap."""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from live.clock import RaceClock
from live.store.store import Store
from pursuit.serve import race_exempt
from pursuit.web import create_app
from tests.helpers import eventually, running_uvicorn
from web.connection_cap import RETRY_AFTER_S, TRY_AGAIN_LATER, ConnectionCap, server_limit

CAP = 5


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, by name and labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
async def capped(redis_server, redis, paris):
    """The Paris web app (no dashboard), every pen started, under real uvicorn with a cap of ``CAP``."""
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    for i, _ in enumerate(paris.pens):
        await store.record_gun(now - 900 + 60 * i)
    app = create_app(paris, redis_server.url, dashboard=False)
    async with running_uvicorn(app, max_connections=CAP) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def ready() -> bool:
            return (await http.get("/api/state")).status_code == 200

        await eventually(ready)
        yield base, http


async def test_beyond_the_cap_a_spectator_is_refused_in_words_and_counted(capped):
    base, http = capped
    url = base.replace("http://", "ws://") + "/ws/live"
    async with contextlib.AsyncExitStack() as stack:
        spectators = [await stack.enter_async_context(websockets.connect(url, compression=None)) for _ in range(CAP)]
        for ws in spectators:  # each got in: his snapshot
            assert b'"type":"snapshot"' in (await ws.recv())[:40].encode()

        async with websockets.connect(url, compression=None) as refused:
            with pytest.raises(ConnectionClosedError) as closed:
                await refused.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == TRY_AGAIN_LATER == 1013
        assert closed.value.rcvd.reason == f"server full ({CAP} connections): try again in {RETRY_AFTER_S} s"

        answer = await http.get("/api/state")
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == str(RETRY_AFTER_S)
        assert answer.json() == {"status": 503, "error": f"server full ({CAP} connections): try again in 5 s"}

        who = await http.get("/api/admin/whoami")  # race control is never refused (401: no token here)
        assert who.status_code == 401
        reader_url = base.replace("http://", "ws://") + "/ingest/ws?reader=finish"
        with pytest.raises(InvalidStatus) as unknown:  # a timing reader neither: this one has no token, and
            async with websockets.connect(reader_url, compression=None):  # the reader door, not the cap, says so
                pass
        assert unknown.value.response.status_code == 403
        health = await http.get("/healthz")  # race control's monitoring is answered at the cap
        assert health.json()["connections"] == CAP and health.json()["max_connections"] == CAP
        assert health.status_code == 200 and health.json()["redis"] == "ok"
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        got = samples(metrics.text)
        assert got[("pursuit_connections_refused_total", (("kind", "websocket"),))] == 1
        assert got[("pursuit_connections_refused_total", (("kind", "http"),))] == 1
        assert got[("pursuit_connections", ())] == CAP
        assert got[("pursuit_max_connections", ())] == CAP
        assert got[("pursuit_feed_clients", ())] == CAP, "the refused one never became a client"

        await spectators[0].close()  # a place frees: the next spectator gets in

        async def back_in() -> bool:
            return (await http.get("/api/state")).status_code == 200

        await eventually(back_in)
    async with websockets.connect(url, compression=None) as again:
        assert b'"type":"snapshot"' in (await again.recv())[:40].encode()

    async def all_closed() -> bool:
        return samples((await http.get("/metrics")).text)[("pursuit_connections", ())] == 0

    await eventually(all_closed)  # nothing is leaked by refusals or closes
    refusals = samples((await http.get("/metrics")).text)
    assert refusals[("pursuit_connections_refused_total", (("kind", "websocket"),))] == 1
    assert refusals[("pursuit_connections_refused_total", (("kind", "http"),))] >= 1  # and polls while full


def test_uvicorn_s_own_limit_stays_above_the_cap():
    assert server_limit(5) == 69 and server_limit(10_000) == 11_000 and server_limit(20_000) == 22_000
    with pytest.raises(ValueError, match="at least 1"):
        ConnectionCap(lambda scope, receive, send: None, 0)  # type: ignore[arg-type,return-value]


def test_an_event_s_races_have_their_monitoring_exempt(tmp_path):
    from live.race.event import load_event
    from tests.helpers import write_event

    event = load_event(write_event(tmp_path, runners=5))
    paths, prefixes = race_exempt(event)
    assert {"/metrics", "/healthz", "/races/chase-b/metrics", "/races/chase-b/healthz"} == set(paths)
    assert {"/ingest/", "/api/admin/", "/races/chase-b/ingest/", "/races/chase-b/api/admin/"} == set(prefixes)
