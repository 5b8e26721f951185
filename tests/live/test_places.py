"""Places overall, within sex and within sex and category: the pure ranking (live/chase/places.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from live.chase.places import Groups, counts_by, rank

nan = np.nan


def test_places_overall_within_sex_and_within_sex_and_category():
    key = np.array([300.0, 100.0, nan, 200.0, 150.0, 400.0])
    sex = np.array(["F", "M", "F", "F", "M", "F"], dtype=object)
    cat = np.array(["Senior", "Master", "Senior", "Master", "Master", "Senior"], dtype=object)
    p = rank(key, Groups.of(sex, cat))
    assert p.place.tolist() == [4, 1, 0, 3, 2, 5]
    assert p.place_sex.tolist() == [2, 1, 0, 1, 2, 3]
    # category places count within the sex: F Senior, M Master, F Master are three groups
    assert p.place_category.tolist() == [1, 1, 0, 1, 2, 2]
    assert p.of(0) == (4, 2, 1) and p.of(2) == (None, None, None)


def test_equal_results_get_consecutive_places_by_tiebreak_then_roster_order():
    key = np.array([50.0, 50.0, 50.0, 10.0])
    sex = np.array(["M"] * 4, dtype=object)
    cat = np.array(["Senior"] * 4, dtype=object)
    assert rank(key, Groups.of(sex, cat)).place.tolist() == [2, 3, 4, 1], "no tiebreak: the roster's order"
    net = np.array([49.0, 47.0, nan, 9.0])
    p = rank(key, Groups.of(sex, cat), tiebreak=net)
    assert p.place.tolist() == [3, 2, 4, 1], "the shorter net time first; a runner with none last"
    assert p.place_sex.tolist() == p.place.tolist() and p.place_category.tolist() == p.place.tolist()


def test_a_runner_without_sex_or_category_keeps_his_overall_place_only():
    key = np.array([1.0, 2.0, 3.0, 4.0])
    sex = np.array(["", "F", "F", "F"], dtype=object)
    cat = np.array(["Senior", "", "Senior", "Senior"], dtype=object)
    p = rank(key, Groups.of(sex, cat))
    assert p.place.tolist() == [1, 2, 3, 4]
    assert p.place_sex.tolist() == [0, 1, 2, 3], "no sex: no place within one, and the others are not pushed down"
    assert p.place_category.tolist() == [0, 0, 1, 2]


def test_nobody_placed_and_nobody_at_all():
    p = rank(np.full(3, nan), Groups.of(np.array(["F"] * 3, dtype=object), np.array(["S"] * 3, dtype=object)))
    assert p.place.tolist() == [0, 0, 0]
    empty = rank(np.zeros(0), Groups.of(np.zeros(0, dtype=object), np.zeros(0, dtype=object)))
    assert len(empty.place) == 0


def test_a_distance_ranks_by_its_negative():
    """The catcher-car format ranks by the distance at which the car passed: the farthest first."""
    caught_at_m = np.array([12_300.0, 25_100.0, 8_000.0])
    groups = Groups.of(np.array(["F", "M", "F"], dtype=object), np.array(["S", "S", "S"], dtype=object))
    p = rank(-caught_at_m, groups)
    assert p.place.tolist() == [2, 1, 3] and p.place_sex.tolist() == [1, 1, 2]


@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 20)), st.sampled_from("FM"), st.sampled_from("AB"))))
def test_places_are_a_permutation_within_every_group(rows):
    key = np.array([nan if k is None else float(k) for k, _, _ in rows])
    sex = np.array([s for _, s, _ in rows], dtype=object)
    cat = np.array([c for _, _, c in rows], dtype=object)
    p = rank(key, Groups.of(sex, cat))
    placed = ~np.isnan(key)
    assert sorted(p.place[placed].tolist()) == list(range(1, int(placed.sum()) + 1))
    for s in "FM":
        group = placed & (sex == s)
        assert sorted(p.place_sex[group].tolist()) == list(range(1, int(group.sum()) + 1))
        order = np.argsort(p.place_sex[group])
        assert np.all(np.diff(key[group][order]) >= 0), "a better result never has a worse place"
    assert np.all(p.place[~placed] == 0)


def test_counts_by_sex_and_category_with_quotas():
    sex = np.array(["F", "M", "F", "M", ""], dtype=object)
    cat = np.array(["Master", "Senior", "Senior", "Master", "Senior"], dtype=object)
    done = np.array([True, True, False, False, True])
    running = np.array([False, False, True, True, False])
    table = counts_by(sex, cat, done, running, {"sex": {"F": 1}, "category": {"Master": 3}}, "finished")
    assert table["sex"] == {
        "F": {"runners": 2, "finished": 1, "running": 1, "quota": 1},
        "M": {"runners": 2, "finished": 1, "running": 1, "quota": None},
        "": {"runners": 1, "finished": 1, "running": 0, "quota": None},
    }
    assert list(table["sex"]) == ["F", "M", ""], "labels sorted, the unknown last"
    assert table["category"]["Master"] == {"runners": 2, "finished": 1, "running": 1, "quota": 3}
    assert table["category"]["Senior"] == {"runners": 3, "finished": 2, "running": 1, "quota": None}
