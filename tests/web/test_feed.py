"""The live feed /ws/live over real uvicorn, a real Redis and the real `websockets` client."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import socket
import time
from urllib.parse import urlsplit

import numpy as np
import orjson
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from live.chase.chase import CLASSES
from live.chase.snapshot import AHEAD, STARTED, STATUSES
from live.engine.engine import LiveEngine
from live.store.store import RawRead
from tests.helpers import eventually, pens_started
from web.feed import MARGIN_RESEND_S, LiveFeed
from web.frames import FANOUT_BUCKETS_S, SNAPSHOT_GZIP_LEVEL, FanoutTimes
from web.messages import MAX_FOLLOW, FollowRequest, SnapshotRequest, coarse_margins, parse_client_message, rounded


@pytest.fixture
async def live(redis_server, redis, paris):
    """The web app for the default race, 15 minutes in, every pen started, nobody read yet."""
    async with pens_started(redis_server, redis, paris) as web:
        yield web.http, web.ws_base + "/ws/live", web.store, web.app.state.feed, web.now


async def recv(ws, timeout_s: float = 3.0) -> dict:
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout_s))


async def recv_until(ws, kind: str, limit: int = 6) -> dict:
    for _ in range(limit):
        message = await recv(ws)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message in {limit}")


# ---- pure parts ------------------------------------------------------------------------------


def test_client_messages_are_parsed_or_refused_with_a_reason():
    assert parse_client_message('{"snapshot": true}') == SnapshotRequest()
    assert parse_client_message(b'{"resync": true}') == SnapshotRequest()
    assert parse_client_message('{"follow": ["12", 34, "12"]}') == FollowRequest(("12", "34"))
    assert parse_client_message('{"follow": []}') == FollowRequest(())
    for bad, why in [
        ("nope", "not JSON"),
        ("[1]", "JSON object"),
        ('{"follow": "12"}', "list of bibs"),
        ('{"follow": [true]}', "list of bibs"),
        (orjson.dumps({"follow": [str(i) for i in range(MAX_FOLLOW + 1)]}), "at most 50"),
        ('{"snapshot": false}', "unknown request"),
        ("x" * 5000, "too long"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_client_message(bad)


def test_fanout_times_are_counted_in_the_bucket_of_their_upper_bound():
    times = FanoutTimes()
    times.add(0.0007, 0.003)
    times.add(9.0, 0.0005)  # past the last bound: counted only in the total, as Prometheus's +Inf
    assert times.ticks == 2 and times.build_s == pytest.approx(9.0007) and times.write_s == pytest.approx(0.0035)
    assert times.build_counts[FANOUT_BUCKETS_S.index(0.001)] == 1 and sum(times.build_counts) == 1
    assert times.write_counts[FANOUT_BUCKETS_S.index(0.005)] == 1 and times.write_counts[0] == 1
    assert (times.last_build_s, times.last_write_s) == (9.0, 0.0005)


def test_rounded_arrays_are_compact_and_null_where_unknown():
    assert rounded(np.array([1.26, np.nan, np.inf, -0.04]), 1) == [1.3, None, None, -0.0]
    assert rounded(np.array([12.6, np.nan]), 0) == [13, None]


async def test_a_margin_is_resent_only_when_it_moved_more_than_its_uncertainty(paris):
    engine = LiveEngine(paris, store=None)  # type: ignore[arg-type]  # compute() needs no I/O
    feed = LiveFeed(engine, runner_detail=lambda bib: None)
    t0 = 1_700_000_000.0
    engine.guns = {f"pen:{p.id}": t0 for p in paris.pens}
    engine.times[700, 0] = t0 + 10  # read at the start: ~5 km and ~25 min to go, his margin is ±~45 s
    snap = engine.compute(t0 + 60)
    await feed.on_tick(snap)

    async def changed_after_shift(by_s: float) -> list[int]:
        await feed.on_tick(dataclasses.replace(snap, margin_s=snap.margin_s + by_s))
        tick = orjson.loads(feed.tick_frame.payload)
        assert tick["changed"]["index"] == [], "only the margin moved: not the whole row"
        return tick.get("margin", {}).get("index", [])

    assert await changed_after_shift(4 * MARGIN_RESEND_S) == [], "well inside his uncertainty: not resent"
    assert await changed_after_shift(120.0) == [700], "beyond it: resent, and only the one out on the course"
    assert await changed_after_shift(120.0) == [], "sent once"


async def test_a_win_probability_is_resent_when_it_moves_five_points(paris):
    engine = LiveEngine(paris, store=None)
    feed = LiveFeed(engine, runner_detail=lambda bib: None)
    t0 = 1_700_000_000.0
    engine.guns = {f"pen:{p.id}": t0 for p in paris.pens}
    engine.times[700, 0] = t0 + 10
    snap = engine.compute(t0 + 60)
    await feed.on_tick(snap)
    assert snap.win_probability is not None

    async def tick_after(delta: float) -> dict:
        p = snap.win_probability.copy()
        p[700] = min(max(p[700] + delta, 0.0), 1.0)
        await feed.on_tick(dataclasses.replace(snap, win_probability=p))
        return orjson.loads(feed.tick_frame.payload)

    tick = await tick_after(0.03)
    assert tick["changed"]["index"] == [] and "win" not in tick, "three points: not resent"
    delta = 0.2 if snap.win_probability[700] < 0.5 else -0.2
    tick = await tick_after(delta)
    expected = 5 * round(20 * min(max(snap.win_probability[700] + delta, 0.0), 1.0))
    assert tick["changed"]["index"] == [], "nothing else moved: not the whole row"
    assert tick["win"] == {"index": [700], "pct": [expected]}, "only his chance, to 5 points"
    assert "win" not in await tick_after(delta), "sent once"


async def test_a_tick_bigger_than_the_snapshot_is_sent_as_the_snapshot(paris):
    """At the pursuer's gun every started runner changes status at once: then the state itself is
    smaller than what changed (no index), and it goes out as the snapshot of that seq."""
    engine = LiveEngine(paris, store=None)  # type: ignore[arg-type]  # compute() needs no I/O
    feed = LiveFeed(engine, runner_detail=lambda bib: None)
    t0 = 1_700_000_000.0
    engine.guns = {f"pen:{p.id}": t0 for p in paris.pens}
    engine.times[:, 0] = t0 + 10  # everyone read at the start
    snap = engine.compute(t0 + 60)
    await feed.on_tick(snap)
    gun = dataclasses.replace(
        snap, status=np.where(snap.status == STARTED, AHEAD, snap.status).astype(snap.status.dtype)
    )
    await feed.on_tick(gun)  # every started runner is now ahead of the pursuer
    message = orjson.loads(feed.tick_frame.payload)
    assert message["type"] == "snapshot" and message["seq"] == 2 and feed.tick_frame is feed.snapshot_frame()
    assert len(message["margin_s"]) == len(engine.bibs)
    await feed.on_tick(gun)
    message = orjson.loads(feed.tick_frame.payload)
    assert message["type"] == "tick" and message["seq"] == 3 and message["changed"]["index"] == []


async def test_a_snapshot_offers_its_gzip_built_once_as_a_binary_frame(paris):
    engine = LiveEngine(paris, store=None)  # type: ignore[arg-type]  # compute() needs no I/O
    feed = LiveFeed(engine, runner_detail=lambda bib: None)
    await feed.on_tick(engine.compute(1_700_000_000.0))
    snapshot = feed.snapshot_frame()
    zipped = snapshot.gzipped()
    assert zipped is snapshot.gzipped() and zipped.binary, "compressed once, however many get it"
    assert gzip.decompress(zipped.payload) == snapshot.payload
    assert zipped.payload == gzip.compress(snapshot.payload, SNAPSHOT_GZIP_LEVEL, mtime=0)
    assert zipped.wire[0] == 0x82 and snapshot.wire[0] == 0x81, "final binary frame; the JSON stays text"
    assert not feed.tick_frame.binary and not feed.follow_frame(()).snapshot, "only snapshots are offered gzipped"


# ---- over the wire ---------------------------------------------------------------------------


async def test_snapshot_first_then_consecutive_sparse_ticks_with_a_new_passing(live, paris):
    http, url, store, _, now = live
    roster = (await http.get("/api/roster")).json()
    runner = paris.participants[700]
    row = roster["bibs"].index(runner.bib)
    async with websockets.connect(url, compression=None) as ws:
        snap = await recv(ws)
        assert snap["type"] == "snapshot" and snap["race"] == "paris-j1000"
        assert snap["statuses"] == list(STATUSES) and snap["classes"] == list(CLASSES)
        n = len(roster["bibs"])
        assert n == 3599 and all(len(snap[k]) == n for k in ("status", "class", "distance_m", "speed_dm_s", "margin_s"))
        assert set(snap["pursuer"]) >= {"distance_m", "status", "pace_s_per_km", "lat", "lon"}
        assert set(snap["forecast"]) == {
            "winners",
            "low",
            "high",
            "level",
            "quota",
            "by_pen",
            "at_plan",
            "pursuer_basis",
        }
        assert len(snap["win_pct"]) == n and all(0 <= p <= 100 for p in snap["win_pct"])
        assert snap["counts"]["registered"] == n

        ticks = [await recv(ws) for _ in range(2)]
        assert [t["type"] for t in ticks] == ["tick", "tick"]
        assert [t["seq"] for t in ticks] == [snap["seq"] + 1, snap["seq"] + 2]
        assert ticks[1]["now"] > ticks[0]["now"]
        assert ticks[1]["changed"]["index"] == [], "nothing happened: nobody is resent"

        await store.apply_reads([RawRead("start", runner.chips[0], now - 850)], wall_s=now)
        seq = ticks[-1]["seq"]
        for _ in range(4):
            tick = await recv(ws)
            assert tick["type"] == "tick" and tick["seq"] == seq + 1
            seq = tick["seq"]
            if row in tick["changed"]["index"]:
                break
        else:
            raise AssertionError("the runner's passing never showed in a tick")
        changed = tick["changed"]
        assert changed["index"] == [row], "only the runner who was read"
        assert {k: len(v) for k, v in changed.items()} == dict.fromkeys(changed, 1)
        assert STATUSES[changed["status"][0]] in ("started", "ahead")
        assert changed["distance_m"][0] > 0 and changed["speed_dm_s"][0] > 0
        assert set(tick) == {"type", "seq", "now", "sent", "pursuer", "counts", "forecast", "changed"}
        latest = time.time() + 0.001  # sent is rounded to the millisecond
        assert ticks[0]["sent"] < ticks[1]["sent"] <= tick["sent"] <= latest, "the server's wall clock"
        assert tick["counts"]["started"] == 1


async def test_a_client_that_asks_for_a_resync_gets_a_fresh_snapshot(live):
    _, url, *_ = live
    async with websockets.connect(url) as ws:
        first = await recv(ws)
        tick = await recv(ws)
        await ws.send('{"resync": true}')
        snap = await recv_until(ws, "snapshot")
        assert snap["seq"] >= tick["seq"] and len(snap["distance_m"]) == len(first["distance_m"])
        after = await recv(ws)
        assert after["type"] == "tick" and after["seq"] == snap["seq"] + 1, "ticks go on from the snapshot"


async def recv_raw(ws, timeout_s: float = 3.0) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), timeout_s)


async def snapshot_of(ws, ask: str) -> tuple[int, bytes]:
    """Ask for a snapshot; its seq and the message as sent (text as UTF-8, or the binary as is)."""
    await ws.send(ask)
    for _ in range(6):
        raw = await recv_raw(ws)
        if isinstance(raw, bytes):
            return orjson.loads(gzip.decompress(raw))["seq"], raw
        if raw.startswith('{"type":"snapshot"'):
            return orjson.loads(raw)["seq"], raw.encode()
    raise AssertionError("no snapshot in 6 messages")


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "queued"])
async def test_a_client_who_joins_while_a_tick_is_published_gets_its_seq_once(live, direct):
    """A tick's state is taken before its publication to Redis is awaited: a spectator who joins
    (or asks for a snapshot) in between gets the snapshot at that seq in its place, not the snapshot
    and then the same seq's tick (seen in CI under load: ticks 1, 2 after snapshot 1)."""
    http, url, _, feed, _ = live
    feed.direct = direct
    channel = feed.publisher.channel
    publish = channel.publish
    gate, entered = asyncio.Event(), asyncio.Event()

    async def held(*args, **kwargs):
        entered.set()
        await gate.wait()
        return await publish(*args, **kwargs)

    channel.publish = held  # this channel's publication waits for the gate
    try:
        await asyncio.wait_for(entered.wait(), 5.0)  # a tick is in flight
        async with websockets.connect(url, compression=None) as ws, websockets.connect(url, compression=None) as old:
            await asyncio.sleep(0.2)  # both in, nothing sent to them yet
            await old.send('{"snapshot": true}')
            await asyncio.sleep(0.2)
            gate.set()
            first, second = await recv(ws), await recv(ws)
            asked = await recv_until(old, "snapshot")
            after = await recv(old)
    finally:
        channel.publish = publish
        gate.set()
    assert first["type"] == "snapshot" and second["seq"] == first["seq"] + 1
    assert after["seq"] == asked["seq"] + 1


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "queued"])
async def test_a_gzip_client_gets_snapshots_gzipped_and_ticks_as_text(live, direct):
    http, url, _, feed, _ = live
    feed.direct = direct
    gzip_url = (await http.get("/api/race")).json()["feeds"]["live_gzip"]
    assert gzip_url == url + "?encoding=gzip", "advertised in GET /api/race"
    async with websockets.connect(gzip_url, compression=None) as gz, websockets.connect(url, compression=None) as plain:
        first = await recv_raw(gz)
        assert isinstance(first, bytes) and first[:2] == b"\x1f\x8b", "a binary message holding a gzip"
        snap = orjson.loads(gzip.decompress(first))
        assert snap["type"] == "snapshot" and snap["counts"]["registered"] == len(snap["status"]) == 3599
        ticks = [await recv_raw(gz) for _ in range(2)]
        assert all(isinstance(t, str) for t in ticks), "ticks stay text"
        assert [orjson.loads(t)["seq"] for t in ticks] == [snap["seq"] + 1, snap["seq"] + 2]
        assert isinstance(await recv_raw(plain), str), "a client that did not ask gets text, as before"

        for _ in range(5):  # both asked within the same second: the same seq, unless a tick fell between
            (seq, zipped), (plain_seq, text) = [await snapshot_of(gz, '{"resync": true}'),
                                                await snapshot_of(plain, '{"snapshot": true}')]  # fmt: skip
            if seq == plain_seq:
                break
        else:
            raise AssertionError("never a snapshot of the same seq for both")
        assert gzip.decompress(zipped) == text, "the gzip of exactly the JSON text a plain client gets"
        after = await recv_raw(gz)
        assert isinstance(after, str) and orjson.loads(after)["seq"] == seq + 1, "ticks go on from the resync"


