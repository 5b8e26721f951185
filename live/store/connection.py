"""The Redis client of a process, from ``REDIS_URL``: one server, or a Sentinel group.

``redis://host:port/db`` (and ``rediss://``, ``unix://``) is one server, as redis-py reads it.
``redis+sentinel://[:password@]host:port[,host:port…]/service_name[/db]`` names the Sentinels that
watch a master and its replicas: the client asks them for the master's address at each new
connection (redis-py's ``redis.asyncio.sentinel.Sentinel``), so after a failover every process
reconnects to the new master by itself; a connection to a master demoted to replica is dropped on
its first ``READONLY`` reply. With a Sentinel group the race is written to a replica too: MYLAPS
passings are acknowledged, and JSON readers' messages answered ``"replicated": true``, only once
``WAIT`` says one replica has them (``Store.replicated``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379
SOCKET_TIMEOUT_S = 5.0  # a master that stops answering is given up on after this (a blocked read: 2.5 s)
CONNECT_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class SentinelGroup:
    """What a ``redis+sentinel://`` URL says: the Sentinels, the master's service name, the database."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SentinelGroup:
        """Read the URL; ``ValueError`` says what is wrong with it."""
        parts = urlsplit(url)
        if parts.scheme != SENTINEL_SCHEME:
            raise ValueError(f"not a {SENTINEL_SCHEME}:// URL: {url!r}")
        creds, _, hosts = parts.netloc.rpartition("@")
        password = unquote(creds.partition(":")[2]) if creds else None
        sentinels = []
        for item in hosts.split(","):
            host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
            if not host:
                raise ValueError(f"REDIS_URL {url!r}: a Sentinel is given as host:port, got {item!r}")
            try:
                sentinels.append((host, int(port) if port else SENTINEL_PORT))
            except ValueError:
                raise ValueError(f"REDIS_URL {url!r}: port {port!r} of Sentinel {host} is not a number") from None
        path = [p for p in parts.path.split("/") if p]
        if not path or len(path) > 2:
            raise ValueError(f"REDIS_URL {url!r}: expected …/service_name[/db] after the Sentinels")
        if len(path) == 2 and not path[1].isdigit():
            raise ValueError(f"REDIS_URL {url!r}: database {path[1]!r} is not a number")
        return cls(tuple(sentinels), path[0], int(path[1]) if len(path) == 2 else 0, password or None)


class SentinelRedis(aioredis.Redis):  # type: ignore[misc]  # redis-py is untyped here
    """A client of a Sentinel group's master that closes its Sentinel connections with its own."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


def is_sentinel_url(url: str) -> bool:
    return url.startswith(f"{SENTINEL_SCHEME}://")


def redis_client(url: str, **kwargs: Any) -> aioredis.Redis:
    """The client for ``REDIS_URL`` (one server or a Sentinel group; see the module's docstring)."""
    if not is_sentinel_url(url):
        return aioredis.Redis.from_url(url, **kwargs)
    group = SentinelGroup.parse(url)
    timeouts = {"socket_timeout": SOCKET_TIMEOUT_S, "socket_connect_timeout": CONNECT_TIMEOUT_S}
    sentinel = Sentinel(group.sentinels, sentinel_kwargs=timeouts)
    return sentinel.master_for(
        group.service, redis_class=SentinelRedis, db=group.db, password=group.password, **{**timeouts, **kwargs}
    )


async def master_address(redis: aioredis.Redis) -> tuple[str, int] | None:
    """Where the Sentinels say the master is now; None for a client of one server."""
    pool = redis.connection_pool
    if not isinstance(pool, SentinelConnectionPool):
        return None
    host, port = await pool.get_master_address()
    return str(host), int(port)


def replicas_to_wait_for(url: str) -> int:
    """Replicas a write must reach before it is acknowledged to a reader: one behind Sentinel, else none."""
    return 1 if is_sentinel_url(url) else 0
