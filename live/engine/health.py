"""The infrastructure's alerts, apart from the race's story: silent mats, decoder clocks, readers
sending garbage, chips nobody wears, Redis near its memory and the journal near its cap. They read
the store (Redis), so they are looked for every ``HEALTH_EVERY_S``, not every tick."""

from __future__ import annotations

import math
import time

from live.chase.snapshot import Snapshot
from live.events import Event
from live.store.store import Store

MAT_SILENT_S = 120.0
CLOCK_ALERT_S = 0.5  # a decoder clock this far off the race clock moves every margin it times
MEMORY_ALERT = 0.8  # Redis memory or journal length as a share of its cap before race control is told
READER_ERRORS_ALERT = 10  # refused lines from one address before race control is told (again at 100, 1,000, …)
HEALTH_EVERY_S = 10.0


class HealthMonitor:
    """Looks at the mats', readers' and Redis's health at most every ``HEALTH_EVERY_S``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.checked = 0.0

    async def alerts(self, snap: Snapshot) -> list[Event]:
        """The alerts due now (none if the last look was less than ``HEALTH_EVERY_S`` ago)."""
        if time.time() - self.checked <= HEALTH_EVERY_S:
            return []
        self.checked = time.time()
        return await self.reader_alerts(snap)

    async def capacity_alerts(self, snap: Snapshot) -> list[Event]:
        """Redis near its ``maxmemory``, the journal near its length cap."""
        out = []
        used, limit = await self.store.memory()
        if limit and used > MEMORY_ALERT * limit:  # no maxmemory: nothing to be near (OPERATIONS says set one)
            share = f"{used / limit:.0%} of its maxmemory"
            out.append(
                Event(
                    f"memory:{limit}:{int(10 * used / limit)}",
                    "redis_memory",
                    snap.now,
                    f"ALERT: Redis uses {used / 2**20:.0f} MB, {share}; at the limit it refuses writes and reads "
                    "are lost: raise maxmemory, or find what fills it (GET /api/readers).",
                    {"level": "alert", "used_mb": round(used / 2**20), "maxmemory_mb": round(limit / 2**20)},
                )
            )
        length, cap = await self.store.journal_length(), self.store.journal_maxlen
        if length > MEMORY_ALERT * cap:
            out.append(
                Event(
                    f"journal:{int(10 * length / cap)}",
                    "journal_full",
                    snap.now,
                    f"ALERT: the journal holds {length:,} entries, {length / cap:.0%} of its cap; past it "
                    "the oldest are trimmed and a rebuild could no longer replay the race: copy the journal "
                    "(redis-cli XRANGE) and find who floods the readers (GET /api/readers).",
                    {"level": "alert", "entries": length, "cap": cap},
                )
            )
        return out

    async def reader_alerts(self, snap: Snapshot) -> list[Event]:
        """Silent mats, decoder clocks off the race clock, and chips nobody wears."""
        out = []
        now_wall = time.time()
        for mat, h in (await self.store.mat_health()).items():
            offset = float(h.get("clock_offset_s", 0) or 0)
            if abs(offset) > CLOCK_ALERT_S:
                out.append(
                    Event(
                        f"clock:{mat}:{math.floor(offset)}",  # again when it crosses a whole second
                        "mat_clock",
                        snap.now,
                        f"ALERT: mat {mat}'s decoder clock is {offset:+.2f} s off the race clock; its times are "
                        "taken as the decoder gives them: check its time sync (GPS) or correct the clock.",
                        {"level": "alert", "mat": mat, "clock_offset_s": round(offset, 3)},
                    )
                )
            last = float(h.get("last_read_wall", 0) or 0)
            if int(h.get("connected", 0)) > 0 and last and now_wall - last > MAT_SILENT_S and snap.counts["started"]:
                out.append(
                    Event(
                        f"silent:{mat}:{int(last)}",
                        "mat_silent",
                        snap.now,
                        f"ALERT: mat {mat} is connected but has read nothing for {now_wall - last:.0f} s.",
                        {"level": "alert", "mat": mat, "silent_s": round(now_wall - last)},
                    )
                )
        out += await self.capacity_alerts(snap)
        for address, r in (await self.store.reader_errors()).items():
            errors = int(r.get("errors", 0))
            if errors >= READER_ERRORS_ALERT:  # again at 100, 1,000, …
                out.append(
                    Event(
                        f"garbage:{address}:{10 ** int(math.log10(errors))}",
                        "reader_errors",
                        snap.now,
                        f"ALERT: {r.get('who', address)} has sent {errors} refused lines; last: "
                        f"{r.get('last_error', '')[:160]}. Check the reader's settings, or who is on the "
                        "timing network.",
                        {"level": "alert", "address": address, "errors": errors, "last_error": r.get("last_error", "")},
                    )
                )
        for chip, reads in (await self.store.unknown_chips()).items():
            out.append(
                Event(
                    f"unknown:{chip}",
                    "unknown_chip",
                    snap.now,
                    f"ALERT: chip {chip} is worn by no participant ({reads} reads); assign it to a bib if known.",
                    {"level": "alert", "chip": chip, "reads": reads},
                )
            )
        return out
