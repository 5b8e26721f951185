"""Processes started as an operator would (`pursuit ...` with a REDIS_URL), each killable, and a
synchronous wait with a deadline (shared by the one-engine and engine-pool tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pursuit.rehearse import stop_processes


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
        stop_processes(self.procs.values())


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
