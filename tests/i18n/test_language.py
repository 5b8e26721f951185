"""The language of a request, numbers as each language writes them, the race's default language and
the results' header row for a person."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from i18n.catalogue import language
from i18n.choice import accepted, choose
from i18n.numbers import clock, decimal, integer, km
from i18n.results import with_display_header
from live.race.errors import RaceError
from live.race.race_file import load_race
from tests.conftest import PARIS

NNBSP = "\u202f"  # the narrow no-break space Babel's French locale groups digits with


def test_numbers_times_and_distances_in_each_language():
    assert integer(1126, "fr") == f"1{NNBSP}126" and integer(1126, "en") == "1,126"
    assert km(4680, "fr") == "4,68 km" and km(4680, "en") == "4.68 km"
    assert decimal(0.5, 2, "fr") == "0,50" and integer(None, "fr") == "–"
    assert clock(205) == "3:25" and clock(3805) == "1:03:25"


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        ("fr-FR,fr;q=0.9,en-US;q=0.8", ["fr", "en"]),
        ("en-GB,en;q=0.9", ["en"]),
        ("de-DE, fr;q=0.3, en;q=0.5", ["en", "fr"]),
        ("fr;q=0, en", ["en"]),  # q=0: not acceptable
        ("*", []),
        ("fr;q=abc, en", ["en"]),  # a malformed weight is skipped, not fatal
        ("", []),
        (None, []),
    ],
)
def test_accept_language_in_order_of_preference(header: str | None, wanted: list[str]):
    assert accepted(header) == wanted


def test_the_switch_then_the_browser_then_the_race():
    assert choose("en", "fr-FR", "fr") == "en"  # the page's switch (a cookie) wins
    assert choose(None, "fr-FR,en;q=0.5", "en") == "fr"
    assert choose("xx", "de-DE", "fr") == "fr"  # nothing we speak asked: the race's language


def test_a_message_is_filled_in_its_language():
    assert language("fr")._("{n} of {of}", n="3", of="5") == "3 sur 5"
    assert language("en")._("{n} of {of}", n="3", of="5") == "3 of 5"
    with pytest.raises(ValueError, match="unknown language 'de'"):
        language("de")


def test_a_race_names_its_language_and_an_unknown_one_is_refused(tmp_path: Path):
    assert load_race(PARIS).language == "fr"
    race = tmp_path / "race"
    shutil.copytree(PARIS, race)
    toml = race / "race.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('language = "fr"', 'language = "de"'), encoding="utf-8")
    with pytest.raises(RaceError, match=r"race.toml: race.language: unknown language 'de'; use one of en, fr"):
        load_race(race)
    kept = [line for line in toml.read_text(encoding="utf-8").splitlines() if not line.startswith("language =")]
    toml.write_text("\n".join(kept) + "\n", encoding="utf-8")
    assert load_race(race).language == "en"  # none given: English


def test_the_results_header_for_a_person_keeps_the_rows():
    body = "place,bib,gun_s,win_probability\r\n1,12,1234.5,0.9\r\n"
    french = with_display_header(body, language("fr"))
    assert french == "place,dossard,temps officiel (s),chance de gagner\r\n1,12,1234.5,0.9\r\n"
    assert with_display_header(body, language("en")).startswith("place,bib,gun time (s),chance to win\r\n")
