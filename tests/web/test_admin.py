"""Race control actions over real HTTP: token required, journaled, reflected in the state."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import re
import time
from datetime import datetime, timedelta

import httpx
import pytest

from ingest.replay import rebuild
from live.clock import RaceClock
from live.events import Event
from live.race.race import Operator
from live.store.store import RawRead, Store
from pursuit.settings import Settings
from pursuit.web import create_app
from tests.helpers import eventually, running_uvicorn
from web.admin import TIME_OF_DAY_PATTERN

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


async def _ok(client, base=""):
    return (await client.get(f"{base}/api/state")).status_code == 200


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


async def test_a_time_of_day_takes_the_date_nearest_the_race_clock_over_midnight(admin, paris):
    client, store, _ = admin
    midnight = datetime.combine(datetime.now(paris.timezone).date(), datetime.min.time(), tzinfo=paris.timezone)
    at = midnight.timestamp() + 300  # the race clock shows 00:05:00
    await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=at, speed=1.0))
    r = await client.post("/api/admin/pens/1/start", json={"time": "23:58"})
    assert r.status_code == 200 and r.json()["gun"].startswith((midnight - timedelta(days=1)).date().isoformat())
    assert (await store.guns())["pen:1"] == pytest.approx(at - 420, abs=0.001), "typed after midnight: the night before"
    r = await client.post("/api/admin/pursuer/start", json={"time": " 00:04:30.25 "})
    assert r.status_code == 200 and (await store.guns())["pursuer"] == pytest.approx(at - 29.75, abs=1e-6)
    for bad in ("24:00", "23:60:00", "12:00:61", "7:5", "12:00:00.1234567", "１２:00"):
        r = await client.post("/api/admin/pens/2/start", json={"time": bad})
        assert r.status_code == 422 and bad.strip() in r.json()["error"], bad
        assert not re.match(TIME_OF_DAY_PATTERN, bad), f"the OpenAPI document refuses {bad!r} too"
    for good in ("23:58", " 00:04:30.25 ", "7:05:09", "23:59:59.999999"):
        assert re.match(TIME_OF_DAY_PATTERN, good), f"the OpenAPI document takes {good!r}, as the API does"
    assert set(await store.guns()) == {"pen:1", "pursuer"}


async def test_manual_passing_void_and_dnf(admin, paris):
    client, store, now = admin
    bib = paris.participants[40].bib
    r = await client.post("/api/admin/passings", json={"bib": bib, "mat": "start", "time": now - 100})
    assert r.status_code == 200
    r = await client.post("/api/admin/passings", json={"bib": bib, "mat": "marbeuf", "time": now - 10})
    events = (await client.get("/api/events", params={"kind": "admin"})).json()  # an action's event reads back
    assert [e["text"][:36] for e in events] == ["Race control: manual passing for bib"] * 2, events
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


# ---- operators, audit trail, safety ------------------------------------------------------------

ALICE, BOB = "alice-token-1234", "bob-token-5678"


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
async def consoles(redis_server, redis, paris):
    """Two web processes' apps of one race, with the shared admin token and two named operators;
    yields (base URL of each, store, now)."""
    race = dataclasses.replace(paris, operators=(Operator("Alice Martin", _sha(ALICE)), Operator("Bob", _sha(BOB))))
    store = Store(redis, race)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    settings = Settings.from_env({race.admin_token_env: TOKEN})
    apps = [create_app(race, redis_server.url, dashboard=False, settings=settings) for _ in range(2)]
    async with (
        running_uvicorn(apps[0]) as one,
        running_uvicorn(apps[1]) as two,
        httpx.AsyncClient(timeout=10) as client,
    ):
        for base in (one, two):
            await eventually(lambda base=base: _ok(client, base))
        yield (one, two), store, now


@pytest.fixture
async def console(consoles):
    """The first of ``consoles``: (base URL, store, now)."""
    (base, _), store, now = consoles
    yield base, store, now


def _as(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _everything(store: Store) -> dict[str, object]:
    """What an admin action can change, read from Redis."""
    k = store.keys
    out: dict[str, object] = {}
    for key in (k.guns, k.manual_status, k.chips, k.crossings, k.acks, k.admin_results, k.unknown_chips):
        out[key] = await store.redis.hgetall(key)
    for key in (k.passings, k.admin_log, k.events):
        out[key] = await store.redis.xlen(key)
    return out


ADMIN_POSTS = [
    ("/api/admin/signin", {}),
    ("/api/admin/pens/1/start", {}),
    ("/api/admin/pens/1/undo", {}),
    ("/api/admin/pursuer/start", {}),
    ("/api/admin/pursuer/undo", {}),
    ("/api/admin/passings", {"bib": "100", "mat": "start"}),
    ("/api/admin/passings/void", {"bib": "100", "mat": "start", "time": 0}),
    ("/api/admin/runners/100/status", {"status": "dnf"}),
    ("/api/admin/chips", {"chip": "X1", "bib": "100"}),
    ("/api/admin/alerts/1-0/ack", {}),
]
ADMIN_GETS = ["/api/admin/whoami", "/api/admin/log", "/api/admin/unknown-chips"]


async def test_every_admin_route_is_401_without_or_with_a_wrong_token_and_nothing_changes(console):
    base, store, now = console
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        # something to change: a gun, an alert
        assert (await client.post("/api/admin/pens/1/start", headers=_as(ALICE))).status_code == 200
        before = await _everything(store)
        for headers in ({}, _as("wrong"), {"authorization": f"Basic {ALICE}"}, _as(_sha(ALICE))):
            for path, body in ADMIN_POSTS:
                r = await client.post(path, json=body, headers=headers)
                assert r.status_code == 401, (path, headers, r.text)
            for path in ADMIN_GETS:
                assert (await client.get(path, headers=headers)).status_code == 401, path
        assert await _everything(store) == before
        openapi = (await client.get("/api/openapi.json")).json()["paths"]
        documented = {p for p in openapi if p.startswith("/api/admin/")}
        tried = {p.replace("/1/", "/{pen}/").replace("/100/", "/{bib}/").replace("/1-0/", "/{event}/")
                 for p in [*(p for p, _ in ADMIN_POSTS), *ADMIN_GETS]}  # fmt: skip
        assert documented == tried, "every admin route is tried here"


async def test_operators_sign_in_by_name_and_the_log_says_who_did_what(console, paris):
    base, store, now = console
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        assert (await client.get("/api/admin/whoami", headers=_as(ALICE))).json() == {"operator": "Alice Martin"}
        assert (await client.get("/api/admin/whoami", headers=_as(TOKEN))).json() == {"operator": "admin"}
        bib = paris.participants[40].bib
        r = await client.post("/api/admin/pens/1/start", json={"time": now - 300}, headers=_as(ALICE))
        assert r.json()["operator"] == "Alice Martin"
        await client.post(f"/api/admin/runners/{bib}/status", json={"status": "dnf", "reason": "ankle"},
                          headers=_as(BOB))  # fmt: skip
        await client.post("/api/admin/passings/void", json={"bib": bib, "mat": "finish", "time": now},
                          headers=_as(TOKEN))  # fmt: skip
        log = (await client.get("/api/admin/log", headers=_as(BOB))).json()["entries"]
    assert [(e["operator"], e["action"]) for e in log] == [
        ("admin", "void_passing"), ("Bob", "set_status"), ("Alice Martin", "start_pen")]  # fmt: skip
    assert log[1]["args"] == {"bib": bib, "status": "dnf", "reason": "ankle"}
    assert log[1]["result"]["http"] == 200 and log[0]["result"]["http"] == 404, "a void of nothing is kept as such"
    assert log[2]["args"]["time"] == pytest.approx(now - 300) and log[2]["time"].endswith("+01:00")
    texts = [e["text"] for e in await store.events_after() if e["kind"] == "admin"]
    assert texts[1] == f"Race control: bib {bib} is DNF: ankle. (Bob)"


async def test_a_gun_already_set_is_moved_only_on_override_and_a_mistaken_gun_is_undone(console):
    base, store, now = console
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=_as(ALICE)) as client:
        await store.record_gun(now - 600)  # pen 1 from the wire
        r = await client.post("/api/admin/pens/1/start", json={"time": now - 500})
        assert r.status_code == 409 and "override" in r.json()["error"]
        assert (await store.guns())["pen:1"] == pytest.approx(now - 600, abs=0.001)
        r = await client.post("/api/admin/pens/1/start", json={"time": now - 600.5})
        assert r.status_code == 200 and r.json()["unchanged"], "the same gun again changes nothing"
        r = await client.post("/api/admin/pens/1/start", json={"time": now - 500, "override": True})
        assert r.status_code == 200 and (await store.guns())["pen:1"] == pytest.approx(now - 500, abs=0.001)
        assert (await client.post("/api/admin/pens/1/start", json={"override": "yes"})).status_code == 422
        r = await client.post("/api/admin/pens/1/undo")
        assert r.status_code == 200 and "pen:1" not in await store.guns()
        assert (await client.post("/api/admin/pens/1/undo")).status_code == 404
        assert (await client.post("/api/admin/pursuer/undo")).status_code == 404
    actions = [e["action"] for e in await store.admin_log()]
    assert actions == ["undo_start", "start_pen"], "refusals and repeats are not actions"


async def test_a_double_click_with_one_idempotency_key_is_applied_once(console, paris):
    base, store, now = console
    bib = paris.participants[44].bib
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=_as(ALICE)) as client:
        headers = {"idempotency-key": "release-pen-2-a1"}
        first, second = await asyncio.gather(
            client.post("/api/admin/pens/2/start", headers=headers),
            client.post("/api/admin/pens/2/start", headers=headers),
        )
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()
        again = await client.post("/api/admin/pens/2/start", json={"time": now - 3000}, headers=headers)
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        key = {"idempotency-key": "manual-1"}
        for _ in range(3):
            r = await client.post(
                "/api/admin/passings", json={"bib": bib, "mat": "start", "time": now - 9}, headers=key
            )
            assert r.status_code == 200
        assert (await client.post("/api/admin/pens/2/start", headers={"idempotency-key": "x" * 101})).status_code == 400
    assert [e["action"] for e in await store.admin_log()] == ["add_passing", "start_pen"]


async def test_every_refusal_has_one_shape_and_a_refused_action_keeps_it(console, paris):
    """Refusals raised at each step (sign-in, body, time, the handler, the action as applied) answer
    ``{"error", "status"}`` as JSON; the action's refusal is the log's result and a retry's answer."""
    base, store, now = console
    bib = paris.participants[40].bib
    void = {"bib": bib, "mat": "finish", "time": now}
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=_as(ALICE)) as client:
        refusals = [
            (await client.get("/api/admin/whoami", headers=_as("nobody")), 401, "admin actions need 'Authorization"),
            (await client.post("/api/admin/pens/1/start", content=b"[1]"), 400, "body must be a JSON object"),
            (await client.post("/api/admin/pens/1/start", json={"time": "25:00"}), 422, "time of day '25:00' is"),
            (await client.post("/api/admin/pens/9/start"), 404, "no pen '9' in race"),
            (await client.get("/api/admin/log", params={"limit": "0"}), 400, "limit must be a whole number"),
        ]
        key = {"idempotency-key": "void-nothing-1"}
        first = await client.post("/api/admin/passings/void", json=void, headers=key)
        again = await client.post("/api/admin/passings/void", json=void, headers=key)
        refusals.append((first, 404, f"bib {bib} has no passing at finish within 1 s of"))
        log = (await client.get("/api/admin/log")).json()["entries"]
    for r, status, start in refusals:
        assert r.status_code == status and r.headers["content-type"] == "application/json", (r.url, r.text)
        assert r.json() == {"error": r.json()["error"], "status": status} and r.json()["error"].startswith(start)
    assert again.status_code == 404 and again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert [e["action"] for e in log] == ["void_passing"], "one action journaled, however often it is sent"
    assert log[0]["result"] == {"http": 404, "answer": first.json()}


