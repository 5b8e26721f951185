"""The catcher-car format's results: where the car passed each runner (confirmed by the mats or by
the schedule past his next mat), places by distance, and the predicted catch with its band."""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest

from live.chase.catcher import CONFIRM_GRACE_S, catches
from live.chase.places import Groups, by_distance, listing_order
from live.chase.projection import Reads, project_reads
from live.chase.snapshot import AHEAD, CAUGHT, STARTED, decode, encode
from live.engine.catcher_events import catcher_events
from live.engine.engine import LiveEngine
from live.race.race_file import load_race
from live.race.schedule import WINGS_FOR_LIFE
from simulator.trajectory import plan_race

AT = np.array([0.0, 1000, 2000, 3000, 4000, 5000])
GUN = 1800.0  # the car leaves 30 minutes after the runners (gun at 0)
WORLD_RUN = Path(__file__).resolve().parents[2] / "races" / "world-run-paris"


def _catches(times: list[list[float]], now: float, gun: float | None = GUN):
    reads = Reads.of(np.array(times, dtype=float))
    proj = project_reads(reads, AT, np.full(len(times), 1.0), now)
    return catches(reads, AT, WINGS_FOR_LIFE, gun, now, proj.distance_m, proj.speed_m_s)


def test_read_after_the_car_is_caught_between_his_reads():
    # 1 m/s from 0: the car (15 km/h from 1800 s) meets him where x = (x - 0) at 4.1667 (t - 1800): 2368.4 m;
    # read at 3000 m at 3000 s, after the car passed there (2520 s): caught, on that segment's speed
    c = _catches([[0, 1000, 2000, 3000, np.nan, np.nan]], now=3000)
    assert c.caught[0] and c.confirmed[0]
    assert c.at_m[0] == pytest.approx(1800 * 4.1667 / 3.1667, abs=0.5)
    assert c.time[0] == pytest.approx(GUN + c.at_m[0] / (15 / 3.6), abs=0.01)


def test_car_past_his_next_mat_confirms_after_the_grace():
    # last read at 2000 m at 2000 s; the car passes 3000 m at 2520 s; he is not read there
    before = _catches([[0, 1000, 2000, np.nan, np.nan, np.nan]], now=2520 + CONFIRM_GRACE_S - 1)
    after = _catches([[0, 1000, 2000, np.nan, np.nan, np.nan]], now=2520 + CONFIRM_GRACE_S + 1)
    assert before.caught[0] and not before.confirmed[0]  # provisional: projected behind the car already
    assert after.caught[0] and after.confirmed[0]
    assert after.at_m[0] == pytest.approx(2368.4, abs=0.5)  # from his last segment's speed


def test_runner_ahead_of_the_car_and_before_its_gun_is_not_caught():
    # 4 m/s, last read at 2000 m; the car (1,667 m now) has not reached his next mat (3000 m, at 2520 s)
    ahead = _catches([[0, 250, 500, np.nan, np.nan, np.nan]], now=2200)
    assert not ahead.caught[0] and np.isnan(ahead.at_m[0])
    early = _catches([[0, 1000, np.nan, np.nan, np.nan, np.nan]], now=1500, gun=None)
    assert not early.caught.any()


def test_a_mat_that_missed_him_does_not_catch_him_once_read_further():
    # not read at 3000 m, but read at 4000 m (2000 s) before the car got there (2760 s): not caught
    c = _catches([[0, 500, 1000, np.nan, 2000, np.nan]], now=2900)
    assert not c.caught[0]


