"""Which runners a live-feed tick carries: the changed-rows tracker. It remembers what every client
was told of each runner and picks the rows whose news a spectator would see; the rules and their
measurements are in docs/ARCHITECTURE.md ("Live feed") and docs/BENCHMARKS.md ("Bytes per spectator").

Positions are not sent at every passing: the browser moves every runner itself (``pursuit.js``
``runnerDistance``: the distance and speed last sent, advanced by the race time since, held
``HOLD_SHORT_M`` short of the next timing point), and the tracker mirrors that extrapolation with the
rounded values the client got; a runner is resent when his position is more than ``POSITION_RESEND_M``
from where the client draws him (a passing that moved him, a new pace, a read that lets him past a
mat), or his status or class changed, or his margin moved past its uncertainty.
"""

from __future__ import annotations

import numpy as np

from live.chase.chase import CLASSES, margin_sigma
from live.chase.snapshot import AHEAD, STARTED, STATUSES, Snapshot
from web.messages import TickRows, win_percent

WIN_PCT_RESEND = 5  # a runner's win probability is resent when it moves this many points
MARGIN_RESEND_S = 5.0  # the least move of a predicted margin that resends the runner (else his uncertainty)
POSITION_RESEND_M = 25.0  # a runner this far from where the browser draws him is resent (a few pixels)
HOLD_SHORT_M = 3.0  # pursuit.js: an unread runner waits this far before the next timing point
MOVING = ("started", "safe", "at_risk", "doomed", "caught")  # pursuit.js RUNNING: the classes it moves
MOVING_CODES = np.array([CLASSES.index(c) for c in MOVING])
CLASS_OF_STATUS = np.array([CLASSES.index("safe" if s == "ahead" else s) for s in STATUSES])  # statusToClass


