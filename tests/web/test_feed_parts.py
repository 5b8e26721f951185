"""The live feed's parts alone, without sockets: the changed-rows tracker (web/feed_rows.py) and the
sequencer with its resume buffer (web/feed_sequence.py). The fan-out (web/fanout.py) writes to real
connections and is tested over real uvicorn in tests/web/test_feed.py."""

from __future__ import annotations

import numpy as np

from live.engine.engine import LiveEngine
from web.feed_rows import ChangedRows
from web.feed_sequence import TickSequence
from web.frames import Outgoing

T0 = 1_700_000_000.0


def test_the_sequence_keeps_the_last_ticks_for_a_resume_and_forgets_them_in_another_epoch():
    sequence = TickSequence(keep=4)
    for seq in range(1, 7):
        sequence.seq = seq
        sequence.sent(Outgoing(b"%d" % seq))
    assert [t.payload for t in sequence.missed("3", sequence.epoch) or []] == [b"4", b"5", b"6"]
    assert sequence.missed("6", None) == [], "up to date"
    assert sequence.missed("1", None) is None, "older than the ticks kept: a snapshot"
    assert sequence.missed("9", None) is None and sequence.missed("x", None) is None
    assert sequence.missed("3", "another") is None
    assert not sequence.set_epoch(sequence.epoch), "the same epoch changes nothing"
    assert sequence.set_epoch("e2") and sequence.missed("5", "e2") is None, "ticks of another epoch are gone"


def test_a_new_passing_changes_its_row_and_nobody_elses(paris):
    engine = LiveEngine(paris, store=None)
    engine.guns = {f"pen:{p.id}": T0 for p in paris.pens}
    rows = ChangedRows(paris.distance_m)

    def tick(now: float) -> list[int]:
        snap = engine.compute(now)
        speed = snap.speed_m_s if snap.speed_m_s is not None else np.zeros(len(snap.bibs))
        return rows(snap, engine.used_times, speed, snap.margin_class).changed.tolist()

    assert tick(T0 + 60) == [], "the first state: nobody can hold an older one"
    assert tick(T0 + 61) == [], "nothing new"
    engine.times[700, 0] = T0 + 10
    assert 700 in tick(T0 + 62)
    assert 700 not in tick(T0 + 63), "sent once"
    rows.forget()
    assert tick(T0 + 64) == [], "forgotten: the next state is taken whole"
