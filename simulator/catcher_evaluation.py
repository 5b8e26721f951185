"""``pursuit evaluate --catcher-car``: real marathons replayed under the World Run's catcher car, and
the forecast count still running at each milestone scored against what the car would have done.

Each race's runners start together; a car leaves ``delay_s`` later on the Wings for Life schedule
(not read at the mats, as at the World Run). A runner's true catch is where the car's schedule
meets his splits (linear between them); he stops there, as in the format, so the engine sees his
splits up to it only. At each moment (hours after the car's start) the live engine, holding the
passings made by then, forecasts the count still running at each milestone; the truth is who
reached it before the car. With ``leave_one_out`` each race is forecast by a model fitted on the
others only, so every figure is out of sample.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from live.engine.evaluation import ChaseReplay
from live.forecast.model import ForecastModel
from live.race.race_file import load_race
from live.race.schedule import WINGS_FOR_LIFE, WINGS_FOR_LIFE_DELAY_S
from simulator.evaluation import GUN, RaceFiles, fit_races
from simulator.results import ChaseField, chase_field, write_race

MILESTONES_M = (10_000.0, 21_097.5, 30_000.0)
CAR_BIB = "CAR"


@dataclass(frozen=True)
class MilestoneScore:
    """The forecast count still running at one milestone, its band, and the truth."""

    race: str
    hours: float  # after the car's start
    at_m: float
    expected: float
    low: int
    high: int
    truth: int
    passed: bool  # the car was past it at the moment: the count is counted, not forecast

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.expected / max(self.truth, 1) - 1.0)

    @property
    def holds(self) -> bool:
        return self.low <= self.truth <= self.high


def true_catches(at_m: np.ndarray, elapsed_s: np.ndarray, delay_s: float) -> np.ndarray:
    """Where the car (``delay_s`` after the runners, on the World Run schedule) reaches each runner,
    from his splits (linear between them, from 0 at 0 m); inf if not before his last split, unless he
    did not finish: then where he stopped, his last split (his result, as the World Run's). All
    runners at once: the split the car reached first, the read before it, and a bisection between."""
    at_m = np.asarray(at_m, dtype=float)
    elapsed_s = np.asarray(elapsed_s, dtype=float)
    n, m = elapsed_s.shape
    car = delay_s + np.asarray(WINGS_FOR_LIFE.elapsed_at(at_m), dtype=float)
    read = ~np.isnan(elapsed_s)
    late = read & (np.nan_to_num(elapsed_s, nan=-np.inf) > car[None, :])
    caught = late.any(axis=1)
    j = np.argmax(late, axis=1)  # the first split the car reached first
    last_read = np.maximum.accumulate(np.where(read, np.arange(m)[None, :], -1), axis=1)
    rows = np.arange(n)
    prev = np.where(j > 0, last_read[rows, np.maximum(j - 1, 0)], -1)  # his read before it (-1: the start)
    a_lo = np.where(prev >= 0, at_m[np.maximum(prev, 0)], 0.0)
    t_lo = np.where(prev >= 0, elapsed_s[rows, np.maximum(prev, 0)], 0.0)
    a_hi, t_hi = at_m[j], elapsed_s[rows, j]
    lo, hi = a_lo.copy(), a_hi.copy()
    for _ in range(40):  # his time (linear) against the car's (its schedule) on [lo, hi]
        mid = (lo + hi) / 2
        runner = t_lo + (mid - a_lo) * (t_hi - t_lo) / (a_hi - a_lo)
        ahead = runner < delay_s + np.asarray(WINGS_FOR_LIFE.elapsed_at(mid), dtype=float)
        lo, hi = np.where(ahead, mid, lo), np.where(ahead, hi, mid)
    out: np.ndarray = np.where(caught, (lo + hi) / 2, np.inf)
    stopped = ~caught & np.isnan(elapsed_s[:, -1])  # no finish: he stopped at his last split
    last = last_read[stopped, -1]
    out[stopped] = np.where(last >= 0, at_m[np.maximum(last, 0)], 0.0)
    return out


def catcher_field(race: RaceFiles, delay_s: float) -> tuple[ChaseField, np.ndarray]:
    """The race's runners as a catcher-car field (a car row added, never read; every runner's splits
    after his true catch removed: he stops there) and each runner's true catch distance."""
    field = chase_field(race.results, race.winner_bib(), delay_s, wire=False)
    catches = true_catches(field.at_m, field.elapsed_s, delay_s)
    elapsed = np.where(field.at_m[None, :] > catches[:, None], np.nan, field.elapsed_s)
    car = np.full((1, elapsed.shape[1]), np.nan)
    field = replace(
        field,
        bibs=np.append(field.bibs, CAR_BIB),
        sex=np.append(field.sex, ""),
        elapsed_s=np.vstack([elapsed, car]),
        pursuer_row=len(field.bibs),
    )
    return field, catches