def test_places_by_distance_within_sex_and_category():
    d = np.array([12_000.0, 30_000, 12_000, 5_000, 50_000, np.nan])
    ranked = np.array([True, True, True, True, True, False])
    sex = np.array(["M", "F", "F", "M", "M", "F"], dtype=object)
    cat = np.array(["40-49", "40-49", "18-29", "18-29", "", "40-49"], dtype=object)
    p = by_distance(d, ranked, Groups.of(sex, cat))
    assert listing_order(p).tolist() == [4, 1, 0, 2, 3, 5]
    assert p.place.tolist() == [3, 2, 4, 5, 1, 0]  # every place distinct: a tie in roster order
    assert p.place_sex.tolist() == [2, 1, 2, 3, 1, 0]
    assert p.place_category.tolist() == [1, 1, 1, 1, 0, 0]  # within sex and category; none without one


@pytest.fixture(scope="module")
def world_run_plan():
    race = load_race(WORLD_RUN)
    plan = plan_race(race, 1_777_777_000.0, seed=5, runners=1500)
    return race, plan


def _engine_at(race, plan, now: float) -> tuple[LiveEngine, np.ndarray]:
    engine = LiveEngine(race, None)
    rows = np.array([engine.row[str(b)] for b in plan.bibs[:-1]])
    for i, r in enumerate(rows):
        engine.times[r] = np.where(plan.crossings[i] <= now, plan.crossings[i], np.nan)
    engine.guns = {"pen:1": plan.guns[0].time}
    if now >= plan.guns[1].time:
        engine.guns["pursuer"] = plan.guns[1].time
    return engine, rows


def test_simulated_runners_stop_where_the_car_passes_them(world_run_plan):
    race, plan = world_run_plan
    at_m = np.array([tp.at_m for tp in race.timing_points])
    truth = plan.caught_at_m[:-1]
    assert np.isnan(plan.caught_at_m[-1]) and np.all(truth > 0) and np.all(truth < race.distance_m)
    crossed = ~np.isnan(plan.crossings[:-1])
    assert np.array_equal(crossed, at_m[None, :] <= truth[:, None])  # no mat after the catch reads him
    assert not any(r.chip == plan.chips[-1] for r in plan.reads)  # the car is not read at the mats
    assert 8_000 < np.median(truth) < 25_000 and np.max(truth) < 100_000


def test_engine_finds_every_catch_within_20_m_of_the_truth(world_run_plan):
    race, plan = world_run_plan
    truth = plan.caught_at_m[:-1]
    end = plan.guns[1].time + float(race.pursuer.schedule.elapsed_at(race.distance_m)) + 60
    engine, rows = _engine_at(race, plan, end)
    snap = engine.compute(end)
    assert snap.counts["caught"] == len(rows) and snap.counts["won"] == 0 and snap.counts["running"] == 0
    error = np.abs(snap.caught_at_m[rows] - truth)
    assert np.mean(error <= 20.0) >= 0.99, np.percentile(error, [50, 99, 100])
    assert snap.forecast.milestones is not None
    for m in snap.forecast.milestones:  # the car is past every milestone: the counts are the truth
        assert m["expected"] == m["low"] == m["high"] == int(np.count_nonzero(truth > m["at_m"]))
        assert m["passed"] == 1


def test_predicted_catch_band_holds_the_truth(world_run_plan):
    """One hour after the car's start, the 80 % band of each runner still out holds his true catch
    for most of them (the simulator's fade is not the model's: the band is checked loosely)."""
    race, plan = world_run_plan
    truth = plan.caught_at_m[:-1]
    now = plan.guns[1].time + 3600
    engine, rows = _engine_at(race, plan, now)
    snap = engine.compute(now)
    out = (snap.status[rows] == AHEAD) | (snap.status[rows] == STARTED)
    assert out.sum() > 300
    lo, hi, med = (a[rows][out] for a in (snap.catch_low_m, snap.catch_high_m, snap.predicted_catch_m))
    assert np.all(lo <= med) and np.all(med <= hi) and np.all(lo >= snap.pursuer.distance_m)
    inside = np.mean((truth[out] >= lo) & (truth[out] <= hi))
    assert 0.7 <= inside <= 0.97, inside
    assert np.all(np.isnan(snap.predicted_catch_m[rows][snap.status[rows] == CAUGHT]))
    ms = {m["at_m"]: m for m in snap.forecast.milestones}
    assert ms[5000.0]["expected"] == int(np.count_nonzero(truth > 5000))  # the car is past 5 km (at 15 km)
    far = ms[30000.0]
    assert ms[5000.0]["passed"] == 1 and far["passed"] == 0
    assert far["low"] <= far["expected"] <= far["high"] and far["high"] > far["low"]
    assert abs(far["expected"] - np.count_nonzero(truth > 30000)) < 0.25 * np.count_nonzero(truth > 30000)


