"""The command line: race check prints a summary or a located error."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import PARIS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pursuit.cli", *args], capture_output=True, text=True, timeout=60)


def test_race_check_prints_a_summary():
    result = run("race", "check", str(PARIS))
    assert result.returncode == 0, result.stderr
    assert "5,000 m" in result.stdout and "marbeuf#2" in result.stdout and "3,599" in result.stdout
    assert result.stdout.strip().endswith("OK")


def test_race_check_names_the_file_and_line_of_an_error(tmp_path):
    race = tmp_path / "race"
    shutil.copytree(PARIS, race)
    csv = race / "participants.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6].rsplit(",", 1)[0] + ",soon"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("race", "check", str(race))
    assert result.returncode == 2
    assert "participants.csv: line 7: declared_s 'soon'" in result.stderr


def test_help_lists_the_commands():
    result = run("--help")
    for command in ("demo", "serve", "ingest", "web", "simulate", "race"):
        assert command in result.stdout
