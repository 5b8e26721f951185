"""Real results files as they come (issue 26, part 3): blank and duplicate bibs, NaN, text in a
split, runners who did not finish, shuffled rows — read, skipped only where nothing can be used,
reported by the user's file and line."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from live.forecast.results import ResultsError, load_results, skip_report
from simulator.evaluation import RaceFiles, evaluate_race, with_dropouts
from simulator.results import chase_field

DATA = Path(__file__).resolve().parents[2] / "data" / "results"
BERLIN = [DATA / "berlin_marathon_2017_M.csv", DATA / "berlin_marathon_2017_W.csv"]
HEADER = "year|bib|age_group|gender|country|rank_gender|rank_age_group|5k|10k|15k|20k|half|25k|30k|35k|40k|finish"
AT = np.array([5000, 10000, 15000, 20000, 21097.5, 25000, 30000, 35000, 40000, 42195.0])


def row(bib: str, finish: float, upto: int = 10) -> str:
    """An even-paced runner's row; splits after the first ``upto`` are empty (did not finish)."""
    splits = [f"{finish * d / 42195.0:.1f}" if i < upto else "" for i, d in enumerate(AT)]
    return f" 2017|{bib}|30-34|M|FRA|1|1|{'|'.join(splits)}"


def test_every_kind_of_bad_row_is_skipped_or_kept_and_reported_by_line(tmp_path: Path) -> None:
    lines = [
        HEADER,
        row("P", 7200),  # line 2
        row("", 9000),  # 3: no bib
        row("a", 9100),  # 4
        row("a", 9100),  # 5: a copy of line 4
        row("a", 9900),  # 6: the same bib, another runner: kept (a replay calls him a-2)
        row("b", 9300).replace(f"|{9300 * 5000 / 42195:.1f}|", "|NaN|"),  # 7: a NaN split
        row("c", 9400).replace(f"|{9400 * 10000 / 42195:.1f}|", "|12:34|"),  # 8: text in a split
        row("d", 9500, upto=6),  # 9: splits to 25 km, no finish: did not finish
        " 2017|e|30-34|M|FRA|1|1||||||||||",  # 10: nothing at all (did not start)
        " 2017|f|30-34|M",  # 11: a cut row
        row("g", 8000),  # 12: rows need not be sorted
    ]
    path = tmp_path / "messy_2017_M.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = load_results([path])
    assert list(results.bibs) == ["P", "a", "a", "b", "c", "d", "g"]
    assert [(s.line, s.reason) for s in results.skipped] == [
        (3, "bib is empty"),
        (5, f"same bib and splits as {path.name}: line 4"),
        (10, "no split and no finish (did not start)"),
        (11, "4 fields, header has 17"),
    ]
    assert all(s.path == str(path) for s in results.skipped)
    assert [(s.line, s.reason) for s in results.unreadable] == [(8, "10k: not a number")]
    b, c, d = (results.elapsed_s[list(results.bibs).index(x)] for x in "bcd")
    assert np.isnan(b[0]) and np.isfinite(b[1:]).all()
    assert np.isnan(c[1]) and np.isfinite(c[2:]).all()
    assert np.isfinite(d[:6]).all() and np.isnan(d[6:]).all()
    assert list(results.finished) == [True, True, True, True, True, False, True]
    assert len(results.finishers().bibs) == 6
    report = skip_report(results)
    assert report[0].startswith(f"{path}: 4 row(s) skipped: 1 bib is empty (line 3); 1 same bib and splits (line 5)")
    assert report[1] == f"{path}: 1 split(s) not a number, read as missing: 1 not a number (line 8)"
    assert report[2].startswith("1 runner(s) with splits but no finish")
    # the chase: the one who did not finish never wins, the duplicate bib is renamed
    chase = chase_field(results, "P", 3600, wire=False)
    assert list(chase.bibs) == ["P", "a", "a-2", "b", "c", "d", "g"]
    assert chase.true_winners() == {"a", "a-2", "b", "c", "g"}
    assert any("did not finish" in n for n in chase.notes) and any("line 3" in n for n in chase.notes)


def test_a_file_with_nothing_usable_names_its_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\n 2017||x|M|F|1|1|1|2|3|4|5|6|7|8|9|10\n 2017|9|x|M|F|1|1|a|b|c|d|e|f|g|h|i|j\n")
    with pytest.raises(ResultsError, match=r"bad.csv: line 2: bib is empty\n.*bad.csv: line 3: a split is not"):
        load_results([bad])


def test_a_runner_who_did_not_finish_stops_at_his_last_split_and_loses(tmp_path: Path) -> None:
    """Replayed through the engine: he never wins, and the scoring counts him as a loser."""
    rows = [row("P", 7200), *(row(f"r{i}", 9000.0 + 100 * i) for i in range(20)), row("quit", 8500, upto=5)]
    path = tmp_path / "dnf_2017_M.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    race = RaceFiles.load([path])
    assert race.winner_bib() == "P" and "quit" in set(race.results.bibs)
    assert len(race.splits().elapsed_s) == 21  # the fit learns from finishers only
    early, late = evaluate_race(race, "P", 3600, [0.1, 0.9])
    i = list(late.bibs).index("quit")
    assert not late.true_won[i] and np.isnan(late.true_margin_s[i])
    # just read at halfway on a 2:22 pace he looks a sure winner; unread for 7 times what his next
    # segment should take, he has stopped, not slowed: no chance (issue 26, part 4)
    assert early.win_probability[i] > 0.9
    assert late.win_probability[i] == 0.0 and not late.predicted_won[i]
    assert late.summary()["winners_true"] == 18  # r0..r17 finish under 3:00:00; "quit" would have, had he finished


