"""Redis through Sentinel (live/store/connection.py): a master, a replica and three Sentinels on free ports.
The master is killed after writes its replica never got: the ingestor follows the new master, a
ChronoTrack reader is asked to resume after the last line the *new* master holds, a MYLAPS passing
is acknowledged only once a replica has it, and a JSON reader keeps and sends again every message whose
answer says no replica has it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis
import websockets

from live.clock import RaceClock
from live.store.connection import SentinelGroup, is_cluster, master_address, redis_client
from live.store.store import Store
from pursuit.redis_server import RedisServer, SentinelCluster
from pursuit.serve import start_ingest, watch_master
from pursuit.settings import Settings
from pursuit.web import create_app
from simulator.jsonws import EmulatedJsonReader
from simulator.observations import Observation
from tests.helpers import running_uvicorn
from tests.ingest.chronotrack_client import read_line


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


async def until(check, timeout_s: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if value := await check():
                return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_after_a_failover_readers_resume_from_what_the_new_master_holds(sentinels, paris):
    await readers_resume_after_a_failover(sentinels.url, sentinels.master, sentinels.replica, paris)


async def readers_resume_after_a_failover(url: str, master: RedisServer, replica_server: RedisServer, paris) -> None:  # type: ignore[no-untyped-def]
    """The readers of ``paris`` at ``url`` whose master (the race's, in a cluster) is ``master`` and
    its replica ``replica_server``: the master dies with writes its replica never got, a new master
    is promoted, and the readers resume (ChronoTrack) or resend (MYLAPS) what it lacks."""
    servers, redis = await start_ingest(paris, url, "127.0.0.1", 0, 0)
    chronotrack, mylaps = servers
    store = Store(redis, paris)
    race_day = datetime(2026, 5, 10, 10, 30, tzinfo=paris.timezone).timestamp()
    await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=race_day, speed=1.0))
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_master(redis, servers, stop))
    replica = aioredis.Redis.from_url(replica_server.url, single_connection_client=True)
    if is_cluster(redis):
        await replica.execute_command("READONLY")  # a cluster's replica answers reads of its master's slots
    chips = [p.chips[0] for p in paris.participants[1:40]]
    by_chip = paris.chip_map()
    try:
        first = await master_address(redis)
        assert ("127.0.0.1", master.port) in _addresses(first)

        # MYLAPS: acknowledged once the replica has it
        ml_reader, ml_writer = await asyncio.open_connection("127.0.0.1", mylaps.port)

        async def exporter(number: int, chip: str) -> list[bytes]:
            ml_writer.write(f"finish@Passing@t=10:40:{number:02d}.100|c={chip}|d=260510@{number}@$".encode())
            ml_writer.write(b"finish@Ping@$")
            await ml_writer.drain()
            acks = []
            while not acks or acks[-1] != b"pursuit@AckPing@$":
                acks.append(await asyncio.wait_for(ml_reader.readuntil(b"$"), 10))
            return acks[:-1]

        assert await exporter(1, chips[0]) == [b"pursuit@AckPassing@1@$"]
        assert await replica.xlen(store.keys.passings) == 1, "acknowledged: on the replica too"

        # ChronoTrack: lines 1-5 reach both
        ct_reader, ct_writer = await asyncio.open_connection("127.0.0.1", chronotrack.port)

        async def pointcam(expect: str) -> None:
            assert (await read_line(ct_reader)).endswith("~CTP01")
            ct_writer.write(b"PointCam~1.0.0~4\r\nstream-mode=push\r\nlocation=single\r\ntime-format=normal\r\n")
            ct_writer.write(b"pushmode-ack=true\r\n")
            await ct_writer.drain()
            assert await read_line(ct_reader) == "getlocations"
            ct_writer.write(b"ack~getlocations~marbeuf\r\n")
            await ct_writer.drain()
            assert await read_line(ct_reader) == expect

        def lines(seqs: range) -> bytes:
            return "".join(f"CT01_33~{i}~marbeuf~{chips[i]}~10:05:{i:02d}.20~0~A~1\r\n" for i in seqs).encode()

        await pointcam("start~marbeuf")
        ct_writer.write(lines(range(1, 6)) + b"ping\r\n")
        await ct_writer.drain()
        assert await read_line(ct_reader) == "ack~ping"

        async def replicated() -> bool:
            return await replica.hget(store.keys.reader_seq, "marbeuf") == b"5"

        await until(replicated)

        # the replica stops hearing (frozen, its link cut): lines 6-9 and passing 2 reach the master alone
        replica_pid = replica_server.process.pid
        os.kill(replica_pid, signal.SIGSTOP)
        try:
            async with aioredis.Redis.from_url(master.url) as old:
                assert await old.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
            ct_writer.write(lines(range(6, 10)) + b"ping\r\n")
            await ct_writer.drain()
            assert await read_line(ct_reader) == "ack~ping"
            assert await redis.hget(store.keys.reader_seq, "marbeuf") == b"9"
            assert await exporter(2, chips[1]) == [], "not on a replica: not acknowledged"
            master.process.send_signal(signal.SIGKILL)  # the master dies with them
            master.process.wait()
        finally:
            os.kill(replica_pid, signal.SIGCONT)

        # the replica is promoted; the ingestor follows and the reader is asked to resume there
        await until(lambda: _moved(redis, first))
        assert ("127.0.0.1", replica_server.port) in _addresses(await master_address(redis))
        assert await read_line(ct_reader) == "", "the ingestor closed the connection"
        ct_writer.close()
        ct_reader, ct_writer = await asyncio.open_connection("127.0.0.1", chronotrack.port)
        await pointcam("start~marbeuf~6")  # the new master holds 1-5: 6-9 are asked for again
        ct_writer.write(lines(range(6, 10)) + b"ping\r\n")
        await ct_writer.drain()
        assert await read_line(ct_reader) == "ack~ping"
        assert await store.last_sequences(["marbeuf"]) == {"marbeuf": 9}
        bibs = {p.bib for p in await store.passings_after()}
        assert {by_chip[chips[i]] for i in range(1, 10)} <= bibs

        # the exporter resends passing 2: acknowledged once the old master is back as the new one's replica
        master.start()
        ml_writer.close()
        ml_reader, ml_writer = await asyncio.open_connection("127.0.0.1", mylaps.port)
        acks = await until(lambda: exporter(2, chips[1]), timeout_s=60)
        assert acks == [b"pursuit@AckPassing@2@$"]
        assert by_chip[chips[1]] in {p.bib for p in await store.passings_after()}
        ml_writer.close()
        ct_writer.close()
    finally:
        stop.set()
        await watcher
        for server in servers:
            await server.close()
        await replica.aclose()
        await redis.aclose()


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
                await until(lambda: _async(reader.not_replicated >= 4))  # three new messages, then a resend
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
            await until(lambda: _moved(redis, first))
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


def _addresses(masters: object) -> set[object]:
    """The master's address (Sentinel), or the masters' (a cluster), as a set."""
    return set(masters) if isinstance(masters, frozenset) else {masters}


async def _async(value: bool) -> bool:
    return value


async def _moved(redis: aioredis.Redis, first: tuple[str, int] | None) -> bool:
    now = await master_address(redis)
    whole = now is not None and len(_addresses(now)) == len(_addresses(first))  # a cluster: a master for every slot
    return whole and now != first and await redis.ping()


def test_redis_client_of_a_plain_url_is_a_plain_client(redis_server):
    client = redis_client(redis_server.url)
    assert client.connection_pool.connection_kwargs["port"] == redis_server.port
