"""Race files of a race without a pursuer, pens with a start time of their own, and ``[quotas]``."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from live.race.errors import RaceError
from live.race.race_file import load_race
from tests.helpers.paths import PARIS
from tests.helpers.plain_race import write_plain_race


@pytest.fixture
def plain_dir(tmp_path: Path) -> Path:
    return write_plain_race(tmp_path / "plain")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_race_without_a_pursuer_loads_with_pens_at_their_own_times(plain_dir):
    race = load_race(plain_dir)
    assert race.pursuer is None and race.pursuer_bib is None
    assert [(p.id, p.head_start_s) for p in race.pens] == [("A", None), ("B", None)]
    assert [p.planned_start.strftime("%H:%M:%S") for p in race.pens] == ["10:00:00", "10:05:00"]
    assert race.pens[0].planned_start.date().isoformat() == "2024-08-10"
    assert race.runners == race.participants and len(race.runners) == 400
    assert race.distance_m == 10000 and [tp.at_m for tp in race.timing_points if tp.mat == "finish"] == [5000, 10000]
    assert race.quotas == {"sex": {"F": 50}, "category": {"Master": 40}}


def test_pens_are_in_release_order_whatever_the_file_order(plain_dir):
    _edit(plain_dir / "race.toml", 'start = "10:00:00"', 'start = "10:09:00"')
    assert [p.id for p in load_race(plain_dir).pens] == ["B", "A"]


@pytest.mark.parametrize(
    ("old", "new", "where", "says"),
    [
        ('start = "10:00:00"', "head_start_s = 600", "pens[0].head_start_s", 'start = "HH:MM:SS"'),
        ('start = "10:00:00"', 'name2 = "x"', "pens[0].start", "missing"),
        ('start = "10:05:00"', 'start = "10:05:00"\nhead_start_s = 60', "pens[1]", "not both"),
        ('start = "10:05:00"', 'start = "25:00"', "pens[1].start", "HH:MM:SS"),
        ("sex.F = 50", "sex.F = -3", "quotas.sex.F", "whole number"),
        ("sex.F = 50", "sex.X = 5", "quotas.sex.X", "no participant has sex 'X'"),
        ("sex.F = 50", "age.F = 5", "quotas.age", "unknown group"),
        ("category.Master = 40", "category.Master = 2.5", "quotas.category.Master", "whole number"),
    ],
)
def test_broken_plain_race_files_name_the_key(plain_dir, old, new, where, says):
    _edit(plain_dir / "race.toml", old, new)
    with pytest.raises(RaceError) as info:
        load_race(plain_dir)
    assert info.value.where == where and says in info.value.message, str(info.value)
    assert info.value.file.endswith("race.toml")


def test_without_a_pursuer_every_participant_needs_a_pen(plain_dir):
    path = plain_dir / "participants.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = lines[3].split(",")
    fields[3] = ""
    lines[3] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RaceError) as info:
        load_race(plain_dir)
    assert info.value.where == "line 4" and "has no pen (the race has no pursuer)" in info.value.message


def test_a_chase_pen_may_give_its_start_time_instead_of_a_head_start(tmp_path):
    race_dir = tmp_path / "race"
    shutil.copytree(PARIS, race_dir)
    _edit(race_dir / "race.toml", "head_start_s = 1140", 'start = "10:00:00"')  # 19 min before 10:19
    race = load_race(race_dir)
    assert race.pens[0].head_start_s == 1140 and race.pens[0].planned_start.strftime("%H:%M") == "10:00"
    assert [p.head_start_s for p in race.pens] == [1140, 840, 540, 240, 60], "the same race as the J-1000's"
    _edit(race_dir / "race.toml", 'start = "10:00:00"', 'start = "10:20:00"')
    with pytest.raises(RaceError) as info:
        load_race(race_dir)
    assert info.value.where == "pens[0].start" and "not before the pursuer's start" in info.value.message


def test_the_j1000_without_its_pursuer_table_is_a_plain_race_that_asks_for_pen_starts(tmp_path):
    race_dir = tmp_path / "race"
    shutil.copytree(PARIS, race_dir)
    text = (race_dir / "race.toml").read_text(encoding="utf-8")
    start, end = text.index("[pursuer]"), text.index("[[pens]]")
    (race_dir / "race.toml").write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(RaceError) as info:
        load_race(race_dir)
    assert info.value.where == "pens[0].head_start_s" and "has no [pursuer]" in info.value.message


def test_require_pursuer_names_what_needs_one(plain_dir, paris):
    assert paris.require_pursuer("a plan") is paris.pursuer
    with pytest.raises(RaceError) as info:
        load_race(plain_dir).require_pursuer("pursuit plan")
    assert info.value.where == "pursuer" and "pursuit plan needs a pursuer" in info.value.message


def test_a_start_is_a_time_of_day_on_the_race_date_in_its_zone(plain_dir):
    race = load_race(plain_dir)
    assert race.pens[1].planned_start == datetime(2024, 8, 10, 10, 5, tzinfo=race.timezone)
