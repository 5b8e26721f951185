"""``pursuit bench``: the performance figures of SPEC §8, as JSON, each with a baseline measured in
the same run on the same machine so it is also a ratio (the machine is shared and noisy)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from live.chase.snapshot import Snapshot
from live.engine.engine import LiveEngine
from live.race.race import Race
from live.race.race_file import load_race
from pursuit.bench.common import PARIS, Server, machine, median_ms, race_with_runners
from pursuit.bench.fanout_run import fanout_targets, run_clients

if TYPE_CHECKING:
    from web.feed import LiveFeed

FANOUT_TARGET = "5,000 clients at 1 Hz with p99 delivery <= 500 ms; <= 5 KB/s per spectator; snapshot <= 200 KB gzipped"
TRAFFIC_CLIENTS = 10
SNAPSHOT_EVERY_S = 10.0


class _Demo(Server):
    """``pursuit demo`` in a process of its own (private Redis, ingestor, web, simulator) on a free port."""

    def __init__(self, workdir: Path, speed: float, race_dir: Path | None = None) -> None:
        from pursuit.demo import LEAD_IN_WALL_S
        from pursuit.redis_server import free_port

        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws/live"
        cmd = [sys.executable, "-m", "pursuit.cli", "demo", "--speed", f"{speed:g}", "--port", str(self.port)]
        if race_dir is not None:
            cmd += ["--race", str(race_dir)]
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        super().__init__(cmd, workdir, "dashboard:", env)  # the race starts LEAD_IN_WALL_S after that line
        self.first_gun_wall = time.time() + LEAD_IN_WALL_S


class _Bare(Server):
    """``pursuit.bench.fanout_bare``: the least a fan-out server can do on this machine, ticks of ``tick_bytes``."""

    def __init__(self, workdir: Path, tick_bytes: int) -> None:
        from pursuit.redis_server import free_port

        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws/live"
        super().__init__(
            [sys.executable, "-m", "pursuit.bench.fanout_bare", str(self.port), str(tick_bytes)], workdir, "listening"
        )


def _ratios(run: dict[str, Any], floor: dict[str, Any]) -> dict[str, float | None]:
    """The web process's figures over the bare server's, for the same clients in the same bench."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else round(a / b, 2)

    return {
        "delay_from_server_send_p99": ratio(
            run["delay_from_server_send"]["p99_ms"], floor["delay_from_server_send"]["p99_ms"]
        ),
        "server_write_mean": ratio(
            run["server_fanout_per_tick"].get("write_mean_ms"), floor["server_fanout_per_tick"].get("write_mean_ms")
        ),
    }


SNAPSHOT_SAMPLE_S = 60.0
GZIP_LEVELS = (1, 3, 6, 9)


def _snapshot_gzip(feed: Any, samples: list[dict[str, Any]]) -> None:
    """The snapshot at the feed's seq as served (JSON, and its gzip as sent to ``?encoding=gzip``
    clients), with the time to build each, appended to ``samples``."""
    from web.frames import SNAPSHOT_GZIP_LEVEL

    t = time.perf_counter()
    frame = feed.snapshot_frame()
    json_ms = (time.perf_counter() - t) * 1000
    sent = frame.gzipped().payload
    gzip_ms = median_ms(functools.partial(gzip.compress, frame.payload, SNAPSHOT_GZIP_LEVEL, mtime=0), 3)
    samples.append(
        {
            "bytes": len(frame.payload),
            "gzip_bytes": len(sent),
            "json_ms": json_ms,
            "gzip_ms": gzip_ms,
            "payload": frame.payload,
        }
    )


def _gzip_levels(payload: bytes) -> dict[str, dict[str, float]]:
    """Size and time of a snapshot gzipped at each of ``GZIP_LEVELS`` (median of 5)."""
    return {
        str(level): {
            "bytes": len(gzip.compress(payload, level, mtime=0)),
            "ms": round(median_ms(functools.partial(gzip.compress, payload, level, mtime=0), 5), 1),
        }
        for level in GZIP_LEVELS
    }


def _gzip_by_array(payload: bytes) -> dict[str, int]:
    """Each per-runner array of a snapshot gzipped alone (``SNAPSHOT_GZIP_LEVEL``): where its bytes go."""
    import orjson

    from web.frames import SNAPSHOT_GZIP_LEVEL

    body = orjson.loads(payload)
    n = len(body["status"])
    return {
        key: len(gzip.compress(orjson.dumps(value), SNAPSHOT_GZIP_LEVEL, mtime=0))
        for key, value in body.items()
        if isinstance(value, list) and len(value) == n
    }


