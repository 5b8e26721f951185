"""The race loader: the default race, and every kind of broken race directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from live.race.errors import RaceError
from live.race.race_file import load_race
from tests.conftest import PARIS


def test_default_race_has_the_j1000_shape(paris):
    assert paris.distance_m == 5000
    assert abs(paris.course.measured_m - 5000) < 1
    assert len(paris.mats) >= 5
    assert any(len(m.at_m) >= 2 for m in paris.mats), "one mat must be crossed twice"
    assert [p.head_start_s / 60 for p in paris.pens] == [19, 14, 9, 4, 1]
    assert paris.pursuer.pace_s_per_km == 173
    assert len(paris.participants) == 3600
    assert paris.start_mat.at_m == 0 and paris.finish.at_m == 5000


def test_start_and_finish_at_the_arc(paris):
    arc = (48.87389, 2.29472)
    for d in (0, 5000):
        lon, lat = paris.course.lonlat_at(d)
        assert abs(float(lat) - arc[0]) < 0.002 and abs(float(lon) - arc[1]) < 0.003


def test_timing_points_follow_the_course(paris):
    at = [tp.at_m for tp in paris.timing_points]
    assert at == sorted(at)
    assert [tp.id for tp in paris.timing_points if tp.mat == "marbeuf"] == ["marbeuf", "marbeuf#2"]


def test_distance_and_position_round_trip(paris):
    for d in (10.0, 950.0, 2500.0, 4100.0):
        lon, lat = paris.course.lonlat_at(d)
        assert abs(paris.course.locate(float(lat), float(lon), near_m=d) - d) < 2.0


def test_chips_map_to_bibs_and_locations_to_mats(paris):
    p = paris.participants[5]
    assert paris.bib_for_chip(p.chips[0]) == p.bib
    assert paris.mat_for_location("FINISH") == "finish"
    assert paris.mat_for_location("nowhere") is None


@pytest.fixture
def race_dir(tmp_path: Path) -> Path:
    target = tmp_path / "race"
    shutil.copytree(PARIS, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new", "where", "says"),
    [
        ("race.toml", 'timezone = "Europe/Paris"', 'timezone = "Mars/Olympus"', "race.timezone", "unknown time zone"),
        ("race.toml", "pace_s_per_km = 173", "pace_s_per_km = -3", "pursuer.pace_s_per_km", "greater than 0"),
        ("race.toml", 'start = "10:19:00"', 'start = "25:99"', "pursuer.start", "HH:MM:SS"),
        ("race.toml", "at_m = [400, 4271]", "at_m = [4271, 400]", "mats[1].at_m", "increasing"),
        ("race.toml", "at_m = [400, 4271]", "at_m = [400, 9000]", "mats[1].at_m", "outside the course"),
        ("race.toml", "at_m = [400, 4271]", "at_m = [400, 3000]", "mats[1].at_m", "apart on the course map"),
        ("race.toml", "distance_m = 5000", "distance_m = 8000", "race.distance_m", "differs from the measured"),
        ("race.toml", 'course = "course.geojson"', 'course = "nope.geojson"', "race.course", "not found"),
        ("race.toml", "chronotrack_port = 61611", "chronotrack_port = 70000", "readers.chronotrack_port", "1–65535"),
        ("race.toml", "chronotrack_port = 61611", 'chronotrack_port = "x"', "readers.chronotrack_port", "a number"),
        ("race.toml", "pace_s_per_km = 173", "pace_s_per_km = nan", "pursuer.pace_s_per_km", "finite number"),
        ("race.toml", "head_start_s = 60", "head_start_s = inf", "pens[4].head_start_s", "finite number"),
        ("race.toml", "quota = 500", "quota = 500\nmax_speed_m_s = nan", "race.max_speed_m_s", "finite number"),
        ("race.toml", "distance_m = 5000", "distance_m = nan", "race.distance_m", "positive number"),
        ("race.toml", "at_m = [400, 4271]", "at_m = [400, inf]", "mats[1].at_m", "list of distances"),
        ("race.toml", "[readers]", "[readers]\ntime_window_h = inf", "readers.time_window_h", "finite number"),
        ("race.toml", "pace_s_per_km = 173", "schedule = [[0, inf]]", "pursuer.schedule", "finite number"),
        (
            "race.toml",
            "chronotrack_port = 61611",
            'chronotrack_port = 61611\n[[readers.raceresult]]\nmat = "finish"\nhost = "10.0.0.21"\nport = 70000',
            "readers.raceresult[0].port",
            "1–65535",
        ),
        ("participants.csv", "100,", "101,", "line 4", "already used on line 3"),
        ("participants.csv", ",1,M,Senior,", ",,M,Senior,", "line 3", "has no pen"),
        ("participants.csv", ",1,M,Senior,", ",9,M,Senior,", "line 3", "pen '9'"),
        ("participants.csv", "bib,chip", "bib,chips", "line 1", "header must be"),
    ],
)
def test_broken_race_files_name_file_place_and_problem(race_dir, file, old, new, where, says):
    _edit(race_dir / file, old, new)
    with pytest.raises(RaceError) as err:
        load_race(race_dir)
    assert err.value.file.endswith(file)
    assert err.value.where == where
    assert says in err.value.message


def test_bad_toml_syntax_is_reported(race_dir):
    (race_dir / "race.toml").write_text("[race\nid = 1\n", encoding="utf-8")
    with pytest.raises(RaceError, match="race.toml: not valid TOML"):
        load_race(race_dir)


def test_declared_time_must_be_a_number(race_dir):
    csv = race_dir / "participants.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",fast"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RaceError, match=r"participants.csv: line 3: declared_s 'fast'"):
        load_race(race_dir)


@pytest.mark.parametrize("declared", ["nan", "inf", "-60"])
def test_declared_time_must_be_a_positive_finite_number(race_dir, declared):
    csv = race_dir / "participants.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + "," + declared
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        RaceError, match=rf"participants.csv: line 3: declared_s must be a positive number .*'{declared}'"
    ):
        load_race(race_dir)


def test_two_chips_for_one_bib(race_dir):
    _edit(race_dir / "participants.csv", "100,E61A36,", "100,E61A36|BACKUP1,")
    race = load_race(race_dir)
    assert race.bib_for_chip("BACKUP1") == race.bib_for_chip("E61A36") == "100"


def test_gpx_course_is_accepted(race_dir):
    race = load_race(race_dir)
    points = "".join(f'<trkpt lat="{lat}" lon="{lon}"/>' for lon, lat in race.course.coordinates())
    (race_dir / "course.gpx").write_text(
        f'<?xml version="1.0"?><gpx xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{points}</trkseg></trk></gpx>',
        encoding="utf-8",
    )
    _edit(race_dir / "race.toml", 'course = "course.geojson"', 'course = "course.gpx"')
    assert abs(load_race(race_dir).course.measured_m - 5000) < 1


def test_pursuer_must_be_a_participant(race_dir):
    _edit(race_dir / "participants.csv", "1,KIP001,Eliud Kipchoge,,", "1,KIP001,Eliud Kipchoge,5,")
    _edit(race_dir / "race.toml", 'bib = "1"', 'bib = "99999"')
    with pytest.raises(RaceError, match=r"race.toml: pursuer.bib: bib '99999' is not in participants.csv"):
        load_race(race_dir)


def test_a_catcher_car_schedule_replaces_the_pace(race_dir):
    _edit(race_dir / "race.toml", "pace_s_per_km = 173", "schedule = [[0, 15], [3600, 16], [7200, 17]]")
    race = load_race(race_dir)
    assert race.pursuer.schedule is not None and race.pursuer.pace_s_per_km == 240
    _edit(race_dir / "race.toml", "schedule = [[0, 15]", "schedule = [[60, 15]")
    with pytest.raises(RaceError, match="pursuer.schedule: must be"):
        load_race(race_dir)


def test_reader_ports_are_the_race_files_per_protocol_else_the_protocols_own(paris, race_dir):
    assert paris.readers.port("chronotrack", 1) == 61611, "set in the race file"
    assert paris.readers.port("mylaps", 3097) == 3097 and paris.readers.port("newvendor", 4000) == 4000
    _edit(race_dir / "race.toml", "chronotrack_port = 61611", "chronotrack_port = 61612\nnewvendor_port = 4001")
    readers = load_race(race_dir).readers
    assert readers.port("chronotrack", 1) == 61612 and readers.port("newvendor", 4000) == 4001


OPERATORS = (
    '\n[[operators]]\nname = "Alice"\ntoken_sha256 = "' + "ab" * 32 + '"\n'
    '\n[[operators]]\nname = "Bob"\ntoken_sha256 = "' + "CD" * 32 + '"\n'
)


def test_operators_are_names_and_token_hashes(race_dir):
    (race_dir / "race.toml").write_text((race_dir / "race.toml").read_text() + OPERATORS, encoding="utf-8")
    race = load_race(race_dir)
    assert [(o.name, o.token_sha256) for o in race.operators] == [("Alice", "ab" * 32), ("Bob", "cd" * 32)]


@pytest.mark.parametrize(
    ("old", "new", "where", "says"),
    [
        ('"' + "ab" * 32 + '"', '"secret-token"', "operators[0].token_sha256", "64 hex digits"),
        ('name = "Bob"', 'name = "Alice"', "operators[1].name", "listed twice"),
        ('"' + "CD" * 32 + '"', '"' + "ab" * 32 + '"', "operators[1].token_sha256", "share one token"),
        ('name = "Bob"', 'name = ""', "operators[1].name", "non-empty"),
    ],
)
def test_a_wrong_operator_is_named(race_dir, old, new, where, says):
    (race_dir / "race.toml").write_text((race_dir / "race.toml").read_text() + OPERATORS, encoding="utf-8")
    _edit(race_dir / "race.toml", old, new)
    with pytest.raises(RaceError) as err:
        load_race(race_dir)
    assert err.value.where == where and says in err.value.message


def test_an_optional_nation_column(race_dir):
    """``nation`` may follow the seven columns (a World Run ranks per nation); without it, none."""
    assert all(p.nation == "" for p in load_race(race_dir).participants)
    csv = race_dir / "participants.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    csv.write_text("\n".join([lines[0] + ",nation", *(f"{line},FRA" for line in lines[1:])]) + "\n", encoding="utf-8")
    assert {p.nation for p in load_race(race_dir).participants} == {"FRA"}
    for bad, where, says in (
        (lines[0] + ",country", "line 1", "[,nation]"),
        (lines[0] + ",nation\n" + lines[1], "line 2", "expected 8 fields, got 7"),
    ):
        csv.write_text(bad + "\n", encoding="utf-8")
        with pytest.raises(RaceError) as err:
            load_race(race_dir)
        assert err.value.where == where and says in err.value.message
