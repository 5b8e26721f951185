"""Which runners a live-feed tick carries: the changed-rows tracker. It remembers what each client
was last told of every runner and picks the rows whose news a spectator would see; the rules and
their measurements are in docs/ARCHITECTURE.md ("Live feed") and docs/BENCHMARKS.md."""

from __future__ import annotations

import numpy as np

from live.chase.chase import margin_sigma
from live.chase.snapshot import AHEAD, STARTED, Snapshot
from web.messages import win_percent

WIN_PCT_RESEND = 5  # a runner's win probability is resent when it moves this many points
MARGIN_RESEND_S = 5.0  # the least move of a predicted margin that resends the runner (else his uncertainty)


class ChangedRows:
    """The rows of a tick, given the state every client holds from the ticks before (``forget`` after
    which nobody can be assumed to hold any: the next call changes nothing and remembers all)."""

    def __init__(self, distance_m: float) -> None:
        self.distance_m = distance_m  # the race's, for the time a runner has left
        self._times: np.ndarray | None = None
        self._status: np.ndarray | None = None
        self._class: np.ndarray | None = None
        self._sent_margin = np.zeros(0)
        self._sent_pct = np.zeros(0, dtype=np.int16)

    def forget(self) -> None:
        """Clients hold another state (a new leader's first tick is a snapshot): start again."""
        self._times = None

    def __call__(
        self, snap: Snapshot, times: np.ndarray, speed_m_s: np.ndarray, classes: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows with a new or corrected passing, a new status or class, or (out on the course) a margin
        moved since it was last sent by more than its uncertainty and at least ``MARGIN_RESEND_S``.

        The margin is shown only as a number beside a dot (its class is sent exactly), and with a
        resend at every 5 s of drift, common shifts (the pursuer's or the field's predicted pace)
        resent most of a 40,000-runner field every few ticks: about half of all rows sent.

        Second, the rows whose win percent alone moved ``WIN_PCT_RESEND`` points: sent as the tick's
        ``win`` (index and percent, ~8 bytes a runner instead of a whole row's ~30)."""
        margin = np.asarray(snap.margin_s, dtype=float)
        pct = win_percent(snap.win_probability, len(snap.bibs))
        if self._times is None or self._times.shape != times.shape or self._status is None:
            changed = np.zeros(len(snap.bibs), dtype=bool)  # nobody can hold an older state yet
            win_only = changed
            self._sent_margin = margin.copy()
            self._sent_pct = pct
        else:
            same = (times == self._times) | (np.isnan(times) & np.isnan(self._times))
            with np.errstate(invalid="ignore"):
                remaining_s = (self.distance_m - snap.distance_m) / speed_m_s
                threshold = np.maximum(MARGIN_RESEND_S, margin_sigma(snap.now + remaining_s, snap.now))
                drift = (np.isnan(margin) != np.isnan(self._sent_margin)) | (
                    np.abs(margin - self._sent_margin) > threshold
                )
            drift &= (snap.status == STARTED) | (snap.status == AHEAD)  # the others' margins show nothing
            changed = ~same.all(axis=1) | (snap.status != self._status) | drift
            if classes is not None and self._class is not None:
                changed |= classes != self._class
            win_moved = np.abs(pct.astype(np.int32) - self._sent_pct) >= WIN_PCT_RESEND
            win_only = win_moved & ~changed
            self._sent_margin[changed] = margin[changed]
            self._sent_pct[changed | win_only] = pct[changed | win_only]
        self._times = times.copy(order="K")  # as laid out: the engine keeps its passings by timing point
        self._status = snap.status.copy()
        self._class = None if classes is None else classes.copy()
        return np.flatnonzero(changed), np.flatnonzero(win_only)
