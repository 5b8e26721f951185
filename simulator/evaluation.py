"""``pursuit evaluate`` and ``pursuit fit``: real races with splits turned into chases and scored.

A results file becomes the race directory of its chase (:func:`simulator.results.write_race`) and
the live engine replays it (:class:`live.engine.evaluation.ChaseReplay`). With several races, each may be
scored by a model fitted on the others only (leave-one-race-out), so every figure is out of sample.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from live.engine.engine import LiveEngine
from live.engine.evaluation import ChaseReplay, Evaluation
from live.forecast.fit import RaceSplits, fit, race_splits
from live.forecast.model import MARATHON_M, ForecastModel, default_model
from live.forecast.results import Results, load_results, skip_report
from live.race.race import Race
from simulator.results import ChaseField, chase_field, race_id_for, write_race
from simulator.trajectory import plan_race, true_outcome

GUN = datetime(2026, 6, 7, 9, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()  # any morning will do


@dataclass(frozen=True)
class RaceFiles:
    """One race: its name and its results files (e.g. men, women, elite)."""

    name: str
    paths: tuple[Path, ...]
    results: Results

    @classmethod
    def load(cls, paths: list[str] | list[Path]) -> RaceFiles:
        return cls(race_id_for(paths), tuple(map(Path, paths)), load_results(paths))

    def splits(self) -> RaceSplits:
        finishers = self.results.finishers()  # a runner who did not finish has no finish to learn from
        return race_splits(self.name, finishers.elapsed_s, finishers.at_m)

    def report(self) -> list[str]:
        """What was skipped in the race's files (by file and line) and who did not finish."""
        return skip_report(self.results)

    def winner_bib(self) -> str:
        return str(self.results.bibs[int(np.nanargmin(self.results.finish_s))])


def fit_races(races: list[RaceFiles]) -> ForecastModel:
    """The forecast model fitted on ``races`` (each one's winner as its pursuer)."""
    return fit([r.splits() for r in races])


def with_dropouts(chase: ChaseField, rate: float, seed: int = 26) -> ChaseField:
    """The chase with ``rate`` of its runners (the pursuer never) stopping at a random split point:
    read there, never again, no finish (did not finish). The training files hold finishers only and
    their real rate of runners who did not finish is unknown: 1–3 % is what big marathons report."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"--dropouts must be a fraction from 0 to 1, got {rate:g}")
    if rate == 0.0:
        return chase
    rng = np.random.default_rng(seed)
    others = np.flatnonzero(np.arange(len(chase.bibs)) != chase.pursuer_row)
    stop = rng.choice(others, size=round(rate * len(others)), replace=False)
    last = rng.integers(0, chase.elapsed_s.shape[1] - 1, size=len(stop))  # a split before the finish
    elapsed = chase.elapsed_s.copy()
    after = np.arange(elapsed.shape[1])[None, :] > last[:, None]
    elapsed[stop] = np.where(after, np.nan, elapsed[stop])
    note = f"{len(stop):,} runner(s) made to stop at a random split point (--dropouts {rate:g}, seed {seed})"
    return replace(chase, elapsed_s=elapsed, notes=(*chase.notes, note))


def evaluate_race(
    race: RaceFiles,
    pursuer_bib: str,
    delay_s: float,
    fractions: list[float],
    model: ForecastModel | None = None,
    workdir: Path | None = None,
    dropouts: float = 0.0,
    seed: int = 26,
) -> list[Evaluation]:
    """The engine's prediction of ``race`` as a chase at each pursuer fraction (with ``dropouts`` of
    the runners made to stop at a random split point, :func:`with_dropouts`)."""
    bib = race.winner_bib() if pursuer_bib == "winner" else pursuer_bib
    chase = with_dropouts(chase_field(race.results, bib, delay_s, wire=False), dropouts, seed)
    model = model or default_model()
    distance = float(chase.at_m[-1])
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        written = write_race(
            chase,
            Path(tmp) / "race",
            GUN,
            race.name,
            pursuer_finish_s=model.reference_finish_s * distance / MARATHON_M,
        )
    replay = ChaseReplay(written, chase.elapsed_s, chase.pursuer_row, delay_s, GUN, model, race.name)
    return [replay.evaluate(f) for f in fractions]


def evaluate_races(
    races: list[RaceFiles],
    pursuers: list[str],
    delay_s: float,
    fractions: list[float],
    leave_one_out: bool,
    dropouts: float = 0.0,
    seed: int = 26,
) -> list[Evaluation]:
    """Every race at every moment; with ``leave_one_out`` each race by a model fitted on the others;
    with ``dropouts``, that share of each race's runners stopping at a random split point."""
    out: list[Evaluation] = []
    for i, race in enumerate(races):
        model = fit_races([r for j, r in enumerate(races) if j != i]) if leave_one_out else None
        out += evaluate_race(race, pursuers[i], delay_s, fractions, model, dropouts=dropouts, seed=seed + i)
    return out


def forecast_history(
    race: RaceFiles, pursuer_bib: str, delay_s: float, model: ForecastModel | None = None, points: int = 60
) -> tuple[list[tuple[float, float, float, float, float | None]], int]:
    """The engine's forecast over the whole chase (``points`` moments from the pursuer's gun to his
    finish): (race time s, forecast, band low, band high, count at his plan); and the true count."""
    evaluations = evaluate_race(race, pursuer_bib, delay_s, list(np.linspace(0.02, 0.98, points)), model)
    rows = [
        (
            e.moment_s,
            e.winners_expected,
            float(e.band[0]),
            float(e.band[1]),
            None if e.at_plan is None else float(e.at_plan),
        )
        for e in evaluations
    ]
    return rows, int(evaluations[0].true_won.sum())


def simulated_history(
    race: Race, seed: int = 2021, points: int = 60, model: ForecastModel | None = None
) -> tuple[list[tuple[float, float, float, float, float | None]], int]:
    """The engine's forecast over a simulated race (``simulator.trajectory``, the demo's field):
    ``points`` moments from the first gun to the pursuer's finish; and the simulated true count."""
    plan = plan_race(race, GUN, seed=seed)
    truth = true_outcome(plan)
    engine = LiveEngine(race, None, model)
    row_of = {str(b): i for i, b in enumerate(plan.bibs)}
    crossings = plan.crossings[[row_of[str(b)] for b in engine.bibs]]
    pursuer = plan.crossings[row_of[race.require_pursuer("a forecast replay").bib]]
    guns = {("pursuer" if g.pen == "" else f"pen:{g.pen}"): g.time for g in plan.guns}
    first = min(guns.values())
    rows: list[tuple[float, float, float, float, float | None]] = []
    for now in np.linspace(first + 30.0, truth.pursuer_finish + 1.0, points):
        engine.guns = {k: t for k, t in guns.items() if t <= now}
        engine.times = np.where(crossings <= now, crossings, np.nan)
        engine.pursuer_times = np.where(pursuer <= now, pursuer, np.nan)
        f = engine.compute(float(now)).forecast
        assert f is not None, "a race with a pursuer has a forecast"
        rows.append(
            (
                float(now - first),
                float(f.winners),
                float(f.low),
                float(f.high),
                None if f.at_plan is None else float(f.at_plan),
            )
        )
    return rows, truth.winners
