"""The command line on an event directory: race check of every race and every cross-race error at
once, and plan of each chase of the event."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import write_event

PARIS_2024 = Path(__file__).resolve().parents[2] / "races" / "paris-2024"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pursuit.cli", *args], capture_output=True, text=True, timeout=60)


def test_race_check_of_the_shipped_event_summarises_both_races():
    result = run("race", "check", str(PARIS_2024))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Paris 2024 — the J-1000 chase and a 10 km (paris-2024), 2021-10-31") and "2 races" in out
    assert "shared mats concorde, finish, george-v, marbeuf, start" in out
    assert "(paris-j1000)" in out and "(10k)" in out and "10,000 m" in out and "marbeuf#4" in out
    assert "none: a timed race" in out and out.strip().endswith("OK")


def test_race_check_names_every_cross_race_error_and_exits_2(tmp_path: Path):
    root = write_event(tmp_path)
    rows = (root / "chase-b" / "participants.csv").read_text(encoding="utf-8").splitlines()
    rows[2] = rows[2].replace(rows[2].split(",")[1], "E61A36")  # chase-a's bib 100 wears it (its line 3)
    (root / "chase-b" / "participants.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    event_toml = (root / "event.toml").read_text(encoding="utf-8").replace('"chase-b"]', '"chase-b", "5k"]')
    (root / "event.toml").write_text(event_toml, encoding="utf-8")
    result = run("race", "check", str(root))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{root / 'event.toml'}" in result.stderr
    assert "races[2]: no race directory '5k'" in result.stderr
    assert "chip 'E61A36' is in two races: chase-a/participants.csv line 3" in result.stderr


def test_plan_of_an_event_plans_its_chase_and_says_the_10k_has_no_head_starts():
    result = run("plan", "--race", str(PARIS_2024))
    assert result.returncode == 0, result.stderr
    assert "Paris J-1000" in result.stdout and "1,122" in result.stdout
    assert "(10k): no pursuer, no head starts to plan" in result.stdout


def test_engine_takes_an_event_to_join_its_pool_or_a_race_but_not_both(tmp_path: Path):
    from pursuit.cli import build_parser

    args = build_parser().parse_args(["engine", "--event", str(tmp_path)])
    assert args.event == str(tmp_path) and args.race is None
    both = subprocess.run([sys.executable, "-m", "pursuit.cli", "engine", "--event", "a", "--race", "b"],
                          capture_output=True, text=True)  # fmt: skip
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    missing = subprocess.run([sys.executable, "-m", "pursuit.cli", "engine", "--event", str(tmp_path / "none")],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2 and "race error" in missing.stderr and "Traceback" not in missing.stderr