def race_traffic(
    race: Race,
    tick_s: float = 1.0,
    after_pursuer_s: float = 600.0,
    position_resend_m: float | None = -1.0,
    watch: Callable[[LiveFeed, Snapshot], None] | None = None,
) -> dict[str, Any]:
    """Every tick the live feed would send during the simulated race (``simulator.trajectory``) at real
    time, computed in virtual time with no sockets: from the first gun to ``after_pursuer_s`` after the
    pursuer's finish, one tick every ``tick_s`` of race, the engine and the feed exactly as served.
    Bytes per spectator both for a plain client and one on ``?encoding=gzip`` (a snapshot sent in a
    tick's place reaches him gzipped); every ``SNAPSHOT_SAMPLE_S`` of race, the snapshot a joining
    spectator would get, JSON and gzip, with the time the feed takes to build and to compress it.
    ``position_resend_m``: the feed's rule for resending a runner's position (``web.feed_rows``; None:
    at every passing, the rule before positions were mirrored; the default: as served). ``watch``, if
    given, gets the feed after every tick, and that tick's state."""

    from simulator.trajectory import plan_race
    from web.feed import LiveFeed
    from web.feed_rows import ChangedRows
    from web.frames import SNAPSHOT_GZIP_LEVEL

    t0 = 1_700_000_000.0
    plan = plan_race(race, t0)
    engine = LiveEngine(race, store=None)  # compute() needs no I/O
    feed = LiveFeed(engine, runner_detail=lambda bib: None)
    if position_resend_m is None or position_resend_m >= 0:
        feed.rows = ChangedRows(race.distance_m, tuple(tp.at_m for tp in race.timing_points), position_resend_m)
    is_runner = plan.bibs != race.require_pursuer("the fan-out benchmark").bib
    rows = np.array([engine.row[b] for b in plan.bibs[is_runner]])
    crossings = np.empty_like(plan.crossings[is_runner])
    crossings[rows] = plan.crossings[is_runner]
    pursuer = plan.crossings[~is_runner][0]
    guns = {(f"pen:{g.pen}" if g.pen else "pursuer"): g.time for g in plan.guns}
    sizes, gzip_sizes = [], []  # each tick as a plain client and as a gzip client gets it
    snapshots: list[dict[str, Any]] = []
    every = max(1, round(SNAPSHOT_SAMPLE_S / tick_s))

    async def run() -> None:
        now = t0
        while now <= plan.pursuer_finish + after_pursuer_s:
            engine.guns = {k: v for k, v in guns.items() if v <= now}
            engine.times = np.where(crossings <= now, crossings, np.nan)
            engine.pursuer_times = np.where(pursuer <= now, pursuer, np.nan)
            snap = engine.compute(now)
            await feed.on_tick(snap)
            tick = feed.tick_frame
            if watch is not None:
                watch(feed, snap)
            sizes.append(len(tick.payload))
            gzip_sizes.append(len(tick.gzipped().payload) if tick.snapshot else len(tick.payload))
            if len(sizes) % every == 0:
                _snapshot_gzip(feed, snapshots)
            now += tick_s

    asyncio.run(run())
    _snapshot_gzip(feed, snapshots)
    hardest = max(snapshots, key=lambda x: x["gzip_bytes"])  # the least compressible

    def spread(key: str, digits: int | None = None) -> dict[str, float]:
        values = [x[key] for x in snapshots]
        return {"p50": round(statistics.median(values), digits), "max": round(max(values), digits)}

    return {
        "race_seconds": round(len(sizes) * tick_s),
        "ticks": len(sizes),
        "bytes_per_client_per_s": round(sum(sizes) / (len(sizes) * tick_s)),
        "bytes_per_gzip_client_per_s": round(sum(gzip_sizes) / (len(gzip_sizes) * tick_s)),
        "tick_bytes": {
            "p50": round(float(np.percentile(sizes, 50))),
            "p99": round(float(np.percentile(sizes, 99))),
            "max": max(sizes),
            "max_gzip_client": max(gzip_sizes),
            "over_100_kb": sum(size > 100_000 for size in sizes),
        },
        "final_snapshot_bytes": int(snapshots[-1]["bytes"]),
        "final_snapshot_gzip_bytes": int(snapshots[-1]["gzip_bytes"]),  # as sent to ?encoding=gzip
        "snapshot": {
            "note": f"every {SNAPSHOT_SAMPLE_S:g} s of race, the snapshot a joining spectator gets: JSON, and as sent "
            f"to ?encoding=gzip (level {SNAPSHOT_GZIP_LEVEL}, compressed once per snapshot)",
            "sampled": len(snapshots),
            "gzip_level": SNAPSHOT_GZIP_LEVEL,
            "bytes": spread("bytes"),
            "gzip_bytes": spread("gzip_bytes"),
            "json_ms": spread("json_ms", 1),
            "gzip_ms": spread("gzip_ms", 1),
            "least_compressible_at_gzip_levels": {"bytes": int(hardest["bytes"]), **_gzip_levels(hardest["payload"])},
            "least_compressible_by_array": _gzip_by_array(hardest["payload"]),
        },
    }


