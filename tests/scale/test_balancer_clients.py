"""Behind a load balancer every connection comes from the balancer: the web process must take the
client from the balancer's ``X-Forwarded-For`` (and from it alone), or race control's failed sign-ins,
counted per client address, lock every operator out after one stranger's guesses. A real HAProxy in
front of two real ``pursuit web`` processes (round robin: a client's guesses land on both, and the
limit is the race's, kept in Redis); the clients come from different loopback addresses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pursuit.redis_server import RedisServer, free_port
from pursuit.rehearse import find_haproxy, haproxy_config, stop_processes
from web.limits import FAILED_BURST

TOKEN = "balanced-admin-token"


def _client(base: str, address: str) -> httpx.Client:
    """A client whose connections leave from ``address`` (127.0.0.x: every one is this machine)."""
    return httpx.Client(base_url=base, timeout=5, transport=httpx.HTTPTransport(local_address=address))


def _up(client: httpx.Client) -> bool:
    try:
        return client.get("/api/race").status_code == 200
    except httpx.HTTPError:
        return False


def test_race_control_behind_the_balancer_limits_the_stranger_not_the_operator(tmp_path: Path):
    haproxy = find_haproxy()
    if haproxy is None:
        if os.environ.get("PURSUIT_REQUIRE_HAPROXY"):
            pytest.fail("haproxy is not installed but PURSUIT_REQUIRE_HAPROXY is set (CI): install Debian's haproxy")
        pytest.skip("haproxy is not installed (Debian: apt-get install haproxy)")
    web_ports, balancer_port = [free_port(), free_port()], free_port()
    web_port = web_ports[0]
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(balancer_port, web_ports, free_port(), [], free_port(), []))
    procs: list[subprocess.Popen[bytes]] = []
    with RedisServer(tmp_path / "redis", appendonly=False) as redis:
        env = {**os.environ, "REDIS_URL": redis.url, "PURSUIT_ADMIN_TOKEN": TOKEN}
        with (tmp_path / "web.log").open("ab") as log:
            for port in web_ports:  # two web processes: the stranger's guesses land on both, round robin
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "pursuit.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
                    env=env, stdout=log, stderr=subprocess.STDOUT,
                ))  # fmt: skip
            procs.append(subprocess.Popen([haproxy, "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT))
        try:
            base = f"http://127.0.0.1:{balancer_port}"
            with _client(base, "127.0.0.2") as stranger, _client(base, "127.0.0.3") as operator:
                deadline = time.monotonic() + 60
                webs = [_client(f"http://127.0.0.1:{port}", "127.0.0.1") for port in web_ports]
                while not (_up(operator) and all(_up(web) for web in webs)):
                    assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()[-3000:]
                    time.sleep(0.1)
                time.sleep(1.0)  # HAProxy's checks (every 0.5 s) have seen both up
                for web in webs:
                    web.close()
                wrong = {"authorization": "Bearer not-the-token"}
                # the burst, and a few more: they refill one per 3 s, so a slow machine still ends refused
                codes = [stranger.get("/api/admin/whoami", headers=wrong) for _ in range(FAILED_BURST + 5)]
                assert {r.status_code for r in codes} == {401}
                # 20 in all, however they were shared out: the limit is the race's, held in Redis
                assert "too many failed sign-ins from 127.0.0.2" in codes[-1].json()["error"], codes[-1].text
                assert codes[-1].headers["retry-after"], "the stranger is told when to try again"
                right = operator.get("/api/admin/whoami", headers={"authorization": f"Bearer {TOKEN}"})
                assert right.status_code == 200, f"the operator, at another address, is not held back: {right.text}"
                # a header from a client that is no balancer names nobody: straight to the web port
                with _client(f"http://127.0.0.1:{web_port}", "127.0.0.4") as direct:
                    spoof = {**wrong, "x-forwarded-for": "127.0.0.9"}
                    answers = [direct.get("/api/admin/whoami", headers=spoof) for _ in range(FAILED_BURST + 5)]
                assert "from 127.0.0.4" in answers[-1].json()["error"], answers[-1].text
        finally:
            stop_processes(procs)
