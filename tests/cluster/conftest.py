"""A real Redis Cluster for the session: 3 masters and 3 replicas (``pursuit.redis_server.ClusterServers``),
started once (about 8 s), flushed before every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from live.store.connection import redis_client
from pursuit.redis_server import ClusterServers


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterServers]:
    with ClusterServers(tmp_path_factory.mktemp("cluster")) as servers:
        yield servers


@pytest.fixture
async def cluster_redis(cluster: ClusterServers) -> AsyncIterator[aioredis.Redis]:
    """A client of the cluster (``redis+cluster://``), every master flushed first."""
    client = redis_client(cluster.url)
    await client.flushall()
    yield client
    await client.aclose()
