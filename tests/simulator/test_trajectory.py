"""Planned trajectories: deterministic, plausible, and the J-1000's outcome in a sane band."""

from __future__ import annotations

import numpy as np
import pytest

from live.race.race import Race
from simulator import trajectory
from simulator.trajectory import Crossing, RacePlan, plan_race, true_outcome

FIRST_GUN = 1635670800.0  # 2021-10-31 10:00:00 Paris


@pytest.fixture(scope="module")
def plan(paris: Race) -> RacePlan:
    return plan_race(paris, FIRST_GUN, seed=2021)


def test_same_seed_same_race_other_seed_other_race(paris: Race, plan: RacePlan):
    again = plan_race(paris, FIRST_GUN, seed=2021)
    other = plan_race(paris, FIRST_GUN, seed=7)
    assert np.array_equal(again.crossings, plan.crossings) and again.reads == plan.reads
    assert np.abs(other.crossings[:-1, -1] - plan.crossings[:-1, -1]).mean() > 10.0, "finish times differ by seconds"


def test_guns_in_release_order_then_the_pursuer(paris: Race, plan: RacePlan):
    assert [g.pen for g in plan.guns] == ["1", "2", "3", "4", "5", ""]
    assert [g.time - FIRST_GUN for g in plan.guns] == pytest.approx([0, 300, 600, 900, 1080, 1140], abs=0.005)


def test_pursuer_runs_his_pace_from_his_gun(paris: Race, plan: RacePlan):
    gun = plan.guns[-1].time
    row = plan.crossings[-1]
    assert str(plan.bibs[-1]) == paris.pursuer.bib and plan.pens[-1] == ""
    assert row[-1] == pytest.approx(gun + 865.0, abs=0.005)
    expected = gun + np.array([tp.at_m for tp in paris.timing_points]) * 0.173
    assert np.abs(row - expected).max() < 2.0, "evenly, with tiny noise"


def test_every_runner_crosses_the_points_in_course_order(plan: RacePlan):
    assert plan.crossings.shape[1] == 7
    assert (np.diff(plan.crossings, axis=1) > 0).all()


def test_runners_leave_within_40_s_of_their_pens_gun_front_first(paris: Race, plan: RacePlan):
    gun = {g.pen: g.time for g in plan.guns}
    delay_s = plan.crossings[:-1, 0] - np.array([gun[p] for p in plan.pens[:-1]])
    assert delay_s.min() >= 0 and delay_s.max() <= 40.0
    declared = {p.bib: p.declared_s for p in paris.participants}
    pen5 = plan.pens[:-1] == "5"
    fast = np.array([declared[b] for b in plan.bibs[:-1][pen5]])
    assert np.corrcoef(fast, delay_s[pen5])[0, 1] > 0.9, "the fastest stand at the front"


def test_fast_first_km_and_a_fade_that_grows_with_finish_time(paris: Race, plan: RacePlan):
    at_m = np.array([tp.at_m for tp in paris.timing_points])
    runs = plan.crossings[:-1] - plan.crossings[:-1, :1]
    pace = np.diff(runs, axis=1) / np.diff(at_m)  # s/m per segment
    mean_pace = runs[:, -1] / at_m[-1]
    first = pace[:, 0] / mean_pace
    last = pace[:, -1] / mean_pace
    assert 0.92 < np.median(first) < 0.98, "the first 400 m are run faster than average"
    total = runs[:, -1]
    fast, slow = total < np.percentile(total, 20), total > np.percentile(total, 80)
    assert 1.0 < np.median(last[fast]) < np.median(last[slow]) < 1.08


def test_raw_reads_one_to_four_per_crossing_within_1_5_s(plan: RacePlan):
    reads = plan.reads
    assert [r.time for r in reads] == sorted(r.time for r in reads)
    n_crossings = plan.crossings.size
    assert n_crossings <= len(reads) <= 4 * n_crossings
    chip_row = {str(c): i for i, c in enumerate(plan.chips)}
    mat_col = {m: [j for j, x in enumerate(plan.mats) if x == m] for m in set(plan.mats)}
    by_crossing: dict[tuple[int, int], list[float]] = {}
    for r in reads:
        i = chip_row[r.chip]
        j = min(mat_col[r.mat], key=lambda j: abs(plan.crossings[i, j] - r.time))
        by_crossing.setdefault((i, j), []).append(r.time)
    assert len(by_crossing) == n_crossings
    for (i, j), times in by_crossing.items():
        assert 1 <= len(times) <= 4
        assert times[0] == plan.crossings[i, j] and times[-1] - times[0] <= 1.5 + 1e-9


def test_crossing_list_is_every_crossing_in_time_order(paris: Race, plan: RacePlan):
    crossings = plan.crossing_list
    assert len(crossings) == plan.crossings.size
    assert [c.time for c in crossings] == sorted(c.time for c in crossings)
    pursuer_finish = next(c for c in crossings if c.bib == paris.pursuer.bib and c.timing_point_index == 6)
    assert pursuer_finish == Crossing(plan.pursuer_finish, "finish", "KIP001", "1", 6)


