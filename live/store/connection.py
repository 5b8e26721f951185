"""The Redis client of a process, from ``REDIS_URL``: one server, or a Sentinel group.

``redis://host:port/db`` (and ``rediss://``, ``unix://``) is one server, as redis-py reads it.
``redis+sentinel://[:password@]host:port[,host:port…]/service_name[/db]`` names the Sentinels that
watch a master and its replicas: the client asks them for the master's address at each new
connection (redis-py's ``redis.asyncio.sentinel.Sentinel``), so after a failover every process
reconnects to the new master by itself; a connection to a master demoted to replica is dropped on
its first ``READONLY`` reply. With a Sentinel group the race is written to a replica too: MYLAPS
passings are acknowledged, and JSON readers' messages answered ``"replicated": true``, only once
``WAIT`` says one replica has them (``Store.replicated``).

``redis+cluster://[:password@]host:port[,host:port…]`` names some nodes of a Redis Cluster
(redis-py's ``redis.asyncio.cluster.RedisCluster`` learns the rest and the slot map from them, and
follows a failover by its ``MOVED`` replies and a fresh slot map). Every key of a race carries the
race's hash tag, so a race lives in one slot: its Lua scripts and pipelines go to one master. As
behind Sentinel, a reader is told a write is kept once ``WAIT`` says a replica of *that race's*
master has it: ``WAIT`` counts one connection's writes, so it is sent on a connection to the master
of the key written (``node_client``), not through the cluster client (which would ask every master
on connections that wrote nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
CLUSTER_PORT = 6379
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


@dataclass(frozen=True)
class ClusterNodes:
    """What a ``redis+cluster://`` URL says: some nodes of the cluster (any of them will do) and the password."""

    nodes: tuple[tuple[str, int], ...]
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> ClusterNodes:
        """Read the URL; ``ValueError`` says what is wrong with it."""
        parts = urlsplit(url)
        if parts.scheme != CLUSTER_SCHEME:
            raise ValueError(f"not a {CLUSTER_SCHEME}:// URL: {url!r}")
        creds, _, hosts = parts.netloc.rpartition("@")
        nodes = []
        for item in hosts.split(","):
            host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
            if not host:
                raise ValueError(f"REDIS_URL {url!r}: a cluster node is given as host:port, got {item!r}")
            try:
                nodes.append((host, int(port) if port else CLUSTER_PORT))
            except ValueError:
                raise ValueError(f"REDIS_URL {url!r}: port {port!r} of node {host} is not a number") from None
        if parts.path.strip("/") not in ("", "0"):
            raise ValueError(f"REDIS_URL {url!r}: a Redis Cluster has one database (0), not {parts.path!r}")
        return cls(tuple(nodes), unquote(creds.partition(":")[2]) or None if creds else None)


class PursuitCluster(RedisCluster):  # type: ignore[misc]  # redis-py is untyped here
    """redis-py's cluster client, with one plain client per master for ``WAIT`` (``node_client``), and
    the ``connection_pool.connection_kwargs`` the store reads its timeouts from, as a plain client's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._node_clients: dict[tuple[str, int], aioredis.Redis] = {}
        self._node_kwargs: dict[str, Any] = {
            k: kwargs[k] for k in ("password", "socket_timeout", "socket_connect_timeout") if k in kwargs
        }
        self.connection_pool = _Kwargs(self._node_kwargs)

    def node_client(self, key: str) -> aioredis.Redis:
        """A plain client of the master that holds ``key`` now (as this client last learnt the slot map)."""
        node = self.get_node_from_key(key)
        address = (str(node.host), int(node.port))
        client = self._node_clients.get(address)
        if client is None:
            client = self._node_clients[address] = aioredis.Redis(
                host=address[0], port=address[1], max_connections=4, **self._node_kwargs
            )
        return client

    async def masters(self) -> frozenset[tuple[str, int]]:
        """The masters serving slots as a node of the cluster (any) says now (``CLUSTER NODES``)."""
        found = set()
        for address, node in (await self.cluster_nodes()).items():
            if "master" in node["flags"] and "fail" not in node["flags"] and node["slots"]:
                host, _, port = address.rpartition(":")
                found.add((host, int(port.partition("@")[0])))
        return frozenset(found)

    async def aclose(self) -> None:
        for client in self._node_clients.values():
            await client.aclose()
        self._node_clients.clear()
        await super().aclose()


@dataclass(frozen=True)
class _Kwargs:
    connection_kwargs: dict[str, Any]


Masters = tuple[str, int] | frozenset[tuple[str, int]]  # a Sentinel group's master, or a cluster's masters


def describe(masters: Masters) -> str:
    """``host:port`` of a master, or of a cluster's masters (comma-separated, sorted)."""
    found = sorted(masters) if isinstance(masters, frozenset) else [masters]
    return ",".join(f"{host}:{port}" for host, port in found)


def is_sentinel_url(url: str) -> bool:
    return url.startswith(f"{SENTINEL_SCHEME}://")


def is_cluster_url(url: str) -> bool:
    return url.startswith(f"{CLUSTER_SCHEME}://")


def is_cluster(redis: object) -> bool:
    """Whether ``redis`` is a client of a Redis Cluster (``redis+cluster://``)."""
    return isinstance(redis, PursuitCluster)


def node_client(redis: aioredis.Redis, key: str) -> aioredis.Redis:
    """A client whose connections go to the master holding ``key``: ``redis`` itself unless it is a
    cluster's client (``WAIT`` must follow the writes it stands for to their master)."""
    return redis.node_client(key) if isinstance(redis, PursuitCluster) else redis


def redis_client(url: str, **kwargs: Any) -> aioredis.Redis:
    """The client for ``REDIS_URL`` (one server, a Sentinel group or a Redis Cluster; see the module's
    docstring). A cluster's client offers the commands the store uses under the same names (its
    tests run the store against a real cluster), hence the one return type."""
    timeouts = {"socket_timeout": SOCKET_TIMEOUT_S, "socket_connect_timeout": CONNECT_TIMEOUT_S}
    if is_cluster_url(url):
        nodes = ClusterNodes.parse(url)
        cluster = PursuitCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes.nodes],
            password=nodes.password,
            **{**timeouts, **kwargs},
        )
        return cluster
    if not is_sentinel_url(url):
        return aioredis.Redis.from_url(url, **kwargs)
    group = SentinelGroup.parse(url)
    sentinel = Sentinel(group.sentinels, sentinel_kwargs=timeouts)
    return sentinel.master_for(
        group.service, redis_class=SentinelRedis, db=group.db, password=group.password, **{**timeouts, **kwargs}
    )


async def master_address(redis: aioredis.Redis) -> Masters | None:
    """Where the Sentinels say the master is now (a cluster: where its masters are); None for a client
    of one server."""
    if isinstance(redis, PursuitCluster):
        return await redis.masters()
    pool = redis.connection_pool
    if not isinstance(pool, SentinelConnectionPool):
        return None
    host, port = await pool.get_master_address()
    return str(host), int(port)


def replicas_to_wait_for(url: str) -> int:
    """Replicas a write must reach before it is acknowledged to a reader: one behind Sentinel or in a
    cluster, else none."""
    return 1 if is_sentinel_url(url) or is_cluster_url(url) else 0