async def test_failed_sign_ins_are_limited_per_address_across_web_processes(consoles):
    """20 failures from one address, wherever they land, then 401 for it, the right token too."""
    (one, two), store, _ = consoles
    async with httpx.AsyncClient(timeout=10) as client:
        # 12 on one process and 13 on the other: under the burst in each, over it for the race
        codes = [(await client.get(f"{(one, two)[i % 2]}/api/admin/whoami", headers=_as(f"guess-{i}"))).status_code
                 for i in range(25)]  # fmt: skip
        assert codes == [401] * 25
        for base in (one, two):
            r = await client.get(f"{base}/api/admin/whoami", headers=_as(ALICE))
            assert r.status_code == 401 and "too many failed sign-ins from 127.0.0.1" in r.json()["error"], base
            assert int(r.headers["retry-after"]) >= 1
    buckets = [k async for k in store.redis.scan_iter(match=f"{store.keys.prefix}:limit*")]
    assert sorted(buckets) == sorted([store.keys.bucket("failed", "127.0.0.1").encode(),
                                      store.keys.bucket_gate("failed").encode()])  # fmt: skip
    assert 0 < await store.redis.pttl(store.keys.bucket("failed", "127.0.0.1")) <= 61_000, "gone once refilled"


async def test_when_too_many_new_addresses_fail_a_stranger_is_refused_but_not_remembered(consoles):
    """The gate on new addresses' buckets is empty (a thousand addresses failed this minute): a
    failure from yet another is refused and counted in /metrics, but keeps no bucket in Redis."""
    (one, two), store, _ = consoles
    seconds, _ = await store.redis.time()
    await store.redis.hset(store.keys.bucket_gate("failed"), mapping={"t": 0, "at": seconds + 60})
    async with httpx.AsyncClient(timeout=10) as client:
        codes = [(await client.get(f"{(one, two)[i % 2]}/api/admin/whoami", headers=_as("guess"))).status_code
                 for i in range(25)]  # fmt: skip
        assert codes == [401] * 25
        assert (await client.get(f"{one}/api/admin/whoami", headers=_as(ALICE))).status_code == 200
        untracked = 0.0
        for base in (one, two):
            metrics = (await client.get(f"{base}/metrics")).text
            untracked += float(re.search(r"^pursuit_admin_signins_untracked_total (\S+)$", metrics, re.M)[1])
    assert untracked == 25
    assert not await store.redis.exists(store.keys.bucket("failed", "127.0.0.1"))


