"""A catcher car on the Wings for Life speed schedule reproduces the published catches."""

from __future__ import annotations

import numpy as np
import pytest

from live.chase.chase import evaluate, pursuer_position
from live.chase.snapshot import AHEAD, CAUGHT
from live.race.schedule import WINGS_FOR_LIFE, WINGS_FOR_LIFE_DELAY_S, SpeedSchedule


def car_km_at_race_time(race_s: float) -> float:
    return float(WINGS_FOR_LIFE.distance_at(race_s - WINGS_FOR_LIFE_DELAY_S)) / 1000.0


@pytest.mark.parametrize(
    ("published_km", "race_time_s"),
    [(61.09, 4 * 3600 + 9 * 60), (88.44, 5.5 * 3600)],
)
def test_published_catches_within_one_km(published_km, race_time_s):
    assert abs(car_km_at_race_time(race_time_s) - published_km) < 1.0


def test_the_79_9_km_catch_after_about_five_hours():
    # the car reaches 79.9 km at 5:05:42 of race time; the source says "after about 5 h"
    race_s = float(WINGS_FOR_LIFE.elapsed_at(79_900)) + WINGS_FOR_LIFE_DELAY_S
    assert abs(race_s - 5 * 3600) < 10 * 60
    assert abs(car_km_at_race_time(5 * 3600) - 79.9) < 2.0


def test_distance_and_time_are_inverse():
    t = np.array([0, 1800, 3600, 9000, 20000.0])
    assert WINGS_FOR_LIFE.elapsed_at(WINGS_FOR_LIFE.distance_at(t)) == pytest.approx(t)
    assert WINGS_FOR_LIFE.distance_at(3600) == pytest.approx(15000)
    assert WINGS_FOR_LIFE.speed_at(3 * 3600 + 1) == pytest.approx(20 / 3.6)


def test_bad_schedules_are_refused():
    for steps in [((10, 15.0),), ((0, 15.0), (0, 16.0)), ((0, -1.0),)]:
        with pytest.raises(ValueError):
            SpeedSchedule(steps)


def test_engine_chase_with_a_catcher_car():
    at = np.array([0.0, 10_000, 20_000, 100_000])
    start = WINGS_FOR_LIFE_DELAY_S
    now = 2 * 3600.0  # car has run 1.5 h: 15 km + 8 km = 23 km
    car = pursuer_position(np.full(4, np.nan), at, 15 / 3.6, start, start, now, WINGS_FOR_LIFE)
    assert car.status == "running" and car.distance_m == pytest.approx(23_000)
    # a 10 km/h runner (at 20 km now) is caught; a 12 km/h runner (24 km... read at 20 km at 6000 s) is ahead
    times = np.array([[0, 3600, 7200, np.nan], [0, 3000, 6000, np.nan]])
    r = evaluate(times, at, np.array([3.0, 3.0]), np.full(4, np.nan), car, now, np.zeros(2))
    assert list(r.status) == [CAUGHT, AHEAD]
