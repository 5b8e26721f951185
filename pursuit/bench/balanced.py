"""``pursuit bench fanout --balanced``: spectators through HAProxy on three web processes that relay
one engine's ticks, while the default race is simulated (docs/BENCHMARKS.md, "Fan-out past one
process"). The layout is the rehearsal's (``pursuit.rehearse``) without Sentinel and without faults:
a private Redis, one ingestor, one engine, ``webs`` web processes (``--no-engine``), the balancer.
Each client count is then run again, in the same layout and run, against the first web process
directly: the baseline the balanced figures are compared with (``ratio_balanced_to_direct``).

With ``cluster``, the same layout runs twice in the run: on one redis-server (the baseline), then on
a Redis Cluster of 3 masters and 3 replicas (``redis+cluster://``), the same clients through the
balancer each time (``ratio_cluster_to_single``)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import urlopen

from pursuit.bench.common import cpu_s, machine
from pursuit.bench.fanout import FANOUT_TARGET
from pursuit.bench.fanout_run import run_clients
from pursuit.redis_server import ClusterServers, RedisServer, free_port
from pursuit.rehearse import find_haproxy, haproxy_config, stop_processes


class _Balanced:
    """The processes of the balanced layout; ``url`` is the live feed through the balancer."""

    def __init__(self, workdir: Path, speed: float, webs: int, cluster: bool = False) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.redis: RedisServer | ClusterServers = (
            ClusterServers(workdir / "cluster").start()
            if cluster
            else RedisServer(workdir / "redis", appendonly=False).start()
        )
        self.env = {**os.environ, "REDIS_URL": self.redis.url}
        self.metrics_ports = [free_port() for _ in range(webs)]
        ct, ml, self.port = free_port(), free_port(), free_port()
        ct_ingest, ml_ingest = free_port(), free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws/live"
        self.procs: list[subprocess.Popen[bytes]] = []
        self._start(
            "ingest", "ingest", "--host", "127.0.0.1", "--ingest-port", str(ct_ingest), "--mylaps-port", str(ml_ingest)
        )
        self.engine = self._start("engine", "engine")
        self.web = [
            self._start(f"web-{i}", "web", "--no-engine", "--host", "127.0.0.1", "--port", str(p))
            for i, p in enumerate(self.metrics_ports)
        ]
        config = workdir / "haproxy.cfg"
        config.write_text(haproxy_config(self.port, self.metrics_ports, ct, [ct_ingest], ml, [ml_ingest]))
        haproxy = find_haproxy()
        if haproxy is None:
            raise RuntimeError("haproxy is not installed (Debian: apt-get install haproxy)")
        self.balancer = self._start("haproxy", cmd=[haproxy, "-f", str(config), "-db"])
        deadline = time.monotonic() + 90
        while not self._healthy():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web processes did not answer through the balancer; logs in {workdir}")
            time.sleep(0.2)
        self._start("simulate", "simulate", "--ingest-port", str(ct), "--mylaps-port", str(ml), "--speed", f"{speed:g}")
        time.sleep(5)  # runners on the course: ticks that carry passings

    @property
    def server_pids(self) -> list[int]:
        return [p.pid for p in self.web]

    def _start(self, name: str, *args: str, cmd: list[str] | None = None) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("ab") as log:
            argv = cmd or [sys.executable, "-m", "pursuit.cli", *args]
            proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def _healthy(self) -> bool:
        try:
            return all(urlopen(f"http://127.0.0.1:{p}/healthz", timeout=2).status == 200 for p in self.metrics_ports)
        except OSError:
            return False

    def close(self) -> None:
        stop_processes(reversed(self.procs), timeout_s=15)
        self.redis.stop()


@dataclass(frozen=True)
class _Direct:
    """One web process of the layout, its spectators connecting to it without the balancer: the same
    engine, race and machine as the balanced run it is the baseline of."""

    workdir: Path
    url: str
    server_pids: list[int]
    metrics_ports: list[int]

    @classmethod
    def first_of(cls, layout: _Balanced) -> _Direct:
        workdir = layout.workdir / "direct"
        workdir.mkdir(exist_ok=True)
        port = layout.metrics_ports[0]
        return cls(workdir, f"ws://127.0.0.1:{port}/ws/live", [layout.web[0].pid], [port])


def _ratio(balanced: dict[str, Any], direct: dict[str, Any]) -> dict[str, float | None]:
    """The balanced run's delays and web CPU over the direct run's, for the same clients."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else round(a / b, 2)

    bal, base = balanced["delay_from_server_send"], direct["delay_from_server_send"]
    return {
        "from_sent_p50": ratio(bal.get("p50_ms"), base.get("p50_ms")),
        "from_sent_p99": ratio(bal.get("p99_ms"), base.get("p99_ms")),
        "web_cpu": ratio(balanced["cpu_s_per_s"]["server"], direct["cpu_s_per_s"]["server"]),
    }


