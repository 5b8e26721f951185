"""The engine on a race without a pursuer, against a real Redis: passings become positions, the
``finished`` status, places by gun time across waves, the finishers' stories, and no pursuer numbers."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from live.chase.snapshot import DNF, FINISHED, REGISTERED, STARTED, STATUSES
from live.clock import RaceClock
from live.engine.engine import LiveEngine
from live.engine.events import EventDetector
from live.race.race import Race
from live.race.race_file import load_race
from live.store.store import RawRead, Store
from tests.helpers.plain_race import write_plain_race

# the course, lap after lap: the timing points of the 10 km in order, with their mats
LAP_MATS = ["start", "marbeuf", "concorde", "george-v", "marbeuf", "george-v", "finish"]
LAP2_MATS = ["marbeuf", "concorde", "george-v", "marbeuf", "george-v", "finish"]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Race:
    return load_race(write_plain_race(Path(tmp_path_factory.mktemp("plain")) / "plain-10k"))


def reads_at_pace(race: Race, chip: str, gun: float, total_s: float, upto_m: float) -> list[RawRead]:
    """A runner's reads at an even pace (``total_s`` for the whole course) up to ``upto_m``."""
    return [
        RawRead(tp.mat, chip, gun + 3.0 + total_s * tp.at_m / race.distance_m)
        for tp in race.timing_points
        if tp.at_m <= upto_m
    ]


@pytest.fixture
async def race_day(redis, plain):
    """Wave A 50 min ago, wave B 45 min ago: a1 home in 48:20 gun time, b1 in 45:00 (later in the day,
    faster on the clock), a2 on his second lap, a3 read at the start only, a4 stopped by race control."""
    store = Store(redis, plain)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    gun_a, gun_b = now - 3000, now - 2700
    await store.set_gun("pen:A", gun_a)
    await store.set_gun("pen:B", gun_b)
    a = [p for p in plain.runners if p.pen == "A"]
    b = [p for p in plain.runners if p.pen == "B"]
    who = {"a1": a[0], "a2": a[1], "a3": a[2], "a4": a[3], "b1": b[0]}
    reads = reads_at_pace(plain, who["a1"].chips[0], gun_a, 2900 - 3, 10000)
    reads += reads_at_pace(plain, who["b1"].chips[0], gun_b, 2700 - 3, 10000)
    reads += reads_at_pace(plain, who["a2"].chips[0], gun_a, 4000, 6930)
    reads += [RawRead("start", who["a3"].chips[0], gun_a + 10)]
    reads += reads_at_pace(plain, who["a4"].chips[0], gun_a, 4000, 1930)
    await store.apply_reads(sorted(reads, key=lambda r: r.time), wall_s=now)
    await store.set_manual_status(who["a4"].bib, "dnf")
    return store, who, now, gun_a, gun_b


async def test_passings_become_positions_finished_statuses_and_counts(race_day, plain):
    store, who, now, gun_a, _ = race_day
    engine = LiveEngine(plain, store)
    snap = await engine.refresh()
    row = {k: snap.index[p.bib] for k, p in who.items()}
    status = {k: STATUSES[int(snap.status[r])] for k, r in row.items()}
    assert status == {"a1": "finished", "b1": "finished", "a2": "started", "a3": "started", "a4": "dnf"}
    assert snap.distance_m[row["a1"]] == 10000 and snap.distance_m[row["b1"]] == 10000
    assert 6930 < snap.distance_m[row["a2"]] < 8400 - 2, "projected past his last mat, short of the next"
    assert bool(snap.overdue[row["a3"]]), "read at the start 50 min ago and nowhere since"
    others = np.ones(len(snap.bibs), dtype=bool)
    others[list(row.values())] = False
    assert np.all(snap.status[others] == REGISTERED)
    assert snap.counts == {"registered": 400, "started": 5, "ahead": 0, "caught": 0, "won": 0, "dnf": 1, "dq": 0,
                           "finished": 2, "running": 2}  # fmt: skip
    assert snap.pursuer is None and snap.forecast is None and snap.win_probability is None
    for name in ("gap_m", "gap_s", "margin_s", "catch_at_m", "catch_in_s"):
        assert np.isnan(getattr(snap, name)).all(), name
    assert int(np.count_nonzero(snap.status == FINISHED)) == 2 and int(snap.status[row["a4"]]) == DNF
    assert snap.margin_class is not None and snap.margin_class[row["a1"]] == 9, "the class 'finished'"
    assert snap.margin_class[row["a2"]] == STARTED


async def test_gun_time_decides_places_across_waves(race_day, plain):
    store, who, _, gun_a, gun_b = race_day
    engine = LiveEngine(plain, store)
    await engine.refresh()
    places = engine.places()
    a1, b1 = engine.row[who["a1"].bib], engine.row[who["b1"].bib]
    assert engine.used_times[a1, -1] < engine.used_times[b1, -1], "a1 crossed the line first in the day…"
    assert places.of(b1)[0] == 1 and places.of(a1)[0] == 2, "…but b1 ran it faster from his wave's gun"
    same_sex = who["a1"].sex == who["b1"].sex
    assert places.of(a1)[1] == (2 if same_sex else 1) and places.of(b1)[1] == 1
    assert places.of(engine.row[who["a2"].bib]) == (None, None, None)


async def test_finishers_make_stories_and_nothing_about_a_pursuer(race_day, plain):
    store, who, *_ = race_day
    engine = LiveEngine(plain, store)
    engine.listeners.append(EventDetector(engine))
    await engine.refresh()
    events = await store.events_after(count=1000)
    stories = [e for e in events if e["level"] == "story"]
    first = next(e for e in stories if e["text"].startswith("First finisher"))
    assert first["bib"] == who["b1"].bib and "45:00" in first["text"]
    word = {"F": "woman", "M": "man"}[who["b1"].sex]
    assert any(e["text"].startswith(f"First {word} home: {who['b1'].name}") for e in stories)
    assert not [e for e in events if e["kind"] in ("caught", "pursuer_split", "pursuer_missed_mat", "forecast")]
    assert any(e["kind"] == "runner_overdue" for e in events), "the alerts still come"
    await engine.refresh()
    assert len(await store.events_after(count=1000)) == len(events), "each story once"


def test_the_engine_by_hand_before_any_gun(plain):
    """No store, no gun: everyone registered, pens at their planned starts."""
    engine = LiveEngine(plain, None)
    snap = engine.compute(plain.pens[0].planned_start.timestamp() - 60)
    assert snap.counts["registered"] == 400 and snap.counts["started"] == 0
    assert np.all(snap.status == REGISTERED) and snap.elapsed_s == 0
    starts = engine.pen_starts(None)
    assert starts.tolist() == [p.planned_start.timestamp() for p in plain.pens]
