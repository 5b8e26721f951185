"""``pursuit bench``: the performance figures of SPEC §8, as JSON, each with a baseline measured in
the same run on the same machine so it is also a ratio (the machine is shared and noisy)."""

from __future__ import annotations

import asyncio
import functools
import gzip
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from live.engine.engine import LiveEngine
from live.race.race import Race
from live.race.race_file import load_race
from pursuit.bench.common import PARIS, Server, busy_s, cpu_s, machine, median_ms, percentiles_ms, race_with_runners

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
        super().__init__([sys.executable, "-m", "pursuit.bench.fanout_bare", str(self.port), str(tick_bytes)], workdir,
                         "listening")  # fmt: skip


def _feed_times(port: int) -> dict[str, dict[str, Any]]:
    """The web process's fan-out histograms from its ``/metrics``: per name, ``count``, ``sum`` and
    cumulative ``buckets`` as ``(upper bound s, ticks)``."""
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    out: dict[str, dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in ("pursuit_feed_build_seconds", "pursuit_feed_write_seconds"):
            continue
        h: dict[str, Any] = {"buckets": []}
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                h["buckets"].append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_count"):
                h["count"] = sample.value
            elif sample.name.endswith("_sum"):
                h["sum"] = sample.value
        out[family.name] = h
    return out


def _feed_times_of(ports: list[int]) -> dict[str, dict[str, Any]]:
    """The fan-out histograms of several web processes, added together (ticks counted per process)."""
    scraped = [_feed_times(port) for port in ports]
    out = scraped[0]
    for more in scraped[1:]:
        for name, h in more.items():
            total = out[name]
            total["count"] += h["count"]
            total["sum"] += h["sum"]
            total["buckets"] = [(le, n + m) for (le, n), (_, m) in zip(total["buckets"], h["buckets"], strict=True)]
    return out


def _fanout_per_tick(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], clients: int
                     ) -> dict[str, Any]:  # fmt: skip
    """What the server's own ticks took between two scrapes: mean build and write time per tick, and the
    histogram bucket bound under which 99 % of the writes fell."""

    def delta(name: str) -> dict[str, Any]:
        a, b = after[name], before[name]
        buckets = [(le, n - m) for (le, n), (_, m) in zip(a["buckets"], b["buckets"], strict=True)]
        return {"count": a["count"] - b["count"], "sum": a["sum"] - b["sum"], "buckets": buckets}

    build, write = delta("pursuit_feed_build_seconds"), delta("pursuit_feed_write_seconds")
    ticks = int(write["count"])
    if not ticks:
        return {"ticks": 0}
    p99 = next(le for le, n in write["buckets"] if n >= 0.99 * ticks)
    write_ms = write["sum"] / ticks * 1000
    return {
        "ticks": ticks, "build_mean_ms": round(build["sum"] / ticks * 1000, 2), "write_mean_ms": round(write_ms, 2),
        "write_p99_ms_at_most": None if math.isinf(p99) else round(p99 * 1000, 1),
        "write_per_client_us": round(write_ms * 1000 / max(clients, 1), 2),
    }  # fmt: skip