async def test_an_operator_flooding_admin_routes_gets_429_from_every_web_process(consoles):
    (one, two), store, _ = consoles
    async with httpx.AsyncClient(timeout=10, headers=_as(BOB)) as client:
        # at once, not one after another: on a loaded machine 80 round trips in a row outlast the refill;
        # half to each process: a budget per process would let about 100 through
        flood = await asyncio.gather(*(client.post(f"{(one, two)[i % 2]}/api/admin/pens/99/start") for i in range(120)))
        codes = [r.status_code for r in flood]
        assert 50 <= codes.count(404) < 100 and codes.count(429) == 120 - codes.count(404), "50, then 5 a second"
        alice = await client.post(f"{two}/api/admin/pens/99/start", headers=_as(ALICE))
        assert alice.status_code == 404, "per operator"
        assert (await client.get(f"{one}/api/admin/whoami")).status_code == 200, "reads have their own, larger budget"
        reads = await asyncio.gather(*(client.get(f"{(one, two)[i % 2]}/api/admin/whoami") for i in range(300)))
        codes = [r.status_code for r in reads]
        assert 100 <= codes.count(200) < 300 and codes.count(429) == 300 - codes.count(200)


async def test_an_alert_is_acknowledged_once_for_everyone(console):
    base, store, now = console
    alert = await store.append_event(
        Event("", "unknown_chip", now, "Unknown chip X9", {"level": "alert", "chip": "X9"})
    )
    story = await store.append_event(Event("", "caught", now, "caught", {"level": "story", "bib": "3"}))
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        r = await client.post(f"/api/admin/alerts/{alert}/ack", headers=_as(ALICE))
        assert r.status_code == 200 and r.json()["event"] == alert
        r = await client.post(f"/api/admin/alerts/{alert}/ack", headers=_as(BOB))
        assert r.json()["unchanged"] and r.json()["by"] == "Alice Martin", "the first acknowledgement stays"
        assert (await client.post(f"/api/admin/alerts/{story}/ack", headers=_as(BOB))).status_code == 404
        assert (await client.post("/api/admin/alerts/12-0/ack", headers=_as(BOB))).status_code == 404
    acks = await store.acks()
    assert list(acks) == [alert] and acks[alert]["by"] == "Alice Martin"
    announced = [e for e in await store.events_after() if e["kind"] == "admin"]
    assert announced[-1]["action"] == "ack_alert" and announced[-1]["event"] == alert