async def message_of_seq(ws, seq: int) -> str | bytes:
    for _ in range(6):
        raw = await recv_raw(ws)
        if orjson.loads(gzip.decompress(raw) if isinstance(raw, bytes) else raw)["seq"] == seq:
            return raw
    raise AssertionError(f"no message of seq {seq} in 6")


async def test_a_snapshot_sent_instead_of_a_tick_is_gzipped_for_gzip_clients(live):
    """The pursuer's gun changes most of the field at once: the snapshot goes out in the tick's place,
    gzipped to those who asked, the same JSON text to the others."""
    _, url, _, feed, _ = live
    async with websockets.connect(url + "?encoding=gzip") as gz, websockets.connect(url) as plain:
        await recv_raw(gz), await recv_raw(plain)
        await eventually(lambda: _value(len(feed.clients) == 2))
        snap = feed.snapshot
        await feed.on_tick(dataclasses.replace(snap, status=np.full_like(snap.status, STATUSES.index("ahead"))))
        assert feed.tick_frame is feed.snapshot_frame(), "everyone changed: the state is smaller than the tick"
        zipped, text = await message_of_seq(gz, feed.seq), await message_of_seq(plain, feed.seq)
        assert isinstance(zipped, bytes) and isinstance(text, str)
        assert gzip.decompress(zipped) == text.encode() and text.startswith('{"type":"snapshot"')


