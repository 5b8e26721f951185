"""`pursuit plan`: expected winners per pen, and head starts that meet the quota fairly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from live.forecast.plan import expected_winners, field_times, head_start_for, plan_race, times_by_pen
from live.forecast.results import load_results
from simulator.trajectory import plan_race as simulate_plan

ROOT = Path(__file__).resolve().parents[2]


def test_expected_winners_of_one_runner_is_his_win_probability():
    # declared 20:00, pursuer 14:25: a head start of 5:35 makes it a coin toss
    expected, sd = expected_winners(np.array([1200.0]), 335.0, 865.0, 0.06)
    assert expected == pytest.approx(0.5) and sd == pytest.approx(0.5)


def test_head_start_meets_its_target():
    declared = np.linspace(1300, 1700, 101)
    h = head_start_for(declared, 30.0, 865.0, 0.06)
    assert expected_winners(declared, h, 865.0, 0.06)[0] == pytest.approx(30.0, abs=0.01)


def test_the_j1000_plan_says_the_quota_will_be_blown_and_pens_4_5_starved(paris):
    plans = plan_race(paris)
    total = sum(p.expected for p in plans)
    truth = sum(simulate_plan(paris, 0.0, seed=2021).winners().values())
    assert total > 2 * paris.quota, "the organisers' 400–600 was never going to hold"
    assert abs(total - truth) / truth < 0.15, "the plan agrees with a simulation of the race"
    by_pen = {p.pen: p for p in plans}
    assert by_pen["5"].expected < 0.25 * by_pen["5"].fair_share
    # the proposal: every pen near its fair share, the quota met overall
    assert sum(p.proposed_expected for p in plans) == pytest.approx(paris.quota, abs=5)
    assert all(abs(p.proposed_expected - p.fair_share) < 2 for p in plans)
    assert by_pen["1"].proposed_head_start_s < by_pen["1"].head_start_s
    assert by_pen["5"].proposed_head_start_s > by_pen["5"].head_start_s


def test_cli_prints_the_table():
    result = subprocess.run([sys.executable, "-m", "pursuit.cli", "plan"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "fair share" in result.stdout and "pen(s) 4, 5 can hardly win" in result.stdout
    assert result.stdout.splitlines()[-2].split() == ["all", "3,599", "1,122"]  # the README's 1,122, as printed


BERLIN = [ROOT / "data" / "results" / f"berlin_marathon_2017_{s}.csv" for s in ("M", "W")]


def test_last_years_times_are_dealt_to_the_pens_slowest_first(paris):
    times = np.arange(1000.0, 2000.0)  # last year: 1,000 runners, 1,000 s to 1,999 s
    by_pen = times_by_pen(paris, times)
    sizes = {pen.id: sum(1 for p in paris.participants if p.pen == pen.id) for pen in paris.pens}
    assert {pen: len(t) for pen, t in by_pen.items()} == sizes
    order = [pen.id for pen in sorted(paris.pens, key=lambda q: -q.head_start_s)]  # released first
    assert by_pen[order[0]].max() == pytest.approx(1999.0, abs=1) and by_pen[order[-1]].min() == pytest.approx(
        1000, abs=1
    )
    for slower, faster in zip(order, order[1:], strict=False):
        assert by_pen[slower].min() >= by_pen[faster].max()


def test_plan_from_last_years_results(paris):
    """Berlin 2017's 5 km splits stand in for last year's field (run at marathon pace, so slower than
    the J-1000's declared 5 km times): the same pens and sizes, fewer winners, a faster field more,
    and head starts proposed that meet the quota anyway."""
    times, column = field_times(load_results(BERLIN), paris.distance_m)
    assert column == "5k" and len(times) == 39_225
    from_results = plan_race(paris, field_times_s=times)
    declared = plan_race(paris)
    assert [p.runners for p in from_results] == [p.runners for p in declared]
    expected = sum(p.expected for p in from_results)
    assert expected < sum(p.expected for p in declared)
    assert sum(p.proposed_expected for p in from_results) == pytest.approx(paris.quota, abs=5)
    assert sum(p.expected for p in plan_race(paris, field_times_s=times * 0.8)) > expected
    assert sum(p.expected for p in plan_race(paris, field_times_s=times * 1.2)) < expected


def test_cli_plans_from_results_and_names_a_missing_file(tmp_path):
    run = [sys.executable, "-m", "pursuit.cli", "plan", "--results"]
    result = subprocess.run([*run, *map(str, BERLIN)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "from last year's results (39,225 times, column '5k')" in result.stdout
    missing = subprocess.run([*run, str(tmp_path / "nope.csv")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "nope.csv" in missing.stderr


def test_a_comma_separated_results_file_is_told_to_use_pipes(tmp_path):
    """The runbook's `--results last-year.csv`: a CSV from a spreadsheet is the first thing a crew tries."""
    commas = tmp_path / "last-year.csv"
    commas.write_text("bib,finish\n101,1500\n102,1620\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"last-year.csv: line 1: .*separated by '\|'"):
        load_results([commas])
    pipes = tmp_path / "last-year-pipes.csv"
    pipes.write_text("bib|finish\n101|1500\n102|1620\n", encoding="utf-8")
    assert list(load_results([pipes]).finish_s) == [1500.0, 1620.0]


def test_a_quota_the_field_cannot_give_is_refused_not_planned_at_four_hours(paris):
    """A quota of 500 for a 300-runner race proposed a 240.0 m head start for every pen."""
    with pytest.raises(ValueError, match="quota 3,599 is not below the field of 3,599 runners"):
        plan_race(paris, quota=3599)
    run = [sys.executable, "-m", "pursuit.cli", "plan", "--quota", "5000"]
    result = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "quota 5,000 is not below the field of 3,599 runners" in result.stderr
    assert plan_race(paris, quota=3598)  # one short of everybody can still be planned
