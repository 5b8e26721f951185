"""What the benchmarks share: the machine they ran on, CPU clocks, percentiles, a generated race of
any size, and a server process started and stopped as an operator would."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from live.race.race import Race
from live.race.race_file import load_race

ROOT = Path(__file__).resolve().parents[2]
PARIS = ROOT / "races" / "paris-j1000"


def machine() -> dict[str, Any]:
    """Cores, Python and platform, reported with every figure."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``repeat`` calls of ``fn``, in milliseconds."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def race_with_runners(n: int, directory: Path) -> Race:
    """The default race with ``n`` generated runners (bibs and chips unique), written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for f in PARIS.iterdir():
        if f.is_file() and f.name != "participants.csv":
            shutil.copy(f, directory / f.name)
    pens = ["1", "2", "3", "4", "5"]
    lines = ["bib,chip,name,pen,sex,category,declared_s", "1,KIP001,Eliud Kipchoge,,M,Elite,865"]
    rng = np.random.default_rng(7)
    declared = rng.uniform(1000, 2700, n)
    for i in range(n):
        lines.append(
            f"{100 + i},C{i:07d},Runner {i},{pens[min(4, int((2700 - declared[i]) / 340))]},M,Senior,{declared[i]:.0f}"
        )
    (directory / "participants.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_race(directory)


def cpu_s(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_s() -> float:
    """CPU time all cores of the machine have spent busy so far (everything but idle and iowait)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def percentiles_ms(values_s: list[float]) -> dict[str, float | None]:
    """p50, p99 and max of durations in seconds, as milliseconds (None for none)."""
    if not values_s:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    p50, p99 = np.percentile(values_s, [50, 99])
    return {
        "p50_ms": round(float(p50) * 1000, 1),
        "p99_ms": round(float(p99) * 1000, 1),
        "max_ms": round(max(values_s) * 1000, 1),
    }


class Server:
    """A server process of the bench, on a free port, until it prints ``ready``; stopped as with Ctrl-C."""

    port: int
    url: str

    def __init__(self, cmd: list[str], workdir: Path, ready: str, env: dict[str, str] | None = None) -> None:
        import threading

        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.process = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if ready in line:
                break
        else:
            raise RuntimeError(f"{' '.join(cmd[1:4])} exited with {self.process.wait()} before serving")
        self.drain = threading.Thread(target=lambda out=self.process.stdout: [None for _ in out], daemon=True)
        self.drain.start()

    def close(self) -> None:
        self.process.send_signal(signal.SIGINT)  # as Ctrl-C: the demo stops its private redis-server
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.drain.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
