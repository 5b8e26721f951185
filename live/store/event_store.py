"""The store the readers of an event write through: one journal, each read to the race of its chip.

A mat shared by several races of an event is one reader connection: its raw lines are journaled
once, in the keys of the event's first race (the event's journal, which ``pursuit rebuild`` and
``replay`` read), and each read is applied to the race whose participant wears the chip. A chip no
race knows is the event's: it is kept with the first race's unknown chips, where race control
sees and assigns it. Mat health (connected, errors, clock offset) is written to every race that
has the mat, so each race's ``/api/mats`` is whole.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

import redis.asyncio as aioredis

from live.clock import RaceClock
from live.race.event import Event
from live.race.guns import next_start, planned_starts
from live.race.race import Race
from live.reads import RawRead
from live.store.connection import is_cluster
from live.store.store import Store

log = logging.getLogger(__name__)


class EventStore(Store):
    """A :class:`Store` over the event's ingest race (every race's mats) that routes reads by chip."""

    def __init__(self, redis: aioredis.Redis, ingest_race: Race, races: Sequence[Race]) -> None:
        super().__init__(redis, ingest_race)
        self.stores = [Store(redis, race) for race in races]
        self._race_of_chip = {chip: i for i, race in enumerate(races) for chip in race.chip_map()}
        self.off_course = 0  # reads of a chip at a mat its race does not have (counted, not applied)

    def _stores_with(self, mat: str | None) -> list[Store]:
        found = [s for s in self.stores if mat is not None and s.race.mat_for_location(mat) is not None]
        return found or self.stores[:1]

    async def setup(self) -> None:
        for store in self.stores:
            await store.setup()

    async def set_clock(self, clock: RaceClock) -> None:
        for store in self.stores:
            await store.set_clock(clock)

    def _queue_apply(self, pipe: Any, reads: Iterable[RawRead], wall_s: float) -> int:
        """Queue one apply call per race that has reads in the batch; returns how many were queued."""
        by_race: dict[int, list[RawRead]] = {}
        off = 0
        for read in reads:
            i = self._race_of_chip.get(read.chip, 0)
            if read.mat not in self.stores[i]._spec_of_mat:
                off += 1
                continue
            by_race.setdefault(i, []).append(read)
        if off:
            self.off_course += off
            log.warning("%d reads of chips at mats their race does not have: not applied", off)
        return sum(self.stores[i]._queue_apply(pipe, rs, wall_s) for i, rs in sorted(by_race.items()))

    async def replicated(self, mat: str | None) -> bool:
        """Whether this process's writes are on a replica: the journal's master (one ``WAIT``, all of
        an event on one Redis), and in a Redis Cluster the master of every race with ``mat`` too
        (where the reads of its chips went)."""
        if not await super().replicated(mat):
            return False
        if not is_cluster(self.redis):
            return True
        others = [s for s in self._stores_with(mat) if s.race.id != self.race.id]
        for store in others:
            store.wait_replicas = self.wait_replicas
        return all(await asyncio.gather(*(store.replicated(mat) for store in others)))  # each WAIT at once

    async def count_error(self, mat: str | None, reason: str, source: tuple[str, str] | None = None) -> None:
        for store in self._stores_with(mat):
            await store.count_error(mat, reason, source)

    async def set_clock_offset(self, mat: str, offset_s: float, round_trip_s: float | None = None) -> None:
        for store in self._stores_with(mat):
            await store.set_clock_offset(mat, offset_s, round_trip_s)

    async def set_connected(self, mat: str, delta: int) -> None:
        for store in self._stores_with(mat):
            await store.set_connected(mat, delta)

    async def gun_store(self, time_s: float, mat: str | None = None) -> Store:
        """The race a gun marker from the wire at ``time_s`` starts: of the races with a start still to
        fire, the one whose next start is planned nearest it, among the races that have the marker's
        ``mat`` (the locations of a World Run each fire their own guns, at one instant). Planned times
        are carried to the day's clock by the starts already fired (the event's races keep their
        planned gaps); before any,
        the race whose next start is planned first. Every start fired: the last race (whose gun checks
        then hold the marker as a second gun)."""
        stores = [s for s in self.stores if mat is not None and s.race.mat_for_location(mat) is not None]
        stores = stores or self.stores
        fired = [await store.guns() for store in stores]
        shift: float | None = None  # fired minus planned, at the latest start fired anywhere
        latest = -math.inf
        for store, guns in zip(stores, fired, strict=True):
            planned = planned_starts(store.race)
            for target, at in guns.items():
                if target in planned and at > latest:
                    latest, shift = at, at - planned[target]
        best: tuple[float, Store] | None = None
        for store, guns in zip(stores, fired, strict=True):
            upcoming = next_start(store.race, guns)
            if upcoming is None:
                continue
            planned_s = upcoming[1].timestamp()
            distance = abs(planned_s + shift - time_s) if shift is not None else planned_s
            if best is None or distance < best[0]:
                best = (distance, store)
        return best[1] if best is not None else stores[-1]


def ingest_store(redis: aioredis.Redis, event: Event) -> Store:
    """The store an event's readers write through: the race's own for a one-race event."""
    if len(event.races) == 1:
        return Store(redis, event.first)
    return EventStore(redis, event.ingest_race(), event.races)
