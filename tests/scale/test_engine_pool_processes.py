"""The engine pool with real processes: three ``pursuit engine --event DIR`` on one Redis share a World
Run of four locations; SIGKILL the one leading most, and its races are led again within 3 s by the
others, each race by one at a time (its frames' ``seq`` keeps rising), the spread within ⌈M/N⌉ + 1."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path

import redis as sync_redis

from live.race.event import load_event
from live.store.keys import RaceKeys
from pursuit.redis_server import RedisServer
from simulator.event import WORLD_LOCATIONS, write_world_event
from tests.scale.test_one_engine import Cluster, cluster, wait_for

__all__ = ["cluster"]  # the fixture, shared with the one-engine test


def test_three_engines_share_four_races_and_a_killed_ones_races_are_led_again_within_3_s(
    cluster: tuple[Cluster, RedisServer], tmp_path: Path
):
    procs, server = cluster
    event = load_event(write_world_event(tmp_path / "world", WORLD_LOCATIONS[:4], runners=30))
    keys = [RaceKeys(race.id) for race in event.races]
    r = sync_redis.Redis.from_url(server.url)
    engines = {procs.start(f"engine-{i}", "engine", "--event", str(event.directory)).pid: i for i in range(3)}

    def holders() -> list[int | None]:
        """The pid holding each race's lease (tokens are ``host:pid/hex``), None where free."""
        tokens = [r.get(k.engine_lease) for k in keys]
        return [int(t.decode().rsplit("/", 1)[0].rsplit(":", 1)[1]) if t else None for t in tokens]

    def spread(alive: set[int]) -> list[int | None] | None:
        held = holders()
        fair = math.ceil(len(keys) / len(alive))
        ok = None not in held and set(held) <= alive and max(held.count(p) for p in alive) <= fair
        return held if ok else None

    logs = "\n".join(procs.log(f"engine-{i}") for i in range(3))
    held = wait_for(lambda: spread(set(engines)), 60, f"the races spread over the three engines\n{logs}")
    for _ in range(10):  # settled: nobody above ⌈4/3⌉ + 1 while all three live
        held = holders()
        assert None not in held and max(held.count(p) for p in engines) <= math.ceil(4 / 3) + 1, held
        time.sleep(0.1)
    victim = max(engines, key=held.count)
    orphans = [i for i, p in enumerate(held) if p == victim]
    seq_before = [int(r.get(k.feed_seq) or 0) for k in keys]
    procs.procs[f"engine-{engines[victim]}"].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: all(holders()[i] not in (None, victim) for i in orphans), 10, "its races are led again")
    moved_s = time.monotonic() - killed
    assert moved_s <= 3.0, f"a killed engine's races were led again after {moved_s:.2f} s"
    alive = set(engines) - {victim}
    wait_for(lambda: spread(alive), 10, "the two left share the four races")
    wait_for(lambda: all(int(r.get(k.feed_seq) or 0) > s for k, s in zip(keys, seq_before, strict=True)), 10,
             "every race ticks on")  # fmt: skip
    for k in keys:  # one leader at a time: the frames of each race, across the takeover, in rising seq
        seqs = [int(fields[b"seq"]) for _, fields in r.xrange(k.frames)]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), seqs
    r.close()
    for i in range(3):
        assert "Traceback" not in procs.log(f"engine-{i}"), procs.log(f"engine-{i}")
    print(f"led again {moved_s:.2f} s after SIGKILL")
