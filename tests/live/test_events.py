"""Events and alerts from hand-built situations, emitted once even with several web processes."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pytest

from live.chase.snapshot import AHEAD, CAUGHT
from live.clock import RaceClock
from live.engine.engine import LiveEngine
from live.engine.events import EventDetector
from live.events import Event
from live.race.race_file import load_race
from live.store.ingest import JournalEntry
from live.store.store import RawRead, Store
from tests.helpers.paths import PARIS


@pytest.fixture
async def race_day(redis, paris):
    """Pens released 10 min ago, the pursuer 4 min ago; returns (store, t0, now)."""
    store = Store(redis, paris)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    t0 = now - 600
    for i, _ in enumerate(paris.pens):
        await store.record_gun(t0 + 60 * i)
    await store.record_gun(now - 240)
    return store, t0, now


async def detect(store, paris, processes: int = 1) -> list[dict]:
    for _ in range(processes):
        engine = LiveEngine(paris, store)
        engine.listeners.append(EventDetector(engine))
        await engine.refresh()
    return await store.events_after(count=1000)


async def test_pursuer_split_missed_mat_and_a_catch(race_day, paris):
    store, t0, now = race_day
    kip = paris.participant(paris.pursuer.bib).chips[0]
    slow = paris.participants[3]
    gun = now - 240
    await store.apply_reads(
        [
            RawRead("start", slow.chips[0], t0 + 5),
            RawRead("marbeuf", slow.chips[0], gun + 60),  # a walker: 400 m in 415 s
            RawRead("start", kip, gun + 0.5),
            RawRead("concorde", kip, gun + 334),  # not read at marbeuf; read at concorde
        ],
        wall_s=now,
    )
    await store.set_clock(RaceClock(origin_wall=time.time(), origin_race=gun + 340, speed=1.0))
    events = await detect(store, paris, processes=2)
    by_kind: dict[str, list[dict]] = {}
    for e in events:
        by_kind.setdefault(e["kind"], []).append(e)
    split = by_kind["pursuer_split"][0]
    assert split["mat"] == "concorde" and split["split_s"] == pytest.approx(334, abs=0.01)
    assert split["vs_schedule_s"] == pytest.approx(334 - 173 * 1.93, abs=0.1)
    assert "Eliud Kipchoge passes concorde (1.93 km) in 5:34" in split["text"]
    missed = by_kind["pursuer_missed_mat"]
    assert [m["mat"] for m in missed] == ["marbeuf"] and missed[0]["level"] == "alert"
    caught = by_kind["caught"]
    assert [c["bib"] for c in caught] == [slow.bib]
    assert caught[0]["confirmed"] is True and 400 < caught[0]["at_m"] < 1930
    assert len(by_kind["milestone"]) == 1, "two web processes, one event each"
    assert len(events) == len({e["key"] for e in events})


async def test_a_split_on_his_plan_is_said_on_schedule(race_day, paris):
    """Within half a second of his plan the commentators read "on schedule", not "0 s ahead of"."""
    store, _, now = race_day
    kip = paris.participant(paris.pursuer.bib).chips[0]
    gun = now - 240
    on_plan = gun + 173 * 0.4  # marbeuf, 400 m at 2:53/km
    await store.apply_reads([RawRead("start", kip, gun + 0.2), RawRead("marbeuf", kip, on_plan - 0.3)], wall_s=now)
    split = next(e for e in await detect(store, paris) if e["kind"] == "pursuer_split")
    assert split["vs_schedule_s"] == pytest.approx(-0.3, abs=0.01)
    assert split["text"].endswith(", on schedule."), split["text"]


async def test_a_catcher_cars_split_is_against_his_speed_schedule(redis, paris, tmp_path):
    """A pursuer on a speed schedule (12 km/h for a minute, then 24 km/h) is timed against it, not
    against the pace of its first step."""
    shutil.copytree(PARIS, tmp_path, dirs_exist_ok=True)
    toml = tmp_path / "race.toml"
    text = toml.read_text(encoding="utf-8").replace("pace_s_per_km = 173 ", "schedule = [[0, 12], [60, 24]] ", 1)
    toml.write_text(text, encoding="utf-8")
    race = load_race(tmp_path)
    assert race.pursuer.schedule is not None
    store = Store(redis, race)
    await store.setup()
    now = time.time()
    await store.set_clock(RaceClock(origin_wall=now, origin_race=now, speed=1.0))
    gun = now - 400
    for i, _ in enumerate(race.pens):
        await store.record_gun(gun - 600 + 60 * i)  # a gun marker within 5 s of the last is the same gun
    await store.record_gun(gun)
    planned = 60 + (1930 - 200) / (24 / 3.6)  # concorde: 200 m in the first minute, then 24 km/h
    car = race.participant(race.pursuer.bib).chips[0]
    await store.apply_reads([RawRead("start", car, gun), RawRead("concorde", car, gun + planned + 10)], wall_s=now)
    events = await detect(store, race)
    splits = [e for e in events if e["kind"] == "pursuer_split" and e["mat"] == "concorde"]
    assert splits[0]["vs_schedule_s"] == pytest.approx(10, abs=0.1)
    assert splits[0]["text"].endswith(", 10 s behind schedule."), splits[0]["text"]


async def test_runner_missing_a_mat_and_unknown_chip_are_alerts(race_day, paris):
    store, t0, now = race_day
    runner = paris.participants[8]
    await store.apply_reads(
        [
            RawRead("start", runner.chips[0], t0 + 3),
            RawRead("concorde", runner.chips[0], t0 + 500),  # never read at marbeuf
            RawRead("finish", "FFFF01", t0 + 400),
        ],
        wall_s=now,
    )
    events = await detect(store, paris)
    alerts = {e["kind"]: e for e in events if e["level"] == "alert"}
    assert alerts["runner_missed_mat"]["bib"] == runner.bib and alerts["runner_missed_mat"]["mat"] == "marbeuf"
    assert alerts["unknown_chip"]["chip"] == "FFFF01"
    assert "worn by no participant" in alerts["unknown_chip"]["text"]


async def test_a_decoder_clock_off_the_race_clock_is_an_alert_not_a_silent_correction(race_day, paris):
    store, _, _ = race_day
    await store.set_clock_offset("marbeuf", 0.3)  # within what a network round trip blurs
    await store.set_clock_offset("finish", -2.25)
    alerts = [e for e in await detect(store, paris) if e["kind"] == "mat_clock"]
    assert [(a["mat"], a["clock_offset_s"]) for a in alerts] == [("finish", -2.25)]
    assert "finish's decoder clock is -2.25 s off the race clock" in alerts[0]["text"]
    await store.set_clock_offset("finish", -2.4)  # the same drift: no second alert
    assert len([e for e in await detect(store, paris) if e["kind"] == "mat_clock"]) == 1


async def test_a_runner_late_at_his_next_mat_is_overdue(race_day, paris):
    store, t0, now = race_day
    runner = paris.participants[9]
    # 400 m in 150 s, then nothing for 25 minutes: expected at concorde long ago
    await store.apply_reads(
        [RawRead("start", runner.chips[0], now - 1650), RawRead("marbeuf", runner.chips[0], now - 1500)], wall_s=now
    )
    events = await detect(store, paris)
    overdue = [e for e in events if e["kind"] == "runner_overdue"]
    assert [(e["bib"], e["mat"]) for e in overdue] == [(runner.bib, "concorde")]


async def test_many_events_go_in_one_round_trip_each_key_once(race_day):
    store, _, now = race_day
    batch = [Event(f"k{i % 3}", "milestone", now + i, f"event {i}", {"level": "story", "n": i}) for i in range(5)]
    ids = await store.emit_many(batch)
    assert [i is not None for i in ids] == [True, True, True, False, False], "k0 and k1 come again at 3 and 4"
    again = Event("k2", "milestone", now, "again", {"level": "story"})
    assert await store.emit_many([]) == [] and await store.emit_once(again) is None
    events = await store.events_after()
    expected = [("k0", "event 0", 0), ("k1", "event 1", 1), ("k2", "event 2", 2)]
    assert [(e["key"], e["text"], e["n"]) for e in events] == expected


async def test_a_journal_past_80_percent_of_its_cap_is_an_alert_and_the_cap_holds(race_day, paris):
    store, _, now = race_day
    store.journal_maxlen = 1_000  # the real cap (5,000,000) would take a flood of minutes to reach
    await store.journal([JournalEntry("ctp01", "10.0.0.9:1", 0.0, [f"noise {i}"]) for i in range(850)])
    events = await detect(store, paris)
    full = [e for e in events if e["kind"] == "journal_full"]
    assert len(full) == 1 and full[0]["level"] == "alert"
    assert full[0]["entries"] == 850 and full[0]["cap"] == 1_000 and "85% of its cap" in full[0]["text"]
    await store.journal([JournalEntry("ctp01", "10.0.0.9:1", 0.0, [f"more {i}"]) for i in range(3_000)])
    # XADD MAXLEN ~ trims whole stream nodes (100 entries each): the cap holds to within one node
    assert 1_000 <= await store.redis.xlen(store.keys.journal) <= 1_100


async def test_a_journal_under_80_percent_of_its_cap_is_no_alert(race_day, paris):
    store, _, _ = race_day
    store.journal_maxlen = 1_000
    await store.journal([JournalEntry("ctp01", "10.0.0.9:1", 0.0, [f"noise {i}"]) for i in range(790)])
    assert not [e for e in await detect(store, paris) if e["kind"] == "journal_full"]


async def test_a_catch_is_corrected_only_when_a_read_of_the_runner_says_so(redis, paris):
    """A runner caught on the projections who moves back ahead on them alone (the pursuer held short
    of a mat that has not read him yet) gets no correction; a new passing of the runner does."""
    engine = LiveEngine(paris, Store(redis, paris))
    detector = EventDetector(engine)
    detector.emitted = set()
    gun = 1_700_000_000.0
    engine.guns = {**{f"pen:{pen.id}": gun - 600 + 60 * i for i, pen in enumerate(paris.pens)}, "pursuer": gun}
    row = 3
    engine.times[row, 0] = gun - 590
    engine.pursuer_times[0] = gun + 0.5

    def seen(now: float, status: int) -> list[str]:
        snap = engine.compute(now)
        statuses = snap.status.copy()
        statuses[row] = status
        keys = [e.key for e in detector.catch_events(dataclasses.replace(snap, status=statuses))]
        detector.emitted |= set(keys)
        return [k for k in keys if k.endswith(f":{engine.bibs[row]}")]

    bib = engine.bibs[row]
    assert seen(gun + 60, CAUGHT) == [f"caught:{bib}"]
    assert seen(gun + 62, AHEAD) == [], "the projections alone moved him back: no correction"
    engine.times[row, 1] = gun + 58  # his read at marbeuf arrives: ahead of the pursuer after all
    assert seen(gun + 64, AHEAD) == [f"undone:{bib}"]


async def test_an_undeclared_kind_cannot_be_emitted(race_day):
    """Every kind is declared once (live/events.py) at its level: anything else never reaches the stream."""
    store, _, now = race_day
    with pytest.raises(ValueError, match="'note' .* is not declared"):
        Event("note:1", "note", now, "a kind of nobody's", {"level": "story"})
    with pytest.raises(ValueError, match="'caught' \\(level 'alert'\\) is not declared"):
        Event("caught:1", "caught", now, "a story sent as an alert", {"level": "alert"})
    with pytest.raises(ValueError, match="needs its dedupe key"):
        await store.emit_once(Event("", "milestone", now, "once, but of no key", {"level": "story"}))
    assert await store.events_after() == []


def test_only_the_store_writes_the_events_stream():
    """Every emitter reaches the stream through the store's ``append_event``/``emit_many``, which take an
    ``Event``: no other module adds to the events stream itself."""
    root = Path(__file__).resolve().parents[2]
    writers = sorted(
        p.relative_to(root).as_posix()
        for pkg in ("live", "web", "ingest", "dashboard", "simulator", "pursuit")
        for p in (root / pkg).rglob("*.py")
        if "keys.events" in (text := p.read_text(encoding="utf-8")) and ("xadd" in text or "_emit_once" in text)
    )
    assert writers == ["live/store/stream.py"], "only the store's events stream writes events"
