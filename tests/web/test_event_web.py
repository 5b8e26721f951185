"""The web app of an event over real uvicorn and a real Redis: each race under /races/{id}/, the
first also at the root, /api/event and /event (pursuit/event_web.py)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
import websockets

from live.clock import RaceClock
from live.race.event import load_event
from live.store.store import Store
from pursuit.event_web import create_event_app
from tests.helpers import eventually, running_uvicorn, write_event


async def test_every_race_is_served_under_its_prefix_and_the_first_also_at_the_root(
    redis_server, redis, tmp_path: Path
):
    event = load_event(write_event(tmp_path))
    a, b = event.races
    now = time.time()
    for race in (a, b):
        store = Store(redis, race)
        await store.setup()
        await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
        await store.record_gun(now - 600)  # pen 1 of each: started ten minutes ago
    app = create_event_app(event, redis_server.url, dashboard=True)
    async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=20) as http:

        async def ready() -> bool:
            answers = [await http.get(p) for p in ("/api/state", "/races/chase-b/api/state")]
            return all(r.status_code == 200 for r in answers)

        await eventually(ready, timeout_s=30)
        for path, race_id in (("", "chase-a"), ("/races/chase-a", "chase-a"), ("/races/chase-b", "chase-b")):
            race = (await http.get(f"{path}/api/race")).json()
            assert race["id"] == race_id, path
            assert race["feeds"]["live"].endswith(f"{path}/ws/live"), "the feed URL keeps the race's prefix"
            state = await http.get(f"{path}/api/state")
            assert state.status_code == 200 and state.json()["counts"]["registered"] + state.json()["counts"][
                "started"
            ] == 40, path  # fmt: skip
            runner = await http.get(f"{path}/api/runners/100")
            assert runner.status_code == 200 and runner.json()["bib"] == "100"
            assert (await http.get(f"{path}/api/runners?q=1&limit=5")).json()["total"] >= 1
            assert (await http.get(f"{path}/api/mats")).status_code == 200
            assert (await http.get(f"{path}/api/results.csv")).text.startswith("place,bib")
            assert (await http.get(f"{path}/api/nothing")).status_code == 404
            ws_url = base.replace("http://", "ws://") + f"{path}/ws/live"
            async with websockets.connect(ws_url, compression=None) as ws:
                snapshot = orjson.loads(await ws.recv())
            assert snapshot["type"] == "snapshot" and snapshot["race"] == race_id
            for page in ("/", "/follow", "/commentary"):
                html = await http.get(f"{path}{page}")
                assert html.status_code == 200 and "<html" in html.text.lower(), f"{path}{page}"
            meta = race_meta((await http.get(f"{path}/_dash-layout")).json())
            base_path = "" if race_id == "chase-a" else path  # the first race's pages talk to the root
            assert meta["id"] == race_id and meta["base"] == base_path
        b_page = (await http.get("/races/chase-b/")).text  # a Dash page: Dash's scripts under its race
        assert 'src="/races/chase-b/_dash-component-suites/' in b_page, "the page asks for its scripts under its race"
        b_follow = (await http.get("/races/chase-b/follow")).text  # the plain page: ours under its race
        assert 'src="/races/chase-b/static/' in b_follow and "_dash-component-suites" not in b_follow, b_follow

        body = (await http.get("/api/event")).json()
        assert body["id"] == "paris-2024" and [r["id"] for r in body["races"]] == ["chase-a", "chase-b"]
        card = body["races"][1]
        assert card["ready"] and card["outcome"] == "finish" and card["participants"] == 40
        assert card["pursuer"]["name"] == "Eliud Kipchoge" and card["forecast"]["quota"] == 500
        assert card["links"]["follow"] == "/races/chase-b/follow"
        event_page = await http.get("/event")
        assert event_page.status_code == 200 and event_page.text.count('class="card"') == 2
        assert (await http.get("/event/event.js")).status_code == 200

        paths = (await http.get("/api/openapi.json")).json()["paths"]
        assert "/api/event" in paths and "/races/{race_id}/api/state" in paths and "/api/state" in paths
        race_param = paths["/races/{race_id}/api/runners/{bib}"]["get"]["parameters"][0]
        assert race_param["schema"]["enum"] == ["chase-a", "chase-b"]

        missing = await http.get("/races/nowhere/api/state")
        assert missing.status_code == 404 and "chase-a, chase-b" in missing.json()["error"]


def race_meta(layout: object) -> dict[str, object]:
    """The ``data-race`` of ``#race-meta`` in a Dash layout."""
    if isinstance(layout, dict):
        props = layout.get("props", {})
        if isinstance(props, dict) and props.get("id") == "race-meta":
            found: dict[str, object] = orjson.loads(props["data-race"])
            return found
        for value in (props.get("children") if isinstance(props, dict) else None, *layout.values()):
            if isinstance(value, dict | list) and (hit := race_meta(value)):
                return hit
    elif isinstance(layout, list):
        for item in layout:
            if hit := race_meta(item):
                return hit
    return {}
