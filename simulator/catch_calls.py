"""How often a catch is called and then taken back, and how late the calls come:
``python -m simulator.catch_calls [SEED …]``.

A runner between two mats is where his projection puts him; the pursuer catches him there, by the
projections, before any mat confirms it (``live.chase.chase``: provisional). Called as soon as the two
projected positions cross, half of the close ones are wrong: the runner was a few metres further
on, and his next read shows him ahead — the commentary has said "caught", then "Correction". With
the slack (``CATCH_SLACK_M`` + ``CATCH_SLACK_SHARE`` of the metres he is projected past his last
read) the call waits until the crossing is beyond what the projection may be wrong by.

For each seed, the simulated J-1000 (the demo's field, ``simulator.trajectory``) is stepped every
``STEP_S`` seconds from the pursuer's gun to his finish through the engine (no Redis, as
``simulator.evaluation.simulated_history``), once with the slack and once without; it prints the
runners ever called caught, those called caught and later read ahead of him (a correction), and
how much later the slack calls the catches both call. About 40 s per seed and setting.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from live.chase import chase
from live.chase.snapshot import AHEAD, CAUGHT, WON
from live.engine.engine import LiveEngine
from live.race.race import Race
from live.race.race_file import load_race
from simulator.evaluation import GUN
from simulator.trajectory import plan_race

STEP_S = 2.0
SEEDS = (2021, 7, 11, 3, 5, 13)
DEFAULT_RACE = Path(__file__).resolve().parent.parent / "races" / "paris-j1000"


@dataclass(frozen=True)
class Calls:
    first_called: np.ndarray  # race time each runner was first caught (NaN: never)
    corrected: np.ndarray  # bool: caught, then read ahead of the pursuer (a new passing)


@contextlib.contextmanager
def slack(metres: float, share: float) -> Iterator[None]:
    """The provisional-catch slack set to ``metres`` and ``share`` while inside."""
    kept = chase.CATCH_SLACK_M, chase.CATCH_SLACK_SHARE
    chase.CATCH_SLACK_M, chase.CATCH_SLACK_SHARE = metres, share
    try:
        yield
    finally:
        chase.CATCH_SLACK_M, chase.CATCH_SLACK_SHARE = kept


def calls(race: Race, seed: int) -> Calls:
    """Every runner's catch call over the simulated race of ``seed``."""
    plan = plan_race(race, GUN, seed=seed)
    engine = LiveEngine(race, None)
    row_of = {str(b): i for i, b in enumerate(plan.bibs)}
    crossings = plan.crossings[[row_of[str(b)] for b in engine.bibs]]
    pursuer = plan.crossings[row_of[race.require_pursuer("catch calls").bib]]
    guns = {("pursuer" if g.pen == "" else f"pen:{g.pen}"): g.time for g in plan.guns}
    n = len(engine.bibs)
    first = np.full(n, np.nan)
    reads_then = np.zeros(n, dtype=int)
    corrected = np.zeros(n, dtype=bool)
    for now in np.arange(guns["pursuer"] + STEP_S, float(np.nanmax(pursuer)) + STEP_S, STEP_S):
        engine.guns = {k: t for k, t in guns.items() if t <= now}
        engine.times = np.where(crossings <= now, crossings, np.nan)
        engine.pursuer_times = np.where(pursuer <= now, pursuer, np.nan)
        snap = engine.compute(float(now))
        reads = np.count_nonzero(~np.isnan(engine.times), axis=1)
        new = (snap.status == CAUGHT) & np.isnan(first)
        first[new], reads_then[new] = now, reads[new]
        corrected |= ~np.isnan(first) & np.isin(snap.status, (AHEAD, WON)) & (reads > reads_then)
    return Calls(first, corrected)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seeds", nargs="*", type=int, default=list(SEEDS))
    parser.add_argument("--race", type=Path, default=DEFAULT_RACE, help="race directory (default: the J-1000)")
    args = parser.parse_args()
    seeds, race = args.seeds, load_race(args.race)
    share = f"{chase.CATCH_SLACK_SHARE:.0%}"
    print(f"slack: {chase.CATCH_SLACK_M:g} m + {share} of the metres projected since the last read")
    print(
        f"{'seed':>6} {'called':>7} {'corrected':>10} {'without slack':>14} {'later: median':>14} {'p90':>5} {'max':>5}"
    )
    for seed in seeds:
        with_slack = calls(race, seed)
        with slack(0.0, 0.0):
            bare = calls(race, seed)
        both = ~np.isnan(with_slack.first_called) & ~np.isnan(bare.first_called)
        later = (with_slack.first_called - bare.first_called)[both & ~bare.corrected]
        print(
            f"{seed:>6} {int((~np.isnan(with_slack.first_called)).sum()):>7,} {int(with_slack.corrected.sum()):>10}"
            f" {int(bare.corrected.sum()):>14} {np.median(later):>12.0f} s {np.percentile(later, 90):>4.0f}"
            f" {later.max():>5.0f}"
        )


if __name__ == "__main__":
    main()
