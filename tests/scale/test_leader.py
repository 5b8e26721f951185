"""The engine lease and the frames channel (live/leader.py) on a real Redis, and what a relay makes of
the leader's frames (web/feed.py ``relay``), without processes."""

from __future__ import annotations

import numpy as np
import pytest

from live.engine import LiveEngine
from live.leader import Frame, FrameChannel, Lease
from live.snapshot import decode, encode
from live.store import Store
from web.feed import LiveFeed


async def test_one_holder_at_a_time_and_a_fenced_off_leader_publishes_nothing(redis, paris):
    store = Store(redis, paris)
    channel = FrameChannel(store)
    a, b = Lease(store, "a"), Lease(store, "b")
    assert await a.hold() and not await b.hold()
    assert await a.hold() and a.term == 1, "renewed, same term"
    assert await channel.publish(a, 1, b"tick 1", False, b"state 1")
    assert not await channel.publish(b, 2, b"forged", False, b"x") and not b.held, "not the holder: refused"
    assert not await channel.publish(a, 1, b"again", False, b"x"), "a seq already published is refused"
    assert a.held, "a stale seq is not a lost lease"
    await a.release()
    assert await b.hold() and await b.holder() == b.token
    assert not await channel.publish(a, 2, b"late", False, b"x"), "the old leader is fenced off"
    assert await channel.publish(b, 2, b"tick 2", True, b"state 2")
    frames = await channel.after("0-0", block_ms=10)
    assert [(f.seq, f.body, f.snapshot) for f in frames] == [(1, b"tick 1", False), (2, b"tick 2", True)]
    assert await channel.state() == b"state 2" and await channel.last_seq() == 2
    assert await channel.take_seq(0) == 12 and await channel.take_seq(40) == 50, "a new term skips ahead"
    await redis.flushall()
    assert await channel.take_seq(0) == 0, "a fresh race starts at 1"


async def test_a_lapsed_lease_is_taken_by_a_standby(redis, paris):
    store = Store(redis, paris)
    a, b = Lease(store, "a", ttl_s=0.2), Lease(store, "b", ttl_s=0.2)
    assert await a.hold()
    while not await b.hold():  # a stops renewing: it died
        pass
    assert not await a.hold() and a.held is False, "a finds out when it renews"


async def test_a_relay_sends_the_leaders_bytes_and_builds_the_same_snapshot_from_its_state(paris):
    t0 = 1_700_000_000.0
    leader_engine, relay_engine = LiveEngine(paris, store=None), LiveEngine(paris, store=None)
    leader = LiveFeed(leader_engine, runner_detail=lambda bib: None)
    relay = LiveFeed(relay_engine, runner_detail=lambda bib: None)
    leader_engine.guns = {f"pen:{p.id}": t0 for p in paris.pens}
    leader_engine.times[:300, 0] = t0 + np.arange(300)
    for i in range(3):
        snap = leader_engine.compute(t0 + 60 + i)
        await leader.on_tick(snap)
        state = decode(encode(snap, leader.seq, 1.5), relay_engine.bibs, relay_engine.pens, relay_engine.row)
        assert state[1:] == (leader.seq, 1.5)
        tick = leader.tick_frame
        relay.relay(Frame(f"{i}-0", leader.seq, tick.payload, tick.snapshot), state[:2])
        assert relay.seq == leader.seq and relay.tick_frame.payload == tick.payload
        assert relay.snapshot_frame().payload == leader.snapshot_frame().payload, "the same state, byte for byte"
    relay.relay(Frame("9-0", 2, b"old", False), None)
    assert relay.seq == 3 and relay.tick_frame.payload != b"old", "an older seq is not sent again"
    relay.relay(Frame("10-0", 7, b'{"type": "tick"}', False), None)
    assert relay.seq == 7 and not relay.has_snapshot, "after a gap, no state at this seq until the next"


def test_a_blob_that_is_not_an_encoded_snapshot_is_refused(paris):
    engine = LiveEngine(paris, store=None)
    for blob in (b"", b"\x05\x00\x00\x00{nope", encode(engine.compute(1_700_000_000.0))[:-8] + b"x"):
        with pytest.raises(ValueError):
            decode(blob, engine.bibs[:10], engine.pens[:10], {})
