"""Story events and alerts for commentators and race control, detected on every tick.

Each event has a dedupe key (``caught:<bib>``, ``pursuer-split:<tp>``…) and is appended to the
durable events stream exactly once, whichever web process sees it first (``Store.emit_once``).
Every event carries a readable sentence and structured fields; ``level`` is ``story`` or ``alert``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from live.chase.chase import catch_point
from live.chase.snapshot import AHEAD, CAUGHT, WON, Snapshot
from live.engine.catcher_events import catcher_events
from live.engine.engine import LiveEngine
from live.engine.finishers import finisher_stories
from live.engine.health import HealthMonitor
from live.events import Event
from live.race.race import Pursuer
from live.store.store import attached

log = logging.getLogger(__name__)

WINNER_STEP = 100  # a milestone every 100 winners
CLOSE_ESCAPE_S = 5.0
FORECAST_SWING = 0.05  # announce the forecast when it moves by 5 % (at least 10 runners)


def clock_text(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def planned_split_s(pursuer: Pursuer, at_m: float) -> float:
    """Seconds after his start the pursuer's plan has him at ``at_m``: his speed schedule (a catcher
    car), else his planned pace."""
    if pursuer.schedule is not None:
        return float(pursuer.schedule.elapsed_at(at_m))
    return pursuer.pace_s_per_km * at_m / 1000.0


def schedule_text(delta_s: float) -> str:
    """A split against the plan in words (``delta_s`` > 0: late), "on schedule" within what rounds to 0 s."""
    if round(abs(delta_s)) == 0:
        return "on schedule"
    return f"{abs(delta_s):.0f} s {'behind' if delta_s > 0 else 'ahead of'} schedule"


class EventDetector:
    """An engine listener that turns changes of state into events."""

    def __init__(self, engine: LiveEngine) -> None:
        self.engine = engine
        self.race = engine.race
        self.store = attached(engine.store)
        self.emitted: set[str] | None = None
        self.caught_reads: dict[str, int] = {}  # passings each runner had when first seen caught, this process
        self.announced_forecast: int | None = None
        self.health = HealthMonitor(self.store)  # the infrastructure's alerts: mats, readers, Redis
        self.names = {p.bib: p.name for p in self.race.participants}

    async def __call__(self, snap: Snapshot) -> None:
        if self.emitted is None:
            self.emitted = await self.store.emitted_keys()
        if self.race.pursuer is None:  # a race without a pursuer: its finishers' stories, the same alerts
            pending = finisher_stories(self.engine, snap, self.names)
        else:
            pending = self.pursuer_events(snap) + self.catch_events(snap) + self.winner_events(snap)
            pending += self.forecast_event(snap)
        pending += self.missed_mat_alerts(snap) + self.overdue_alerts(snap)
        pending += self.impossible_alerts(snap)
        if self.race.by_distance:  # a catcher-car race's own stories, its catches among them
            pending += catcher_events(self.race, snap)
        pending += await self.health.alerts(snap)
        fresh = []
        for e in pending:
            if e.key not in self.emitted:
                self.emitted.add(e.key)
                fresh.append(e)
        await self.store.emit_many(fresh)

    def _runner(self, bib: str, row: int, snap: Snapshot) -> dict[str, Any]:
        return {"bib": bib, "name": self.names.get(bib, ""), "pen": str(snap.pens[row])}

    def pursuer_events(self, snap: Snapshot) -> list[Event]:
        """The pursuer's splits (vs his planned pace) and the mats he was not read at."""
        race, e = self.race, self.engine
        pursuer, gun = race.require_pursuer("the pursuer's splits"), snap.pursuer.start if snap.pursuer else None
        out: list[Event] = []
        times = e.pursuer_times
        name = pursuer.name
        prev_t, prev_m = gun, 0.0
        for tp in race.timing_points:
            t = times[tp.index]
            if np.isnan(t):
                continue
            if gun is not None and tp.at_m > 0:
                split = t - gun
                planned = planned_split_s(pursuer, tp.at_m)
                pace = (t - prev_t) / ((tp.at_m - prev_m) / 1000.0) if prev_t is not None and tp.at_m > prev_m else None
                delta = split - planned
                ahead = schedule_text(delta)
                pace_text = f", {clock_text(pace)}/km" if pace else ""
                out.append(
                    Event(
                        f"pursuer-split:{tp.index}",
                        "pursuer_split",
                        float(t),
                        f"{name} passes {tp.mat} ({tp.at_m / 1000:.2f} km) in {clock_text(split)}{pace_text}, {ahead}.",
                        {
                            "level": "story",
                            "mat": tp.mat,
                            "at_m": tp.at_m,
                            "split_s": round(split, 2),
                            "pace_s_per_km": round(pace, 1) if pace else None,
                            "vs_schedule_s": round(delta, 1),
                        },
                    )
                )
            prev_t, prev_m = float(t), tp.at_m
        read = np.flatnonzero(~np.isnan(times))
        if len(read):
            for tp in race.timing_points[: int(read[-1])]:
                if np.isnan(times[tp.index]):
                    out.append(
                        Event(
                            f"pursuer-missed:{tp.index}",
                            "pursuer_missed_mat",
                            snap.now,
                            f"ALERT: {name} was not read at {tp.mat} ({tp.at_m / 1000:.2f} km); check the mat.",
                            {"level": "alert", "mat": tp.mat, "at_m": tp.at_m},
                        )
                    )
        return out

    def catch_events(self, snap: Snapshot) -> list[Event]:
        """Each runner caught (where, after how long), undone catches, and the pursuer reaching a pen."""
        assert self.emitted is not None
        out: list[Event] = []
        caught_rows = np.flatnonzero(snap.status == CAUGHT)
        gun, name = snap.pursuer.start if snap.pursuer else None, self.race.require_pursuer("a catch").name
        pen_first: dict[str, int] = {}
        for row in caught_rows:
            bib = str(snap.bibs[row])
            pen_first.setdefault(str(snap.pens[row]), int(row))
            if bib not in self.caught_reads:  # counted once, not every tick for everyone caught
                self.caught_reads[bib] = self._passings(int(row))
            if f"caught:{bib}" in self.emitted or self.race.by_distance:
                continue
            point = catch_point(self.engine.used_times[row], self.engine.used_pursuer_times, self.engine.at_m)
            at_m, t = point if point else (float(snap.distance_m[row]), snap.now)
            after = f" after {clock_text(t - gun)}" if gun is not None else ""
            who = self._runner(bib, int(row), snap)
            out.append(
                Event(
                    f"caught:{bib}",
                    "caught",
                    t,
                    f"{name} catches {who['name']} (bib {bib}, pen {who['pen']}) at {at_m / 1000:.2f} km{after}.",
                    {"level": "story", **who, "at_m": round(at_m, 1), "confirmed": point is not None},
                )
            )
        if len(caught_rows):
            out.append(
                Event(
                    "milestone:first-catch",
                    "milestone",
                    snap.now,
                    f"First catch: {name} is in the field.",
                    {"level": "story", "caught": int(len(caught_rows))},
                )
            )
        for pen, first_row in pen_first.items():
            out.append(
                Event(
                    f"pen-reached:{pen}",
                    "pursuer_reaches_pen",
                    snap.now,
                    f"{name} reaches pen {pen}: first catch there, bib {snap.bibs[first_row]}.",
                    {"level": "story", "pen": pen},
                )
            )
        # a correction only when a read says so: a runner whose projection alone moves back ahead
        # (the pursuer held at a mat that has not read him yet) is caught again at that read
        back = np.flatnonzero(snap.status == AHEAD)
        for row in back:
            bib = str(snap.bibs[row])
            if f"caught:{bib}" in self.emitted and self._passings(int(row)) > self.caught_reads.get(bib, -1):
                out.append(
                    Event(
                        f"undone:{bib}",
                        "catch_undone",
                        snap.now,
                        f"Correction: bib {bib} was read ahead of {name}; not caught after all.",
                        {"level": "alert", **self._runner(bib, int(row), snap)},
                    )
                )
        return out

    def _passings(self, row: int) -> int:
        """How many passings the runner at ``row`` has (after the plausibility rules)."""
        return int(np.count_nonzero(~np.isnan(self.engine.used_times[row])))

    def winner_events(self, snap: Snapshot) -> list[Event]:
        """Milestones of winners, closest escapes, and the final count when the pursuer finishes."""
        out: list[Event] = []
        won = int((snap.status == WON).sum())
        name = self.race.require_pursuer("a winner").name
        for m in [1, *range(WINNER_STEP, won + 1, WINNER_STEP)]:
            if m <= won:
                text = "First runner home ahead of" if m == 1 else f"{m:,} runners have beaten"
                out.append(
                    Event(f"winners:{m}", "milestone", snap.now, f"{text} {name}.", {"level": "story", "won": m})
                )
        if snap.pursuer is not None and snap.forecast is not None and snap.pursuer.finish is not None:
            rows = np.flatnonzero((snap.status == WON) & (snap.margin_s < CLOSE_ESCAPE_S))
            for row in rows:
                bib = str(snap.bibs[row])
                who = self._runner(bib, int(row), snap)
                out.append(
                    Event(
                        f"escape:{bib}",
                        "close_escape",
                        snap.now,
                        f"Closest escape: {who['name']} (bib {bib}) beat {name} by {snap.margin_s[row]:.2f} s.",
                        {"level": "story", **who, "margin_s": round(float(snap.margin_s[row]), 2)},
                    )
                )
            by_pen = {pen: v["won"] for pen, v in snap.forecast.by_pen.items()}
            pens = ", ".join(f"pen {k}: {v}" for k, v in by_pen.items())
            out.append(
                Event(
                    "final",
                    "final",
                    snap.pursuer.finish,
                    f"{name} finishes. {won:,} runners beat him ({pens}).",
                    {"level": "story", "won": won, "by_pen": by_pen, "quota": self.race.quota},
                )
            )
        return out

    def forecast_event(self, snap: Snapshot) -> list[Event]:
        """The forecast of winners, when it moves by more than a few percent."""
        f = snap.forecast
        if snap.pursuer is None or f is None or snap.pursuer.status != "running":
            return []
        last = self.announced_forecast
        if last is not None and abs(f.winners - last) < max(10, FORECAST_SWING * last):
            return []
        self.announced_forecast = f.winners
        quota = f" (quota {f.quota:,})" if f.quota is not None else ""
        return [
            Event(
                f"forecast:{f.winners}",
                "forecast",
                snap.now,
                f"Forecast: {f.winners:,} winners, between {f.low:,} and {f.high:,}{quota}.",
                {"level": "story", "winners": f.winners, "low": f.low, "high": f.high, "quota": f.quota},
            )
        ]

    def missed_mat_alerts(self, snap: Snapshot) -> list[Event]:
        """Runners read at a timing point after one they were not read at (a possible course cut)."""
        times = self.engine.used_times
        has = ~np.isnan(times)
        later = np.flip(np.logical_or.accumulate(np.flip(has, axis=1), axis=1), axis=1)
        missed = ~has & np.roll(later, -1, axis=1)
        missed[:, -1] = False
        missed[:, 0] = False  # start mats miss most; a missing start read is normal
        out = []
        for row, tp in zip(*np.nonzero(missed), strict=True):
            bib = str(snap.bibs[row])
            point = self.race.timing_points[int(tp)]
            out.append(
                Event(
                    f"missed:{bib}:{tp}",
                    "runner_missed_mat",
                    snap.now,
                    f"ALERT: bib {bib} was not read at {point.mat} ({point.at_m / 1000:.2f} km) but was read later.",
                    {"level": "alert", **self._runner(bib, int(row), snap), "mat": point.mat, "at_m": point.at_m},
                )
            )
        return out

    def impossible_alerts(self, snap: Snapshot) -> list[Event]:
        """Passings the engine ignores: faster than any runner, or before the previous one."""
        out = []
        for row, tp in zip(*np.nonzero(self.engine.flagged), strict=True):
            bib = str(snap.bibs[row])
            point = self.race.timing_points[int(tp)]
            out.append(
                Event(
                    f"impossible:{bib}:{tp}",
                    "impossible_passing",
                    snap.now,
                    f"ALERT: bib {bib}'s passing at {point.mat} ({point.at_m / 1000:.2f} km) is impossible "
                    f"(faster than {self.race.max_speed_m_s:g} m/s from the previous one); kept, not used.",
                    {"level": "alert", **self._runner(bib, int(row), snap), "mat": point.mat, "at_m": point.at_m},
                )
            )
        return out

    def overdue_alerts(self, snap: Snapshot) -> list[Event]:
        """Runners expected at their next mat and late by a margin (hurt, stopped, or a missed read)."""
        out = []
        for row in np.flatnonzero(snap.overdue):
            bib = str(snap.bibs[row])
            last = int(self.engine.last_tp[row])
            nxt = self.race.timing_points[min(last + 1, len(self.race.timing_points) - 1)]
            out.append(
                Event(
                    f"overdue:{bib}:{nxt.index}",
                    "runner_overdue",
                    snap.now,
                    f"ALERT: bib {bib} is overdue at {nxt.mat} ({nxt.at_m / 1000:.2f} km).",
                    {"level": "alert", **self._runner(bib, int(row), snap), "mat": nxt.mat, "at_m": nxt.at_m},
                )
            )
        return out
