"""`pursuit evaluate`: a real marathon replayed as a chase, predicted at the pursuer's halfway."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from live.chase import field_fade_per_m
from live.evaluation import replay_chase
from live.results import ResultsError, load_results

DATA = Path(__file__).resolve().parents[2] / "data" / "results"
BERLIN = [DATA / "berlin_marathon_2017_M.csv", DATA / "berlin_marathon_2017_W.csv"]
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


def test_even_paced_field_is_predicted_exactly(tmp_path):
    # the pursuer runs 2:00:00 and starts 1 h late: anyone under 3:00:00 wins
    results = load_results(
        [write_results(tmp_path / "r.csv", {"P": 7200, "a": 10000, "b": 10790, "c": 10810, "d": 14000})]
    )
    ev = replay_chase(results, "P", 3600, 0.5)
    assert list(ev.bibs) == ["a", "b", "c", "d"]
    assert list(ev.true_won) == [True, True, False, False]
    assert list(ev.predicted_won) == [True, True, False, False]
    assert ev.predicted_margin_s == pytest.approx([800, 10, -10, -3200], abs=1.0)
    assert ev.summary()["accuracy"] == 1.0


def test_field_fade_is_measured_from_the_passings():
    at = np.array([0, 1000, 2000, 3000.0])
    # average pace 300 s/km over the first 2 km (midpoint 1,000 m), then the third km (midpoint 2,500 m)
    times = np.array([[0, 300, 600, 930]] * 5, dtype=float)
    assert field_fade_per_m(times, at) == pytest.approx(2e-5), "capped: +10 % per km is noise"
    times = np.array([[0, 300, 600, 903]] * 5, dtype=float)  # +1 % over the 1,500 m between midpoints
    assert field_fade_per_m(times, at) == pytest.approx(0.01 / 1500.0)
    assert field_fade_per_m(np.array([[0, 300, np.nan, np.nan]]), at) == 0.0


def test_berlin_2017_with_kipchoge_chasing_is_predicted_at_halfway():
    """Done-when of issue 4: winners within 5 % and ≥ 95 % of runners right, at the pursuer's halfway."""
    results = load_results(BERLIN)
    summary = replay_chase(results, "2", 7200, 0.5).summary()
    assert summary["runners"] == 39224
    assert abs(summary["winners_error_pct"]) <= 5.0, summary
    assert summary["accuracy"] >= 0.95, summary


def test_fade_model_beats_constant_pace_extrapolation(monkeypatch):
    import live.evaluation

    results = load_results(BERLIN)
    with_fade = replay_chase(results, "2", 7200, 0.5).summary()
    monkeypatch.setattr(live.evaluation, "field_fade_per_m", lambda times, at_m: 0.0)
    constant = replay_chase(results, "2", 7200, 0.5).summary()
    assert with_fade["margin_mae_s"] < constant["margin_mae_s"]
    assert abs(with_fade["winners_error_pct"]) < abs(constant["winners_error_pct"])


def test_cli_prints_json_and_writes_csv(tmp_path):
    out = tmp_path / "eval.csv"
    cmd = [sys.executable, "-m", "pursuit.cli", "evaluate", "--results", *map(str, BERLIN), "--pursuer", "2",
           "--delay", "7200", "--out", str(out)]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert {"winners_predicted", "winners_true", "accuracy", "margin_mae_s"} <= set(summary)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "bib,predicted_status,predicted_margin_s,true_status,true_margin_s"
    assert len(lines) == 39225


def test_unknown_pursuer_and_bad_file_are_clear_errors(tmp_path):
    with pytest.raises(ResultsError, match="bib 'nobody'"):
        replay_chase(load_results(BERLIN[1:]), "nobody", 60)
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
