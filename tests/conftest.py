"""Shared fixtures: a real redis-server for the whole session, flushed before every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, settings

from live.race.race import Race
from live.race.race_file import load_race
from pursuit.redis_server import RedisServer
from tests.helpers.paths import PARIS

# Hypothesis's timing checks (an example over 200 ms, inputs generated slowly) measure the machine, not
# the code: on a shared CI host they fail tests whose properties hold. The properties are still checked.
settings.register_profile("pursuit", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pursuit")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server on a free port (never the machine's shared one)."""
    with RedisServer(tmp_path_factory.mktemp("redis"), appendonly=False) as server:
        yield server


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client on the private server, with the database flushed first."""
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def paris() -> Race:
    """The default race, loaded once."""
    return load_race(PARIS)