async def test_an_unknown_encoding_is_refused_with_a_reason(live):
    _, url, *_ = live
    async with websockets.connect(url + "?encoding=br") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await recv_raw(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "unknown encoding 'br'" in closed.value.rcvd.reason and "encoding=gzip" in closed.value.rcvd.reason


async def test_follow_sends_full_detail_of_the_followed_bibs_each_tick(live, paris):
    _, url, store, _, now = live
    runner = paris.participants[42]
    await store.apply_reads([RawRead("start", runner.chips[0], now - 880)], wall_s=now)
    async with websockets.connect(url) as ws:
        while (await recv(ws))["counts"]["started"] == 0:  # the engine has seen the read
            pass
        await ws.send(orjson.dumps({"follow": [runner.bib, "nobody"]}))
        error = await recv_until(ws, "error")
        assert "nobody" in error["message"]
        follow = await recv_until(ws, "follow")
        (detail,) = follow["runners"]
        assert detail["bib"] == runner.bib and detail["name"] == runner.name and detail["pen"] == runner.pen
        assert {"status", "distance_m", "gap_m", "gap_s", "margin_s", "catch", "splits", "finish"} <= set(detail)
        assert [s["mat"] for s in detail["splits"]] == ["start"]
        tick = await recv_until(ws, "tick")
        again = await recv(ws)
        assert again["type"] == "follow" and again["seq"] == tick["seq"], "detail follows every tick"
        await ws.send('{"follow": []}')
        await recv_until(ws, "tick")
        assert (await recv(ws))["type"] == "tick", "no more detail once unfollowed"


async def test_malformed_messages_are_answered_and_a_flood_is_closed(live):
    _, url, *_ = live
    async with websockets.connect(url) as ws:
        await recv(ws)
        await ws.send(b"not json")
        assert "JSON" in (await recv_until(ws, "error"))["message"]
        await ws.send('{"shout": 1}')
        assert "unknown request" in (await recv_until(ws, "error"))["message"]
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(30):
                await ws.send('{"follow": []}')
            while True:
                await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "queued"])
