"""``pursuit rehearse``: the scale-out layout on one machine, with faults, and what it measured.

All on 127.0.0.1: a Redis master, a replica and three Sentinels; two ingestors; two engines; three
web processes (``--no-engine``) behind HAProxy, which also spreads the reader connections over the
two ingestors; the simulated race (``pursuit simulate``, ChronoTrack and MYLAPS) sped up; spectators
on ``/ws/live`` through the balancer. The script of faults, each once the race is under way: kill
the Redis master (SIGKILL) and restart it, kill the engine leader and restart it, kill the web
process the first spectator is on and restart it. At the end: the outcome through the balancer
against the simulation's truth, bib for bib, and the times each fault took to heal.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect

from live.race.race import Race
from live.store.connection import redis_client
from live.store.keys import RaceKeys
from pursuit.redis_server import SentinelCluster, free_port
from simulator.trajectory import plan_race, true_outcome

HAPROXY = "/usr/sbin/haproxy"


def find_haproxy() -> str | None:
    """The HAProxy binary (Debian's ``haproxy``), if installed."""
    return shutil.which("haproxy") or (HAPROXY if Path(HAPROXY).is_file() else None)


def haproxy_config(web_port: int, webs: list[int], ct_port: int, cts: list[int], ml_port: int, mls: list[int]) -> str:
    """HTTP and WebSocket to the web processes (checked every 0.5 s; each request naming its client in
    ``X-Forwarded-For``), the reader ports (TCP) to the ingestors, round robin."""
    lines = [
        "global",
        "  maxconn 9500",  # two descriptors a connection, under a 20,000 descriptor limit
        "defaults",
        "  timeout connect 2s",
        "  timeout client 1h",
        "  timeout server 1h",
        "  timeout tunnel 1h",
        "frontend web",
        "  mode http",
        f"  bind 127.0.0.1:{web_port}",
        "  option forwardfor",
        "  default_backend webs",
        "backend webs",
        "  mode http",
        "  balance roundrobin",
        "  option httpchk GET /api/race",
        *(f"  server web{i} 127.0.0.1:{p} check inter 500 fall 2 rise 1" for i, p in enumerate(webs)),
    ]
    for name, port, backends in (("chronotrack", ct_port, cts), ("mylaps", ml_port, mls)):
        lines += [
            f"frontend {name}",
            "  mode tcp",
            f"  bind 127.0.0.1:{port}",
            f"  default_backend {name}s",
            f"backend {name}s",
            "  mode tcp",
            "  balance roundrobin",
            *(f"  server {name}{i} 127.0.0.1:{p} check inter 500" for i, p in enumerate(backends)),
        ]
    return "\n".join(lines) + "\n"


def stop_processes(procs: Iterable[subprocess.Popen[bytes]], timeout_s: float = 10.0) -> None:
    """SIGTERM every process still running first, then wait for each, SIGKILL one that outlives
    ``timeout_s``: all of them shut down at once (a web process releases its lease, an engine its
    lease) instead of one after the other, and none is left behind."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Spectator:
    """One ``/ws/live`` client through the balancer, reconnecting whenever its connection ends."""

    url: str
    messages: list[tuple[int, int, str, float]] = field(default_factory=list)  # connection, seq, type, wall
    connections: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with connect(self.url, max_size=None, open_timeout=3) as ws:
                    self.connections += 1
                    while not stop.is_set():
                        with contextlib.suppress(TimeoutError):
                            msg = orjson.loads(await asyncio.wait_for(ws.recv(decode=False), 0.5))
                            self.messages.append((self.connections, msg["seq"], msg["type"], time.time()))
            except Exception:  # the process behind died, or the balancer has no server yet: again
                await asyncio.sleep(0.2)

    def last_seq(self) -> int:
        return self.messages[-1][1] if self.messages else 0

    def longest_gap_s(self, start: float, end: float) -> float:
        """The longest wait between two messages that overlaps wall times ``start`` to ``end`` (the
        faults' gaps as this spectator saw them, not the quiet before the gun or after the end)."""
        walls = [m[3] for m in self.messages]
        gaps = [b - a for a, b in zip(walls, walls[1:], strict=False) if b >= start and a <= end]
        return round(max(gaps, default=0.0), 2)

    def backwards(self) -> list[tuple[int, int]]:
        """Where a message's seq was below the one before it, across reconnections: (before, after)."""
        seqs = [m[1] for m in self.messages]
        return [(a, b) for a, b in zip(seqs, seqs[1:], strict=False) if b < a]


class Rehearsal:
    """The processes of the layout, each started as an operator would and killable. A subclass (the
    cluster rehearsal, ``pursuit/rehearse_cluster.py``) sets the class attributes and its own Redis."""

    race_args: tuple[str, ...] = ()  # --race DIR for the ingestors, web processes and the simulation
    engine_args: tuple[str, ...] = ()
    engines = 2
    protocols = "concorde=mylaps,george-v=mylaps"  # ChronoTrack and MYLAPS readers through the balancer

    def __init__(self, race: Race, workdir: Path, runners: int, speed: float, seed: int) -> None:
        self.race = race
        self.workdir = Path(workdir)
        self.runners, self.speed, self.seed = runners, speed, seed
        self.redis = SentinelCluster(self.workdir / "redis")
        self.web_ports = [free_port() for _ in range(3)]
        self.ct_ports = [free_port() for _ in range(2)]
        self.ml_ports = [free_port() for _ in range(2)]
        self.balancer_port, self.ct_port, self.ml_port = free_port(), free_port(), free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.balancer_port}"

    def start(self, name: str, *args: str, cmd: list[str] | None = None) -> None:
        with (self.workdir / f"{name}.log").open("ab") as log:
            argv = cmd or [sys.executable, "-m", "pursuit.cli", *args]
            self.procs[name] = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")[-3000:]

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def ingest(self, i: int) -> None:
        self.start(
            f"ingest-{i}",
            "ingest",
            *self.race_args,
            "--host",
            "127.0.0.1",
            "--ingest-port",
            str(self.ct_ports[i]),
            "--mylaps-port",
            str(self.ml_ports[i]),
        )

    def web(self, i: int) -> None:
        self.start(
            f"web-{i}", "web", *self.race_args, "--no-engine", "--host", "127.0.0.1", "--port", str(self.web_ports[i])
        )

    def engine(self, i: int) -> None:
        self.start(f"engine-{i}", "engine", *self.engine_args)

    def start_redis(self) -> str:
        """Start Redis; the ``REDIS_URL`` the processes are given."""
        self.redis.start()
        return self.redis.url

    def stop_redis(self) -> None:
        self.redis.stop()

    def launch(self) -> None:
        """Redis and its Sentinels, the ingestors, the engines, the web processes and the balancer."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "REDIS_URL": self.start_redis(), "PURSUIT_ADMIN_TOKEN": "rehearsal"}
        for i in range(2):
            self.ingest(i)
        for i in range(self.engines):
            self.engine(i)
        for i in range(3):
            self.web(i)
        config = self.workdir / "haproxy.cfg"
        config.write_text(
            haproxy_config(self.balancer_port, self.web_ports, self.ct_port, self.ct_ports, self.ml_port, self.ml_ports)
        )
        haproxy = find_haproxy()
        if haproxy is None:
            raise RuntimeError("haproxy is not installed (Debian: apt-get install haproxy)")
        self.start("haproxy", cmd=[haproxy, "-f", str(config), "-db"])

    def simulate(self) -> None:
        self.start(
            "simulate",
            "simulate",
            *self.race_args,
            "--ingest-port",
            str(self.ct_port),
            "--mylaps-port",
            str(self.ml_port),
            "--protocols",
            self.protocols,
            "--runners",
            str(self.runners),
            "--speed",
            str(self.speed),
            "--seed",
            str(self.seed),
        )

    def stop(self) -> None:
        stop_processes(self.procs.values())
        self.stop_redis()


async def until(check: Any, timeout_s: float, what: str, every_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if value := await check():
                return value
        await asyncio.sleep(every_s)
    raise TimeoutError(f"{what}: not within {timeout_s:g} s")


async def _fault_script(r: Rehearsal, http: httpx.AsyncClient, spectators: list[Spectator]) -> dict[str, Any]:
    """The faults, in order, each measured."""
    keys = RaceKeys(r.race.id)
    redis = redis_client(r.redis.url)
    out: dict[str, Any] = {}
    try:

        async def started() -> int:
            return int((await http.get("/api/state")).json()["counts"]["started"])

        async def ticks_after(seq: int) -> bool:
            return all(s.last_seq() > seq for s in spectators)

        await until(lambda: _gt(started, r.runners // 5), 120, "runners cross the start")
        before = max(s.last_seq() for s in spectators)
        killed = time.monotonic()
        r.redis.master.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        r.redis.master.process.wait()  # type: ignore[union-attr]
        await until(lambda: ticks_after(before), 30, "ticks resume after the Redis failover")
        out["redis_failover_ticks_resume_s"] = round(time.monotonic() - killed, 2)
        r.redis.master.start()  # back as the new master's replica (the Sentinels reconfigure it)

        await until(lambda: _gt(started, r.runners // 2), 120, "more runners after the failover")
        holder = (await redis.get(keys.engine_lease)).decode()
        leader = next(n for n, p in r.procs.items() if n.startswith("engine-") and f":{p.pid}/" in holder)
        killed = time.monotonic()
        r.kill(leader)

        async def moved() -> bool:
            now = await redis.get(keys.engine_lease)
            return now is not None and now.decode() != holder

        await until(moved, 30, "the engine lease moves")
        out["engine_lease_moved_s"] = round(time.monotonic() - killed, 2)
        out["engine_killed"] = leader
        before = max(s.last_seq() for s in spectators)
        await until(lambda: ticks_after(before), 30, "ticks after the engine leader's death")
        r.engine(int(leader.rpartition("-")[2]))
        out |= await kill_busiest_web(r, http, spectators, ["/healthz"])
    finally:
        await redis.aclose()
    return out


async def kill_busiest_web(
    r: Rehearsal, http: httpx.AsyncClient, spectators: list[Spectator], health_paths: list[str]
) -> dict[str, Any]:
    """SIGKILL the web process most spectators are on (its ``feed_clients`` summed over ``health_paths``,
    one per race it serves), time until each spectator it dropped has a message through the balancer
    again, restart it."""
    clients = []
    for port in r.web_ports:
        healths = [(await http.get(f"http://127.0.0.1:{port}{path}")).json() for path in health_paths]
        clients.append(sum(int(h.get("feed_clients", 0)) for h in healths))
    victim = clients.index(max(clients))
    conns = [s.connections for s in spectators]
    r.kill(f"web-{victim}")
    killed = time.monotonic()

    async def reconnected() -> bool:
        dropped = [(s, c) for s, c in zip(spectators, conns, strict=True) if s.connections > c]
        return bool(dropped) and all(any(m[0] > c for m in s.messages) for s, c in dropped)

    await until(reconnected, 30, "the spectators of the killed web process are back through the balancer")
    back = round(time.monotonic() - killed, 2)
    r.web(victim)
    return {"web_killed_spectators_back_s": back, "web_killed": f"web-{victim}"}


async def _gt(value: Any, n: int) -> bool:
    return bool(await value() > n)


async def rehearse(race: Race, workdir: Path, runners: int = 300, speed: float = 60.0, seed: int = 5) -> dict[str, Any]:
    """Run the rehearsal; returns what it measured and the outcome against the truth."""
    r = Rehearsal(race, workdir, runners, speed, seed)
    stop = asyncio.Event()
    spectators = [Spectator(f"ws://127.0.0.1:{r.balancer_port}/ws/live") for _ in range(2)]
    tasks: list[asyncio.Task[None]] = []
    try:
        r.launch()
        async with httpx.AsyncClient(base_url=r.base, timeout=5) as http:
            await until(lambda: answers(http, "/healthz"), 90, "the web processes answer through the balancer", 0.2)
            tasks = [asyncio.create_task(s.run(stop)) for s in spectators]
            r.simulate()
            report = await _fault_script(r, http, spectators)
            simulate = r.procs["simulate"]
            await until(lambda: exited(simulate), 300, "the simulation ends", 0.2)
            if simulate.returncode != 0:
                raise RuntimeError(f"pursuit simulate failed:\n{r.log('simulate')}")
            truth = true_outcome(plan_race(race, time.time(), seed=seed, runners=runners))

            async def settled() -> dict[str, Any] | None:
                state = (await http.get("/api/state")).json()
                c = state["counts"]
                done = c["won"] + c["caught"] == runners and state["pursuer"]["status"] == "finished"
                return state if done else None

            state = await until(settled, 120, "every runner has an outcome", 0.2)
            rows = list(csv.DictReader(io.StringIO((await http.get("/api/results.csv", timeout=30)).text)))
            won = {row["bib"] for row in rows if row["status"] == "won"}
            true_won = {bib for bib, w in truth.won.items() if w}
            report |= {
                "runners": runners,
                "speed": speed,
                "true_winners": truth.winners,
                "winners": state["counts"]["won"],
                "same_winners_bib_for_bib": won == true_won,
                "missing": sorted(true_won - won)[:20],
                "extra": sorted(won - true_won)[:20],
                "started": state["counts"]["started"],
                "spectator_reconnections": [s.connections - 1 for s in spectators],
                "spectator_seq_backwards": [s.backwards() for s in spectators],
                "spectator_last_seq": [s.last_seq() for s in spectators],
            }
            return report
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        r.stop()


async def answers(http: httpx.AsyncClient, path: str) -> bool:
    return (await http.get(path)).status_code == 200


async def exited(proc: subprocess.Popen[bytes]) -> bool:
    return proc.poll() is not None
