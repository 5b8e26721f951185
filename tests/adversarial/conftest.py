"""The ``served`` fixture: ``pursuit serve`` as a real process (``tests.helpers.served``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from pursuit.redis_server import RedisServer
from tests.helpers.served import Served, serve


@pytest.fixture
async def served(redis_server: RedisServer, redis: aioredis.Redis, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(redis_server, redis, tmp_path) as s:
        yield s