async def test_a_client_that_never_reads_is_dropped_without_slowing_the_others(live, direct):
    _, url, _, feed, _ = live
    feed.direct = direct
    feed.max_messages_per_s = 1000.0  # let the slow client ask for more than every buffer on the way holds
    host, port = urlsplit(url).hostname, urlsplit(url).port
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a reader with no room to spare
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    async with websockets.connect(url) as good, websockets.connect(url, sock=sock, max_queue=1) as slow:
        first = await recv(good)
        await eventually(lambda: _value(len(feed.clients) == 2))
        assert {c.wire is not None for c in feed.clients} == {direct}, "direct writes under our uvicorn"
        for _ in range(150):  # ~60 KB each, ~9 MB: more than the kernel's and the transport's buffers
            await slow.send('{"snapshot": true}')
        seqs = [first["seq"]]
        while feed.dropped == 0 or len(seqs) < 3:
            message = await recv(good)
            if message["type"] == "tick":
                seqs.append(message["seq"])
            assert len(seqs) < 12, "the slow client was never dropped"
        assert feed.dropped == 1 and len(feed.clients) == 1, "only the one that did not read"
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "the reader missed no tick"
        with pytest.raises(ConnectionClosed):  # what was buffered, then the end
            while True:
                await asyncio.wait_for(slow.recv(), 5)


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "queued"])
async def test_a_client_that_falls_ticks_behind_is_dropped(live, direct):
    """Not one burst but a steady lag: what was sent ``QUEUE_TICKS`` ticks ago is still waiting."""
    _, url, _, feed, _ = live
    feed.direct = direct
    host, port = urlsplit(url).hostname, urlsplit(url).port
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    async with websockets.connect(url, sock=sock, max_queue=1) as slow:
        await eventually(lambda: _value(len(feed.clients) == 1))
        sent = 0
        while feed.dropped == 0:  # a few snapshots a second, within the rate limit, never read
            await slow.send('{"snapshot": true}')
            sent += 1
            assert sent < 400, "the lagging client was never dropped"
            await asyncio.sleep(0.125)
        assert feed.dropped == 1 and not feed.clients
        assert feed.last_drop_reason.endswith("ticks behind"), feed.last_drop_reason
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(slow.recv(), 5)


