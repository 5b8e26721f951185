"""The API and the live feed of a race without a pursuer, served by real uvicorn over a real Redis:
no pursuer, no forecast, no gap, margin, catch nor chance; results ranked by gun time with places
by sex and category; counts by sex and category against the race's quotas."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import httpx
import orjson
import pytest
import websockets

from live.clock import RaceClock
from live.race.race import Race
from live.race.race_file import load_race
from live.store.store import RawRead, Store
from pursuit.web import create_app
from tests.helpers import eventually, running_uvicorn
from tests.helpers.plain_race import write_plain_race

NULL_FIELDS = ("gap_m", "gap_s", "margin_s", "win_probability", "catch")
TOKEN = "plain-token"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Race:
    return load_race(write_plain_race(Path(tmp_path_factory.mktemp("plain")) / "plain-10k"))


def reads_at_pace(race: Race, chip: str, gun: float, total_s: float, upto_m: float) -> list[RawRead]:
    return [RawRead(tp.mat, chip, gun + total_s * tp.at_m / race.distance_m) for tp in race.timing_points
            if tp.at_m <= upto_m]  # fmt: skip


@pytest.fixture
async def api(redis_server, redis, plain, monkeypatch):
    """Wave A 50 min ago, wave B 45 min ago; four finishers (two of each sex when the file allows),
    a runner on his second lap."""
    store = Store(redis, plain)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    guns = {"A": now - 3000, "B": now - 2700}
    for pen, t in guns.items():
        await store.set_gun(f"pen:{pen}", t)
    women = [p for p in plain.runners if p.sex == "F"]
    men = [p for p in plain.runners if p.sex == "M"]
    # gun times: w0 2,500 s (wave A), m0 2,600 s (B), w1 2,650 s (B), m1 2,800 s (A)
    finishers = [(women[0], 2500.0), (men[0], 2600.0), (women[1], 2650.0), (men[1], 2800.0)]
    reads = []
    for person, total in finishers:
        reads += reads_at_pace(plain, person.chips[0], guns[person.pen], total, 10000)
    runner = men[2]
    reads += reads_at_pace(plain, runner.chips[0], guns[runner.pen], 4000, 6930)
    await store.apply_reads(sorted(reads, key=lambda r: r.time), wall_s=now)
    monkeypatch.setenv(plain.admin_token_env, TOKEN)
    app = create_app(plain, redis_server.url, dashboard=False)
    async with running_uvicorn(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        await eventually(lambda: _ok(client, "/api/state"))
        yield client, base, finishers, runner


async def _ok(client: httpx.AsyncClient, path: str) -> bool:
    return (await client.get(path)).status_code == 200


async def test_race_and_state_have_no_pursuer_and_no_forecast(api, plain):
    client, *_ = api
    race = (await client.get("/api/race")).json()
    assert race["pursuer"] is None and race["id"] == "plain-10k"
    assert [(p["id"], p["head_start_s"]) for p in race["pens"]] == [("A", None), ("B", None)]
    assert race["quotas"] == {"sex": {"F": 50}, "category": {"Master": 40}}
    state = (await client.get("/api/state")).json()
    assert state["pursuer"] is None and state["forecast"] is None
    assert state["counts"]["finished"] == 4 and state["counts"]["running"] == 1 and state["counts"]["won"] == 0
    by = state["counts_by"]
    assert by["sex"]["F"] == {"runners": sum(p.sex == "F" for p in plain.runners), "finished": 2,
                              "running": 0, "quota": 50}  # fmt: skip
    assert by["sex"]["M"]["finished"] == 2 and by["sex"]["M"]["running"] == 1 and by["sex"]["M"]["quota"] is None
    assert by["category"]["Master"]["quota"] == 40 and set(by["category"]) == {"Senior", "Master"}
    assert sum(c["finished"] for c in by["category"].values()) == 4


async def test_runners_have_null_pursuer_numbers_and_their_places(api):
    client, _, finishers, runner = api
    body = (await client.get(f"/api/runners/{runner.bib}")).json()
    assert body["status"] == "started" and 6930 < body["distance_m"] < 8400
    assert all(body[k] is None for k in NULL_FIELDS) and body["caught"] is None
    assert body["place"] is None and body["place_sex"] is None and body["place_category"] is None
    woman = (await client.get(f"/api/runners/{finishers[0][0].bib}")).json()
    assert woman["status"] == "finished" and woman["finish"]["gun_s"] == pytest.approx(2500, abs=0.01)
    assert (woman["place"], woman["place_sex"], woman["sex"]) == (1, 1, "F")
    m1 = (await client.get(f"/api/runners/{finishers[3][0].bib}")).json()
    assert (m1["place"], m1["place_sex"]) == (4, 2)
    listed = (await client.get("/api/runners", params={"status": "finished"})).json()
    assert listed["total"] == 4
    assert all(r[k] is None for r in listed["runners"] for k in ("gap_m", "margin_s", "win_probability"))


async def test_results_are_ranked_by_gun_time_with_places_by_sex_and_category(api, plain):
    client, _, finishers, runner = api
    text = (await client.get("/api/results.csv")).text
    rows = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header[-2:] == ["place_sex", "place_category"], "new columns only ever go at the end"
    assert header[:3] == ["place", "bib", "name"]
    expected = [p.bib for p, _ in sorted(finishers, key=lambda f: f[1])]
    assert [r["bib"] for r in rows[:4]] == expected, "gun time decides, across waves"
    assert [r["place"] for r in rows[:4]] == ["1", "2", "3", "4"]
    assert [r["place_sex"] for r in rows[:4]] == ["1", "1", "2", "2"]
    assert all(r["status"] == "finished" for r in rows[:4])
    assert [float(r["gun_s"]) for r in rows[:4]] == pytest.approx([2500, 2600, 2650, 2800], abs=0.01)
    for r in rows[:4]:  # the category place counts within sex and category
        same = [x for x in rows[:4] if (x["sex"], x["category"]) == (r["sex"], r["category"])]
        assert r["place_category"] == str(same.index(r) + 1)
    assert rows[4]["bib"] == runner.bib and rows[4]["status"] == "started" and rows[4]["place"] == ""
    assert len(rows) == len(plain.runners) and all(r["margin_s"] == "" for r in rows)


async def test_runner_filters_by_sex_and_category(api, plain):
    client, *_ = api

    async def total(**params: str) -> int:
        return int((await client.get("/api/runners", params=params)).json()["total"])

    assert await total(sex="F") == sum(p.sex == "F" for p in plain.runners)
    both = sum(p.sex == "F" and p.category == "Master" and p.pen == "B" for p in plain.runners)
    assert await total(sex="F", category="Master", pen="B") == both
    assert await total(sex="F", status="finished") == 2
    assert await total(category="Nobody") == 0, "an unknown value matches nobody"
    r = await client.get("/api/runners", params={"category": "x" * 33})
    assert r.status_code == 400 and "category" in r.json()["error"]
    r = await client.get("/api/runners", params={"sex": "F" * 100})
    assert r.status_code == 400 and "sex" in r.json()["error"]


async def test_the_live_feed_carries_no_pursuer_and_follows_with_places(api):
    client, base, finishers, _ = api
    url = base.replace("http://", "ws://") + "/ws/live"
    async with websockets.connect(url, compression=None) as ws:
        snap = orjson.loads(await ws.recv())
        assert snap["type"] == "snapshot" and snap["pursuer"] is None and snap["forecast"] is None
        assert "finished" in snap["statuses"] and "finished" in snap["classes"]
        assert all(m is None for m in snap["margin_s"]) and all(p == -1 for p in snap["win_pct"])
        tick = orjson.loads(await ws.recv())
        assert tick["type"] == "tick" and tick["pursuer"] is None and tick["forecast"] is None
        await ws.send(orjson.dumps({"follow": [finishers[1][0].bib]}))
        for _ in range(5):
            m = orjson.loads(await ws.recv())
            if m["type"] == "follow":
                break
        assert m["type"] == "follow" and m["runners"][0]["place"] == 2 and m["runners"][0]["place_sex"] == 1


async def test_race_control_cannot_start_a_pursuer_the_race_has_not(api):
    client, *_ = api
    r = await client.post("/api/admin/pursuer/start", headers={"authorization": "Bearer nope"}, json={})
    assert r.status_code == 401, "the token first, as on every admin route"
    auth = {"authorization": f"Bearer {TOKEN}"}
    r = await client.post("/api/admin/pursuer/start", headers=auth, json={})
    assert r.status_code == 404 and "has no pursuer" in r.json()["error"]
    r = await client.post("/api/admin/pens/B/start", headers=auth, json={"override": True})
    assert r.status_code == 200, r.text