def _ratios(run: dict[str, Any], floor: dict[str, Any]) -> dict[str, float | None]:
    """The web process's figures over the bare server's, for the same clients in the same bench."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else round(a / b, 1)

    return {
        "delay_from_server_send_p99": ratio(run["delay_from_server_send"]["p99_ms"],
                                            floor["delay_from_server_send"]["p99_ms"]),
        "server_write_mean": ratio(run["server_fanout_per_tick"].get("write_mean_ms"),
                                   floor["server_fanout_per_tick"].get("write_mean_ms")),
    }  # fmt: skip


def _run_clients(demo: Server, n: int, seconds: float, procs: int, snapshot_every_s: float | None = None
                 ) -> dict[str, Any]:  # fmt: skip
    """N spectators in ``procs`` client processes, measured over the same window of ``seconds``."""
    import json

    workdir = demo.workdir
    procs = max(1, min(procs, n))
    shares = [n // procs + (i < n % procs) for i in range(procs)]
    clients = []
    for i, share in enumerate(shares):
        cmd = [sys.executable, "-m", "pursuit.bench.fanout_clients", demo.url, str(share), str(seconds),
               "--out", str(workdir / f"clients-{n}-{i}.json")]  # fmt: skip
        if snapshot_every_s and i == 0:
            cmd += ["--snapshot-every", str(snapshot_every_s)]
        clients.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for c in clients:  # each prints a line once its spectators are connected and have their snapshot
        assert c.stdout is not None
        c.stdout.readline()
    start = time.time() + 0.5
    for c in clients:
        assert c.stdin is not None
        c.stdin.write(f"{start!r}\n")
        c.stdin.close()
    time.sleep(max(0.0, start - time.time()))
    pids = getattr(demo, "server_pids", None) or [demo.process.pid]  # the balanced layout: its web processes
    ports = getattr(demo, "metrics_ports", None) or [demo.port]
    load_before, server_cpu, busy = os.getloadavg(), sum(cpu_s(p) for p in pids), busy_s()
    times_before = _feed_times_of(ports)
    time.sleep(max(0.0, start + seconds - time.time()))
    server_cpu, busy = sum(cpu_s(p) for p in pids) - server_cpu, busy_s() - busy
    load_after = os.getloadavg()
    times_after = _feed_times_of(ports)
    outs = []
    for i, c in enumerate(clients):
        c.wait(timeout=seconds + 120)
        assert c.stdout is not None
        c.stdout.close()
        outs.append(json.loads((workdir / f"clients-{n}-{i}.json").read_bytes()))

    held = sum(o["held_to_the_end"] for o in outs)
    arrivals: dict[str, list[float]] = {}
    for o in outs:
        for seq, ts in o["arrivals"].items():
            arrivals.setdefault(seq, []).extend(ts)
    # the first and last ticks of the window may reach only part of the clients: keep the complete ones
    complete = [ts for ts in arrivals.values() if len(ts) >= 0.9 * held]
    spread = [t - min(ts) for ts in complete for t in ts]
    from_sent = [d / 1000 for o in outs for d in o["sent_delays_ms"]]
    frames = sum(o["frames"] for o in outs)
    result: dict[str, Any] = {
        "clients": n, "client_processes": procs, "connected": sum(o["connected"] for o in outs),
        "held_to_the_end": held, "failed": sum(o["failed"] for o in outs), "ticks_in_window": len(complete),
        "frames_delivered_per_s": round(frames / seconds, 1),
        "delay_from_first_arrival": percentiles_ms(spread),
        "delay_from_server_send": percentiles_ms(from_sent),
        "bytes_per_client_per_s": round(sum(o["bytes"] for o in outs) / max(held, 1) / seconds, 1),
        "cpu_s_per_s": {"server": round(server_cpu / seconds, 2),
                        "clients": round(sum(o["cpu_s"] for o in outs) / seconds, 2),
                        "whole_machine": round(busy / seconds, 2)},
        "loadavg_1m": [round(load_before[0], 2), round(load_after[0], 2)],
        "server_fanout_per_tick": _fanout_per_tick(times_before, times_after, held),
    }  # fmt: skip
    probe = outs[0]
    if probe["probe_tick_bytes"] and snapshot_every_s:
        ticks = probe["probe_tick_bytes"]
        result["one_client_tick_bytes"] = {
            "mean": round(float(np.mean(ticks))), "p99": round(float(np.percentile(ticks, 99))), "max": max(ticks),
            "ticks": len(ticks),
        }  # fmt: skip
    if probe["snapshots"]:
        raw, gz = max(probe["snapshots"])
        result["snapshot"] = {"largest_bytes": raw, "largest_gzip_bytes": gz, "taken": len(probe["snapshots"])}
    return result


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
    samples.append({"bytes": len(frame.payload), "gzip_bytes": len(sent), "json_ms": json_ms, "gzip_ms": gzip_ms,
                    "payload": frame.payload})  # fmt: skip


def _gzip_levels(payload: bytes) -> dict[str, dict[str, float]]:
    """Size and time of a snapshot gzipped at each of ``GZIP_LEVELS`` (median of 5)."""
    return {
        str(level): {"bytes": len(gzip.compress(payload, level, mtime=0)),
                     "ms": round(median_ms(functools.partial(gzip.compress, payload, level, mtime=0), 5), 1)}
        for level in GZIP_LEVELS
    }  # fmt: skip


def race_traffic(race: Race, tick_s: float = 1.0, after_pursuer_s: float = 600.0) -> dict[str, Any]:
    """Every tick the live feed would send during the simulated race (``simulator.trajectory``) at real
    time, computed in virtual time with no sockets: from the first gun to ``after_pursuer_s`` after the
    pursuer's finish, one tick every ``tick_s`` of race, the engine and the feed exactly as served.
    Bytes per spectator both for a plain client and one on ``?encoding=gzip`` (a snapshot sent in a
    tick's place reaches him gzipped); every ``SNAPSHOT_SAMPLE_S`` of race, the snapshot a joining
    spectator would get, JSON and gzip, with the time the feed takes to build and to compress it."""

    from simulator.trajectory import plan_race
    from web.feed import LiveFeed
    from web.frames import SNAPSHOT_GZIP_LEVEL

    t0 = 1_700_000_000.0
    plan = plan_race(race, t0)
    engine = LiveEngine(race, store=None)  # compute() needs no I/O
    feed = LiveFeed(engine, runner_detail=lambda bib: None)
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
            await feed.on_tick(engine.compute(now))
            tick = feed.tick_frame
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
        "race_seconds": round(len(sizes) * tick_s), "ticks": len(sizes),
        "bytes_per_client_per_s": round(sum(sizes) / (len(sizes) * tick_s)),
        "bytes_per_gzip_client_per_s": round(sum(gzip_sizes) / (len(gzip_sizes) * tick_s)),
        "tick_bytes": {"p50": round(float(np.percentile(sizes, 50))), "p99": round(float(np.percentile(sizes, 99))),
                       "max": max(sizes), "max_gzip_client": max(gzip_sizes),
                       "over_100_kb": sum(size > 100_000 for size in sizes)},
        "final_snapshot_bytes": int(snapshots[-1]["bytes"]),
        "final_snapshot_gzip_bytes": int(snapshots[-1]["gzip_bytes"]),  # as sent to ?encoding=gzip
        "snapshot": {
            "note": f"every {SNAPSHOT_SAMPLE_S:g} s of race, the snapshot a joining spectator gets: JSON, and as sent "
                    f"to ?encoding=gzip (level {SNAPSHOT_GZIP_LEVEL}, compressed once per snapshot)",
            "sampled": len(snapshots), "gzip_level": SNAPSHOT_GZIP_LEVEL,
            "bytes": spread("bytes"), "gzip_bytes": spread("gzip_bytes"),
            "json_ms": spread("json_ms", 1), "gzip_ms": spread("gzip_ms", 1),
            "least_compressible_at_gzip_levels": {"bytes": int(hardest["bytes"]),
                                                  **_gzip_levels(hardest["payload"])},
        },
    }  # fmt: skip


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
    The web process and the clients are separate processes sharing this machine's cores.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the child processes
    out: dict[str, Any] = {"bench": "fanout", "machine": machine(), "target": FANOUT_TARGET, "seconds": seconds}
    with tempfile.TemporaryDirectory() as tmp:
        default = load_race(PARIS)
        demo = _Demo(Path(tmp) / "demo", speed)
        try:
            time.sleep(max(0.0, demo.first_gun_wall - time.time()) + 3)  # ticks that carry passings
            out["race"] = f"{default.id} ({len(default.participants) - 1:,} runners) simulated at {speed:g}x"
            out["baseline_one_client"] = _run_clients(demo, 1, seconds, 1, SNAPSHOT_EVERY_S)
            out["results"] = [_run_clients(demo, n, seconds, procs) for n in clients]
        finally:
            demo.close()
        out["bare_server"] = {
            "note": "the same clients on a bare WebSocket server (pursuit.bench.fanout_bare) that writes one "
                    "ready frame of the mean tick size they got from the demo to every connection each second: "
                    "the floor here",
            "results": [],
        }  # fmt: skip
        for run in out["results"]:
            ticks_per_client = run["frames_delivered_per_s"] / max(run["held_to_the_end"], 1)
            tick_bytes = round(run["bytes_per_client_per_s"] / ticks_per_client) if ticks_per_client else 1_000
            bare = _Bare(Path(tmp) / "bare", tick_bytes)
            try:
                floor = {"tick_bytes": tick_bytes, **_run_clients(bare, run["clients"], seconds, procs)}
            finally:
                bare.close()
            out["bare_server"]["results"].append(floor)
            run["ratio_to_bare_server"] = _ratios(run, floor)
        if traffic_runners:
            race = race_with_runners(traffic_runners, Path(tmp) / "traffic-race")
            pens_s = max(p.head_start_s or 0.0 for p in race.pens)
            pace = race.require_pursuer("the fan-out benchmark").pace_s_per_km
            window = traffic_seconds or (pens_s + pace * race.distance_m / 1000 + 600) / speed
            demo = _Demo(Path(tmp) / "traffic", speed, Path(tmp) / "traffic-race")
            try:
                run = _run_clients(demo, TRAFFIC_CLIENTS, window, 1, SNAPSHOT_EVERY_S)
            finally:
                demo.close()
            out["traffic"] = {
                "race": f"{race.id} course, {traffic_runners:,} generated runners",
                "real_time_in_virtual_time": race_traffic(race),
                f"served_at_{speed:g}x": {
                    "note": f"each 1 s tick carries {speed:g} s of race: an upper bound on a real-time race's bytes/s",
                    "race_seconds_covered": round(window * speed), **run,
                },
            }  # fmt: skip
    return out


__all__ = ["bench_fanout"]