def bench_fanout(
    clients: tuple[int, ...] = (1_000, 5_000),
    seconds: float = 20.0,
    speed: float = 10.0,
    procs: int = 2,
    traffic_runners: int = 40_000,
    traffic_seconds: float | None = None,
) -> dict[str, Any]:
    """Spectators on the live feed of one web process while a simulated race runs (``pursuit demo``).

    First the default race: one client alone (the baseline), then each of ``clients`` spread over
    ``procs`` client processes; then the same clients on a bare WebSocket server that does nothing but
    write one ready frame to every connection each second (``pursuit.bench.fanout_bare``), the floor this
    machine sets, to which every figure is also a ratio. Then, if ``traffic_runners``, a generated
    field of that size on the same course: a few spectators from the first gun until ten minutes after
    the pursuer's finish (or ``traffic_seconds``), for the bytes each receives and the snapshot's size.
    The web process and the clients are separate processes sharing this machine's cores; the web
    process's connection cap is its own (``PURSUIT_MAX_CONNECTIONS`` passes through).

    Whatever fails is reported, never raised: a part that could not run is in ``failures`` with what
    it met, and what was measured before it is kept; ``targets`` says which targets were met.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the child processes
    out: dict[str, Any] = {
        "bench": "fanout",
        "machine": machine(),
        "target": FANOUT_TARGET,
        "seconds": seconds,
        "open_files_limit": hard,
        "results": [],
    }
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        default = load_race(PARIS)
        out["race"] = f"{default.id} ({len(default.participants) - 1:,} runners) simulated at {speed:g}x"
        with _part(failures, "the web process (pursuit demo)"):
            demo = _Demo(Path(tmp) / "demo", speed)
            try:
                time.sleep(max(0.0, demo.first_gun_wall - time.time()) + 3)  # ticks that carry passings
                out["baseline_one_client"] = run_clients(demo, 1, seconds, 1, SNAPSHOT_EVERY_S)
                for n in clients:
                    out["results"].append(run_clients(demo, n, seconds, procs))
            finally:
                demo.close()
        out["bare_server"] = {
            "note": "the same clients on a bare WebSocket server (pursuit.bench.fanout_bare) that writes one "
            "ready frame of the mean tick size they got from the demo to every connection each second: "
            "the floor here",
            "results": [],
        }
        for run in out["results"]:
            ticks_per_client = run["frames_delivered_per_s"] / max(run["held_to_the_end"], 1)
            tick_bytes = round(run["bytes_per_client_per_s"] / ticks_per_client) if ticks_per_client else 1_000
            with _part(failures, f"the bare server, {run['clients']:,} clients"):
                bare = _Bare(Path(tmp) / "bare", tick_bytes)
                try:
                    floor = {"tick_bytes": tick_bytes, **run_clients(bare, run["clients"], seconds, procs)}
                finally:
                    bare.close()
                out["bare_server"]["results"].append(floor)
                run["ratio_to_bare_server"] = _ratios(run, floor)
        if traffic_runners:
            with _part(failures, f"the traffic of a {traffic_runners:,}-runner race"):
                out["traffic"] = _traffic(Path(tmp), traffic_runners, traffic_seconds, speed)
    for run in [out.get("baseline_one_client"), *out["results"], *out["bare_server"]["results"]]:
        for failure in (run or {}).get("failures", []):
            failures.append(f"{run['clients']:,} clients: {failure}")
    out["targets"] = fanout_targets(out)
    out["targets_missed"] = [name for name, t in out["targets"].items() if not t["met"]]
    out["failures"] = failures
    return out


@contextlib.contextmanager
def _part(failures: list[str], what: str) -> Iterator[None]:
    """Run one part of the bench; if it raises, say so in ``failures`` and go on with the next."""
    try:
        yield
    except Exception as exc:  # reported in the JSON, whatever it was
        failures.append(f"{what}: {type(exc).__name__}: {exc}")


def _traffic(tmp: Path, traffic_runners: int, traffic_seconds: float | None, speed: float) -> dict[str, Any]:
    """Bytes per spectator and the snapshot's size during a generated race of ``traffic_runners``."""
    race = race_with_runners(traffic_runners, tmp / "traffic-race")
    pens_s = max(p.head_start_s or 0.0 for p in race.pens)
    pace = race.require_pursuer("the fan-out benchmark").pace_s_per_km
    window = traffic_seconds or (pens_s + pace * race.distance_m / 1000 + 600) / speed
    demo = _Demo(tmp / "traffic", speed, tmp / "traffic-race")
    try:
        run = run_clients(demo, TRAFFIC_CLIENTS, window, 1, SNAPSHOT_EVERY_S)
    finally:
        demo.close()
    return {
        "race": f"{race.id} course, {traffic_runners:,} generated runners",
        "real_time_in_virtual_time": race_traffic(race),
        f"served_at_{speed:g}x": {
            "note": f"each 1 s tick carries {speed:g} s of race: an upper bound on a real-time race's bytes/s",
            "race_seconds_covered": round(window * speed),
            **run,
        },
    }


__all__ = ["bench_fanout"]
