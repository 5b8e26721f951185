"""Nothing lost, nothing doubled (SPEC §9): a race played by emulated readers into real ``pursuit``
processes while the ingestor, Redis (AOF, ``appendfsync everysec``) and the web process are each
killed with SIGKILL and started again, ends in exactly the true results."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live.race.race import Race
from pursuit.redis_server import RedisServer, free_port
from simulator.trajectory import plan_race, true_outcome
from tests.helpers.processes import wait_for

RUNNERS, SEED, SPEED = 300, 5, 60.0  # about 50 minutes of race in under a minute


class Processes:
    """The race-day processes, each started as an operator would, killable with SIGKILL."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.redis = RedisServer(tmp / "redis", appendonly=True)
        self.ingest_port, self.mylaps_port, self.web_port = free_port(), free_port(), free_port()
        self.env = {**os.environ, "REDIS_URL": self.redis.url, "PURSUIT_ADMIN_TOKEN": "admin"}
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        with (self.tmp / f"{name}.log").open("ab") as log:  # the child keeps its own descriptor
            self.running[name] = subprocess.Popen(
                [sys.executable, "-m", "pursuit.cli", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def ingest(self) -> None:
        self.start("ingest", "ingest", "--ingest-port", str(self.ingest_port), "--mylaps-port", str(self.mylaps_port))

    def web(self) -> None:
        self.start("web", "web", "--host", "127.0.0.1", "--port", str(self.web_port))

    def kill(self, name: str) -> None:
        process = self.running.pop(name) if name != "redis" else self.redis.process
        assert process is not None and process.poll() is None, f"{name} died before it was killed"
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.redis.stop()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    procs.redis.start()
    try:
        yield procs
    finally:
        procs.stop_all()


def test_kill_9_of_ingestor_redis_and_web_mid_race_ends_in_the_true_results(processes: Processes, paris: Race):
    procs = processes
    procs.ingest()
    procs.web()
    base = f"http://127.0.0.1:{procs.web_port}"
    wait_for(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, 30, "the web process answers")
    assert httpx.get(f"{base}/healthz", timeout=2).json()["redis_aof"] is True
    procs.start(
        "simulate", "simulate", "--ingest-port", str(procs.ingest_port), "--mylaps-port", str(procs.mylaps_port),
        "--runners", str(RUNNERS), "--speed", str(SPEED), "--seed", str(SEED),
    )  # fmt: skip

    def started() -> int:
        return httpx.get(f"{base}/api/state", timeout=2).json()["counts"]["started"]

    wait_for(lambda: started() > 20, 60, "runners cross the start")
    procs.kill("ingest")  # mid-stream: readers lose their connection, lines may be half written
    time.sleep(1.0)
    procs.ingest()
    wait_for(lambda: started() > 150, 60, "more runners after the ingestor's restart")
    procs.kill("redis")  # up to a second of writes not yet fsynced is lost; readers resend from Redis's last line
    time.sleep(0.5)
    procs.redis.start()
    wait_for(lambda: httpx.get(f"{base}/api/state", timeout=2).json()["pursuer"]["distance_m"] > 0, 60, "pursuer off")
    procs.kill("web")
    procs.web()
    wait_for(lambda: httpx.get(f"{base}/healthz", timeout=2).status_code == 200, 30, "the web process is back")

    simulate = procs.running["simulate"]
    assert simulate.wait(timeout=120) == 0, (procs.tmp / "simulate.log").read_text()[-2000:]
    printed = re.search(r"true winners ([\d,]+)", (procs.tmp / "simulate.log").read_text())
    assert printed, (procs.tmp / "simulate.log").read_text()[-2000:]

    truth = true_outcome(plan_race(paris, time.time(), seed=SEED, runners=RUNNERS))  # a shift changes nobody's fate
    assert truth.winners == int(printed.group(1).replace(",", ""))

    def final() -> dict | None:
        state = httpx.get(f"{base}/api/state", timeout=2).json()
        counts = state["counts"]
        settled = counts["won"] + counts["caught"] == RUNNERS and state["pursuer"]["status"] == "finished"
        return state if settled else None

    state = wait_for(final, 60, "every runner has an outcome")
    assert state["counts"]["won"] == truth.winners and state["counts"]["started"] == RUNNERS
    rows = list(csv.DictReader(io.StringIO(httpx.get(f"{base}/api/results.csv", timeout=10).text)))
    won = {r["bib"] for r in rows if r["status"] == "won"}
    assert won == {bib for bib, w in truth.won.items() if w}, "the same runners, not just the same count"
    finish = {r["bib"]: r["finish_time"] for r in rows if r["status"] == "won"}
    assert len(finish) == len(won) and all(finish.values())