async def _value(value):
    return value


async def test_each_ticks_build_and_write_time_is_in_the_metrics(live):
    from prometheus_client.parser import text_string_to_metric_families

    http, url, _, feed, _ = live
    async with websockets.connect(url) as ws:
        await recv_until(ws, "tick")
        await recv_until(ws, "tick")
        text = (await http.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("pursuit_feed_build_seconds", "pursuit_feed_write_seconds"):
        samples = families[name].samples
        count = next(s.value for s in samples if s.name == f"{name}_count")
        total = next(s.value for s in samples if s.name == f"{name}_sum")
        buckets = [(s.labels["le"], s.value) for s in samples if s.name == f"{name}_bucket"]
        assert count >= 2 and total > 0, name
        assert [float(le) for le, _ in buckets] == [*FANOUT_BUCKETS_S, float("inf")]
        assert [n for _, n in buckets] == sorted(n for _, n in buckets) and buckets[-1][1] == count
    assert feed.times.ticks >= 2


async def test_close_disconnects_every_client_as_going_away(live):
    _, url, _, feed, _ = live
    async with websockets.connect(url) as ws:
        await recv(ws)
        await feed.close()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert feed.on_tick not in feed.engine.listeners


def test_margins_are_sent_to_the_second_near_zero_and_to_5_s_beyond_2_minutes():
    sent = coarse_margins(np.array([0.4, -7.6, 119.6, 120.0, 121.0, 123.0, -601.0, -118.4, np.nan, np.inf]))
    assert sent == [0, -8, 120, 120, 120, 125, -600, -118, None, None]
