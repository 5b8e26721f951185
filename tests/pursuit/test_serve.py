"""`pursuit serve` as race day runs it: a real process against REDIS_URL, mats and web up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from pursuit.redis_server import free_port


def test_serve_listens_for_readers_and_answers_the_api(redis_server):
    web, ct, ml = free_port(), free_port(), free_port()
    env = {**os.environ, "REDIS_URL": redis_server.url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pursuit.cli", "serve", "--host", "127.0.0.1", "--port", str(web),
         "--ingest-port", str(ct), "--mylaps-port", str(ml)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{web}/api/race", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("pursuit serve did not answer")
        with socket.create_connection(("127.0.0.1", ct), timeout=5) as conn:
            assert conn.recv(64).endswith(b"~CTP01\r\n")
        assert httpx.get(f"http://127.0.0.1:{web}/healthz", timeout=5).json()["redis"] == "ok"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert "ChronoTrack CTP01" in out and "MYLAPS T&S" in out


def _occupied() -> tuple[socket.socket, int]:
    """A port some other process already listens on (a second ingestor, a forgotten demo)."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return taken, taken.getsockname()[1]


def test_a_port_already_taken_is_one_line_and_the_process_ends(redis_server):
    """The reader port in use gave a traceback; the web port in use under `serve` gave a task's
    traceback ('SystemExit: 3') instead of stopping the ingestor with it."""
    env = {**os.environ, "REDIS_URL": redis_server.url}
    cli = [sys.executable, "-m", "pursuit.cli"]
    taken, port = _occupied()
    with taken:
        reader = subprocess.run([*cli, "ingest", "--host", "127.0.0.1", "--ingest-port", str(port),
                                 "--mylaps-port", str(free_port())],
                                env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        web = subprocess.run([*cli, "serve", "--host", "127.0.0.1", "--port", str(port),
                              "--ingest-port", str(free_port()), "--mylaps-port", str(free_port())],
                             env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert reader.returncode == 1, reader.stderr
    assert f"pursuit ingest: cannot listen for ChronoTrack CTP01 on 127.0.0.1:{port}: address already in use" in (
        reader.stderr
    )
    assert web.returncode == 1, web.stderr
    assert f"pursuit serve: the web app could not start on 127.0.0.1:{port}" in web.stderr
    for result in (reader, web):
        assert "Traceback" not in result.stderr + result.stdout
