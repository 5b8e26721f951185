"""`pursuit demo`, the README's first command: everything up, the race moving, the pursuer advancing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from pursuit.redis_server import free_port


def test_demo_runs_a_chase_on_one_machine(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # the demo starts its own redis-server
    proc = subprocess.Popen(
        [sys.executable, "-m", "pursuit.cli", "demo", "--runners", "300", "--speed", "200", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    started, distances = [], []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (len(set(started)) < 3 or len({d for d in distances if d > 0}) < 3):
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/api/state", timeout=2).json()
                started.append(state["counts"]["started"])
                distances.append(state["pursuer"]["distance_m"])
            except (httpx.HTTPError, KeyError):
                pass
            time.sleep(0.3)
        assert len(set(started)) >= 3, f"counts.started did not rise: {sorted(set(started))}"
        assert len({d for d in distances if d > 0}) >= 3, "the pursuer did not advance"
        assert distances[-1] > 0 and started[-1] > 0
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert f"dashboard: http://127.0.0.1:{port}/" in out
    assert (tmp_path / ".pursuit" / "redis").is_dir(), "the private redis keeps its data under a local folder"
