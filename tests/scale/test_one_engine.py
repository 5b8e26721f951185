"""One live engine for all web processes (docs/ARCHITECTURE.md, "One engine"): two ``pursuit engine``
processes and two ``pursuit web --no-engine`` processes on one Redis; spectators on either web process
get the same bytes for every ``seq``; when the leading engine is killed, the other takes the lease
within 3 s and ``seq`` goes on rising."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import redis as sync_redis
from websockets.asyncio.client import connect

from live.clock import RaceClock
from live.keys import RaceKeys
from live.race import Race
from pursuit.redis_server import RedisServer, free_port


class Cluster:
    """Processes started as an operator would, each killable."""

    def __init__(self, tmp: Path, redis_url: str) -> None:
        self.tmp = tmp
        self.env = {**os.environ, "REDIS_URL": redis_url}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.tmp / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "pursuit.cli", *args], env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT)  # fmt: skip
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()[-3000:]

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Cluster, RedisServer]]:
    with RedisServer(tmp_path / "redis", appendonly=False) as server:
        c = Cluster(tmp_path, server.url)
        try:
            yield c, server
        finally:
            c.stop()


def wait_for(check, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if value := check():
                return value
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout_s} s")


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


def test_spectators_on_two_web_processes_get_the_same_ticks_and_the_lease_moves_when_the_leader_dies(
    cluster: tuple[Cluster, RedisServer], paris: Race
):
    procs, server = cluster
    keys = RaceKeys(paris.id)
    r = sync_redis.Redis.from_url(server.url)
    now = time.time()
    r.hset(keys.clock, mapping=RaceClock(origin_wall=now, origin_race=now, speed=30.0).as_fields())
    r.hset(keys.guns, mapping={f"pen:{p.id}": f"{now - 900 + 60 * i:.3f}" for i, p in enumerate(paris.pens)})

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
