"""``[web]`` of a race file (``live/race/web_limits.py``) and its environment override
(``PURSUIT_MAX_CONNECTIONS`` in ``pursuit/settings.py``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from live.race.errors import RaceError
from live.race.race_file import load_race
from live.race.web_limits import DEFAULT_MAX_CONNECTIONS, WebLimits
from pursuit.cli import main
from pursuit.settings import MAX_CONNECTIONS_ENV, Settings

PARIS = Path(__file__).resolve().parents[2] / "races" / "paris-j1000"


def race_with(tmp_path: Path, web: str) -> Path:
    target = tmp_path / "race"
    shutil.copytree(PARIS, target)
    with (target / "race.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n" + web + "\n")
    return target


def test_the_cap_is_read_from_the_race_file_with_a_default(tmp_path):
    assert load_race(PARIS).web == WebLimits(DEFAULT_MAX_CONNECTIONS) == WebLimits(10_000)
    assert load_race(race_with(tmp_path, "[web]\nmax_connections = 2500")).web.max_connections == 2500


@pytest.mark.parametrize(
    ("web", "key", "says"),
    [
        ("[web]\nmax_connections = 0", "web.max_connections", "whole number from 1 to 1,000,000, got 0"),
        ("[web]\nmax_connections = 2.5", "web.max_connections", "got 2.5"),
        ("[web]\nmax_connections = true", "web.max_connections", "got True"),
        ("[web]\nmax_connections = 5000000", "web.max_connections", "got 5000000"),
        ("[web]\nmax_conections = 10", "web.max_conections", "unknown key; [web] takes max_connections"),
    ],
)
def test_a_bad_cap_names_file_key_and_problem(tmp_path, web, key, says):
    with pytest.raises(RaceError) as err:
        load_race(race_with(tmp_path, web))
    assert err.value.where == key and says in str(err.value) and "race.toml" in str(err.value)


def test_the_environment_overrides_the_race_file():
    web = WebLimits(2500)
    assert Settings.from_env({}).max_connections_for(web) == 2500
    assert Settings.from_env({MAX_CONNECTIONS_ENV: " 300 "}).max_connections_for(web) == 300
    for bad in ("0", "lots", "-5", "1.5"):
        with pytest.raises(ValueError, match=f"PURSUIT_MAX_CONNECTIONS={bad!r}: must be a whole number"):
            Settings.from_env({MAX_CONNECTIONS_ENV: bad})


def test_the_command_line_refuses_a_bad_cap_in_words(monkeypatch, capsys):
    monkeypatch.setenv(MAX_CONNECTIONS_ENV, "lots")
    assert main(["race", "check", str(PARIS)]) == 2
    assert "PURSUIT_MAX_CONNECTIONS='lots': must be a whole number" in capsys.readouterr().err
