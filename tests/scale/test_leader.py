"""The engine lease and the frames channel (live/store/leader.py) on a real Redis, and what a relay makes of
the leader's frames (web/feed.py ``relay``), without processes."""

from __future__ import annotations

import numpy as np
import pytest

from live.chase.snapshot import decode, encode
from live.engine.engine import LiveEngine
from live.store.leader import Frame, FrameChannel, Lease
from live.store.store import Store
from web.feed import LiveFeed


async def test_one_holder_at_a_time_and_a_fenced_off_leader_publishes_nothing(redis, paris):
    store = Store(redis, paris)
    channel = FrameChannel(store)
    a, b = Lease(store, "a"), Lease(store, "b")
    assert await a.hold() and not await b.hold()
    assert await a.hold() and a.term == 1, "renewed, same term"
    assert await channel.publish(a, 1, b"tick 1", False, b"state 1", "e1")
    assert not await channel.publish(b, 2, b"forged", False, b"x", "e1") and not b.held, "not the holder: refused"
    assert not await channel.publish(a, 1, b"again", False, b"x", "e1"), "a seq already published is refused"
    assert a.held, "a stale seq is not a lost lease"
    await a.release()
    assert await b.hold() and await b.holder() == b.token
    assert not await channel.publish(a, 2, b"late", False, b"x", "e1"), "the old leader is fenced off"
    assert await channel.publish(b, 2, b"tick 2", True, b"state 2", "e1")
    frames = await channel.after("0-0", block_ms=10)
    assert [(f.seq, f.body, f.snapshot, f.epoch) for f in frames] == [
        (1, b"tick 1", False, "e1"),
        (2, b"tick 2", True, "e1"),
    ]
    assert await channel.state() == b"state 2" and await channel.last_seq() == 2
    assert await channel.take_seq(0) == 12 and await channel.take_seq(40) == 50, "a new term skips ahead"
    epoch = await channel.epoch()
    assert len(epoch) == 16 and await channel.epoch() == epoch, "made once, then kept by every leader"
    await redis.flushall()
    assert await channel.take_seq(0) == 0, "a fresh race starts at 1"
    assert await channel.epoch() != epoch, "a Redis that lost its data numbers the feed anew"


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
        relay.relay(Frame(f"{i}-0", leader.seq, tick.payload, tick.snapshot, leader.epoch), state[:2])
        assert relay.seq == leader.seq and relay.tick_frame.payload == tick.payload
        assert relay.snapshot_frame().payload == leader.snapshot_frame().payload, "the same state, byte for byte"
    relay.relay(Frame("9-0", 2, b"old", False, leader.epoch), None)
    assert relay.seq == 3 and relay.tick_frame.payload != b"old", "an older seq is not sent again"
    relay.relay(Frame("10-0", 7, b'{"type": "tick"}', False, leader.epoch), None)
    assert relay.seq == 7 and not relay.has_snapshot, "after a gap, no state at this seq until the next"


def test_a_reconnecting_client_gets_the_ticks_it_missed_only_when_this_process_sent_them_all(paris):
    """``/ws/live?after=SEQ&epoch=E`` (web/feed.py ``missed_ticks``): the ticks kept as sent, oldest
    first, or None (a snapshot) for anything this process cannot vouch for."""
    feed = LiveFeed(LiveEngine(paris, store=None), runner_detail=lambda bib: None)
    epoch = "a" * 16

    def tick(seq: int, snapshot: bool = False) -> Frame:
        body = b'{"type":"%s","seq":%d}' % (b"snapshot" if snapshot else b"tick", seq)
        return Frame(f"{seq}-0", seq, body, snapshot, epoch)

    def seqs(after: str | None, epoch: str | None = epoch) -> list[int] | None:
        missed = feed.missed_ticks(after, epoch)
        return None if missed is None else [int(m.payload.split(b'"seq":')[1].rstrip(b"}")) for m in missed]

    assert seqs("1") is None, "nothing sent yet"
    for seq in range(1, 41):
        feed.relay(tick(seq), None)
    assert len(feed.recent) == 32, "bounded: the last 32 ticks, whoever asks"
    assert seqs("37") == [38, 39, 40] and seqs("37", None) == [38, 39, 40], "epoch is optional"
    assert seqs("8") == list(range(9, 41)), "the oldest kept is still resumable"
    assert seqs("40") == [], "up to date: nothing to send, and no snapshot"
    for bad in ("7", "3", "41", "1000", "0", "-1", "", "abc", "3.5", "1e3", " 37", "\uff13\uff17", "9" * 40):
        assert seqs(bad) is None, f"after={bad!r} resumes nothing"
    assert seqs("37", "b" * 16) is None and seqs("37", "") is None, "another epoch's seq is another tick"
    assert seqs(None) is None

    feed.relay(tick(50, snapshot=True), None)  # a new leader: its seq jumps and its first tick is a snapshot
    assert seqs("39") == [40, 50], "across a leader change: the snapshot resets the client anyway"
    feed.relay(tick(53), None)  # a relay that missed 51 and 52 (lost in a failover)
    assert seqs("39") is None and seqs("50") is None, "a gap in between: he would have to resync"
    assert seqs("52") == [53], "he had 52 from elsewhere: 53 is the leader's tick after it"

    feed.relay(Frame("60-0", 60, b'{"type":"tick","seq":60}', False, "c" * 16), None)  # Redis lost its data
    assert seqs("59", "c" * 16) == [60]
    assert seqs("53") is None and seqs("53", None) is None, "ticks of the old epoch are forgotten"
    assert seqs("60", "c" * 16) == [] and feed.epoch == "c" * 16


def test_a_blob_that_is_not_an_encoded_snapshot_is_refused(paris):
    engine = LiveEngine(paris, store=None)
    for blob in (b"", b"\x05\x00\x00\x00{nope", encode(engine.compute(1_700_000_000.0))[:-8] + b"x", "e1"):
        with pytest.raises(ValueError):
            decode(blob, engine.bibs[:10], engine.pens[:10], {})
