"""`pursuit demo`, the README's first command: everything up, the race moving, the pursuer advancing."""

from __future__ import annotations

import os
import re
import signal
import socket
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


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_demo_stopped_by_sigterm_takes_its_redis_and_a_second_demo_on_its_data_refuses(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    command = [sys.executable, "-m", "pursuit.cli", "demo", "--runners", "50", "--speed", "50"]
    first = subprocess.Popen([*command, "--port", str(free_port())], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        assert first.stdout is not None
        line = ""
        deadline = time.monotonic() + 60
        while "private redis-server on port" not in line and time.monotonic() < deadline:
            line = first.stdout.readline()
        redis_port = int(re.search(r"on port (\d+)", line).group(1))  # type: ignore[union-attr]
        second = subprocess.run([*command, "--port", str(free_port())], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"in use by pid {first.pid}" in second.stderr and "stop that one first" in second.stderr
        assert _answers(redis_port), "the first demo's redis is untouched"
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _answers(redis_port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _answers(redis_port), "the demo's private redis-server ended with it"
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate(timeout=20)
