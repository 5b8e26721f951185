"""API hygiene: OpenAPI published and fuzzed with schemathesis, gzip, CORS closed by default,
health and metrics, and two web processes on one Redis answering the same."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from live.clock import RaceClock
from live.store.ingest import JournalEntry
from live.store.store import RawRead, Store
from pursuit.redis_server import free_port
from pursuit.settings import Settings
from pursuit.web import create_app
from tests.helpers import eventually, running_uvicorn

ROOT = Path(__file__).resolve().parent.parent  # schemathesis.toml
ADMIN_TOKEN = "admin-token"


@pytest.fixture
async def web(redis_server, redis, paris):
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    await store.record_gun(now - 600)
    await store.journal([JournalEntry("ctp01", "test", now, ["CT01_33~…"])])
    await store.apply_reads([RawRead("start", paris.participants[3].chips[0], now - 590)], wall_s=now)
    settings = Settings.from_env({paris.admin_token_env: ADMIN_TOKEN})
    async with running_uvicorn(create_app(paris, redis_server.url, dashboard=False, settings=settings)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await eventually(lambda: _ok(client))
            yield base, client


async def _ok(client):
    return (await client.get("/api/state")).status_code == 200


async def test_openapi_schema_is_published(web):
    _, client = web
    schema = (await client.get("/api/openapi.json")).json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/race", "/api/state", "/api/runners/{bib}", "/api/runners", "/api/mats", "/api/events",
                 "/api/admin/pens/{pen}/start"):  # fmt: skip
        assert path in schema["paths"]


@pytest.mark.parametrize("token", [None, ADMIN_TOKEN], ids=["public", "admin"])
async def test_schemathesis_finds_the_api_as_its_schema_says(web, token):
    """Every check schemathesis has (server errors, status codes and bodies as documented, schema-valid
    requests accepted, schema-violating ones refused, 405 for a method a route lacks), as a public
    client and as race control; ``schemathesis.toml`` at the root says which refusals depend on the
    race's state."""
    base, _ = web
    st = shutil.which("st", path=os.path.dirname(sys.executable))
    assert st, "schemathesis is a test dependency"
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    proc = await asyncio.create_subprocess_exec(
        st, "run", f"{base}/api/openapi.json", "--checks", "all", "--max-examples", "15", *auth,
        "--generation-deterministic", "--request-timeout", "10", "--phases", "examples,coverage,fuzzing",
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 150)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-4000:]


async def test_large_responses_are_gzipped_and_cors_is_closed(web):
    _, client = web
    r = await client.get("/api/roster", headers={"accept-encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"
    r = await client.get("/api/state", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


async def test_health_and_metrics(web):
    _, client = web
    health = (await client.get("/healthz")).json()
    assert health["ok"] and health["redis"] == "ok" and health["tick_age_s"] < 5
    assert 0 <= health["last_read_age_s"] < 30
    assert health["redis_aof"] is False, "the test Redis runs without AOF, and /healthz says so"
    metrics = (await client.get("/metrics")).text
    assert 'pursuit_reads_total{mat="start"} 1.0' in metrics
    assert "pursuit_feed_clients 0.0" in metrics and "pursuit_tick_seconds" in metrics


def test_two_web_processes_on_one_redis_give_the_same_state(redis_server, paris):
    import redis as sync_redis

    r = sync_redis.Redis.from_url(redis_server.url)
    r.flushall()
    now = time.time()
    frozen = RaceClock(origin_wall=now, origin_race=now, speed=0.0)  # a stopped clock: both see the same now
    r.hset(f"{{pursuit:{paris.id}}}:clock", mapping=frozen.as_fields())
    r.hset(f"{{pursuit:{paris.id}}}:guns", mapping={"pen:1": f"{now - 600:.3f}", "pursuer": f"{now - 60:.3f}"})
    r.close()
    ports = [free_port(), free_port()]
    env = {**os.environ, "REDIS_URL": redis_server.url}
    cmd = [sys.executable, "-m", "pursuit.cli", "web", "--host", "127.0.0.1", "--port"]
    procs = [
        subprocess.Popen([*cmd, str(p)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in ports
    ]
    try:
        states = []
        for port in ports:
            for _ in range(100):
                try:
                    resp = httpx.get(f"http://127.0.0.1:{port}/api/state", timeout=2)
                    if resp.status_code == 200:
                        states.append(resp.json())
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        assert len(states) == 2
        for s in states:
            s.pop("tick_ms", None)
        assert states[0] == states[1]
        assert states[0]["pursuer"]["status"] == "running"
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
