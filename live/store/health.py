"""Mat health: what each mat's counters say, the chips no participant wears."""

from __future__ import annotations

from typing import Any

from live.store.base import CROSSING_TIME, StoreBase
from live.store.connection import node_client


class MatHealth(StoreBase):
    """Raw health counters of the race's mats."""

    async def mat_health(self) -> dict[str, dict[str, str]]:
        """Raw health counters of every mat of the race."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for m in self.race.mats:
                pipe.hgetall(self.keys.mat(m.id))
            rows = await pipe.execute()
        return {
            m.id: {k.decode(): v.decode() for k, v in row.items()} for m, row in zip(self.race.mats, rows, strict=True)
        }

    async def unknown_chips(self) -> dict[str, int]:
        raw = await self.redis.hgetall(self.keys.unknown_chips)
        return {k.decode(): int(v) for k, v in raw.items()}

    async def unknown_chip_reads(self, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` unknown chips read most: ``chip``, ``reads``, and per mat that read it the
        crossing times (``mats``: mat → first crossing, unix seconds)."""
        counts = sorted((await self.unknown_chips()).items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        mains = [m.id for m in self.race.mats if not m.backup_of]
        if not counts:
            return []
        fields = [f"chip:{chip}|{mat}" for chip, _ in counts for mat in mains]
        values = await self.redis.hmget(self.keys.crossings, fields)
        out = []
        for i, (chip, reads) in enumerate(counts):
            mats: dict[str, float] = {}
            for j, mat in enumerate(mains):
                v = values[i * len(mains) + j]
                if v is not None:
                    first = CROSSING_TIME.match(v.decode())
                    if first:
                        mats[mat] = float(first.group())
            out.append({"chip": chip, "reads": reads, "mats": mats})
        return out

    async def memory(self) -> tuple[int, int]:
        """Redis's memory in use and its ``maxmemory`` (0: none set), in bytes: in a Redis Cluster, the
        master's that holds the race (``INFO`` through the cluster client asks any one node)."""
        info = await node_client(self.redis, self.keys.journal).info("memory")
        return int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))

    async def journal_length(self) -> int:
        """Entries in the race's journal stream."""
        return int(await self.redis.xlen(self.keys.journal))

    async def ingest_totals(self) -> dict[str, str]:
        """The ingest counters of reads no mat was known for: ``errors``, ``last_error``."""
        return {k.decode(): v.decode() for k, v in (await self.redis.hgetall(self.keys.ingest)).items()}
