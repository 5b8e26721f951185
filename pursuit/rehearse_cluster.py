"""``pursuit rehearse --cluster``: many races past one Redis, on one machine, with faults.

All on 127.0.0.1: a Redis Cluster of three masters and three replicas (``ClusterServers``); a World
Run of six catcher-car locations, each in its own time zone (``simulator.event.write_world_event``,
the Paris course at each); two ingestors, each serving the whole event, the readers' connections
spread over them by HAProxy; three engines in the event's pool (``pursuit engine --event``); three web
processes behind HAProxy; the simulated event (``pursuit simulate``) sped up, a spectator per race on
``/races/{id}/ws/live``. Faults, each once the race is under way and measured: SIGKILL the master
serving most races (its replica is promoted), then the engine leading most races, then the web
process most spectators are on. At the end: each race's results against the simulator's truth,
runner for runner, every passing the mats read counted in the store, and the world leaderboard.

The processes, the balancer, the spectators and the web fault are ``pursuit/rehearse.py``'s.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import redis as sync_redis
from redis.crc import key_slot

from live.race.event import Event, load_event
from live.store.connection import redis_client
from live.store.keys import RaceKeys
from live.store.pool import fair_share
from pursuit.redis_server import ClusterServers
from pursuit.rehearse import Rehearsal, Spectator, answers, exited, kill_busiest_web, until
from simulator.event import WORLD_LOCATIONS, plan_event, write_world_event
from simulator.trajectory import true_outcome

FAST_CAR = ((0, 25), (900, 40))  # km/h from the car's start: every runner caught about an hour in
TOLERANCE_M = 20.0  # a catch is interpolated between mats: within 20 m of the truth (issue 23)
PAGE = 1000  # the world leaderboard's largest page


class ClusterRehearsal(Rehearsal):
    """The cluster layout: the event's directory given to every process, three engines in its pool."""

    engines = 3

    def __init__(self, event: Event, workdir: Path, runners: int, speed: float, seed: int) -> None:
        super().__init__(event.first, workdir, runners, speed, seed)
        self.event = event
        self.cluster = ClusterServers(self.workdir / "cluster")
        self.race_args = ("--race", str(event.directory))
        self.engine_args = ("--event", str(event.directory))
        mats = [m.id for race in event.races for m in race.mats if m.id.endswith(("-concorde", "-george-v"))]
        self.protocols = ",".join(f"{m}=mylaps" for m in mats)

    @property
    def share(self) -> int:
        """The most races one engine of the pool leads once it has settled: ⌈races / engines⌉."""
        return fair_share(len(self.event.races), self.engines)

    def start_redis(self) -> str:
        self.cluster.start()
        return self.cluster.url

    def stop_redis(self) -> None:
        self.cluster.stop()

    def masters_of(self, keys: list[str]) -> list[int | None]:
        """The port of the master serving each key's slot now, as the first node that answers says
        (None: no master serves it yet)."""
        for node in self.cluster.nodes:
            try:
                with sync_redis.Redis(port=node.port, socket_timeout=1) as client:
                    served = client.execute_command("CLUSTER", "SLOTS")
            except sync_redis.RedisError:
                continue  # the node killed
            ranges = [(int(lo), int(hi), int(master[1])) for lo, hi, master, *_ in served]
            slots = [key_slot(k.encode()) for k in keys]
            return [next((port for lo, hi, port in ranges if lo <= s <= hi), None) for s in slots]
        return [None] * len(keys)


@dataclass
class Truth:
    """The simulator's truth of every race: where the car passed each runner, the crossings the mats read."""

    caught_at_m: dict[str, dict[str, float]] = field(default_factory=dict)  # race -> bib -> m
    crossings: dict[str, Counter[str]] = field(default_factory=dict)  # race -> "bib|mat" -> crossings read


def event_truth(event: Event, runners: int, seed: int) -> Truth:
    """What ``pursuit simulate --race EVENT --runners N --seed S`` plays, as its plan says (the catch
    distances and crossings do not depend on when the gun fires)."""
    truth = Truth()
    for race, plan in plan_event(event, time.time(), seed=seed, runners=runners):
        truth.caught_at_m[race.id] = true_outcome(plan).caught_at_m
        read = {r.chip for r in plan.reads}
        truth.crossings[race.id] = Counter(
            f"{c.bib}|{c.mat}" for c in plan.crossing_list if math.isfinite(c.time) and c.chip in read
        )
    return truth


async def lease_holders(redis: Any, keys: dict[str, RaceKeys]) -> dict[str, int | None]:
    """The pid holding each race's engine lease (tokens are ``host:pid/hex``), None where free."""
    out: dict[str, int | None] = {}
    for race, k in keys.items():
        token = await redis.get(k.engine_lease)
        out[race] = int(token.decode().rsplit("/", 1)[0].rsplit(":", 1)[1]) if token else None
    return out


