"""A failover in a Redis Cluster: the master of the race's slot dies with writes its replica never got,
the replica is promoted, and the readers' resume and resend cover the gap, as behind Sentinel (the same
test, ``tests/scale/test_sentinel.py``, run against the cluster). Runs after the other cluster tests
(file order): it leaves the cluster whole, its old master back as the new one's replica."""

from __future__ import annotations

import redis as sync_redis

from live.race.race import Race
from live.store.keys import RaceKeys
from pursuit.redis_server import ClusterServers, RedisServer
from tests.scale.test_sentinel import readers_resume_after_a_failover


def master_and_replica(cluster: ClusterServers, key: str) -> tuple[RedisServer, RedisServer]:
    """The node that serves ``key``'s slot now, and its replica."""
    with sync_redis.Redis(port=cluster.nodes[0].port) as client:
        slot = client.cluster("keyslot", key)
        nodes = client.cluster("nodes")
    master_id, master_port = next(
        (n["node_id"], int(address.rpartition(":")[2].partition("@")[0]))
        for address, n in nodes.items()
        if "master" in n["flags"] and any(int(lo) <= slot <= int(hi) for lo, hi in _ranges(n["slots"]))
    )
    replica_port = next(
        int(address.rpartition(":")[2].partition("@")[0])
        for address, n in nodes.items()
        if n["master_id"] == master_id and "fail" not in n["flags"]
    )
    return cluster.server_on(master_port), cluster.server_on(replica_port)


def _ranges(slots: list[list[str]]) -> list[tuple[str, str]]:
    return [(r[0], r[-1]) for r in slots]


async def test_a_failover_of_the_race_master_loses_no_passing(cluster, cluster_redis, paris: Race):
    master, replica = master_and_replica(cluster, RaceKeys(paris.id).journal)
    await readers_resume_after_a_failover(cluster.url, master, replica, paris)
    assert master_and_replica(cluster, RaceKeys(paris.id).journal) == (replica, master), "the roles swapped"
