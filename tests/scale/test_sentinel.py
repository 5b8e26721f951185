"""Redis through Sentinel (live/connection.py): a master, a replica and three Sentinels on free ports.
The master is killed after writes its replica never got: the ingestor follows the new master, a
ChronoTrack reader is asked to resume after the last line the *new* master holds, and a MYLAPS passing
is acknowledged only once a replica has it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from live.clock import RaceClock
from live.connection import SentinelGroup, master_address, redis_client
from live.store import Store
from pursuit.redis_server import SentinelCluster
from pursuit.serve import start_ingest, watch_master
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
    url = sentinels.url
    servers, redis = await start_ingest(paris, url, "127.0.0.1", 0, 0)
    chronotrack, mylaps = servers
    store = Store(redis, paris)
    race_day = datetime(2026, 5, 10, 10, 30, tzinfo=paris.timezone).timestamp()
    await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=race_day, speed=1.0))
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_master(redis, servers, stop))
    replica = aioredis.Redis.from_url(sentinels.replica.url)
    chips = [p.chips[0] for p in paris.participants[1:40]]
    by_chip = paris.chip_map()
    try:
        first = await master_address(redis)
        assert first == ("127.0.0.1", sentinels.master.port)

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
        replica_pid = sentinels.replica.process.pid
        os.kill(replica_pid, signal.SIGSTOP)
        try:
            async with aioredis.Redis.from_url(sentinels.master.url) as master:
                assert await master.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
            ct_writer.write(lines(range(6, 10)) + b"ping\r\n")
            await ct_writer.drain()
            assert await read_line(ct_reader) == "ack~ping"
            assert await redis.hget(store.keys.reader_seq, "marbeuf") == b"9"
            assert await exporter(2, chips[1]) == [], "not on a replica: not acknowledged"
            sentinels.master.process.send_signal(signal.SIGKILL)  # the master dies with them
            sentinels.master.process.wait()
        finally:
            os.kill(replica_pid, signal.SIGCONT)

        # the Sentinels promote the replica; the ingestor follows and the reader is asked to resume there
        await until(lambda: _moved(redis, first))
        assert await master_address(redis) == ("127.0.0.1", sentinels.replica.port)
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
        sentinels.master.start()
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


async def _moved(redis: aioredis.Redis, first: tuple[str, int] | None) -> bool:
    now = await master_address(redis)
    return now is not None and now != first and await redis.ping()


def test_redis_client_of_a_plain_url_is_a_plain_client(redis_server):
    client = redis_client(redis_server.url)
    assert client.connection_pool.connection_kwargs["port"] == redis_server.port
