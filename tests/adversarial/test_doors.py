"""Who may speak for a mat, and fire a gun: probes against a real ``pursuit serve`` process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime, timedelta
from pathlib import Path

from pursuit.serve import readers_exposure
from tests.helpers import eventually
from tests.helpers.served import errors_at, hms, readers_table, send_lines, serve


def race_day_now(pursuer_in_s: float):  # type: ignore[no-untyped-def]
    """A ``prepare`` hook making today race day, the pursuer planned ``pursuer_in_s`` from now."""

    def prepare(directory: Path) -> None:
        path = directory / "race.toml"
        planned = datetime.now().astimezone().replace(microsecond=0) + timedelta(seconds=pursuer_in_s)
        from zoneinfo import ZoneInfo

        local = planned.astimezone(ZoneInfo("Europe/Paris"))
        text = path.read_text().replace('date = "2021-10-31"', f'date = "{local:%Y-%m-%d}"')
        path.write_text(text.replace('start = "10:19:00"', f'start = "{local:%H:%M:%S}"'))

    return prepare


async def test_a_guntime_line_from_a_mat_that_fires_no_guns_or_in_2030_starts_nothing(served):
    now = time.time()
    lines = (f"CT01_33~1~finish~guntime~{hms(served.race, now)}~0~X~0\r\n"
             "CT01_33~2~start~guntime~2030-05-10T10:00:00.00~0~X~0\r\n")  # fmt: skip
    await send_lines(served.ct_port, lines.encode())
    await eventually(lambda: _errors_total(served, 2))
    assert await served.store.guns() == {}, "no pen started"
    assert served.alive()


async def _errors_total(served, n: int) -> bool:  # type: ignore[no-untyped-def]
    health = await served.store.mat_health()
    return sum(int(h.get("errors", 0)) for h in health.values()) >= n


async def test_on_race_day_a_gun_far_from_the_plan_is_refused_and_one_near_it_starts_pen_1(
    redis_server, redis, tmp_path
):
    # the pursuer planned in 3 hours: pen 1 (19 minutes' head start) is 2 h 41 min away
    async with serve(redis_server, redis, tmp_path, prepare=race_day_now(3 * 3600)) as served:
        gun = f"CT01_33~1~start~guntime~{hms(served.race, time.time())}~0~X~0\r\n"
        await send_lines(served.ct_port, gun.encode())
        await eventually(lambda: _at_least_errors(served, "start", 1))
        assert await served.store.guns() == {}
        assert "gun_window_min" in (await served.store.mat_health())["start"]["last_error"]
    await redis.flushall()
    async with serve(redis_server, redis, tmp_path / "near", prepare=race_day_now(20 * 60)) as served:
        gun = f"CT01_33~1~start~guntime~{hms(served.race, time.time())}~0~X~0\r\n"
        await send_lines(served.ct_port, gun.encode())
        await eventually(served.store.guns)
        assert list(await served.store.guns()) == [f"pen:{served.race.pens[0].id}"]


async def _at_least_errors(served, mat: str, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await errors_at(served, mat) >= n


async def test_an_address_in_no_allow_list_is_refused_at_the_door(redis_server, redis, tmp_path):
    extra = '[readers.allow]\n"*" = ["10.9.9.9"]\nfinish = ["127.0.0.1"]'
    async with serve(redis_server, redis, tmp_path, extra) as served:
        chip = served.race.participants[4].chips[0]
        t = hms(served.race, time.time())
        lines = f"CT01_33~1~start~{chip}~{t}~0~X~1\r\nCT01_33~1~finish~{chip}~{t}~0~X~1\r\n"
        await send_lines(served.ct_port, lines.encode())
        mylaps = f"start@Passing@c={chip}|ut={int(time.time() * 1000)}@1@$".encode()
        answer = await send_lines(served.mylaps_port, mylaps)
        assert b"AckPassing" not in answer, "a mat this address may not speak for is not acknowledged"

        async def refused_twice() -> bool:
            ingest = await served.store.redis.hget(served.store.keys.ingest, "errors")
            return int(ingest or 0) >= 2

        await eventually(refused_twice)
        keys = await served.store.redis.hkeys(served.store.keys.crossings)
        assert keys == [f"{served.race.bib_for_chip(chip)}|finish".encode()]
        last = (await served.store.mat_health())["start"].get("last_error", "")
        ingest = await served.store.redis.hget(served.store.keys.ingest, "last_error")
        assert "[readers.allow]" in last + (ingest or b"").decode()


async def test_with_a_shared_secret_lines_count_only_after_authorize(redis_server, redis, tmp_path):
    env = {"PURSUIT_READER_SECRET": "s3cret-for-the-mats"}
    prepare = readers_table('secret_env = "PURSUIT_READER_SECRET"')
    async with serve(redis_server, redis, tmp_path, env=env, prepare=prepare) as served:
        chips = [p.chips[0] for p in served.race.participants[20:23]]
        t = hms(served.race, time.time())
        before = f"CT01_33~1~finish~{chips[0]}~{t}~0~X~1\r\n"
        wrong = await send_lines(served.ct_port, f"authorize~guess\r\n{before}".encode(), lambda b: b"err~" in b)
        assert b"err~authorize" in wrong
        good = f"authorize~s3cret-for-the-mats\r\nCT01_33~2~finish~{chips[1]}~{t}~0~X~1\r\nping\r\n"
        answer = await send_lines(served.ct_port, good.encode(), lambda b: b"ack~ping" in b)
        assert b"ack~authorize" in answer

        async def only_after() -> list[bytes]:
            return await served.store.redis.hkeys(served.store.keys.crossings)

        assert await eventually(only_after) == [f"{served.race.bib_for_chip(chips[1])}|finish".encode()]


async def test_a_reader_port_takes_at_most_100_connections(served):
    conns = []
    try:
        for _ in range(110):
            conns.append(await asyncio.open_connection("127.0.0.1", served.ct_port))
        greeted = 0
        for reader, _ in conns:
            with contextlib.suppress(TimeoutError, ConnectionError):
                if await asyncio.wait_for(reader.readline(), 5):
                    greeted += 1
        assert greeted == 100, "the 101st connection on is closed at once"
    finally:
        for _, writer in conns:
            writer.close()
    assert served.alive()


def test_serve_says_loudly_when_reader_ports_are_open_to_every_address(paris):
    assert "ANY address" in (readers_exposure(paris, "0.0.0.0") or "")
    assert readers_exposure(paris, "127.0.0.1") is None


async def test_a_reader_sending_garbage_is_named_in_api_readers_metrics_and_an_alert(served):
    garbage = b"".join(b"\x00\xff garbage %d\r\n" % i for i in range(12))
    await send_lines(served.ct_port, b"Gremlin~1.0~CTP01\r\n" + garbage)

    async def listed() -> dict | None:
        readers = (await served.http.get("/api/readers")).json()["readers"]
        return next((r for r in readers if r["address"] == "127.0.0.1" and r["errors"] >= 12), None)

    row = await eventually(listed)
    assert "Gremlin" in row["who"] and "not ASCII" in row["last_error"] and row["last_error_at"]
    assert 'pursuit_reader_errors_total{address="127.0.0.1"} 12.0' in (await served.http.get("/metrics")).text

    async def alerted() -> bool:
        events = (await served.http.get("/api/events", params={"kind": "reader_errors"})).json()
        return any(e["address"] == "127.0.0.1" and e["level"] == "alert" for e in events)

    await eventually(alerted, timeout_s=30)  # reader alerts are looked for every 10 s (HEALTH_EVERY_S)


async def test_a_second_gun_for_a_pen_is_held_until_race_control_starts_the_next_pen_by_hand(served):
    store, race = served.store, served.race
    t1 = float(int(time.time()) - 120)  # whole seconds: the line carries milliseconds
    t2, t3 = t1 + 60, t1 + 60 + 300  # pen 2 is planned 300 s after pen 1: a gun 60 s after is pen 1's again
    first = f"CT01_33~1~start~guntime~{hms(race, t1)}~0~X~0\r\nCT01_33~2~start~guntime~{hms(race, t1)}~0~X~0\r\n"
    await send_lines(served.ct_port, first.encode())  # a gun and its resend
    assert await eventually(store.guns) == {"pen:1": t1}
    assert await errors_at(served, "start") == 0, "a resend is no second gun"
    await send_lines(served.ct_port, f"CT01_33~3~start~guntime~{hms(race, t2)}~0~X~0\r\n".encode())

    async def held() -> dict | None:
        events = (await served.http.get("/api/events", params={"kind": "gun_held"})).json()
        return events[0] if events else None

    alert = await eventually(held)
    assert alert["level"] == "alert" and alert["second_for"] == "pen:1" and alert["would_start"] == "pen:2"
    assert alert["confirm"] == "/api/admin/pens/2/start" and "is held as a second gun for pen:1" in alert["text"]
    assert list(await store.guns()) == ["pen:1"], "pen 2 not started by the wire"
    assert "a second gun for pen:1" in (await store.mat_health())["start"]["last_error"]

    confirmed = await served.http.post(alert["confirm"], json={"time": alert["gun_at"]},
                                       headers={"Authorization": "Bearer admin"})  # fmt: skip
    assert confirmed.status_code == 200, confirmed.text
    assert (await store.guns())["pen:2"] == alert["gun_at"] == t2

    await send_lines(served.ct_port, f"CT01_33~4~start~guntime~{hms(race, t3)}~0~X~0\r\n".encode())
    assert (await eventually(lambda: _started(store, "pen:3")))["pen:3"] == t3, "a gun at its gap starts"


async def _started(store, target: str) -> dict | None:  # type: ignore[no-untyped-def]
    guns = await store.guns()
    return guns if target in guns else None
