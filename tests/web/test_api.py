"""The JSON API (SPEC §6) served by real uvicorn over a real Redis."""

from __future__ import annotations

import time

import httpx
import pytest

from live.clock import RaceClock
from live.store.store import RawRead, Store
from pursuit.web import create_app
from tests.helpers import eventually, running_uvicorn


@pytest.fixture
async def api(redis_server, redis, paris):
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    first_gun = now - 600
    for i, _ in enumerate(paris.pens):
        await store.record_gun(first_gun + 60 * i)
    await store.record_gun(now - 60)  # the pursuer left a minute ago
    runner = paris.participants[20]
    pursuer_chip = paris.participant(paris.pursuer.bib).chips[0]
    await store.apply_reads(
        [
            RawRead("start", runner.chips[0], first_gun + 5),
            RawRead("marbeuf", runner.chips[0], first_gun + 150),
            RawRead("start", pursuer_chip, now - 59),
            RawRead("finish", "NOBODY42", now - 10),
        ],
        wall_s=now,
    )
    app = create_app(paris, redis_server.url, dashboard=False)
    async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        await eventually(lambda: _ok(client, "/api/state"))
        yield client, runner


async def _ok(client, path):
    return (await client.get(path)).status_code == 200


async def test_race_describes_course_mats_pens_pursuer_and_feeds(api, paris):
    client, _ = api
    body = (await client.get("/api/race")).json()
    assert body["id"] == "paris-j1000" and body["distance_m"] == 5000
    assert len(body["course"]) > 10 and len(body["course"][0]) == 2
    assert {m["id"] for m in body["mats"]} == {"start", "marbeuf", "concorde", "george-v", "finish"}
    assert all({"id", "at_m", "lat", "lon"} <= set(m) for m in body["mats"])
    assert [p["id"] for p in body["pens"]] == ["1", "2", "3", "4", "5"]
    assert all(p["start"].endswith(("+01:00", "+02:00")) for p in body["pens"])
    assert body["pursuer"] == {**body["pursuer"], "bib": "1", "name": "Eliud Kipchoge"}
    assert body["feeds"]["live"].startswith("ws://") and body["feeds"]["live"].endswith("/ws/live")
    assert body["feeds"]["events"].endswith("/ws/events")


async def test_state_has_clock_pursuer_counts_and_forecast(api):
    client, _ = api
    body = (await client.get("/api/state")).json()
    assert set(body["clock"]) >= {"now", "elapsed_s"} and body["clock"]["elapsed_s"] >= 590
    p = body["pursuer"]
    assert p["status"] == "running" and p["bib"] == "1"
    assert 250 < p["distance_m"] < 400, "a minute at 2:53/km, projected from his start read"
    assert set(p) >= {"lat", "lon", "pace_s_per_km"}
    assert set(body["counts"]) == {"registered", "started", "ahead", "caught", "won", "dnf", "dq"}
    assert body["counts"]["registered"] == 3599 and body["counts"]["started"] == 1
    f = body["forecast"]
    assert set(f) == {"winners", "low", "high", "level", "quota", "by_pen", "at_plan", "pursuer"}
    assert f["quota"] == 500 and f["level"] == 0.8 and f["low"] <= f["winners"] <= f["high"]
    assert f["pursuer"]["basis"] == "plan" and f["pursuer"]["low"] < f["pursuer"]["finish"] < f["pursuer"]["high"]
    assert sum(pen["winners"] for pen in f["by_pen"].values()) == pytest.approx(f["winners"], abs=len(f["by_pen"]))


async def test_runner_detail_has_splits_and_live_numbers(api):
    client, runner = api
    body = (await client.get(f"/api/runners/{runner.bib}")).json()
    expected = {"bib", "name", "pen", "status", "distance_m", "lat", "lon", "gap_m", "gap_s", "margin_s", "catch",
                "splits", "caught", "finish", "win_probability"}  # fmt: skip
    assert expected <= set(body)
    assert body["name"] == runner.name and body["status"] == "ahead"
    assert [s["mat"] for s in body["splits"]] == ["start", "marbeuf"]
    assert body["splits"][1]["at_m"] == 400
    assert body["splits"][1]["gun_s"] == pytest.approx(150, abs=0.01)
    assert body["splits"][1]["net_s"] == pytest.approx(145, abs=0.01)
    assert body["distance_m"] > 400 and body["gap_m"] > 0
    assert body["finish"] is None and body["caught"] is None
    assert 0.0 <= body["win_probability"] <= 1.0


async def test_unknown_bib_and_unknown_endpoint_are_json_404(api):
    client, _ = api
    r = await client.get("/api/runners/nobody")
    assert r.status_code == 404 and "nobody" in r.json()["error"]
    r = await client.get("/api/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")


async def test_every_refusal_is_the_one_json_error_shape(api):
    """What a handler refuses (raising ``refuse``) is answered by its route's one handler, as SPEC's
    ``{"error", "status"}``, whichever handler it was."""
    client, _ = api
    for path, status in [
        ("/api/runners/nobody", 404),
        ("/api/runners?limit=0", 400),
        ("/api/runners?offset=x", 400),
        ("/api/runners?status=flying", 400),
        ("/api/events?after=nope", 400),
        ("/api/events?limit=x", 400),
        ("/api/events/stream?after=nope", 400),
    ]:
        r = await client.get(path)
        assert r.status_code == status and r.headers["content-type"] == "application/json", (path, r.text)
        assert r.json() == {"error": r.json()["error"], "status": status} and r.json()["error"], path


async def test_runner_search_filters_and_pages(api, paris):
    client, runner = api
    body = (await client.get("/api/runners", params={"q": runner.bib})).json()
    assert body["runners"][0]["bib"] == runner.bib
    body = (await client.get("/api/runners", params={"pen": "2", "limit": 10, "offset": 5})).json()
    assert body["total"] == sum(1 for p in paris.participants if p.pen == "2") and len(body["runners"]) == 10
    assert (await client.get("/api/runners", params={"limit": 100000})).status_code == 400
    assert (await client.get("/api/runners", params={"status": "flying"})).status_code == 400


async def test_mats_report_health(api):
    client, _ = api
    mats = {m["id"]: m for m in (await client.get("/api/mats")).json()}
    assert mats["start"]["reads"] == 2 and mats["start"]["passings"] == 2
    assert mats["finish"]["unknown_chips"] == 1
    keys = {
        "id",
        "online",
        "last_read",
        "reads",
        "passings",
        "reads_per_s",
        "unknown_chips",
        "errors",
        "clock_offset_s",
    }
    assert all(keys <= set(m) for m in mats.values())


async def test_events_are_listed_in_order_and_paged(api, paris):
    client, _ = api

    async def some_events():
        return (await client.get("/api/events")).json()

    events = await eventually(some_events)
    assert all({"id", "time", "kind", "text", "level"} <= set(e) for e in events)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    first = events[0]["id"]
    later = (await client.get("/api/events", params={"after": first})).json()
    assert [e["id"] for e in later] == [e["id"] for e in events[1:]][: len(later)]
    assert (await client.get("/api/events", params={"after": "drop table"})).status_code == 400
    assert (await client.get("/api/events", params={"limit": 0})).status_code == 400
    alerts = (await client.get("/api/events", params={"kind": "unknown_chip"})).json()
    assert [e["chip"] for e in alerts] == ["NOBODY42"]
