"""The scale tests' shared fixture: a private Redis and the processes started against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pursuit.redis_server import RedisServer
from tests.helpers.processes import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Cluster, RedisServer]]:
    with RedisServer(tmp_path / "redis", appendonly=False) as server:
        c = Cluster(tmp_path, server.url)
        try:
            yield c, server
        finally:
            c.stop()
