"""One measured window of ``pursuit bench fanout``: N spectators in client processes against a server,
and what the server says of itself on ``/metrics`` before and after. Whatever fails — a client
process that dies or writes nothing, connections refused at the server's cap, a ``/metrics``
scrape refused — is reported in the result (``failures``, ``refused``), never raised."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pursuit.bench.common import Server, busy_s, cpu_s, percentiles_ms

HISTOGRAMS = ("pursuit_feed_build_seconds", "pursuit_feed_write_seconds")
SCRAPE_TIMEOUT_S = 30.0
STDERR_LINES = 5  # of a failed client process, in the report
DRAIN_TIMEOUT_S = 30.0  # for the previous window's clients to be gone before the next connects


def scrape(port: int) -> dict[str, Any]:
    """The server's ``/metrics``: the fan-out histograms (per name, ``count``, ``sum`` and cumulative
    ``buckets`` as ``(upper bound s, ticks)``), its connection cap and refusals where it has them.
    A scrape that fails raises ``OSError`` (a refused or failed HTTP request is one)."""
    from urllib.request import urlopen

    from prometheus_client.parser import text_string_to_metric_families

    with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=SCRAPE_TIMEOUT_S) as response:
        text = response.read().decode()
    out: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "pursuit_max_connections":
            out["max_connections"] = int(family.samples[0].value)
        elif family.name == "pursuit_connections":
            out["connections"] = int(family.samples[0].value)
        elif family.name == "pursuit_connections_refused":
            out["refused"] = {s.labels["kind"]: int(s.value) for s in family.samples}
        if family.name not in HISTOGRAMS:
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


def scrape_all(ports: list[int], failures: list[str], when: str) -> dict[str, Any] | None:
    """The scrapes of several web processes, added together (ticks counted per process); None, with
    what failed appended to ``failures``, if any of them failed."""
    scraped = []
    for port in ports:
        try:
            scraped.append(scrape(port))
        except OSError as exc:
            failures.append(f"/metrics on port {port} {when} the window: {exc}")
            return None
    out = scraped[0]
    for more in scraped[1:]:
        for name in HISTOGRAMS:
            total, h = out[name], more[name]
            total["count"] += h["count"]
            total["sum"] += h["sum"]
            total["buckets"] = [(le, n + m) for (le, n), (_, m) in zip(total["buckets"], h["buckets"], strict=True)]
        for kind, n in more.get("refused", {}).items():
            out.setdefault("refused", {})[kind] = out.get("refused", {}).get(kind, 0) + n
    return out


def wait_drained(ports: list[int], failures: list[str], timeout_s: float = DRAIN_TIMEOUT_S) -> None:
    """Wait until the servers hold no counted connection (the previous window's clients closing), so
    that a window of exactly the cap is not refused the last few; a server that stays busy is noted
    in ``failures``. Servers without a connection count (the bare one) are not waited for."""
    deadline = time.monotonic() + timeout_s
    for port in ports:
        while True:
            try:
                left = scrape(port).get("connections", 0)
            except OSError:
                return  # the scrape before the window reports it
            if not left:
                break
            if time.monotonic() > deadline:
                failures.append(f"port {port} still held {left} connections {timeout_s:g} s after the last window")
                break
            time.sleep(0.2)


def fanout_per_tick(before: dict[str, Any] | None, after: dict[str, Any] | None, clients: int) -> dict[str, Any]:
    """What the server's own ticks took between two scrapes: mean build and write time per tick, and the
    histogram bucket bound under which 99 % of the writes fell (``{"ticks": 0}`` without both scrapes)."""
    if before is None or after is None or not all(name in before and name in after for name in HISTOGRAMS):
        return {"ticks": 0}

    def delta(name: str) -> dict[str, Any]:
        a, b = after[name], before[name]
        buckets = [(le, n - m) for (le, n), (_, m) in zip(a["buckets"], b["buckets"], strict=True)]
        return {"count": a["count"] - b["count"], "sum": a["sum"] - b["sum"], "buckets": buckets}

    build, write = delta(HISTOGRAMS[0]), delta(HISTOGRAMS[1])
    ticks = int(write["count"])
    if not ticks:
        return {"ticks": 0}
    p99 = next(le for le, n in write["buckets"] if n >= 0.99 * ticks)
    build_p99 = next(le for le, n in build["buckets"] if n >= 0.99 * ticks)
    write_ms = write["sum"] / ticks * 1000
    return {
        "ticks": ticks,
        "build_mean_ms": round(build["sum"] / ticks * 1000, 2),
        "write_mean_ms": round(write_ms, 2),
        "build_p99_ms_at_most": None if math.isinf(build_p99) else round(build_p99 * 1000, 1),
        "write_p99_ms_at_most": None if math.isinf(p99) else round(p99 * 1000, 1),
        "write_per_client_us": round(write_ms * 1000 / max(clients, 1), 2),
    }


def _client_outcome(
    workdir: Path, n: int, i: int, process: subprocess.Popen[str], failures: list[str]
) -> dict[str, Any] | None:
    """What client process ``i`` reported, or None with why it reported nothing put in ``failures``."""
    out_file, err_file = workdir / f"clients-{n}-{i}.json", workdir / f"clients-{n}-{i}.err"
    status = process.returncode
    report: dict[str, Any] | None = None
    if out_file.exists():
        try:
            report = json.loads(out_file.read_bytes())
        except ValueError as exc:
            failures.append(f"client process {i} of {n}: its result {out_file.name} is no JSON ({exc})")
    if report is not None and "error" in report:
        failures.append(f"client process {i} of {n} failed (exit {status}): {report['error']}")
        return None
    if report is None:
        lines = err_file.read_text(errors="replace").strip().splitlines()[-STDERR_LINES:] if err_file.exists() else []
        said = " | ".join(lines) or "nothing on stderr"
        failures.append(f"client process {i} of {n} exited with {status} and no result: {said}")
    return report


def run_clients(
    server: Server, n: int, seconds: float, procs: int, snapshot_every_s: float | None = None
) -> dict[str, Any]:
    """N spectators in ``procs`` client processes, measured over the same window of ``seconds``; what
    failed is in ``failures`` and the connections refused or lost, by what they met, in ``refused``
    and ``lost``."""
    workdir = server.workdir
    procs = max(1, min(procs, n))
    shares = [n // procs + (i < n % procs) for i in range(procs)]
    failures: list[str] = []
    ports = getattr(server, "metrics_ports", None) or [server.port]
    wait_drained(ports, failures)
    clients = []
    for i, share in enumerate(shares):
        cmd = [
            sys.executable,
            "-m",
            "pursuit.bench.fanout_clients",
            server.url,
            str(share),
            str(seconds),
            "--out",
            str(workdir / f"clients-{n}-{i}.json"),
        ]
        if snapshot_every_s and i == 0:
            cmd += ["--snapshot-every", str(snapshot_every_s)]
        with (workdir / f"clients-{n}-{i}.err").open("w") as err:
            clients.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True))
    for c in clients:  # each prints a line once its spectators are connected and have their snapshot
        assert c.stdout is not None
        c.stdout.readline()  # or nothing, if it died: its result says why
    start = time.time() + 0.5
    for c in clients:
        assert c.stdin is not None
        try:
            c.stdin.write(f"{start!r}\n")
            c.stdin.close()
        except OSError:  # BrokenPipeError: it died while connecting
            pass
    time.sleep(max(0.0, start - time.time()))
    pids = getattr(server, "server_pids", None) or [server.process.pid]  # the balanced layout: its web processes
    load_before, server_cpu, busy = os.getloadavg(), sum(cpu_s(p) for p in pids), busy_s()
    times_before = scrape_all(ports, failures, "before")
    time.sleep(max(0.0, start + seconds - time.time()))
    server_cpu, busy = sum(cpu_s(p) for p in pids) - server_cpu, busy_s() - busy
    load_after = os.getloadavg()
    times_after = scrape_all(ports, failures, "after")
    outs = []
    for i, c in enumerate(clients):
        try:
            c.wait(timeout=seconds + 120)
        except subprocess.TimeoutExpired:
            c.kill()
            c.wait()
            failures.append(f"client process {i} of {n} did not end within {seconds + 120:g} s: killed")
        assert c.stdout is not None
        c.stdout.close()
        if (report := _client_outcome(workdir, n, i, c, failures)) is not None:
            outs.append(report)
    return _merge(
        n,
        procs,
        seconds,
        outs,
        failures,
        server_cpu,
        busy,
        (load_before[0], load_after[0]),
        (times_before, times_after),
        snapshot_every_s,
    )


def _merge(
    n: int,
    procs: int,
    seconds: float,
    outs: list[dict[str, Any]],
    failures: list[str],
    server_cpu: float,
    busy: float,
    load: tuple[float, float],
    times: tuple[dict[str, Any] | None, dict[str, Any] | None],
    snapshot_every_s: float | None,
) -> dict[str, Any]:
    """The client processes' reports as one result."""
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
    refused: dict[str, int] = {}
    lost: dict[str, int] = {}
    for o in outs:
        for into, key in ((refused, "refused"), (lost, "lost")):
            for why, k in o.get(key, {}).items():
                into[why] = into.get(why, 0) + k
    reported = sum(o["clients"] for o in outs)
    result: dict[str, Any] = {
        "clients": n,
        "client_processes": procs,
        "connected": sum(o["connected"] for o in outs),
        "held_to_the_end": held,
        "failed": n - held,
        "ticks_in_window": len(complete),
        "frames_delivered_per_s": round(frames / seconds, 1),
        "delay_from_first_arrival": percentiles_ms(spread),
        "delay_from_server_send": percentiles_ms(from_sent),
        "bytes_per_client_per_s": round(sum(o["bytes"] for o in outs) / max(held, 1) / seconds, 1),
        "cpu_s_per_s": {
            "server": round(server_cpu / seconds, 2),
            "clients": round(sum(o["cpu_s"] for o in outs) / seconds, 2),
            "whole_machine": round(busy / seconds, 2),
        },
        "loadavg_1m": [round(load[0], 2), round(load[1], 2)],
        "server_fanout_per_tick": fanout_per_tick(times[0], times[1], held),
        "refused": refused,
        "lost": lost,
        "unreported_clients": n - reported,  # in client processes that died
    }
    if times[1] is not None and "max_connections" in times[1]:
        result["server_max_connections"] = times[1]["max_connections"]
        result["server_refused"] = times[1].get("refused", {})
    if failures:
        result["failures"] = failures
    if not outs:
        return result
    probe = outs[0]
    if probe["probe_tick_bytes"] and snapshot_every_s:
        ticks = probe["probe_tick_bytes"]
        result["one_client_tick_bytes"] = {
            "mean": round(float(np.mean(ticks))),
            "p99": round(float(np.percentile(ticks, 99))),
            "max": max(ticks),
            "ticks": len(ticks),
        }
    if probe["snapshots"]:
        raw, gz = max(probe["snapshots"])
        result["snapshot"] = {"largest_bytes": raw, "largest_gzip_bytes": gz, "taken": len(probe["snapshots"])}
    return result


DELAY_P99_TARGET_MS = 500.0  # SPEC §8: 5,000 clients at 1 Hz with p99 delivery <= 500 ms
BARE_RATIO_TARGET = 1.2  # issue 27: p99 within 1.2x the bare server's at the same count
BYTES_TARGET = 5_000  # SPEC §8: bytes per spectator per second
SNAPSHOT_GZIP_TARGET = 200_000  # SPEC §8: a joining spectator's snapshot, gzipped


def _target(target: str, measured: Any, met: bool) -> dict[str, Any]:
    return {"target": target, "measured": measured, "met": bool(met)}


def fanout_targets(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of ``pursuit bench fanout``, what was measured for it and whether it was met."""
    targets: dict[str, dict[str, Any]] = {}
    for run in out.get("results", []):
        n = run["clients"]
        cap = run.get("server_max_connections", n)
        expected = min(n, cap)
        held = run["held_to_the_end"]
        targets[f"clients_{n}_held"] = _target(
            f"every client up to the cap ({expected:,}) held to the end", held, held >= expected
        )
        p99 = run["delay_from_server_send"]["p99_ms"]
        targets[f"clients_{n}_p99"] = _target(
            f"p99 from sent <= {DELAY_P99_TARGET_MS:g} ms", p99, p99 is not None and p99 <= DELAY_P99_TARGET_MS
        )
        ratio = run.get("ratio_to_bare_server", {}).get("delay_from_server_send_p99")
        targets[f"clients_{n}_p99_to_bare"] = _target(
            f"p99 <= {BARE_RATIO_TARGET:g} x the bare server's", ratio, ratio is not None and ratio <= BARE_RATIO_TARGET
        )
        if n > cap:
            beyond, by_clients = n - cap, sum(run["refused"].values())
            by_server = run.get("server_refused", {}).get("websocket", 0)
            targets[f"clients_{n}_refused_beyond_the_cap"] = _target(
                f"the {beyond:,} beyond the cap refused in words and counted on /metrics",
                {"clients_refused": run["refused"], "server_counted": by_server},
                by_clients >= beyond and by_server >= beyond,
            )
    traffic = out.get("traffic", {}).get("real_time_in_virtual_time")
    if traffic:
        per_s = traffic["bytes_per_client_per_s"]
        targets["bytes_per_spectator"] = _target(f"<= {BYTES_TARGET:,} bytes/s", per_s, per_s <= BYTES_TARGET)
        gz = traffic["snapshot"]["gzip_bytes"]["max"]
        targets["snapshot_gzip"] = _target(f"<= {SNAPSHOT_GZIP_TARGET:,} bytes", gz, gz <= SNAPSHOT_GZIP_TARGET)
    return targets
