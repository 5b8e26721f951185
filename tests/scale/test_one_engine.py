"""One live engine for all web processes (docs/ARCHITECTURE.md, "One engine"): two ``pursuit engine``
processes and two ``pursuit web --no-engine`` processes on one Redis; spectators on either web process
get the same bytes for every ``seq``; when the leading engine is killed, the other takes the lease
within 3 s and ``seq`` goes on rising."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import httpx
import orjson
import redis as sync_redis
from websockets.asyncio.client import connect

from live.clock import RaceClock
from live.race.race import Race
from live.store.keys import RaceKeys
from pursuit.redis_server import RedisServer, free_port
from tests.helpers.processes import Cluster, wait_for


async def collect(url: str, into: list[tuple[int, str, bytes]], stop: asyncio.Event) -> None:
    """Every message of one spectator: (seq, type, the raw text)."""
    async with connect(url, max_size=None) as ws:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(decode=False), 0.5)
            except TimeoutError:
                continue
            msg = orjson.loads(raw)
            into.append((msg["seq"], msg["type"], raw))


def race_under_way(server: RedisServer, paris: Race) -> tuple[sync_redis.Redis, RaceKeys]:
    """The race's clock at 30x and its pens started 15 minutes ago, in the cluster's Redis."""
    keys = RaceKeys(paris.id)
    r = sync_redis.Redis.from_url(server.url)
    now = time.time()
    r.hset(keys.clock, mapping=RaceClock(origin_wall=now, origin_race=now, speed=30.0).as_fields())
    r.hset(keys.guns, mapping={f"pen:{p.id}": f"{now - 900 + 60 * i:.3f}" for i, p in enumerate(paris.pens)})
    return r, keys


def test_spectators_on_two_web_processes_get_the_same_ticks_and_the_lease_moves_when_the_leader_dies(
    cluster: tuple[Cluster, RedisServer], paris: Race
):
    procs, server = cluster
    r, keys = race_under_way(server, paris)

    def holder() -> str | None:
        value = r.get(keys.engine_lease)
        return value.decode() if value else None

    engines = [procs.start("engine-a", "engine")]
    first = wait_for(holder, 60, "an engine takes the lease")
    engines.append(procs.start("engine-b", "engine"))
    ports = [free_port(), free_port()]
    for i, port in enumerate(ports):
        procs.start(f"web-{i}", "web", "--no-engine", "--host", "127.0.0.1", "--port", str(port))
    for i, port in enumerate(ports):
        wait_for(lambda p=port: httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=2).status_code == 200, 60,
                 f"web-{i} relays ticks\n{procs.log(f'web-{i}')}")  # fmt: skip
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
        assert health["engine"] == "relay"
    leader = next(p for p in engines if f":{p.pid}/" in first)

    async def watch() -> tuple[list[list[tuple[int, str, bytes]]], float]:
        seen: list[list[tuple[int, str, bytes]]] = [[], []]
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(collect(f"ws://127.0.0.1:{p}/ws/live", s, stop))
            for p, s in zip(ports, seen, strict=True)
        ]

        async def until(check) -> None:  # type: ignore[no-untyped-def]
            while not check():
                for t in tasks:
                    if t.done():
                        t.result()
                await asyncio.sleep(0.05)

        await until(lambda: all(sum(m[1] == "tick" for m in s) >= 4 for s in seen))
        before = max(m[0] for s in seen for m in s)
        leader.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await until(lambda: (h := holder()) is not None and h != first)
        moved_s = time.monotonic() - killed
        await until(lambda: all(sum(m[1] == "tick" and m[0] > before for m in s) >= 3 for s in seen))
        stop.set()
        await asyncio.gather(*tasks)
        return seen, moved_s

    seen, moved_s = asyncio.run(watch())
    assert moved_s <= 3.0, f"the lease moved {moved_s:.2f} s after the leader died"
    for s in seen:
        assert s[0][1] == "snapshot"
        seqs = [m[0] for m in s]
        assert seqs == sorted(seqs), f"seq went backwards: {seqs}"
        ticks = [m[0] for m in s if m[1] == "tick"]
        assert len(ticks) == len(set(ticks)), f"a tick came twice: {ticks}"
        print(moved_s, [(m[0], m[1], len(m[2])) for m in s])
    bodies = [{(m[0], m[1]): m[2] for m in s} for s in seen]
    common = set(bodies[0]) & set(bodies[1])
    ticks = {k for k in common if k[1] == "tick"}
    assert len(ticks) >= 6
    for key in sorted(common):
        assert bodies[0][key] == bodies[1][key], f"seq {key[0]} ({key[1]}) differs between the two web processes"
    r.close()


def test_a_spectator_who_reconnects_to_another_web_process_continues_from_his_seq(
    cluster: tuple[Cluster, RedisServer], paris: Race
):
    """``/ws/live?after=SEQ&epoch=E``: the ticks he missed, from the process he lands on, the same bytes
    as on the first process, and no snapshot; anything else it cannot continue gets the snapshot."""
    procs, server = cluster
    r, keys = race_under_way(server, paris)
    r.set(keys.feed_seq, 1000)  # a race long under way: its early seqs are gone from every process
    procs.start("engine", "engine")
    a, b = free_port(), free_port()
    for name, port in (("web-a", a), ("web-b", b)):
        procs.start(name, "web", "--no-engine", "--host", "127.0.0.1", "--port", str(port))
    for name, port in (("web-a", a), ("web-b", b)):
        wait_for(lambda p=port: httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=2).status_code == 200, 60,
                 f"{name} relays ticks\n{procs.log(name)}")  # fmt: skip

    async def first_messages(url: str, n: int) -> list[bytes]:
        async with connect(url, max_size=None) as ws:
            return [await asyncio.wait_for(ws.recv(decode=False), 10) for _ in range(n)]

    async def scenario() -> tuple[int, str, list[bytes], dict[int, bytes], dict[str, list[Any]]]:
        on_a: list[tuple[int, str, bytes]] = []  # another spectator on A, for the bytes A sent
        stop = asyncio.Event()
        watcher = asyncio.create_task(collect(f"ws://127.0.0.1:{a}/ws/live", on_a, stop))
        async with connect(f"ws://127.0.0.1:{a}/ws/live", max_size=None) as ws:
            snapshot = orjson.loads(await ws.recv(decode=False))
            assert snapshot["type"] == "snapshot" and snapshot["seq"] > 1010, snapshot["seq"]
            epoch, last = snapshot["epoch"], snapshot["seq"]
            for _ in range(3):
                msg = orjson.loads(await asyncio.wait_for(ws.recv(decode=False), 10))
                assert msg["seq"] == last + 1, "consecutive on A"
                last = msg["seq"]
        await asyncio.sleep(2.5)  # away for a while: ticks go by
        on_b = await first_messages(f"ws://127.0.0.1:{b}/ws/live?after={last}&epoch={epoch}", 5)
        fallback = {
            "too old": f"after={last - 40}&epoch={epoch}",
            "ahead of the feed": f"after={last + 100_000}&epoch={epoch}",
            "another epoch": f"after={last}&epoch=0123456789abcdef",
            "not a number": "after=abc",
            "empty": "after=",
            "negative": "after=-3",
            "huge": "after=" + "9" * 5000,
            "no seq at all": "after=0",
        }
        answers = await asyncio.gather(
            *(first_messages(f"ws://127.0.0.1:{b}/ws/live?{query}", 2) for query in fallback.values())
        )
        stop.set()
        await watcher
        sent_on_a = {seq: raw for seq, _, raw in on_a}
        return (
            last,
            epoch,
            on_b,
            sent_on_a,
            {k: [orjson.loads(m) for m in v] for k, v in zip(fallback, answers, strict=True)},
        )

    last, epoch, on_b, sent_on_a, fallbacks = asyncio.run(scenario())
    got = [orjson.loads(raw) for raw in on_b]
    assert [m["seq"] for m in got] == list(range(last + 1, last + 6)), "from his seq on, none missed, none twice"
    assert got[0]["type"] == "tick", [m["type"] for m in got]
    for raw, m in zip(on_b, got, strict=True):
        if m["seq"] in sent_on_a:
            assert raw == sent_on_a[m["seq"]], f"seq {m['seq']}: B sent other bytes than A"
    assert last + 1 in sent_on_a and last + 2 in sent_on_a, "the ticks he missed were compared"
    metrics = httpx.get(f"http://127.0.0.1:{b}/metrics", timeout=5).text
    assert "pursuit_feed_resumed_total 1.0" in metrics, "continued without a snapshot, once"
    for case, (first, second) in fallbacks.items():
        assert first["type"] == "snapshot" and first["epoch"] == epoch, f"{case}: {first['type']}"
        assert second["seq"] == first["seq"] + 1, f"{case}: the feed goes on after the snapshot"
    r.close()