def test_a_sample_runs_exactly_as_in_the_full_race(paris: Race, plan: RacePlan):
    sample = plan_race(paris, FIRST_GUN, seed=2021, runners=50)
    assert len(sample.bibs) == 51 and str(sample.bibs[-1]) == paris.pursuer.bib
    assert np.array_equal(plan_race(paris, FIRST_GUN, seed=2021, runners=50).bibs, sample.bibs)
    row = {str(b): i for i, b in enumerate(plan.bibs)}
    full_rows = [row[str(b)] for b in sample.bibs]
    assert np.array_equal(plan.crossings[full_rows], sample.crossings)


def test_the_j1000_gives_about_a_thousand_winners_and_starves_pens_4_5(paris: Race, plan: RacePlan):
    outcome = true_outcome(plan)
    print(f"\ntrue winners {outcome.winners}: {outcome.winners_per_pen}")
    assert 850 <= outcome.winners <= 1250, "the J-1000 had 'more than 1,000' finish before Kipchoge"
    pen_size = {pen: int((plan.pens == pen).sum()) for pen in outcome.winners_per_pen}
    assert all(outcome.winners_per_pen[p] > 0.2 * pen_size[p] for p in ("1", "2", "3"))
    assert all(outcome.winners_per_pen[p] < 0.02 * pen_size[p] for p in ("4", "5")), "nearly all caught"
    won = [bib for bib, w in outcome.won.items() if w]
    assert len(won) == outcome.winners == sum(plan.winners().values())
    assert all(outcome.finish[b] < outcome.pursuer_finish for b in won)
    assert all(outcome.finish[b] >= outcome.pursuer_finish for b, w in outcome.won.items() if not w)


def test_rssi_rises_to_one_peak_and_falls_within_a_crossing(plan: RacePlan):
    by_crossing: dict[tuple[str, str, int], list[float]] = {}
    for r in plan.reads:
        by_crossing.setdefault((r.chip, r.mat, int(r.time // 60)), []).append(r.rssi)
    several = [v for v in by_crossing.values() if len(v) >= 3]
    assert len(several) > 1000 and all(-90 < x < -30 for v in several for x in v)
    peak_inside = sum(0 < int(np.argmax(v)) < len(v) - 1 for v in several)
    assert peak_inside > 0.4 * len(several), "a burst peaks in the middle of the field, not at its edge"
    for v in several:
        top = int(np.argmax(v))
        assert v[: top + 1] == sorted(v[: top + 1]) and v[top:] == sorted(v[top:], reverse=True)


def test_a_missed_crossing_has_no_reads_and_is_listed(paris: Race):
    plan = plan_race(paris, FIRST_GUN, seed=2021, runners=300, miss_rates={"finish": 0.05})
    clean = plan_race(paris, FIRST_GUN, seed=2021, runners=300)
    assert 5 < len(plan.missed) < 40 and {c.mat for c in plan.missed} == {"finish"}
    missed = {(c.chip, c.mat) for c in plan.missed}
    assert not any((r.chip, r.mat) in missed for r in plan.reads)
    assert [r for r in clean.reads if (r.chip, r.mat) not in missed] == plan.reads
    assert true_outcome(plan) == true_outcome(clean), "the truth does not depend on what the mats saw"


def test_a_few_runners_stop_once_and_a_few_run_faster_than_their_pen(paris: Race, plan: RacePlan, monkeypatch):
    monkeypatch.setattr(trajectory, "STOP_SHARE", 0.0)
    no_stops = plan_race(paris, FIRST_GUN)
    monkeypatch.setattr(trajectory, "UNDER_DECLARED_SHARE", 0.0)
    plain = plan_race(paris, FIRST_GUN)
    n = len(plan.bibs) - 1
    # stops: the same crossings up to one point, then every later one later by the stop
    delta = plan.crossings[:n] - no_stops.crossings[:n]
    stopped = np.flatnonzero(np.abs(delta).max(axis=1) > 0.02)
    assert 0.005 * n < len(stopped) < 0.02 * n
    for row in stopped:
        changed = np.abs(delta[row]) > 0.02
        first = int(np.argmax(changed))
        assert changed[first:].all(), "nothing changes before the stop, everything after"
        assert np.allclose(delta[row][first:], delta[row][-1], atol=0.02) and 15.0 <= delta[row][-1] <= 90.0
    # under-declared: 8-20 % faster than the level their pen was chosen by, in the same pen
    elapsed = no_stops.crossings[:n, -1] - no_stops.crossings[:n, 0]
    plain_elapsed = plain.crossings[:n, -1] - plain.crossings[:n, 0]
    faster = np.flatnonzero(np.abs(elapsed - plain_elapsed) > 0.05)
    assert 0.007 * n < len(faster) < 0.03 * n
    ratio = elapsed[faster] / plain_elapsed[faster]
    assert ((ratio > 0.78) & (ratio < 0.93)).all(), ratio
    np.testing.assert_array_equal(plan.pens[faster], plain.pens[faster])
