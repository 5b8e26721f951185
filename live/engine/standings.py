"""The standings of a race by its outcome: which runners are placed and on what key (pure)."""

from __future__ import annotations

import numpy as np

from live.chase.places import Groups, Places, by_distance, rank
from live.chase.snapshot import AHEAD, CAUGHT, FINISHED, STARTED, WON, Snapshot
from live.race.race import Race


def standings(race: Race, snap: Snapshot, times: np.ndarray, gun_s: np.ndarray | None, groups: Groups) -> Places:
    """Places overall, within sex and within sex and category: a chase's winners by finish time (time
    of day, as the outcome rule compares them); a race without a pursuer's finishers by gun time from
    their own pen's gun (``gun_s`` per runner; net time breaks a tie); a catcher-car race's runners by
    distance, further first (where the car passed him, or where he is while he runs). ``times``: each
    runner's passing times by timing point (the first the start mat, the last the finish)."""
    finish = times[:, -1]
    if race.by_distance:
        caught = snap.status == CAUGHT
        at = snap.caught_at_m if snap.caught_at_m is not None else np.full(len(snap.bibs), np.nan)
        ranked = caught | (snap.status == AHEAD) | (snap.status == STARTED)
        return by_distance(np.where(caught, at, snap.distance_m), ranked, groups)
    if race.pursuer is None:
        assert gun_s is not None, "a race without a pursuer ranks by gun time"
        key = np.where(snap.status == FINISHED, finish - gun_s, np.nan)
        return rank(key, groups, tiebreak=finish - times[:, 0])
    return rank(np.where(snap.status == WON, finish, np.nan), groups)
