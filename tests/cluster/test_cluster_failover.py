"""A failover in a Redis Cluster: the master of the race's slot dies with writes its replica never got,
the replica is promoted, and the readers' resume and resend cover the gap, as behind Sentinel (the same
test, ``tests/scale/test_sentinel.py``, run against the cluster). Runs after the other cluster tests
(file order): it leaves the cluster whole, its old master back as the new one's replica."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import redis as sync_redis

from live.clock import RaceClock
from live.race.event import load_event
from live.race.race import Race
from live.store.keys import RaceKeys
from live.store.store import Store
from pursuit.redis_server import ClusterServers, RedisServer
from pursuit.serve import start_ingest, watch_master
from tests.helpers import write_event
from tests.ingest.chronotrack_client import read_line
from tests.scale.test_sentinel import _async, readers_resume_after_a_failover, until


def master_and_replica(cluster: ClusterServers, key: str) -> tuple[RedisServer, RedisServer | None]:
    """The node that serves ``key``'s slot now, and its replica (None while it has none that works), as the
    first node that answers says."""
    for node in cluster.nodes:
        try:
            with sync_redis.Redis(port=node.port, socket_timeout=1) as client:
                slot = client.cluster("keyslot", key)
                nodes = client.cluster("nodes")
            break
        except sync_redis.RedisError:
            continue  # a node stopped by the test
    master_id, master_port = next(
        (n["node_id"], int(address.rpartition(":")[2].partition("@")[0]))
        for address, n in nodes.items()
        if "master" in n["flags"] and any(int(lo) <= slot <= int(hi) for lo, hi in _ranges(n["slots"]))
    )
    replica_ports = [
        int(address.rpartition(":")[2].partition("@")[0])
        for address, n in nodes.items()
        if n["master_id"] == master_id and "fail" not in n["flags"]
    ]
    return cluster.server_on(master_port), cluster.server_on(replica_ports[0]) if replica_ports else None


def _ranges(slots: list[list[str]]) -> list[tuple[str, str]]:
    return [(r[0], r[-1]) for r in slots]


async def test_a_failover_of_the_race_master_loses_no_passing(cluster, cluster_redis, paris: Race):
    master, replica = master_and_replica(cluster, RaceKeys(paris.id).journal)
    assert replica is not None
    await readers_resume_after_a_failover(cluster.url, master, replica, paris)
    assert master_and_replica(cluster, RaceKeys(paris.id).journal) == (replica, master), "the roles swapped"


async def test_an_event_race_master_failing_mid_batch_loses_no_read(cluster, cluster_redis, tmp_path: Path):
    """A shared mat's batch crosses slots: its journal entry goes to the first race's master, its reads
    to the second race's. The second race's master dies (its replica frozen, so nothing takes over
    yet) and a batch is sent: the first master takes the journal entry, the reads fail. The reader's
    sequence is written only once every master has its part, so when the replica is promoted the
    reader is asked to resume before the lines the dead master never applied, and every read lands
    once. (Written in the same pipeline as before, the sequence said 9 and lines 6-9 were lost.)"""
    event = load_event(write_event(tmp_path, runners=12))
    first, second = event.races
    master, replica = master_and_replica(cluster, RaceKeys(second.id).journal)
    assert replica is not None
    assert master_and_replica(cluster, RaceKeys(first.id).journal)[0] != master, "two races, two masters"
    servers, redis = await start_ingest(event, cluster.url, "127.0.0.1", 0, 0)
    port = servers[0].port  # ChronoTrack
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_master(redis, servers, stop))
    journal, store = Store(redis, first), Store(redis, second)  # the event's journal and sequences: the first race's
    now = time.time()
    for race in event.races:
        await Store(redis, race).set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    chips = [p.chips[0] for p in second.runners[:9]]
    lines = [f"CT01_33~{i + 1}~marbeuf~{chip}~10:05:{i:02d}.20~0~A~1\r\n".encode() for i, chip in enumerate(chips)]
    on_replica = sync_redis.Redis(port=replica.port, single_connection_client=True)
    on_replica.execute_command("READONLY")
    frozen = False
    try:
        resumed = await _resume(port)
        assert resumed is not None and resumed[2] == 0
        reader, writer, _ = resumed
        writer.write(b"".join(lines[:5]) + b"ping\r\n")
        await writer.drain()
        assert await read_line(reader) == "ack~ping"
        await until(lambda: _async(on_replica.xlen(store.keys.passings) == 5))
        os.kill(replica.process.pid, signal.SIGSTOP)  # no failover yet
        frozen = True
        master.process.send_signal(signal.SIGKILL)
        master.process.wait()
        writer.write(b"".join(lines[5:]))  # tag reads alone: the one-round-trip path (journal, reads, sequence)
        await writer.drain()
        await asyncio.sleep(0.5)
        with contextlib.suppress(OSError):
            writer.write(b"ping\r\n")
            await writer.drain()
        assert await asyncio.wait_for(reader.readline(), 60) == b"", "a failed write closes the connection"
        writer.close()
        os.kill(replica.process.pid, signal.SIGCONT)  # promoted now: the second race's new master
        frozen = False
        deadline = time.monotonic() + 60
        while True:  # the reader reconnects and sends again from where it is asked to, until acknowledged
            assert time.monotonic() < deadline, "never acknowledged"
            resumed = await _resume(port)
            if resumed is not None:
                reader, writer, after = resumed
                assert after in (5, 9), after  # 9: the lines came again on a connection closed before its ack
                try:
                    writer.write(b"".join(lines[after:]) + b"ping\r\n")
                    await writer.drain()
                    acked = await asyncio.wait_for(reader.readline(), 30) == b"ack~ping\r\n"
                except OSError:
                    acked = False
                writer.close()
                if acked:
                    break
            await asyncio.sleep(0.5)
        assert await journal.last_sequences(["marbeuf"]) == {"marbeuf": 9}
        bibs = [p.bib for p in await store.passings_after()]
        assert sorted(bibs) == sorted(second.chip_map()[c] for c in chips), "every read once, none lost"
        assert master_and_replica(cluster, RaceKeys(second.id).journal)[0] == replica, "failed over"
    finally:
        if frozen:
            os.kill(replica.process.pid, signal.SIGCONT)
        stop.set()
        await watcher
        for server in servers:
            await server.close()
        await redis.aclose()
        on_replica.close()
        master.start()  # back as the new master's replica
    cluster.wait_whole()


async def _resume(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int] | None:
    """A ChronoTrack reader at ``marbeuf`` connecting: the sequence it is asked to resume after; None
    if the ingestor closed the connection first (Redis not answering it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = ""
    with contextlib.suppress(OSError):
        if (await read_line(reader)).endswith("~CTP01"):
            writer.write(b"PointCam~1.0.0~4\r\nstream-mode=push\r\nlocation=single\r\ntime-format=normal\r\n")
            writer.write(b"pushmode-ack=true\r\n")
            await writer.drain()
            if await read_line(reader) == "getlocations":
                writer.write(b"ack~getlocations~marbeuf\r\n")
                await writer.drain()
                start = await read_line(reader)
    if not start.startswith("start~marbeuf"):
        writer.close()
        return None
    _, _, seq = start.partition("start~marbeuf~")
    return reader, writer, int(seq) - 1 if seq else 0