def _ct(seq: int, mat: str, tag: str, t: float, race) -> str:  # type: ignore[no-untyped-def]
    """A ChronoTrack line as a decoder sends it (time of day to the hundredth, in the race's zone)."""
    return f"CT01_33~{seq}~{mat}~{tag}~{datetime.fromtimestamp(t, race.timezone):%H:%M:%S.%f}"[:-4] + "~0~A~1"


async def test_rebuild_from_the_journal_gives_the_same_state(console, paris):
    """Every kind of admin action, interleaved with reads and a gun journaled as the ingestor does,
    then a rebuild from the two logs ends in the same state."""
    base, store, now = console
    now = round(now)  # times of day on the wire are to the hundredth
    runner, other = paris.participants[60], paris.participants[61]

    async def wire(seq: int, mat: str, tag: str, t: float) -> None:
        await store.journal_and_apply("ctp01", "test", time.time(), [_ct(seq, mat, tag, t, paris)],
                                      [] if tag == "guntime" else [RawRead(mat, tag, t)])  # fmt: skip
        if tag == "guntime":
            await store.record_gun(t)

    async with httpx.AsyncClient(base_url=base, timeout=10, headers=_as(ALICE)) as client:
        assert (await client.post("/api/admin/pens/1/start", json={"time": now - 900})).status_code == 200
        # the wire's marker now starts pen 2, not pen 1 (160 s on: a gun sooner than half the 300 s
        # planned between them would be held as pen 1's second gun, by the ingestor and the rebuild)
        await wire(1, "start", "guntime", now - 740)
        await wire(2, "start", "LOST1", now - 870)
        await wire(3, "start", other.chips[0], now - 860)
        await client.post("/api/admin/passings", json={"bib": runner.bib, "mat": "start", "time": now - 850})
        await client.post("/api/admin/passings", json={"bib": runner.bib, "mat": "marbeuf", "time": now - 700})
        await client.post("/api/admin/passings/void", json={"bib": runner.bib, "mat": "marbeuf", "time": now - 700})
        await client.post(f"/api/admin/runners/{other.bib}/status", json={"status": "dq", "reason": "shortcut"})
        r = await client.post("/api/admin/chips", json={"chip": "LOST1", "bib": runner.bib}, headers=_as(BOB))
        assert r.status_code == 200 and r.json()["mats_backfilled"] == 1
        await wire(4, "concorde", "LOST1", now - 500)  # read after the assignment: counts for the bib
        alert = await store.append_event(Event("", "mat_silent", now, "mat silent", {"level": "alert"}))
        await client.post(f"/api/admin/alerts/{alert}/ack")
        await client.post("/api/admin/pursuer/start", json={"time": now - 400})
        await client.post("/api/admin/pursuer/undo")
    k = store.keys
    derived = (k.guns, k.manual_status, k.chips, k.crossings, k.acks, k.unknown_chips)
    before = {key: await store.redis.hgetall(key) for key in derived}
    assert before[k.guns].keys() == {b"pen:1", b"pen:2"} and before[k.acks]
    assert f"{runner.bib}|concorde".encode() in before[k.crossings] and not before[k.unknown_chips]
    report = await rebuild(paris, store)
    assert report.admin_actions == 9 and report.errors == 0
    assert {key: await store.redis.hgetall(key) for key in derived} == before
