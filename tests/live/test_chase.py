"""Chase maths on hand-built races: projection, gaps, margins, catches and the outcome rule."""

from __future__ import annotations

import numpy as np
import pytest

from live.chase.chase import CLASSES, catch_point, evaluate, probability_classes, pursuer_position
from live.chase.projection import CLAMP_SHORT_M, project
from live.chase.snapshot import AHEAD, CAUGHT, REGISTERED, STARTED, WON

AT = np.array([0.0, 1000.0, 2000.0, 3000.0])
NAN = np.nan


def rows(*runs):
    return np.array(runs, dtype=float)


def test_projection_advances_at_the_last_pace_and_stops_short_of_the_next_mat():
    times = rows([0, 400, NAN, NAN])  # 2.5 m/s
    p = project(times, AT, np.array([3.0]), now=600)
    assert p.distance_m[0] == pytest.approx(1500)
    later = project(times, AT, np.array([3.0]), now=850)
    assert later.distance_m[0] == pytest.approx(2000 - CLAMP_SHORT_M)
    assert not later.overdue[0]
    assert project(times, AT, np.array([3.0]), now=1400).overdue[0]


def test_projection_blends_last_segment_with_the_race_so_far():
    times = rows([0, 300, 700, NAN])  # 3.33 m/s then 2.5 m/s
    p = project(times, AT, np.array([3.0]), now=800)
    blended = 0.6 * 2.5 + 0.4 * (2000 / 700)
    assert p.speed_m_s[0] == pytest.approx(blended)
    assert p.distance_m[0] == pytest.approx(2000 + 100 * blended)


def test_before_any_split_the_prior_speed_is_used():
    p = project(rows([100, NAN, NAN, NAN]), AT, np.array([4.0]), now=200)
    assert p.distance_m[0] == pytest.approx(400)


def running_pursuer(times, now, gun=150.0):
    return pursuer_position(np.array(times, dtype=float), AT, 5.0, gun, gun, now)


def test_runner_caught_between_two_mats_is_placed_and_timed_by_interpolation():
    runner = np.array([0, 400, NAN, NAN])  # 2.5 m/s
    pursuer = np.array([150, 350, NAN, NAN])  # 5 m/s
    at_m, t = catch_point(runner, pursuer, AT)
    assert at_m == pytest.approx(750)  # 2.5 t = 5 (t − 150)  →  t = 300
    assert t == pytest.approx(300)


def test_pursuer_read_first_at_a_mat_confirms_the_catch():
    times = rows([0, NAN, NAN, NAN], [0, 300, NAN, NAN])
    pursuer_times = np.array([150, 350, NAN, NAN])
    p = running_pursuer(pursuer_times, now=360)
    r = evaluate(times, AT, np.array([2.5, 3.5]), pursuer_times, p, 360, np.zeros(2))
    assert r.status[0] == CAUGHT, "runner 0 has not reached mat 1 where the pursuer was read"
    assert r.status[1] == AHEAD


def test_projections_crossing_is_a_provisional_catch_and_a_late_read_undoes_it():
    pursuer_times = np.array([150, NAN, NAN, NAN])
    times = rows([0, NAN, NAN, NAN])
    p = running_pursuer(pursuer_times, now=330)  # pursuer projected at 900 m
    r = evaluate(times, AT, np.array([2.5]), pursuer_times, p, 330, np.zeros(1))  # runner projected at 825 m
    assert r.status[0] == CAUGHT
    # the runner's read at 1000 m arrives late: he was there at 340 s, before the pursuer (350 s)
    times = rows([0, 340, NAN, NAN])
    p = running_pursuer(pursuer_times, now=345)
    r = evaluate(times, AT, np.array([2.5]), pursuer_times, p, 345, np.zeros(1))
    assert r.status[0] == AHEAD


def test_projections_that_have_barely_crossed_are_no_catch_yet():
    """A runner is projected from his last read: only once the pursuer is past him by more than that
    projection can be wrong (5 m and 5 % of the metres since the read) is he provisionally caught."""
    pursuer_times = np.array([150, NAN, NAN, NAN])
    times = rows([0, NAN, NAN, NAN], [0, NAN, NAN, NAN], [0, NAN, NAN, NAN])
    p = running_pursuer(pursuer_times, now=330)  # pursuer projected at 900 m
    prior = np.array([897.5, 860.0, 845.0]) / 330  # runners projected 2.5, 40 and 55 m behind him
    r = evaluate(times, AT, prior, pursuer_times, p, 330, np.zeros(3))
    assert list(np.round(r.gap_m, 1)) == [-2.5, -40.0, -55.0]
    assert list(r.status) == [AHEAD, AHEAD, CAUGHT], "slack: 49.9, 48.0 and 47.3 m"


def test_before_his_gun_the_gap_is_to_the_pursuer_on_the_start_line():
    """Waiting for his gun, the pursuer stands at the start (the API says 0 m): a runner's gap is his
    distance, not the 5 km and more his trajectory would put between them; the time he needs to
    reach the runner, and where he would, count the wait."""
    times = rows([0, NAN, NAN, NAN])
    p = pursuer_position(np.full(4, NAN), AT, 5.0, None, 150.0, 100.0)  # planned for 150, 5 m/s
    assert p.status == "waiting" and p.distance_m == pytest.approx(-250)
    r = evaluate(times, AT, np.array([2.5]), np.full(4, NAN), p, 100, np.zeros(1))
    assert r.gap_m[0] == pytest.approx(250), "2.5 m/s for 100 s, and he is on the line"
    assert r.gap_s[0] == pytest.approx((250 + 250) / 5), "50 s to wait, then 50 s to run"
    assert r.catch_in_s[0] == pytest.approx(500 / 2.5) and r.catch_at_m[0] == pytest.approx(750)


