"""`pursuit evaluate`: a real marathon replayed as a chase, predicted at the pursuer's halfway."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
import pytest

from live.forecast.results import ResultsError, load_results
from simulator.evaluation import RaceFiles, evaluate_race, fit_races

DATA = Path(__file__).resolve().parents[2] / "data" / "results"
BERLIN = [DATA / "berlin_marathon_2017_M.csv", DATA / "berlin_marathon_2017_W.csv"]
RACES = [sorted(map(str, DATA.glob(f"{race}_*"))) for race in (
    "berlin_marathon_2014", "berlin_marathon_2017", "chicago_marathon_2014", "chicago_marathon_2016",
    "chicago_marathon_2017", "london_marathon_2014", "london_marathon_2015", "london_marathon_2016",
)]  # fmt: skip
HEADER = "year|bib|age_group|gender|country|rank_gender|rank_age_group|5k|10k|15k|20k|half|25k|30k|35k|40k|finish"


def write_results(path: Path, rows: dict[str, float]) -> Path:
    """A results file of even-paced runners: bib → marathon time."""
    at = np.array([5000, 10000, 15000, 20000, 21097.5, 25000, 30000, 35000, 40000, 42195.0])
    lines = [HEADER]
    for bib, finish in rows.items():
        splits = "|".join(f"{finish * d / 42195.0:.1f}" for d in at)
        lines.append(f" 2017|{bib}|30-34|M|FRA|1|1|{splits}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def even_race(tmp_path: Path, rows: dict[str, float]) -> RaceFiles:
    return RaceFiles.load([write_results(tmp_path / "even_2017_M.csv", rows)])


def test_clear_winners_and_losers_of_an_even_field(tmp_path):
    # the pursuer runs 2:00:00 and starts 1 h late: anyone under 3:00:00 wins
    race = even_race(tmp_path, {"P": 7200, "a": 9000, "b": 10000, "c": 11500, "d": 14000})
    ev = evaluate_race(race, "P", 3600, [0.5])[0]
    assert list(ev.bibs) == ["a", "b", "c", "d"]
    assert list(ev.true_won) == [True, True, False, False]
    assert ev.win_probability[0] > 0.9 and ev.win_probability[3] < 0.1
    assert list(ev.predicted_won) == [True, True, False, False]
    assert ev.summary()["accuracy"] == 1.0
    assert ev.summary()["winners_predicted"] == pytest.approx(float(ev.win_probability.sum()), abs=0.05)


def test_nothing_from_the_future_reaches_a_prediction(tmp_path):
    """Rewriting the finishes (and late splits) of everyone not yet finished, and the pursuer's own
    second half, changes no probability, margin or count at the moment."""
    rows = {"P": 7200.0, **{f"r{i}": 9000.0 + 120.0 * i for i in range(40)}}
    race = even_race(tmp_path, rows)
    before = evaluate_race(race, "P", 3600, [0.5])[0]
    moment = before.moment_s
    e = race.results.elapsed_s.copy()
    p = int(np.flatnonzero(race.results.bibs == "P")[0])
    future = e > moment
    future[p] = e[p] + 3600 > moment
    e[future] *= 1.3  # the whole field collapses after the moment, and so does the pursuer
    changed = RaceFiles(race.name, race.paths, replace(race.results, elapsed_s=e))
    after = evaluate_race(changed, "P", 3600, [0.5])[0]
    assert after.moment_s == pytest.approx(moment)
    assert np.array_equal(before.win_probability, after.win_probability)
    assert np.array_equal(before.predicted_margin_s, after.predicted_margin_s, equal_nan=True)
    assert before.band == after.band and before.at_plan == after.at_plan
    assert not np.array_equal(before.true_won, after.true_won), "the truth did change"


def test_berlin_2017_out_of_sample_at_halfway():
    """Issue 12: Berlin 2017 scored by a model fitted on the seven other races only."""
    races = [RaceFiles.load(g) for g in RACES]
    berlin = next(r for r in races if r.name == "berlin-marathon-2017")
    model = fit_races([r for r in races if r is not berlin])
    assert "berlin-marathon-2017" not in model.trained_on
    summary = evaluate_race(berlin, "winner", 5880, [0.5], model)[0].summary()
    assert summary["runners"] == 39224
    assert abs(float(summary["winners_error_pct"])) <= 7.0, summary
    assert float(summary["accuracy"]) >= 0.96, summary
    assert float(summary["margin_mae_s"]) <= 0.75 * float(summary["naive_margin_mae_s"]), summary


def test_cli_prints_json_and_writes_csv(tmp_path):
    out = tmp_path / "eval.csv"
    cmd = [sys.executable, "-m", "pursuit.cli", "evaluate", "--results", *map(str, BERLIN), "--pursuer", "2",
           "--delay", "7200", "--out", str(out)]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert {"winners_predicted", "winners_true", "accuracy", "margin_mae_s", "brier", "band_low"} <= set(summary)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "bib,predicted_status,predicted_margin_s,true_status,true_margin_s,win_probability"
    assert len(lines) == 39225
    assert 0.0 <= float(lines[1].split(",")[-1]) <= 1.0


def test_cli_tables_for_several_races_and_moments(tmp_path):
    a = write_results(tmp_path / "a_2017_M.csv", {"P": 7200, **{f"r{i}": 9000.0 + 200 * i for i in range(30)}})
    b = write_results(tmp_path / "b_2017_M.csv", {"P": 7300, **{f"s{i}": 9500.0 + 180 * i for i in range(30)}})
    cmd = [sys.executable, "-m", "pursuit.cli", "evaluate", "--results", str(a), "--results", str(b),
           "--pursuer", "P", "--delay", "3600", "--at", "0.25", "0.75"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "RMS error" in result.stdout and "calibration at 0.75" in result.stdout
    assert result.stdout.count("a-2017") == 2 and result.stdout.count("b-2017") == 2


def test_unknown_pursuer_and_bad_file_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="bib 'nobody'"):
        evaluate_race(RaceFiles.load(BERLIN[1:]), "nobody", 60, [0.5])
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\n 2017|1|x|M|F|1|1|a|b|c|d|e|f|g|h|i|j\n", encoding="utf-8")
    with pytest.raises(ResultsError, match=r"bad.csv: line 2: a split is not a number"):
        load_results([bad])


def test_a_delimiter_inside_a_place_name_is_read_back_not_refused(tmp_path):
    """Chicago 2017 women, line 8752, as published: the state field is ``RIO|DE JANEIRO``."""
    header = "year|bib|age_group|gender|city|state|country|overall|rank_gender|rank_age_group|5k|finish"
    chicago = tmp_path / "chicago.csv"
    chicago.write_text(
        header + "\n 2017|50414|50-54|W|Rio de Janeiro|RIO|DE JANEIRO|BRA|29909|12773|820|2066.0|18759.0\n"
        " 2017|41595|20-24|W|Milo|IA|USA|29902|12771|902|1900.0|18758.0\n",
        encoding="utf-8",
    )
    results = load_results([chicago])
    assert list(results.bibs) == ["50414", "41595"] and list(results.sex) == ["W", "W"]
    assert results.elapsed_s.tolist() == [[2066.0, 18759.0], [1900.0, 18758.0]]
    short = tmp_path / "short.csv"
    short.write_text(header + "\n 2017|1|x|M|Milo|IA|USA|1|1|1|1900.0\n", encoding="utf-8")
    with pytest.raises(ResultsError, match=r"short.csv: line 2: 11 fields, header has 12"):
        load_results([short])
