"""Event directories (live/race/event.py): several races, shared mats, and the cross-race errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from live.race.errors import RaceError
from live.race.event import load_event
from tests.helpers import write_event
from tests.helpers.paths import PARIS


def test_a_race_directory_is_an_event_of_one_race():
    event = load_event(PARIS)
    assert [r.id for r in event.races] == ["paris-j1000"]
    assert event.id == "paris-j1000" and event.first is event.races[0]
    assert event.ingest_race() is event.first  # one race: the readers see exactly the race


def test_an_event_lists_its_races_in_order_and_routes_chips(tmp_path: Path):
    event = load_event(write_event(tmp_path))
    assert event.id == "paris-2024" and event.name == "Paris 2024" and str(event.date) == "2021-10-31"
    assert [r.id for r in event.races] == ["chase-a", "chase-b"]
    a, b = event.races
    assert event.race_of_chip("E61A36") is a and event.race_of_chip("BE61A36") is b
    assert event.race_of_chip("NOBODY") is None
    ingest = event.ingest_race()
    assert {m.id for m in ingest.mats} == {m.id for m in a.mats}
    assert ingest.bib_for_chip("BE61A36") == "100"  # the readers' unknown-chip check knows every race's chips
    assert ingest.mat_for_location("FINISH") == "finish"


def test_every_cross_race_error_is_named_at_once(tmp_path: Path):
    root = write_event(tmp_path)
    rows = (root / "chase-b" / "participants.csv").read_text(encoding="utf-8").splitlines()
    rows[3] = rows[3].replace(rows[3].split(",")[1], "777A06")  # a chip of chase-a (its line 4)
    (root / "chase-b" / "participants.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    toml = (root / "chase-b" / "race.toml").read_text(encoding="utf-8")
    toml = toml.replace("chronotrack_port = 61611", "chronotrack_port = 61612")
    toml += '\n[[readers.raceresult]]\nmat = "concorde"\nhost = "10.0.0.9"\n'
    (root / "chase-b" / "race.toml").write_text(toml, encoding="utf-8")
    (root / "event.toml").write_text(
        (root / "event.toml").read_text(encoding="utf-8").replace('"chase-b"]', '"chase-b", "ten-k"]'),
        encoding="utf-8",
    )
    with pytest.raises(RaceError) as caught:
        load_event(root)
    message = str(caught.value)
    assert str(root / "event.toml") in message
    assert "races[2]: no race directory 'ten-k'" in message
    assert "chip '777A06' is in two races: chase-a/participants.csv line 4 (race chase-a) and " \
        "chase-b/participants.csv line 4 (race chase-b)" in message  # fmt: skip
    assert "chase-b/race.toml: readers.raceresult: shared mat 'concorde' is a RACE RESULT decoder at 10.0.0.9:3601" \
        in message  # fmt: skip
    assert "chase-b/race.toml: readers.ports" in message and "61612" in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[event]\nid = "x y"\nname = "n"\ntimezone = "UTC"\ndate = 2024-01-01\nraces = ["a"]\n', "event.id"),
        ('[event]\nid = "x"\nname = "n"\ntimezone = "Mars/Base"\ndate = 2024-01-01\nraces = ["a"]\n', "event.timezone"),
        ('[event]\nid = "x"\nname = "n"\ntimezone = "UTC"\ndate = 2024-01-01\nraces = []\n', "races"),
        ('[event]\nid = "x"\nname = "n"\ntimezone = "UTC"\ndate = "soon"\nraces = ["a"]\n', "event.date"),
        ("[event\n", "not valid TOML"),
    ],
)
def test_a_wrong_event_file_names_its_key(tmp_path: Path, text: str, where: str):
    (tmp_path / "event.toml").write_text(text, encoding="utf-8")
    with pytest.raises(RaceError, match=where):
        load_event(tmp_path)


def test_two_races_with_one_id_are_refused(tmp_path: Path):
    root = write_event(tmp_path)
    toml = (root / "chase-b" / "race.toml").read_text(encoding="utf-8")
    (root / "chase-b" / "race.toml").write_text(toml.replace('id = "chase-b"', 'id = "chase-a"'), encoding="utf-8")
    with pytest.raises(RaceError, match=r"races\[1\]: race id 'chase-a'"):
        load_event(root)