def _as_catcher_race(directory: Path, milestones: tuple[float, ...]) -> None:
    """Turn a written chase's ``race.toml`` into a catcher-car race: outcome, milestones, schedule."""
    toml = directory / "race.toml"
    text = toml.read_text(encoding="utf-8")
    steps = ", ".join(f"[{s:g}, {v:g}]" for s, v in WINGS_FOR_LIFE.steps)
    text = text.replace("\n[pursuer]\n", f"\n[pursuer]\nschedule = [{steps}]\n", 1)
    text = "\n".join(line for line in text.split("\n") if not line.startswith("pace_s_per_km = "))
    text = text.replace(
        "\n\n[pursuer]", f'\noutcome = "distance"\nmilestones_m = [{", ".join(map(repr, milestones))}]\n\n[pursuer]', 1
    )
    toml.write_text(text, encoding="utf-8")


def evaluate_catcher_race(
    race: RaceFiles,
    hours: list[float],
    model: ForecastModel | None = None,
    delay_s: float = WINGS_FOR_LIFE_DELAY_S,
    milestones: tuple[float, ...] = MILESTONES_M,
) -> list[MilestoneScore]:
    """The engine's milestone forecast of ``race`` under the car, at each moment."""
    field, catches = catcher_field(race, delay_s)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "race"
        write_race(field, root, GUN, race.name)
        _as_catcher_race(root, milestones)
        written = load_race(root)
    replay = ChaseReplay(written, field.elapsed_s, field.pursuer_row, delay_s, GUN, model, race.name)
    replay.pursuer_times[:] = np.nan  # the car is not read, not even at the start: its gun and schedule
    out = []
    for h in hours:
        snap = replay.snapshot_at(delay_s + 3600.0 * h)
        car_m = snap.chase()[0].distance_m
        for m in snap.chase()[1].milestones or []:
            truth = int(np.count_nonzero(catches > m["at_m"]))
            out.append(
                MilestoneScore(
                    race.name,
                    h,
                    m["at_m"],
                    float(m["expected"]),
                    int(m["low"]),
                    int(m["high"]),
                    truth,
                    m["at_m"] <= car_m,
                )
            )
    return out


def evaluate_catcher_races(races: list[RaceFiles], hours: list[float], leave_one_out: bool) -> list[MilestoneScore]:
    """Every race at every moment; with ``leave_one_out`` each by a model fitted on the others."""
    out: list[MilestoneScore] = []
    for i, race in enumerate(races):
        model = fit_races([r for j, r in enumerate(races) if j != i]) if leave_one_out else None
        out += evaluate_catcher_race(race, hours, model)
    return out


def catcher_table(scores: list[MilestoneScore]) -> str:
    """A Markdown table: per race and moment, the error of the count at each milestone (``=``: the car
    was past it, counted), and the share of forecast bands that held the truth."""
    milestones = sorted({s.at_m for s in scores})
    head = "| race | after the car's start | " + " | ".join(f"at {m / 1000:g} km" for m in milestones) + " |"
    lines = [head, "|" + "---|" * (2 + len(milestones))]
    keys = sorted({(s.race, s.hours) for s in scores}, key=lambda k: (k[0], k[1]))
    for race, hours in keys:
        cells = []
        for m in milestones:
            s = next(x for x in scores if x.race == race and x.hours == hours and x.at_m == m)
            mark = "=" if s.passed else ("" if s.holds else " ✗")
            cells.append(f"{s.truth:,}: {s.error_pct:+.1f} %{mark}")
        lines.append(f"| {race} | {hours:g} h | " + " | ".join(cells) + " |")
    open_ = [s for s in scores if not s.passed]
    held = sum(s.holds for s in open_)
    lines.append("")
    lines.append(
        f"forecast (not yet passed) milestones: {len(open_)}; band ({0.8:.0%}) held the truth: {held}"
        + (f" ({100 * held / len(open_):.0f} %)" if open_ else "")
    )
    return "\n".join(lines)