class ChangedRows:
    """The rows of a tick, given the state every client holds from the ticks before (``forget`` after
    which nobody can be assumed to hold any: the next call changes nothing and remembers all).

    ``timing_at_m``: where the race's timing points are (the browser's ``meta.timing_at_m``).
    ``position_resend_m`` None is the rule before positions were mirrored (every new or corrected
    passing resends the runner), kept as the benchmark's same-run baseline.
    """

    def __init__(
        self,
        distance_m: float,
        timing_at_m: tuple[float, ...] = (),
        position_resend_m: float | None = POSITION_RESEND_M,
    ) -> None:
        self.distance_m = distance_m  # the race's, for the time a runner has left and the last cap
        self.timing_at_m = np.array(sorted(set(timing_at_m)), dtype=float)
        self.position_resend_m = position_resend_m
        self._times: np.ndarray | None = None
        self._status: np.ndarray | None = None
        self._class: np.ndarray | None = None
        self._sent_margin = np.zeros(0)
        self._sent_pct = np.zeros(0, dtype=np.int16)
        # what the clients hold of each runner's position: distance (m), speed (m/s), race time, cap
        self._sent_d = np.zeros(0)
        self._sent_v = np.zeros(0)
        self._sent_t = np.zeros(0)
        self._cap = np.zeros(0)

    def forget(self) -> None:
        """Clients hold another state (a new leader's first tick is a snapshot): start again."""
        self._times = None

    def drawn_at(self, now: float, classes: np.ndarray) -> np.ndarray:
        """Where the browser draws every runner at race time ``now`` (``pursuit.js`` ``runnerDistance``),
        from what it was last sent; ``classes`` the class codes it holds."""
        d, v = self._sent_d, self._sent_v
        moving = np.isin(classes, MOVING_CODES) & (v > 0)
        ahead = np.minimum(d + v * np.maximum(0.0, now - self._sent_t), np.maximum(self._cap, d))
        return np.where(moving, ahead, d)

    def _cap_for(self, d: np.ndarray) -> np.ndarray:
        """``pursuit.js`` ``capFor``: just short of the first timing point past ``d`` (+0.5 m)."""
        at = self.timing_at_m
        if not len(at):
            return np.full(np.shape(d), self.distance_m)
        i = np.searchsorted(at, d + 0.5, side="right")
        return np.where(i < len(at), at[np.minimum(i, len(at) - 1)] - HOLD_SHORT_M, self.distance_m)

    def _sent(self, rows: np.ndarray | slice, snap: Snapshot, speed_m_s: np.ndarray) -> None:
        """``rows`` went out: the clients hold their distance and speed as rounded on the wire."""
        d = np.nan_to_num(np.round(np.asarray(snap.distance_m, dtype=float)[rows]), nan=0.0, posinf=0.0, neginf=0.0)
        v = np.nan_to_num(np.round(np.asarray(speed_m_s, dtype=float)[rows] * 10.0), nan=0.0, posinf=0.0, neginf=0.0)
        self._sent_d[rows], self._sent_v[rows], self._sent_t[rows] = d, v / 10.0, round(snap.now, 3)
        self._cap[rows] = self._cap_for(d)

    def __call__(
        self, snap: Snapshot, times: np.ndarray, speed_m_s: np.ndarray, classes: np.ndarray | None
    ) -> TickRows:
        """Whole rows: a new status or class, or a position ``position_resend_m`` from where the browser
        draws him. Then the rows whose margin alone moved (out on the course) since it was last sent by
        more than its uncertainty and at least ``MARGIN_RESEND_S``, and those whose win percent alone
        moved ``WIN_PCT_RESEND`` points: sent as the tick's ``margin`` and ``win`` (index and value, ~8
        bytes a runner instead of a whole row's ~35). The margin is shown only as a number beside a dot;
        with a resend at every 5 s of drift, common shifts (the pursuer's or the field's predicted pace)
        resent most of a 40,000-runner field every few ticks.

        The baseline rule (``position_resend_m`` None) sends a whole row for every new or corrected
        passing and every margin moved, as the feed did before."""
        n = len(snap.bibs)
        margin = np.asarray(snap.margin_s, dtype=float)
        pct = win_percent(snap.win_probability, n)
        held = CLASS_OF_STATUS[snap.status] if classes is None else classes  # the classes the clients hold
        if self._times is None or self._times.shape != times.shape or self._status is None:
            changed = np.zeros(n, dtype=bool)  # nobody can hold an older state yet
            win_only = margin_only = changed
            self._sent_margin = margin.copy()
            self._sent_pct = pct
            self._sent_d, self._sent_v, self._sent_t, self._cap = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
            self._sent(slice(None), snap, speed_m_s)
        else:
            with np.errstate(invalid="ignore"):
                remaining_s = (self.distance_m - snap.distance_m) / speed_m_s
                threshold = np.maximum(MARGIN_RESEND_S, margin_sigma(snap.now + remaining_s, snap.now))
                drift = (np.isnan(margin) != np.isnan(self._sent_margin)) | (
                    np.abs(margin - self._sent_margin) > threshold
                )
            drift &= (snap.status == STARTED) | (snap.status == AHEAD)  # the others' margins show nothing
            changed = snap.status != self._status
            if classes is not None and self._class is not None:
                changed |= classes != self._class
            if self.position_resend_m is None:
                changed |= ~((times == self._times) | (np.isnan(times) & np.isnan(self._times))).all(axis=1)
                changed |= drift
                margin_only = np.zeros(n, dtype=bool)
            else:
                true_d = np.nan_to_num(np.asarray(snap.distance_m, dtype=float), nan=0.0)
                changed |= np.abs(true_d - self.drawn_at(snap.now, held)) > self.position_resend_m
                margin_only = drift & ~changed
            win_moved = np.abs(pct.astype(np.int32) - self._sent_pct) >= WIN_PCT_RESEND
            win_only = win_moved & ~changed
            self._sent_margin[changed | margin_only] = margin[changed | margin_only]
            self._sent_pct[changed | win_only] = pct[changed | win_only]
            self._sent(changed, snap, speed_m_s)
        self._times = times.copy(order="K")  # as laid out: the engine keeps its passings by timing point
        self._status = snap.status.copy()
        self._class = None if classes is None else classes.copy()
        return TickRows(np.flatnonzero(changed), np.flatnonzero(win_only), np.flatnonzero(margin_only))
