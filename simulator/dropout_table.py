"""The forecast with and without runners who stop: ``python -m simulator.dropout_table``.

Issue 26, part 4. The eight training races replayed as chases (the winner 5,880 s behind), each
scored by a model fitted on the seven others (leave-one-race-out), at 25 / 50 / 75 % of the
pursuer's race, with 0, 1, 2 and 3 % of each race's runners made to stop at a random split point
(:func:`simulator.evaluation.with_dropouts`; the files hold finishers only, so their own rate is
unknown and dropouts are simulated). Prints each race's winners count error per rate and moment,
the RMS and the band's hits per rate, and each rate's largest move from the 0 % table. Each model
is fitted once and scores the race at every rate (``pursuit evaluate --dropouts R`` gives the
same figures, one rate per run). About 11 minutes.
"""

from __future__ import annotations

import sys

import numpy as np

from simulator.calibration_bound import DATA, RACES
from simulator.evaluation import RaceFiles, evaluate_race, fit_races

RATES = (0.0, 0.01, 0.02, 0.03)
MOMENTS = (0.25, 0.5, 0.75)
SEED = 26  # as pursuit evaluate's --dropout-seed: race i uses SEED + i


def main(rates: tuple[float, ...] = RATES) -> None:
    races = [RaceFiles.load(sorted(DATA.glob(f"{r}_*"))) for r in RACES]
    error = np.zeros((len(rates), len(races), len(MOMENTS)))
    holds = np.zeros_like(error, dtype=bool)
    for i, race in enumerate(races):
        model = fit_races([r for j, r in enumerate(races) if j != i])
        for k, rate in enumerate(rates):
            evaluations = evaluate_race(race, "winner", 5880, list(MOMENTS), model, dropouts=rate, seed=SEED + i)
            for m, ev in enumerate(evaluations):
                s = ev.summary()
                error[k, i, m], holds[k, i, m] = float(s["winners_error_pct"]), bool(s["band_holds_truth"])
        print(race.name, " | ".join(" ".join(f"{e:+5.1f}" for e in error[k, i]) for k in range(len(rates))), flush=True)
    head = " | ".join(f"{100 * r:.0f} %: " + " ".join(f"{100 * m:.0f}%" for m in MOMENTS) for r in rates)
    print(f"\nwinners count error (%) at {head}")
    for i, race in enumerate(races):
        print(f"{race.name:24s}", " | ".join(" ".join(f"{e:+5.1f}" for e in error[k, i]) for k in range(len(rates))))
    for k, rate in enumerate(rates):
        rms = np.sqrt((error[k] ** 2).mean(axis=0))
        move = error[k] - error[0]
        print(
            f"{100 * rate:.0f} % dropouts: RMS " + " / ".join(f"{x:.1f}" for x in rms),
            "| band holds " + ", ".join(f"{int(h)}" for h in holds[k].sum(axis=0)) + f" of {len(races)}",
            "| move from 0 %: mean " + " / ".join(f"{x:+.2f}" for x in move.mean(axis=0)),
            ", largest " + " / ".join(f"{x:.2f}" for x in np.abs(move).max(axis=0)),
        )


if __name__ == "__main__":
    main(tuple(float(a) for a in sys.argv[1:]) or RATES)