def bench_fanout_balanced(
    clients: tuple[int, ...] = (3_000, 9_000),
    seconds: float = 20.0,
    speed: float = 10.0,
    procs: int = 2,
    webs: int = 3,
    cluster: bool = False,
) -> dict[str, Any]:
    """Spectators through HAProxy on ``webs`` relaying web processes: delivery delay from the engine's
    send time (each tick's ``sent``), clients per web process and per core, CPU of the web processes;
    then the same clients on one of those web processes directly, and the ratios. With ``cluster``:
    the balanced runs on one redis-server, then on a Redis Cluster, and their ratios."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the child processes
    out: dict[str, Any] = {
        "bench": "fanout --balanced" + (" --cluster" if cluster else ""),
        "machine": machine(),
        "target": FANOUT_TARGET,
        "seconds": seconds,
        "layout": f"HAProxy, {webs} web processes (--no-engine), one engine, "
        "one ingestor, one Redis; the default race simulated",
        "results": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        out["results"] = _runs(Path(tmp) / "balanced", clients, seconds, speed, procs, webs, direct=not cluster)
        if cluster:
            out["layout"] += "; then the same with a Redis Cluster of 3 masters and 3 replicas"
            out["cluster"] = _runs(Path(tmp) / "cluster", clients, seconds, speed, procs, webs, cluster=True)
            for single, on_cluster in zip(out["results"], out["cluster"], strict=True):
                on_cluster["ratio_cluster_to_single"] = _ratio(on_cluster, single)
    return out


def _runs(
    workdir: Path,
    clients: tuple[int, ...],
    seconds: float,
    speed: float,
    procs: int,
    webs: int,
    direct: bool = False,
    cluster: bool = False,
) -> list[dict[str, Any]]:
    """Each client count through the balancer of one layout (and, with ``direct``, on its first web process)."""
    cores = os.cpu_count() or 1
    results = []
    layout = _Balanced(workdir, speed, webs, cluster=cluster)
    try:
        for n in clients:
            others = {"engine": layout.engine.pid, "balancer": layout.balancer.pid}
            before = {name: cpu_s(pid) for name, pid in others.items()}
            run = run_clients(layout, n, seconds, procs)  # type: ignore[arg-type]
            for name, pid in others.items():  # over the window and the clients' connecting and closing
                run["cpu_s_per_s"][f"{name}_over_the_run"] = round((cpu_s(pid) - before[name]) / seconds, 2)
            run["clients_per_web_process"] = round(run["held_to_the_end"] / webs)
            fanout = run["server_fanout_per_tick"]  # its write time is per tick of one web process
            if fanout.get("ticks"):
                fanout["write_per_client_us"] = round(fanout["write_mean_ms"] * 1000 * webs / max(n, 1), 2)
            run["clients_per_core"] = round(run["held_to_the_end"] / cores)
            if direct:
                base = run_clients(_Direct.first_of(layout), n, seconds, procs)  # type: ignore[arg-type]
                run["direct_to_one_web_process"] = base
                run["ratio_balanced_to_direct"] = _ratio(run, base)
            results.append(run)
    finally:
        layout.close()
    return results
