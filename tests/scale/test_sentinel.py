"""Redis through Sentinel (live/store/connection.py): a master, a replica and three Sentinels on free ports.
The master is killed after writes its replica never got: the ingestor follows the new master, a
ChronoTrack reader is asked to resume after the last line the *new* master holds, a MYLAPS passing
is acknowledged only once a replica has it, and a JSON reader keeps and sends again every message whose
answer says no replica has it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis
import websockets

from live.clock import RaceClock
from live.store.connection import SentinelGroup, redis_client
from live.store.store import Store
from pursuit.redis_server import SentinelCluster
from pursuit.settings import Settings
from pursuit.web import create_app
from simulator.jsonws import EmulatedJsonReader
from simulator.observations import Observation
from tests.helpers import running_uvicorn
from tests.helpers.failover import master_moved, readers_resume_after_a_failover, resolved, until


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database():
    group = SentinelGroup.parse("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2/race/2")
    assert group == SentinelGroup((("10.0.0.1", 26379), ("10.0.0.2", 26379)), "race", 2, "s3cret")
    assert SentinelGroup.parse("redis+sentinel://h:1/pursuit").db == 0
    for bad, why in [
        ("redis+sentinel://h:1", "service_name"),
        ("redis+sentinel://h:x/s", "not a number"),
        ("redis+sentinel://h:1/s/zero", "database"),
        ("redis+sentinel://:1/s", "host:port"),
    ]:
        with pytest.raises(ValueError, match=why):
            SentinelGroup.parse(bad)


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelCluster]:
    with SentinelCluster(tmp_path) as cluster:
        yield cluster


async def test_after_a_failover_readers_resume_from_what_the_new_master_holds(sentinels, paris):
    await readers_resume_after_a_failover(sentinels.url, sentinels.master, sentinels.replica, paris)


async def test_a_json_reader_sends_again_what_no_replica_confirmed_and_the_new_master_has_it_once(sentinels, paris):
    mat, token = "concorde", "t-concorde"
    app = create_app(paris, sentinels.url, dashboard=False, engine=False,
                     settings=Settings.from_env({"PURSUIT_READER_TOKENS": f"{mat}={token}"}))  # fmt: skip
    redis = redis_client(sentinels.url)
    store = Store(redis, paris)
    now = time.time()
    clock = RaceClock(origin_wall=now, origin_race=now, speed=1.0)
    await store.set_clock(clock)
    chips = [p.chips[0] for p in paris.participants[1:14]]
    by_chip = paris.chip_map()
    tp = paris.timing_points_of(mat)[0].index
    old_master = aioredis.Redis.from_url(sentinels.master.url)
    try:
        async with running_uvicorn(app) as base:
            ws_base = base.replace("http://", "ws://")
            # a replica in sync: the answer says the read is on it
            async with websockets.connect(f"{ws_base}/ingest/ws?reader={mat}&token={token}") as ws:
                await ws.send(orjson.dumps([{"reader": mat, "chip": chips[0], "t": round(now - 1, 3), "seq": 1}]))
                assert orjson.loads(await ws.recv()) == {"accepted": 1, "rejected": 0, "errors": [], "replicated": True}

            # the replica cut off (frozen, its link killed): twelve reads due two a second, at most three
            # messages kept; each answered "replicated": false after the 1 s WAIT, none confirmed
            replica_pid = sentinels.replica.process.pid
            os.kill(replica_pid, signal.SIGSTOP)
            try:
                assert await old_master.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
                start = clock.now()
                reads = [Observation(start + 0.5 * i, round(start + 0.5 * i - 0.3, 3), chip, -60.0, 1)
                         for i, chip in enumerate(chips[1:])]  # fmt: skip
                reader = EmulatedJsonReader(mat, clock, reads, ws_base, token, max_unconfirmed=3, resend_s=1.0)
                stop = asyncio.Event()
                running = asyncio.create_task(reader.run(stop))
                await until(lambda: resolved(reader.not_replicated >= 4))  # three new messages, then a resend
                assert reader.unconfirmed == 3 and reader.resent >= 1 and reader.delivered == 0
                assert reader.reported < len(reads), "no new message while three wait"
                sent = {by_chip[o.chip] for o in reads[: reader.reported]}
                assert sent <= {p.bib for p in await store.passings_after()}, "applied on the master at once"
                stop.set()
                await running
                sentinels.master.process.send_signal(signal.SIGKILL)  # the master dies with them
                sentinels.master.process.wait()
            finally:
                os.kill(replica_pid, signal.SIGCONT)

            # the Sentinels promote the replica: it never had the reads the reader still keeps
            first = ("127.0.0.1", sentinels.master.port)
            await until(lambda: master_moved(redis, first))
            assert not sent & {p.bib for p in await store.passings_after()}, "lost with the old master"

            # the reader reconnects and sends them again: applied, but unconfirmed until the old master
            # is back as the new one's replica; then every read is confirmed
            running = asyncio.create_task(reader.run())
            sentinels.master.start()
            await asyncio.wait_for(running, 90)
            assert reader.done and reader.delivered == len(reads) and reader.unconfirmed == 0
            assert reader.most_unconfirmed == 3

        # on the new master every read exactly once: one crossing and one passing per runner
        expected = {by_chip[c] for c in chips}
        passings = await store.passings_after()
        assert {(p.bib, p.tp) for p in passings} == {(b, tp) for b in expected}
        assert len({(p.bib, p.tp, p.time) for p in passings}) == len(expected)
        crossings = await redis.hmget(store.keys.crossings, [f"{b}|{mat}" for b in sorted(expected)])
        assert all(c is not None and b"," not in c for c in crossings), crossings
        assert int((await redis.hget(store.keys.mat(mat), "passings")) or 0) == len(expected)
        # confirmed means on the replica: the old master, now the replica, has them all
        assert await old_master.hmget(store.keys.crossings, [f"{b}|{mat}" for b in sorted(expected)]) == crossings
    finally:
        await old_master.aclose()
        await redis.aclose()


def test_redis_client_of_a_plain_url_is_a_plain_client(redis_server):
    client = redis_client(redis_server.url)
    assert client.connection_pool.connection_kwargs["port"] == redis_server.port
