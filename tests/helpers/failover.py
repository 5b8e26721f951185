"""A failover under the readers: the master killed after writes its replica never got, the ingestor
following the new master and each reader resuming from what the new master holds (shared by the
Sentinel and the Redis Cluster tests)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from datetime import datetime

import redis.asyncio as aioredis

from live.clock import RaceClock
from live.store.connection import is_cluster, master_address
from live.store.store import Store
from pursuit.redis_server import RedisServer
from pursuit.serve import start_ingest, watch_master
from tests.helpers.chronotrack_client import read_line


async def until(check, timeout_s: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if value := await check():
                return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


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
        assert ("127.0.0.1", master.port) in master_addresses(first)

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
        await until(lambda: master_moved(redis, first))
        assert ("127.0.0.1", replica_server.port) in master_addresses(await master_address(redis))
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


def master_addresses(masters: object) -> set[object]:
    """The master's address (Sentinel), or the masters' (a cluster), as a set."""
    return set(masters) if isinstance(masters, frozenset) else {masters}


async def resolved(value: bool) -> bool:
    return value


async def master_moved(redis: aioredis.Redis, first: tuple[str, int] | None) -> bool:
    now = await master_address(redis)
    # a cluster: a master for every slot
    whole = now is not None and len(master_addresses(now)) == len(master_addresses(first))
    return whole and now != first and await redis.ping()