async def _counted(http: httpx.AsyncClient, what: str, n: int) -> bool:
    races = (await http.get("/api/event")).json()["races"]
    return sum(int(r["counts"][what]) for r in races) >= n


async def _fault_script(
    r: ClusterRehearsal, http: httpx.AsyncClient, spectators: dict[str, Spectator]
) -> dict[str, Any]:
    """The master serving most races, the engine leading most, the web process most spectators are on."""
    keys = {race.id: RaceKeys(race.id) for race in r.event.races}
    total = r.runners * len(keys)
    out: dict[str, Any] = {}
    redis = redis_client(r.cluster.url)
    try:
        await until(lambda: _counted(http, "started", total), 120, "every location's field is off")
        masters = await asyncio.to_thread(r.masters_of, [k.journal for k in keys.values()])
        port = max(set(masters), key=masters.count)
        hit = [race for race, p in zip(keys, masters, strict=True) if p == port]
        node = r.cluster.server_on(port)  # type: ignore[arg-type]
        out["faults_wall"] = [time.time()]
        before = {race: spectators[race].last_seq() for race in hit}
        assert node.process is not None
        killed = time.monotonic()
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()

        async def promoted() -> bool:
            now = await asyncio.to_thread(r.masters_of, [keys[hit[0]].journal])
            return now[0] not in (None, port)

        await until(promoted, 30, "a replica takes over the killed master's slots", 0.1)
        out["redis_master_killed"] = {"port": port, "races": hit}
        out["redis_replica_promoted_s"] = round(time.monotonic() - killed, 2)
        resumed: dict[str, float] = {}

        async def ticked() -> bool:
            for race, seq in before.items():
                if race not in resumed and spectators[race].last_seq() > seq:
                    resumed[race] = round(time.monotonic() - killed, 2)
            return len(resumed) == len(before)

        await until(ticked, 60, "ticks resume for the killed master's races")
        out["redis_failover_ticks_resume_s"] = resumed  # per race: its spectator's first tick after the kill
        await asyncio.to_thread(node.start)  # back as its successor's replica
        engines = {r.procs[f"engine-{i}"].pid: i for i in range(r.engines)}

        async def pool_settled() -> dict[str, int | None] | None:
            """Every race led by a live engine, none leading more than its share, for a whole second."""
            first = await lease_holders(redis, keys)
            await asyncio.sleep(1.0)
            now = await lease_holders(redis, keys)
            spread = Counter(now.values())
            fair = None not in spread and set(spread) <= set(engines) and max(spread.values()) <= r.share
            return now if now == first and fair else None

        await until(pool_settled, 60, "the engine pool settles after the failover", 0.2)
        out["engine_pool_settled_s"] = round(time.monotonic() - killed, 2)  # after the master's kill
        await until(lambda: _counted(http, "caught", total // 10), 120, "the cars catch runners", 0.2)
        holders = await lease_holders(redis, keys)
        victim = max(engines, key=list(holders.values()).count)
        orphans = [race for race, pid in holders.items() if pid == victim]
        killed = time.monotonic()
        r.kill(f"engine-{engines[victim]}")
        taken: dict[str, float] = {}

        async def led_again() -> bool:
            for race, pid in (await lease_holders(redis, keys)).items():
                if race in orphans and race not in taken and pid not in (None, victim):
                    taken[race] = round(time.monotonic() - killed, 2)
            return len(taken) == len(orphans)

        await until(led_again, 30, "the killed engine's races are led again")
        out["engine_killed"] = {"name": f"engine-{engines[victim]}", "races": orphans}
        out["engine_takeover_s"] = taken
        r.engine(engines[victim])
        paths = [f"/races/{race}/healthz" for race in keys]
        out |= await kill_busiest_web(r, http, list(spectators.values()), paths)
        out["faults_wall"].append(time.time())
    finally:
        await redis.aclose()
    return out


async def world_board(http: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    """The whole world leaderboard (every page) for ``params`` (``sex``, ``nation``)."""
    first = (await http.get("/api/event/leaderboard", params={**params, "limit": PAGE})).json()
    rows = list(first["runners"])
    while len(rows) < first["total"]:
        page: dict[str, str | int] = {**params, "limit": PAGE, "offset": len(rows)}
        rows += (await http.get("/api/event/leaderboard", params=page, timeout=30)).json()["runners"]
    return {**first, "runners": rows}


def against_truth(
    truth: Truth, results: dict[str, list[dict[str, str]]], stored: dict[str, Counter[str]]
) -> dict[str, Any]:
    """Each race's results CSV rows and stored crossings against the truth: the runners, their status,
    the catch distances' errors, the passings lost (read by a mat, not in the store) and extra (in the
    store, never read: a crossing counted twice)."""
    errors, wrong, lost, extra_passings = [], {}, {}, {}
    for race, true_at in truth.caught_at_m.items():
        rows = {row["bib"]: row for row in results[race]}
        ran = {bib for bib, row in rows.items() if row["status"] != "registered"}
        missing, extra = sorted(set(true_at) - ran), sorted(ran - set(true_at))
        not_caught = sorted(bib for bib in set(true_at) & ran if rows[bib]["status"] != "caught")
        if missing or extra or not_caught:
            wrong[race] = {"missing": missing[:10], "extra": extra[:10], "not_caught": not_caught[:10]}
        errors += [
            abs(float(rows[b]["caught_at_m"]) - m) for b, m in true_at.items() if rows.get(b, {}).get("caught_at_m")
        ]
        lost[race] = sum((truth.crossings[race] - stored[race]).values())
        extra_passings[race] = sum((stored[race] - truth.crossings[race]).values())
    error = np.array(errors) if errors else np.array([math.inf])
    return {
        "races_wrong": wrong,
        "catch_error_m_p50_p99_max": np.percentile(error, [50, 99, 100]).round(1).tolist(),
        "catches_within_tolerance": round(float(np.mean(error <= TOLERANCE_M)), 4),
        "passings_lost": lost,
        "passings_extra": extra_passings,
        "passings_read": sum(sum(c.values()) for c in truth.crossings.values()),
    }


async def stored_crossings(url: str, event: Event) -> dict[str, Counter[str]]:
    """Every race's crossings as the store holds them: ``bib|mat`` -> how many."""
    redis = redis_client(url)
    try:
        out = {}
        for race in event.races:
            raw = await redis.hgetall(RaceKeys(race.id).crossings)
            out[race.id] = Counter({k.decode(): len(v.decode().split(",")) for k, v in raw.items()})
        return out
    finally:
        await redis.aclose()


@dataclass
class ClusterOutcome:
    """What the cluster rehearsal measured (``report``, JSON), and its world leaderboard with the truth."""

    report: dict[str, Any]
    event: Event
    truth: Truth
    board: dict[str, Any]


async def rehearse_cluster(
    workdir: Path, runners: int = 1000, speed: float = 120.0, seed: int = 5, locations: int = 6
) -> ClusterOutcome:
    """Run the cluster rehearsal on a World Run of ``locations`` locations of ``runners`` each."""
    workdir = Path(workdir)
    event = load_event(
        write_world_event(workdir / "event", WORLD_LOCATIONS[:locations], runners=runners, schedule=FAST_CAR)
    )
    r = ClusterRehearsal(event, workdir, runners, speed, seed)
    stop = asyncio.Event()
    spectators = {
        race.id: Spectator(f"ws://127.0.0.1:{r.balancer_port}/races/{race.id}/ws/live") for race in event.races
    }
    tasks: list[asyncio.Task[None]] = []
    try:
        started = time.monotonic()
        r.launch()
        async with httpx.AsyncClient(base_url=r.base, timeout=10) as http:
            await until(lambda: answers(http, "/api/event"), 120, "the web processes answer through the balancer", 0.2)
            launched_s = round(time.monotonic() - started, 1)
            tasks = [asyncio.create_task(s.run(stop)) for s in spectators.values()]
            r.simulate()
            report = await _fault_script(r, http, spectators)
            simulate = r.procs["simulate"]
            await until(lambda: exited(simulate), 600, "the simulation ends", 0.2)
            if simulate.returncode != 0:
                raise RuntimeError(f"pursuit simulate failed:\n{r.log('simulate')}")
            total = runners * len(event.races)

            async def settled() -> dict[str, Any] | None:
                board = await world_board(http)
                done = board["total"] == total and all(row["status"] == "caught" for row in board["runners"])
                return board if done else None

            board = await until(settled, 120, "every runner of every location caught", 0.5)
            results = {}
            for race in event.races:
                text = (await http.get(f"/races/{race.id}/api/results.csv", timeout=30)).text
                results[race.id] = list(csv.DictReader(io.StringIO(text)))
            start, end = report.pop("faults_wall")
            truth = event_truth(event, runners, seed)
            report |= against_truth(truth, results, await stored_crossings(r.cluster.url, event))
            report |= {
                "races": len(event.races),
                "runners_per_race": runners,
                "speed": speed,
                "layout_up_s": launched_s,
                "spectator_longest_gap_in_faults_s": {
                    race: s.longest_gap_s(start, end) for race, s in spectators.items()
                },
                "spectator_reconnections": sum(s.connections - 1 for s in spectators.values()),
                "spectator_seq_backwards": {race: s.backwards() for race, s in spectators.items() if s.backwards()},
            }
            return ClusterOutcome(report, event, truth, board)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        r.stop()
