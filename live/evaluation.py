"""Replay a real results file as a chase, and measure how well the live engine predicts it.

Every runner starts at 0 (splits are elapsed from the runner's own start); the pursuer, one of the
runners, starts ``delay_s`` later; the split columns are the timing points. At the moment the
pursuer reaches a fraction of the course, the engine sees only the passings made so far and
predicts each runner's outcome; the file's finish times give the truth (SPEC §6 ``evaluate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.chase import evaluate, field_fade_per_m, pursuer_position
from live.results import Results
from live.snapshot import CAUGHT, WON


@dataclass(frozen=True)
class Evaluation:
    """Predicted vs true outcome of every runner at one moment of a replayed chase."""

    bibs: np.ndarray
    predicted_won: np.ndarray
    predicted_margin_s: np.ndarray
    true_won: np.ndarray
    true_margin_s: np.ndarray
    at_fraction: float
    moment_s: float  # race time of the prediction, from the runners' start

    def summary(self) -> dict[str, float | int]:
        """The figures ``pursuit evaluate`` prints."""
        correct = self.predicted_won == self.true_won
        return {
            "runners": int(len(self.bibs)),
            "at_fraction": self.at_fraction,
            "moment_s": round(self.moment_s, 1),
            "winners_predicted": int(self.predicted_won.sum()),
            "winners_true": int(self.true_won.sum()),
            "winners_error_pct": round(
                100.0 * (int(self.predicted_won.sum()) / max(int(self.true_won.sum()), 1) - 1.0), 2
            ),
            "accuracy": round(float(correct.mean()), 4),
            "margin_mae_s": round(float(np.nanmean(np.abs(self.predicted_margin_s - self.true_margin_s))), 1),
        }

    def rows(self) -> list[tuple[str, str, float, str, float]]:
        """``bib, predicted_status, predicted_margin_s, true_status, true_margin_s`` per runner."""
        status = np.where(self.predicted_won, "won", "caught")
        truth = np.where(self.true_won, "won", "caught")
        return [
            (str(b), str(s), round(float(m), 1), str(t), round(float(tm), 1))
            for b, s, m, t, tm in zip(
                self.bibs, status, self.predicted_margin_s, truth, self.true_margin_s, strict=True
            )
        ]


def replay_chase(results: Results, pursuer_bib: str, delay_s: float, at_fraction: float = 0.5) -> Evaluation:
    """Predict every runner's outcome when the pursuer has covered ``at_fraction`` of the course."""
    if not 0.0 < at_fraction < 1.0:
        raise ValueError(f"at_fraction must be between 0 and 1, got {at_fraction}")
    p = results.row_of(pursuer_bib)
    at_m = np.concatenate([[0.0], results.at_m])
    elapsed = np.hstack([np.zeros((len(results.bibs), 1)), results.elapsed_s])
    pursuer_true = elapsed[p] + delay_s
    others = np.arange(len(results.bibs)) != p
    runners = elapsed[others]
    distance = float(at_m[-1])

    known = ~np.isnan(pursuer_true)
    moment = float(np.interp(at_fraction * distance, at_m[known], pursuer_true[known]))
    seen = np.where(runners <= moment, runners, np.nan)
    pursuer_seen = np.where(pursuer_true <= moment, pursuer_true, np.nan)

    median_finish = float(np.nanmedian(runners[:, -1]))
    prior = np.full(len(runners), distance / median_finish)
    fade = field_fade_per_m(seen, at_m)
    first_split_speed = at_m[1] / (pursuer_true[1] - delay_s) if known[1] else distance / (pursuer_true[-1] - delay_s)
    pursuer = pursuer_position(pursuer_seen, at_m, first_split_speed, delay_s, delay_s, moment)
    result = evaluate(seen, at_m, prior, pursuer_seen, pursuer, moment, np.zeros(len(runners)), fade_per_m=fade)

    predicted_won = (result.status == WON) | ((result.status != CAUGHT) & (result.margin_s > 0))
    true_margin = pursuer_true[-1] - runners[:, -1]
    return Evaluation(
        bibs=results.bibs[others],
        predicted_won=predicted_won,
        predicted_margin_s=result.margin_s,
        true_won=runners[:, -1] < pursuer_true[-1],
        true_margin_s=true_margin,
        at_fraction=at_fraction,
        moment_s=moment,
    )