def test_a_runner_who_finishes_half_a_second_before_the_pursuer_wins():
    pursuer_times = np.array([150, 350, 550, 750.0])
    times = rows([0, 400, 600, 749.5], [0, 400, 600, 750.0], [0, 400, 600, 750.5])
    p = running_pursuer(pursuer_times, now=800)
    assert p.status == "finished"
    r = evaluate(times, AT, np.full(3, 4.0), pursuer_times, p, 800, np.zeros(3))
    assert list(r.status) == [WON, CAUGHT, CAUGHT], "strictly earlier wins; a tie is caught"
    assert r.margin_s[0] == pytest.approx(0.5)


def test_finishing_before_the_pursuer_finishes_is_a_win_already():
    pursuer_times = np.array([150, 350, NAN, NAN])
    times = rows([0, 250, 500, 700])
    p = running_pursuer(pursuer_times, now=710)
    r = evaluate(times, AT, np.array([4.0]), pursuer_times, p, 710, np.zeros(1))
    assert r.status[0] == WON
    assert r.margin_s[0] == pytest.approx(p.predicted_finish - 700)


def test_gap_margin_and_predicted_catch_for_a_runner_ahead():
    pursuer_times = np.array([150, NAN, NAN, NAN])
    times = rows([0, 250, NAN, NAN])  # 4 m/s
    now = 250.0
    p = running_pursuer(pursuer_times, now=now)  # pursuer at 500 m
    r = evaluate(times, AT, np.array([4.0]), pursuer_times, p, now, np.zeros(1))
    assert r.gap_m[0] == pytest.approx(500)
    assert r.gap_s[0] == pytest.approx(100)
    # runner finishes at 250 + 2000/4 = 750, pursuer at 150 + 600 = 750 → margin 0
    assert r.margin_s[0] == pytest.approx(0, abs=1e-6)
    # trajectories: 1000 + 4t = 500 + 5t → t = 500 s, at 3000 m = the finish: not before it
    assert np.isnan(r.catch_at_m[0])


def test_catch_predicted_before_the_finish():
    pursuer_times = np.array([150, NAN, NAN, NAN])
    times = rows([0, 400, NAN, NAN])  # 2.5 m/s
    p = running_pursuer(pursuer_times, now=400)  # pursuer at 1250 m, runner at 1000 m... already past
    r = evaluate(times, AT, np.array([2.5]), pursuer_times, p, 400, np.zeros(1))
    assert r.status[0] == CAUGHT
    p = running_pursuer(pursuer_times, now=200)  # pursuer at 250 m, runner (read at 0) at 500 m
    r = evaluate(rows([0, NAN, NAN, NAN]), AT, np.array([2.5]), pursuer_times, p, 200, np.zeros(1))
    # 500 + 2.5 t = 250 + 5 t → t = 100 s at 750 m
    assert r.catch_at_m[0] == pytest.approx(750)
    assert r.catch_in_s[0] == pytest.approx(100)


def test_before_the_pursuer_starts_runners_are_started_and_registered():
    p = pursuer_position(np.full(4, NAN), AT, 5.0, None, 1000.0, now=100)
    assert p.status == "waiting" and p.distance_m == pytest.approx(-4500)
    times = rows([0, NAN, NAN, NAN], [NAN, NAN, NAN, NAN])
    r = evaluate(times, AT, np.array([3.0, 3.0]), np.full(4, NAN), p, 100, np.array([0.0, 50.0]))
    assert list(r.status) == [STARTED, REGISTERED]
    # runner 1 leaves at 100 (now) at 3 m/s: 1100; pursuer: 1000 + 600 = 1600
    assert r.margin_s[1] == pytest.approx(500)


def test_classes_come_from_the_win_probability():
    status = np.array([AHEAD, AHEAD, AHEAD, CAUGHT, WON, REGISTERED], dtype=np.int8)
    p = np.array([0.9, 0.5, 0.1, 0.0, 1.0, 0.95])
    names = [CLASSES[c] for c in probability_classes(status, p)]
    assert names == ["safe", "at_risk", "doomed", "caught", "won", "registered"]


def test_a_pursuer_who_misses_a_mat_keeps_moving():
    pursuer_times = np.array([150, NAN, NAN, NAN])  # mat 1 never read him
    p = running_pursuer(pursuer_times, now=450)  # he should be at 1500 m
    assert p.distance_m == pytest.approx(1500)


def test_a_class_holds_until_the_chance_is_clearly_past_its_threshold():
    status = np.array([AHEAD, AHEAD, AHEAD], dtype=np.int8)
    before = probability_classes(status, np.array([0.81, 0.21, 0.19]))
    assert [CLASSES[c] for c in before] == ["safe", "at_risk", "doomed"]
    wobble = probability_classes(status, np.array([0.79, 0.19, 0.21]), before)
    assert [CLASSES[c] for c in wobble] == ["safe", "at_risk", "doomed"], "a point either way: no flicker"
    moved = probability_classes(status, np.array([0.70, 0.10, 0.30]), before)
    assert [CLASSES[c] for c in moved] == ["at_risk", "doomed", "at_risk"]
