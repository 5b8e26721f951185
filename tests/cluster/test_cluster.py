"""pursuit on a Redis Cluster (``REDIS_URL=redis+cluster://…``): each race in its own slot, the
existing end-to-end paths of one race and of an event of two races against a real cluster of three
masters and three replicas."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.crc import key_slot

import tests.test_end_to_end as race_end_to_end
import tests.test_event_end_to_end as event_end_to_end
from live.race.race import Race
from live.reads import RawRead
from live.store.buckets import SharedBuckets
from live.store.connection import ClusterNodes, is_cluster, node_client, redis_client, replicas_to_wait_for
from live.store.keys import RaceKeys
from live.store.leader import FrameChannel, Lease
from live.store.store import Store


def test_a_cluster_url_names_some_nodes_and_a_password():
    nodes = ClusterNodes.parse("redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2")
    assert nodes == ClusterNodes((("10.0.0.1", 7000), ("10.0.0.2", 6379)), "s3cret")
    assert ClusterNodes.parse("redis+cluster://h:1/").password is None
    assert replicas_to_wait_for("redis+cluster://h:1") == 1
    for bad, why in [
        ("redis+cluster://h:x", "not a number"),
        ("redis+cluster://:1", "host:port"),
        ("redis+cluster://h:1/2", "one database"),
    ]:
        with pytest.raises(ValueError, match=why):
            ClusterNodes.parse(bad)


def test_every_key_of_a_race_is_in_the_race_slot(paris: Race):
    keys = RaceKeys("chase-b")
    names = [
        getattr(keys, n)
        for n, v in vars(RaceKeys).items()
        if isinstance(v, property) and n not in ("prefix", "pattern")
    ]
    names += [keys.mat("marbeuf"), keys.bucket("reads", "10.0.0.1"), keys.bucket_gate("reads")]
    assert len(names) > 20
    assert {key_slot(n.encode()) for n in names} == {key_slot(b"{pursuit:chase-b}")}
    assert key_slot(b"{pursuit:chase-a}") != key_slot(b"{pursuit:chase-b}"), "two races, two slots"


async def test_the_client_of_a_cluster_url_reaches_every_master(cluster, cluster_redis):
    assert is_cluster(cluster_redis)
    assert len(cluster_redis.get_primaries()) == 3
    assert cluster_redis.connection_pool.connection_kwargs["socket_timeout"] == 5.0
    plain = redis_client(cluster.nodes[0].url)
    assert not is_cluster(plain)
    await plain.aclose()


async def test_a_race_end_to_end_on_the_cluster(cluster, cluster_redis, paris: Race):
    """The one-race end-to-end test (ChronoTrack mats → ingestor → engine → API) with a cluster URL."""
    await race_end_to_end.test_simulated_race_reaches_the_api_with_the_true_outcome(cluster, cluster_redis, paris)


async def test_an_event_of_two_races_end_to_end_on_the_cluster(cluster, cluster_redis, tmp_path: Path):
    """`pursuit serve` of an event of two races on shared mats, with a cluster URL: the two races' keys
    are in two slots (the event's journal in the first race's), each race's outcome is the truth."""
    await event_end_to_end.test_an_event_served_by_pursuit_serve_times_each_race_apart(cluster, cluster_redis, tmp_path)


async def test_race_control_scripts_and_mat_health_run_in_the_race_slot(cluster_redis, paris: Race):
    """Every script of the store run on the cluster, those the end-to-end tests do not reach too: a chip
    assigned with its passings, a passing voided, a gun, a GPS fix, sequences, a token bucket and its
    gate, the engine lease and a frame; and the memory figure is the race's master's."""
    store = Store(cluster_redis, paris)
    await store.setup()
    mat = paris.mats[1].id
    assert await store.apply_reads([RawRead(mat, "NOBODY", 1_700_000_000.0)], 1_700_000_000.0) == 0
    assert await store.unknown_chips() == {"NOBODY": 1}
    bib = paris.runners[0].bib
    assert await store.assign_chip("NOBODY", bib) == 1
    assert [p.bib for p in await store.passings_after()] == [bib]
    assert await store.void_passing(bib, mat, 1_700_000_000.0)
    assert await store.record_gun(1_700_000_000.0) == f"pen:{paris.pens[0].id}"
    assert await store.set_pursuer_gps(48.87, 2.30, 1_700_000_001.0)
    await store.record_sequences({"marbeuf": 7}, {})
    assert await store.last_sequences(["marbeuf"]) == {"marbeuf": 7}
    limits = SharedBuckets(store, "failed", 2, 1.0, gate=(10, 1.0))
    assert [await limits.take("10.0.0.1") for _ in range(3)][:2] == [0.0, 0.0]
    lease = Lease(store, "test")
    assert await lease.hold() and await lease.hold()  # taken, then renewed by its script
    assert await FrameChannel(store).publish(lease, 1, b"{}", True, b"state", "epoch")
    await lease.release()
    assert await lease.holder() is None
    used, _ = await store.memory()
    master = node_client(cluster_redis, store.keys.journal)
    assert abs(used - int((await master.info("memory"))["used_memory"])) < 1_000_000
