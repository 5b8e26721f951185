"""The live engine: tails the passings in Redis and computes a :class:`Snapshot` every tick."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

import numpy as np

from live.chase.places import Groups, Places
from live.chase.snapshot import DNF, DQ, STATUSES, Snapshot
from live.clock import RaceClock
from live.engine.standings import standings
from live.engine.tick import Passings, Tick
from live.forecast.model import ForecastModel, default_model
from live.race.race import Race
from live.store.leader import STANDBY_POLL_S, Lease
from live.store.store import REDIS_UNAVAILABLE, Store

log = logging.getLogger(__name__)

TICK_S = 1.0
HISTORY_STEP_S = 10.0  # the forecast's history keeps a point every 10 s of race time…
HISTORY_POINTS = 4320  # …for 12 hours at most


class LiveEngine:
    """In-memory projection state of one race, rebuilt from Redis at start and kept current."""

    def __init__(self, race: Race, store: Store | None, model: ForecastModel | None = None) -> None:
        self.race = race
        self.store = store  # None: driven by hand (``pursuit evaluate`` sets the passings and calls compute)
        self.model = model or default_model()
        self.tick = Tick(race, self.model)
        runners = list(race.runners)
        self.bibs, self.pens, self.row = self.tick.bibs, self.tick.pens, self.tick.row
        self.sexes = np.array([p.sex for p in runners], dtype=object)
        self.categories = np.array([p.category for p in runners], dtype=object)
        self.groups = Groups.of(self.sexes, self.categories)  # for places, once
        self._places: tuple[Snapshot, Places] | None = None
        self.at_m, self.mat_of_tp = self.tick.at_m, self.tick.mat_of_tp
        # by timing point in memory (column-major): each tick reads the passings point by point
        self.times = np.full((len(runners), len(self.at_m)), np.nan, order="F")
        self.pursuer_times = np.full(len(self.at_m), np.nan)
        self.manual_status = np.zeros(len(runners), dtype=np.int8)
        self.prior_m_s, self.pen_gun_index = self.tick.prior_m_s, self.tick.pen_gun_index
        self.runner_pen_index, self.pen_sizes = self.tick.runner_pen_index, self.tick.pen_sizes
        self.guns: dict[str, float] = {}
        self.gps: tuple[float, float, float] | None = None  # lat, lon, t of the pursuer's last fix
        self.last_id = "0-0"
        self.last_tp = np.full(len(runners), -1)
        self.flagged = np.zeros_like(self.times, dtype=bool)  # passings the engine ignores as impossible
        self.used_times = self.times  # the passings after the plausibility rules (what the chase uses)
        self.used_pursuer_times = self.pursuer_times
        self.used_last = self.last_tp  # each runner's last timing point in ``used_times``
        self.snapshot: Snapshot | None = None
        self.classes: np.ndarray | None = None  # last computed classes (they hold near a threshold)
        self.tick_ms = 0.0
        self.last_tick_wall = 0.0
        self.listeners: list[Callable[[Snapshot], Awaitable[None]]] = []  # called after every tick
        self.lease: Lease | None = None  # None: this engine always computes (one process, or by hand)
        self.redis_failing_since: float | None = None  # wall time of the first tick Redis failed, while it does
        # (race time, forecast, band low, band high, count at the pursuer's plan), for race control's chart;
        # a catcher-car race's: (race time, still running, the same twice, None)
        self.forecast_history: deque[tuple[float, int, int, int, int | None]] = deque(maxlen=HISTORY_POINTS)

    async def refresh(self) -> Snapshot:
        """Read new passings, guns and the clock from Redis, then compute the snapshot (the engine
        leader's tick; a relay's engine only reads, :meth:`mirror` gives it the leader's snapshot)."""
        clock = await self.load()
        if self.lease is not None and not self.lease.held:  # what an action just wrote shows in the API
            if self.snapshot is None:  # until the leader's first frame
                self.snapshot = self.compute(clock.now())
            else:
                self._use_passings()
            return self.snapshot
        started = time.perf_counter()
        self.snapshot = self.compute(clock.now())
        self._record_forecast(self.snapshot)
        self.last_tp = self.used_last
        self.tick_ms = (time.perf_counter() - started) * 1000
        self.last_tick_wall = time.time()
        for listener in self.listeners:
            try:
                await listener(self.snapshot)
            except Exception:  # one broken listener must not stop the tick
                log.exception("tick listener %r failed", listener)
        return self.snapshot

    def mirror(self, snap: Snapshot, tick_ms: float) -> None:
        """Take the engine leader's snapshot as this process's own (a relay: the API, the dashboard and
        followed runners then show the leader's numbers), with the passings this process read."""
        self._use_passings()
        self.snapshot = snap
        self.classes = snap.margin_class
        self._record_forecast(snap)
        self.last_tp = self.used_last
        self.tick_ms = tick_ms
        self.last_tick_wall = time.time()

    def passings(self) -> Passings:
        """What the engine holds, as the tick reads it."""
        return Passings(self.times, self.pursuer_times, self.guns, self.gps, self.manual_status)

    def _use_passings(self) -> None:
        """The passings the chase uses, from those read: the runners' and the pursuer's reads after
        the plausibility rules, kept as ``used_times``, ``flagged``, ``used_pursuer_times``."""
        self.tick.use_passings(self.passings())
        self._take_used()

    def _take_used(self) -> None:
        used = self.tick.used
        self.used_times, self.flagged, self.used_last = used.reads.times, used.flagged, used.reads.last
        self.used_pursuer_times = used.pursuer_times

    def compute(self, now: float) -> Snapshot:
        """The live state at race time ``now`` from what the engine holds (:class:`Tick`, pure)."""
        snap = self.tick.compute(self.passings(), now, self.classes)
        self._take_used()
        self.classes = self.tick.classes
        return snap

    def pen_starts(self, pursuer_start: float | None) -> np.ndarray:
        """Each pen's start (:meth:`Tick.pen_starts`) by the guns the engine holds."""
        self.tick.guns = self.guns
        return self.tick.pen_starts(pursuer_start)

    def expected_pursuer_start(self) -> float:
        """The pursuer's start (:meth:`Tick.expected_pursuer_start`) by the guns the engine holds."""
        self.tick.guns = self.guns
        return self.tick.expected_pursuer_start()

    def _gps_on_course(self, start: float, speed_m_s: float, now: float) -> tuple[float, float] | None:
        self.tick.gps = self.gps
        return self.tick.gps_on_course(start, speed_m_s, now)

    async def load(self) -> RaceClock:
        """Read new passings, the guns, the pursuer's GPS, manual statuses and the clock from Redis."""
        assert self.store is not None, "an engine without a store is computed by hand"
        while True:
            batch = await self.store.passings_after(self.last_id)
            for p in batch:
                if p.bib == self.race.pursuer_bib:
                    self.pursuer_times[p.tp] = p.time
                elif (r := self.row.get(p.bib)) is not None:
                    self.times[r, p.tp] = p.time
            if batch:
                self.last_id = batch[-1].id
            if len(batch) < 50_000:
                break
        self.guns = await self.store.guns()
        self.gps = await self.store.pursuer_gps()
        manual = await self.store.manual_statuses()
        self.manual_status[:] = 0
        for bib, status in manual.items():
            if (r := self.row.get(bib)) is not None:
                self.manual_status[r] = DNF if status == "dnf" else DQ
        return await self.store.clock()

    def places(self) -> Places:
        """Every runner's place overall, within his sex and within his sex and category (0: none) by
        the race's outcome: a chase's winners by finish time, a race without a pursuer's finishers
        by gun time (net time breaks a tie); computed once per snapshot."""
        snap = self.snapshot
        assert snap is not None, "places come after the first tick"
        if self._places is None or self._places[0] is not snap:
            gun = self.pen_starts(None)[self.runner_pen_index] if self.race.pursuer is None else None
            self._places = (snap, standings(self.race, snap, self.used_times, gun, self.groups))
        return self._places[1]

    def _record_forecast(self, snap: Snapshot) -> None:
        """Keep a point of the forecast every ``HISTORY_STEP_S`` of race time (a rewound clock restarts it),
        from the first start: before it there is nothing to forecast (the screens show "–")."""
        f = snap.forecast
        if not snap.counts.get("started") or f is None:
            return
        last = self.forecast_history[-1][0] if self.forecast_history else None
        if last is not None and snap.now < last:
            self.forecast_history.clear()
        elif last is not None and snap.now - last < HISTORY_STEP_S:
            return
        if self.race.by_distance:  # a catcher-car race: the count still running, instead of winners
            running = snap.counts.get("running", 0)
            self.forecast_history.append((snap.now, running, running, running, None))
            return
        self.forecast_history.append((snap.now, f.winners, f.low, f.high, f.at_plan))

    def passings_of(self, bib: str) -> np.ndarray:
        """Passing times of one participant by timing point (nan where none)."""
        if bib == self.race.pursuer_bib:
            return self.pursuer_times.copy()
        times: np.ndarray = self.times[self.row[bib]].copy()
        return times

    async def run(self, stop: asyncio.Event, tick_s: float = TICK_S) -> None:
        """Refresh every ``tick_s`` until ``stop`` is set; a failed tick is logged and retried. With a
        ``lease``, only while this process holds it (renewed each tick); else try to take it every
        ``STANDBY_POLL_S``, and let it go when stopped.

        Ticks keep a fixed cadence: the time a tick takes (its fan-out to 5,000 clients: ~0.1 s) is not
        added to the period; a tick that overruns the next is followed by the next at once."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not stop.is_set():
            try:
                if self.lease is None or await self.lease.hold():
                    await self.refresh()
                else:  # a standby: try again soon, the leader's lease lapses 2 s after it dies
                    due = loop.time() - tick_s + STANDBY_POLL_S
            except REDIS_UNAVAILABLE as exc:  # away or failing over: keep serving the last good snapshot, say so once
                if self.redis_failing_since is None:
                    self.redis_failing_since = time.time()
                    log.warning("live tick: Redis failed (%s); serving the last snapshot until it answers", exc)
            except Exception:  # keep serving the last good snapshot
                log.exception("live tick failed")
            else:
                if self.redis_failing_since is not None:
                    log.warning("live tick: Redis answers again, after %.1f s", time.time() - self.redis_failing_since)
                    self.redis_failing_since = None
            due = max(due + tick_s, loop.time())
            try:
                await asyncio.wait_for(stop.wait(), timeout=due - loop.time())
            except TimeoutError:
                pass
        if self.lease is not None:
            try:
                await self.lease.release()
            except Exception as exc:  # Redis away: the lease lapses by itself
                log.warning("could not release the engine lease: %r", exc)


__all__ = ["LiveEngine", "STATUSES"]
