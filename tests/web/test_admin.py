"""Race control actions over real HTTP: token required, journaled, reflected in the state."""

from __future__ import annotations

import time

import httpx
import pytest

from live.clock import RaceClock
from live.store import RawRead, Store
from pursuit.web import create_app
from tests.helpers import eventually, running_uvicorn

TOKEN = "s3cret-token"


@pytest.fixture
async def admin(redis_server, redis, paris, monkeypatch):
    monkeypatch.setenv(paris.admin_token_env, TOKEN)
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    app = create_app(paris, redis_server.url, dashboard=False)
    async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        await eventually(lambda: _ok(client))
        client.headers["authorization"] = f"Bearer {TOKEN}"
        yield client, store, now


async def _ok(client):
    return (await client.get("/api/state")).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic s3cret-token", f"bearer {TOKEN}x"])
async def test_admin_without_the_token_is_401(admin, header):
    client, store, _ = admin
    headers = {"authorization": header} if header else {}
    async with httpx.AsyncClient(base_url=str(client.base_url)) as anonymous:
        r = await anonymous.post("/api/admin/pens/1/start", headers=headers)
    assert r.status_code == 401 and "Bearer" in r.json()["error"]
    assert await store.guns() == {}


async def test_start_pen_and_pursuer(admin, paris):
    client, store, now = admin
    r = await client.post("/api/admin/pens/1/start", json={"time": now - 300})
    assert r.status_code == 200 and r.json()["ok"]
    r = await client.post("/api/admin/pursuer/start")
    assert r.status_code == 200
    guns = await store.guns()
    assert guns["pen:1"] == pytest.approx(now - 300, abs=0.001) and guns["pursuer"] == pytest.approx(time.time(), abs=5)
    state = (await client.get("/api/state")).json()
    assert state["pursuer"]["status"] == "running"
    assert (await client.post("/api/admin/pens/99/start")).status_code == 404
    log = await store.redis.xrange(store.keys.admin_log)
    assert [entry[b"action"] for _, entry in log] == [b"start_pen", b"start_pursuer"]
    kinds = [e["kind"] for e in await store.events_after()]
    assert kinds.count("admin") == 2


async def test_manual_passing_void_and_dnf(admin, paris):
    client, store, now = admin
    bib = paris.participants[40].bib
    r = await client.post("/api/admin/passings", json={"bib": bib, "mat": "start", "time": now - 100})
    assert r.status_code == 200
    r = await client.post("/api/admin/passings", json={"bib": bib, "mat": "marbeuf", "time": now - 10})
    body = (await client.get(f"/api/runners/{bib}")).json()
    assert [s["mat"] for s in body["splits"]] == ["start", "marbeuf"]
    r = await client.post("/api/admin/passings/void", json={"bib": bib, "mat": "marbeuf", "time": now - 10})
    assert r.status_code == 200
    body = (await client.get(f"/api/runners/{bib}")).json()
    assert [s["mat"] for s in body["splits"]] == ["start"]
    r = await client.post("/api/admin/passings/void", json={"bib": bib, "mat": "marbeuf", "time": now - 10})
    assert r.status_code == 404
    r = await client.post(f"/api/admin/runners/{bib}/status", json={"status": "dnf"})
    assert (await client.get(f"/api/runners/{bib}")).json()["status"] == "dnf"
    assert (await client.get("/api/state")).json()["counts"]["dnf"] == 1
    assert (await client.post(f"/api/admin/runners/{bib}/status", json={"status": "tired"})).status_code == 422
    assert (await client.post("/api/admin/passings", json={"bib": bib, "mat": "moon"})).status_code == 422
    assert (await client.post("/api/admin/passings", content=b"{not json")).status_code == 400


async def test_assigning_an_unknown_chip_backfills_its_passings(admin, paris):
    client, store, now = admin
    bib = paris.participants[50].bib
    await store.apply_reads(
        [RawRead("start", "LOSTCHIP", now - 200), RawRead("marbeuf", "LOSTCHIP", now - 60)], wall_s=now
    )
    assert (await client.get(f"/api/runners/{bib}")).json()["splits"] == []
    r = await client.post("/api/admin/chips", json={"chip": "LOSTCHIP", "bib": bib})
    assert r.status_code == 200 and r.json()["mats_backfilled"] == 2
    body = (await client.get(f"/api/runners/{bib}")).json()
    assert [s["mat"] for s in body["splits"]] == ["start", "marbeuf"]
    assert await store.unknown_chips() == {}
    # reads of the chip from now on count for the bib
    await store.apply_reads([RawRead("concorde", "LOSTCHIP", now)], wall_s=now)

    async def three():
        return len((await client.get(f"/api/runners/{bib}")).json()["splits"]) == 3

    await eventually(three)
