"""Replay a real results file as a chase, through the live engine, and measure how well it predicted.

Every runner starts at the gun (splits are elapsed from the runner's own start); the pursuer, one
of the runners, starts ``delay_s`` later; the split columns are the timing points of a race
directory written for the replay (``simulator.results.write_race``). At each chosen moment the
engine holds only the passings made by then — masked here, exactly as Redis would have them — and
computes its snapshot with the code the live race runs: plausibility filter, the pursuer from his
passings and his planned pace, win probabilities. The file's finish times are the truth and reach
nothing but the scores (SPEC §6 ``evaluate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.chase.snapshot import CAUGHT, DNF, DQ, WON, Snapshot
from live.engine.engine import LiveEngine
from live.forecast.model import ForecastModel
from live.race.race import Race

CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Evaluation:
    """Predicted vs true outcome of every runner at one moment of a replayed chase."""

    race: str
    bibs: np.ndarray
    win_probability: np.ndarray
    predicted_won: np.ndarray
    predicted_margin_s: np.ndarray
    naive_margin_s: np.ndarray  # constant pace from each one's last split, pursuer included
    open_: np.ndarray  # bool: not yet decided at the moment (finished, caught on the mats)
    true_won: np.ndarray
    true_margin_s: np.ndarray
    at_fraction: float
    moment_s: float  # race time of the prediction, from the runners' start
    winners_expected: float  # the forecast: the sum of the win probabilities
    band: tuple[int, int]
    level: float
    at_plan: int | None

    def summary(self) -> dict[str, float | int | str | bool]:
        """The figures ``pursuit evaluate`` prints (SPEC §6; keys only ever added)."""
        truth = int(self.true_won.sum())
        correct = self.predicted_won == self.true_won
        mae = float(np.nanmean(np.abs(self.predicted_margin_s - self.true_margin_s)))
        naive = float(np.nanmean(np.abs(self.naive_margin_s - self.true_margin_s)))
        return {
            "race": self.race,
            "runners": int(len(self.bibs)),
            "at_fraction": self.at_fraction,
            "moment_s": round(self.moment_s, 1),
            "winners_predicted": round(self.winners_expected, 1),
            "winners_true": truth,
            "winners_error_pct": round(100.0 * (self.winners_expected / max(truth, 1) - 1.0), 2),
            "accuracy": round(float(correct.mean()), 4),
            "margin_mae_s": round(mae, 1),
            "naive_margin_mae_s": round(naive, 1),
            "brier": round(float(np.mean((self.win_probability - self.true_won) ** 2)), 4),
            "band_low": self.band[0],
            "band_high": self.band[1],
            "band_level": self.level,
            "band_holds_truth": bool(self.band[0] <= truth <= self.band[1]),
            "winners_at_plan": -1 if self.at_plan is None else self.at_plan,
        }

    def calibration(self, bins: int = CALIBRATION_BINS) -> list[dict[str, float | int]]:
        """Runners still open at the moment, by decile of predicted probability: how many, the mean
        probability and the observed win rate."""
        p, won = self.win_probability[self.open_], self.true_won[self.open_]
        which = np.minimum((p * bins).astype(int), bins - 1)
        out = []
        for b in range(bins):
            m = which == b
            if m.any():
                out.append(
                    {
                        "decile": b,
                        "runners": int(m.sum()),
                        "predicted": round(float(p[m].mean()), 4),
                        "observed": round(float(won[m].mean()), 4),
                    }
                )
        return out

    def rows(self) -> list[tuple[str, str, float, str, float, float]]:
        """``bib, predicted_status, predicted_margin_s, true_status, true_margin_s, win_probability``."""
        status = np.where(self.predicted_won, "won", "caught")
        truth = np.where(self.true_won, "won", "caught")
        return [
            (str(b), str(s), round(float(m), 1), str(t), round(float(tm), 1), round(float(p), 4))
            for b, s, m, t, tm, p in zip(
                self.bibs, status, self.predicted_margin_s, truth, self.true_margin_s, self.win_probability, strict=True
            )
        ]


class ChaseReplay:
    """A results file's chase held by a live engine without Redis: passings set by hand, moment by
    moment, then the engine's own compute."""

    def __init__(
        self,
        race: Race,
        elapsed_s: np.ndarray,
        pursuer_row: int,
        delay_s: float,
        first_gun: float,
        model: ForecastModel | None = None,
        name: str = "",
    ) -> None:
        if len(race.pens) != 1 or race.timing_points[0].at_m != 0.0:
            raise ValueError("a chase replay needs one pen and a start mat at 0 m (simulator.results.write_race)")
        self.race, self.name = race, name or race.id
        self.engine = LiveEngine(race, None, model)
        self.delay_s, self.first_gun = float(delay_s), float(first_gun)
        others = np.arange(len(elapsed_s)) != pursuer_row
        race.require_pursuer("a chase replay")
        bibs = [p.bib for p in race.runners]
        if len(bibs) != int(others.sum()):
            raise ValueError("the race's participants do not match the results' rows")
        gun_col = np.zeros((len(elapsed_s), 1))
        full = np.hstack([gun_col, elapsed_s]) + first_gun  # the start mat reads everyone at the gun
        self.runner_times = full[others]
        self.pursuer_times = full[pursuer_row] + delay_s
        self.at_m = self.engine.at_m
        self.true_finish = self.runner_times[:, -1]
        self.pursuer_finish = float(self.pursuer_times[-1])
        self.engine.guns = {f"pen:{race.pens[0].id}": first_gun, "pursuer": first_gun + delay_s}

    def moment_at(self, fraction: float) -> float:
        """Race time (s from the gun) when the pursuer has run ``fraction`` of the course."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"at_fraction must be between 0 and 1, got {fraction}")
        known = ~np.isnan(self.pursuer_times)
        t = np.interp(fraction * self.at_m[-1], self.at_m[known], self.pursuer_times[known])
        return float(t - self.first_gun)

    def snapshot_at(self, moment_s: float) -> Snapshot:
        """The engine's snapshot when the race has run ``moment_s``: only the passings made by then."""
        now = self.first_gun + moment_s
        self.engine.times = np.where(self.runner_times <= now, self.runner_times, np.nan)
        self.engine.pursuer_times = np.where(self.pursuer_times <= now, self.pursuer_times, np.nan)
        return self.engine.compute(now)

    def evaluate(self, fraction: float) -> Evaluation:
        """Score the engine's prediction at the pursuer's ``fraction`` of the course."""
        moment = self.moment_at(fraction)
        snap = self.snapshot_at(moment)
        now = self.first_gun + moment
        p = np.asarray(snap.win_probability)
        status = snap.status
        decided = (status == WON) | (status == DNF) | (status == DQ)
        decided |= (status == CAUGHT) & (p == 0.0)
        true_won = self.true_finish < self.pursuer_finish
        naive = self._naive_finish(self.engine.times, now)
        p_naive = self._naive_finish(self.engine.pursuer_times[None, :], now)[0]
        f = snap.forecast
        assert f is not None, "a chase replay has a pursuer, hence a forecast"
        return Evaluation(
            race=self.name,
            bibs=self.engine.bibs,
            win_probability=p,
            predicted_won=p > 0.5,
            predicted_margin_s=snap.margin_s,
            naive_margin_s=p_naive - naive,
            open_=~decided,
            true_won=true_won,
            true_margin_s=self.pursuer_finish - self.true_finish,
            at_fraction=fraction,
            moment_s=moment,
            winners_expected=float(np.sum(p)),
            band=(f.low, f.high),
            level=f.level,
            at_plan=f.at_plan,
        )

    def _naive_finish(self, times: np.ndarray, now: float) -> np.ndarray:
        """Naive linear extrapolation: each one's average pace so far held to the finish."""
        k = times.shape[1]
        has = ~np.isnan(times) & (self.at_m[None, :] > 0)
        last = np.where(has.any(axis=1), k - 1 - np.argmax(has[:, ::-1], axis=1), 0)
        t_last = times[np.arange(len(times)), last]
        start = np.nan_to_num(times[:, 0], nan=now)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(has.any(axis=1), start + (t_last - start) * self.at_m[-1] / self.at_m[last], np.nan)