def test_commentary_counts_milestones_and_names_the_last_man_and_woman(world_run_plan):
    race, plan = world_run_plan
    truth = plan.caught_at_m[:-1]
    bibs = [str(b) for b in plan.bibs[:-1]]
    sex = np.array([race.participant(b).sex for b in bibs])
    schedule, car_gun = race.pursuer.schedule, plan.guns[1].time
    caught_time = car_gun + schedule.elapsed_at(truth)
    men = np.argsort(np.where(sex == "M", truth, -1))[::-1]
    last_man, second_man = int(men[0]), int(men[1])
    # between the second-last man's catch and the last man's: one man still running
    now = (caught_time[second_man] + caught_time[last_man]) / 2
    assert caught_time[last_man] - caught_time[second_man] > 2 * CONFIRM_GRACE_S
    engine, _ = _engine_at(race, plan, now)
    events = {e.key: e for e in catcher_events(race, engine.compute(now))}
    _, kind, _, text, data = astuple(events["last-running:M"])
    assert kind == "last_running" and data["bib"] == bibs[last_man] and race.participant(bibs[last_man]).name in text
    assert text.startswith("Last man still running: ")

    end = car_gun + float(schedule.elapsed_at(race.distance_m)) + 60
    engine, _ = _engine_at(race, plan, end)
    events = {e.key: e for e in catcher_events(race, engine.compute(end))}
    for sex_code, word in (("M", "man"), ("F", "woman")):
        mine = np.flatnonzero(sex == sex_code)
        last = int(mine[np.argmax(truth[mine])])
        _, kind, t, text, data = astuple(events[f"last-caught:{sex_code}"])
        assert kind == "last_caught" and data["bib"] == bibs[last]
        name = race.participant(bibs[last]).name
        assert text == f"Last {word} caught at {truth[last] / 1000:.1f} km: {name} (bib {bibs[last]})."
        assert t == pytest.approx(caught_time[last], abs=10)
    for m in race.milestones_m:
        _, kind, _, text, data = astuple(events[f"car-milestone:{m:g}"])
        count = int(np.count_nonzero(truth > m))
        assert (
            kind == "car_milestone"
            and data["running"] == count
            and text.startswith(f"{count:,} runners still running at")
        )
    caught = [e for e in events.values() if e.kind == "caught"]
    assert len(caught) == len(bibs) and "Catcher Car catches " in caught[0].text


def test_a_relay_gets_the_catcher_car_numbers(world_run_plan):
    """The engine leader's snapshot, encoded for the relays and decoded: the catch distances, the
    predicted catches and the milestone forecast arrive as computed."""
    race, plan = world_run_plan
    now = plan.guns[1].time + 3600
    engine, _ = _engine_at(race, plan, now)
    snap = engine.compute(now)
    back, seq, _ = decode(encode(snap, seq=7), engine.bibs, engine.pens, engine.row)
    assert seq == 7 and back.forecast.milestones == snap.forecast.milestones
    for name in ("caught_at_m", "caught_time", "predicted_catch_m", "catch_low_m", "catch_high_m"):
        np.testing.assert_array_equal(getattr(back, name), getattr(snap, name))
    assert np.isfinite(back.caught_at_m).sum() > 100 and np.isfinite(back.predicted_catch_m).sum() > 100
