"""Calibration as a product feature (issue 26, part 2): pooled calibration with binomial intervals at
every moment, and the reliability plot beside ``--plot``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from live.engine.evaluation import Evaluation
from simulator.report import pooled_calibration, wilson


def fake(race: str, at: float, p: list[float], won: list[bool]) -> Evaluation:
    n = len(p)
    z = np.zeros(n)
    return Evaluation(race, np.array([str(i) for i in range(n)]), np.array(p), np.array(p) > 0.5, z, z,
                      np.ones(n, dtype=bool), np.array(won), z, at, 0.0, float(sum(p)), (0, n), 0.8, None)  # fmt: skip


def test_wilson_interval_is_the_textbook_one() -> None:
    low, high = wilson(50, 100)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)
    assert wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)


def test_pooled_calibration_weighs_races_by_runners_and_keeps_moments_apart() -> None:
    a = fake("a", 0.5, [0.15] * 300 + [0.95] * 10, [True] * 60 + [False] * 240 + [True] * 10)
    b = fake("b", 0.5, [0.12] * 100, [True] * 10 + [False] * 90)
    c = fake("a", 0.25, [0.15] * 50, [False] * 50)
    rows = pooled_calibration([a, b, c], 0.5)
    assert [r.decile for r in rows] == [1, 9]
    first = rows[0]
    assert first.runners == 400 and first.predicted == pytest.approx((300 * 0.15 + 100 * 0.12) / 400)
    assert first.observed == pytest.approx(70 / 400)
    assert (first.low, first.high) == pytest.approx(wilson(70, 400))
    assert first.worst_gap == pytest.approx(0.05)  # race a: 0.20 observed against 0.15
    assert rows[1].worst_gap is None  # ten runners say little


HEADER = "year|bib|age_group|gender|country|rank_gender|rank_age_group|5k|10k|15k|20k|half|25k|30k|35k|40k|finish"
AT = np.array([5000, 10000, 15000, 20000, 21097.5, 25000, 30000, 35000, 40000, 42195.0])


def write(path: Path, rows: dict[str, float]) -> Path:
    lines = [HEADER, *(f" 2017|{b}|30-34|M|FRA|1|1|" + "|".join(f"{f * d / 42195:.1f}" for d in AT)
                       for b, f in rows.items())]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.timeout(600)
def test_evaluate_prints_calibration_intervals_and_draws_the_reliability_plot(tmp_path: Path) -> None:
    a = write(tmp_path / "a_2017_M.csv", {"P": 7200, **{f"r{i}": 9000.0 + 150 * i for i in range(40)}})
    b = write(tmp_path / "b_2017_M.csv", {"P": 7300, **{f"s{i}": 9500.0 + 120 * i for i in range(40)}})
    plot = tmp_path / "f.html"
    cmd = [sys.executable, "-m", "pursuit.cli", "evaluate", "--results", str(a), "--results", str(b),
           "--pursuer", "P", "--delay", "3600", "--at", "0.25", "0.5", "--plot", str(plot)]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for m in ("0.25", "0.50"):
        assert f"calibration at {m}" in result.stdout
    assert "95 % interval" in result.stdout and "band holds" in result.stdout
    reliability = tmp_path / "f-reliability.html"
    assert plot.exists() and reliability.exists()
    html = reliability.read_text(encoding="utf-8")
    assert "observed win rate" in html and "at 25% of the pursuer" in html and "at 50% of the pursuer" in html