@pytest.mark.timeout(900)
def test_evaluate_on_a_messy_copy_of_berlin_2017_gives_the_clean_figures(tmp_path: Path) -> None:
    """Issue 26: a training race with rows made bad in every way completes, reports the skipped rows by
    file and line, and gives the same figures as the clean file within 0.2 point."""
    rng = random.Random(26)
    messy = []
    for src in BERLIN:
        text = src.read_text(encoding="utf-8").splitlines()
        header, body = text[0], text[1:]
        for k in rng.sample(range(len(body)), 40):
            f = body[k].split("|")
            choice = k % 5
            if choice == 0:
                f[1] = ""  # blank bib
            elif choice == 1:
                body.append(body[k])  # an exact duplicate
            elif choice == 2:
                f[8 + k % 8] = "NaN"
            elif choice == 3:
                f[8 + k % 8] = "n/a km"  # text in a split
            else:
                f[-1] = ""  # did not finish: splits, no finish
                f[-2] = ""
            body[k] = "|".join(f)
        rng.shuffle(body)
        out = tmp_path / src.name
        out.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
        messy.append(out)
    clean = evaluate_race(RaceFiles.load(BERLIN), "winner", 5880, [0.5])[0].summary()
    cmd = [sys.executable, "-m", "pursuit.cli", "evaluate", "--results", *map(str, messy),
           "--pursuer", "winner", "--delay", "5880", "--at", "0.5"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for src in messy:
        assert f"{src}: " in result.stderr and "row(s) skipped" in result.stderr
    assert "bib is empty (line" in result.stderr and "same bib and splits (line" in result.stderr
    assert "not a number" in result.stderr and "did not finish" in result.stderr
    got = orjson.loads(result.stdout)
    assert abs(got["winners_error_pct"] - clean["winners_error_pct"]) <= 0.2
    assert abs(got["accuracy"] - clean["accuracy"]) * 100 <= 0.2
    assert abs(got["winners_true"] / clean["winners_true"] - 1) * 100 <= 0.2


def test_simulated_dropouts_stop_runners_at_a_split_and_they_lose(tmp_path: Path) -> None:
    """Issue 26, part 4: ``--dropouts`` makes that share of runners (never the pursuer) stop at a
    random split point; each is read up to it and never again, and scored as a loser."""
    rows = [row("P", 7200), *(row(f"r{i}", 8000.0 + 60 * i) for i in range(200))]
    path = tmp_path / "field_2017_M.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    race = RaceFiles.load([path])
    chase = chase_field(race.results, "P", 3600, wire=False)
    dropped = with_dropouts(chase, 0.05, seed=3)
    stopped = np.isnan(dropped.elapsed_s[:, -1])
    assert int(stopped.sum()) == 10 and not stopped[dropped.pursuer_row]
    for e in dropped.elapsed_s[stopped]:
        read = np.flatnonzero(~np.isnan(e))
        assert len(read) >= 1 and list(read) == list(range(len(read))), "read up to a split, never after"
    assert with_dropouts(chase, 0.0) is chase
    assert dropped.true_winners() == chase.true_winners() - {str(b) for b in dropped.bibs[stopped]}
    clean = evaluate_race(race, "P", 3600, [0.5])[0]
    ev = evaluate_race(race, "P", 3600, [0.5], dropouts=0.05, seed=3)[0]
    assert int(ev.summary()["winners_true"]) == len(dropped.true_winners()) < int(clean.summary()["winners_true"])
    with pytest.raises(ValueError, match="--dropouts must be a fraction"):
        with_dropouts(chase, 1.5)


@pytest.mark.timeout(600)
def test_fit_and_plan_read_a_messy_file_and_say_what_they_skipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = [row("P", 7200), *(row(f"r{i}", float(f)) for i, f in enumerate(rng.uniform(9000, 18000, 400)))]
    rows[7] = rows[7].replace("|r6|", "||")  # a blank bib
    rows.append(rows[20])  # an exact copy
    rows.append(row("quit", 12000, upto=4))  # did not finish
    rng.shuffle(rows)
    path = tmp_path / "messy_2017_M.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    out = tmp_path / "model.json"
    fit = subprocess.run([sys.executable, "-m", "pursuit.cli", "fit", "--results", str(path), "--out", str(out)],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    assert f"pursuit fit: {path}: 2 row(s) skipped: 1 bib is empty (line " in fit.stderr
    assert "1 same bib and splits (line " in fit.stderr and "did not finish" in fit.stderr and out.exists()
    plan = subprocess.run([sys.executable, "-m", "pursuit.cli", "plan", "--results", str(path)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert f"pursuit plan: {path}: 2 row(s) skipped" in plan.stderr
    # P and 400 runners, less the blank bib, plus the one who did not finish: he ran the 5 km the plan reads
    assert "from last year's results (401 times" in plan.stdout
