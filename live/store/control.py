"""Race control's writes: guns, voided and added passings, chips, manual statuses, the audit log."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from live.store.base import (
    BURST_WINDOW_S,
    StoreBase,
)

log = logging.getLogger(__name__)


class ControlStore(StoreBase):
    """What race control changes, each action journaled in the admin log."""

    async def record_gun(self, time_s: float) -> str | None:
        """A gun marker from the wire: start the next pen without a gun, then the pursuer."""
        targets = [f"pen:{p.id}" for p in self.race.pens] + ["pursuer"]
        result = await self._gun(keys=[self.keys.guns], args=[repr(float(time_s)), 5.0, *targets])
        if not result:
            return None
        return result.decode() if isinstance(result, bytes) else str(result)

    async def void_passing(self, bib: str, mat: str, time_s: float, tolerance_s: float = 1.0) -> bool:
        """Remove the passing of ``bib`` at ``mat`` nearest ``time_s``; later crossings move up."""
        result = await self._void(
            keys=[self.keys.crossings, self.keys.passings],
            args=[bib, self._main_of[mat], repr(float(time_s)), tolerance_s, self._tps_of_mat[mat]],
        )
        return bool(result)

    async def assign_chip(self, chip: str, bib: str) -> int:
        """Give ``chip`` to ``bib`` and back-fill the passings read of it so far; returns mats moved."""
        pairs = [x for m in self.race.mats if not m.backup_of for x in (m.id, self._tps_of_mat[m.id])]
        keys = [self.keys.chips, self.keys.crossings, self.keys.passings, self.keys.unknown_chips]
        return int(await self._assign(keys=keys, args=[chip, bib, BURST_WINDOW_S, *pairs]))

    async def set_manual_status(self, bib: str, status: str | None) -> None:
        """``dnf`` or ``dq`` for a runner; None clears it."""
        if status is None:
            await self.redis.hdel(self.keys.manual_status, bib)
        else:
            await self.redis.hset(self.keys.manual_status, bib, status)

    async def manual_statuses(self) -> dict[str, str]:
        raw = await self.redis.hgetall(self.keys.manual_status)
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def log_admin(self, action: str, args: dict[str, object], operator: str = "") -> str:
        """Journal an admin action (who, what, arguments) before it is applied; returns its id."""
        entry = {"action": action, "args": orjson.dumps(args).decode(), "operator": operator, "wall": repr(time.time())}
        entry_id = await self.redis.xadd(self.keys.admin_log, entry)
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def set_admin_result(self, entry_id: str, result: dict[str, object]) -> None:
        """Record what a journaled admin action ended in (its HTTP status and answer)."""
        await self.redis.hset(self.keys.admin_results, entry_id, orjson.dumps(result))

    async def admin_log(self, count: int = 100, before: str | None = None) -> list[dict[str, Any]]:
        """Admin actions, newest first (before ``before`` if given): ``id``, ``wall``, ``operator``,
        ``action``, ``args`` and ``result`` (None while unknown: the process stopped before it)."""
        high = f"({before}" if before else "+"
        raw = await self.redis.xrevrange(self.keys.admin_log, max=high, min="-", count=count)
        if not raw:
            return []
        results = await self.redis.hmget(self.keys.admin_results, [entry_id for entry_id, _ in raw])
        out = []
        for (entry_id, f), result in zip(raw, results, strict=True):
            out.append(
                {
                    "id": entry_id.decode(),
                    "wall": float(f.get(b"wall", b"0") or 0),
                    "operator": f.get(b"operator", b"").decode(),
                    "action": f[b"action"].decode(),
                    "args": orjson.loads(f[b"args"]),
                    "result": orjson.loads(result) if result is not None else None,
                }
            )
        return out

    async def claim_idempotency(self, key: str) -> bytes | None:
        """Claim an ``Idempotency-Key``: None if this request is the first with it, else what is held
        (``pending`` while the first is being applied, then its answer)."""
        if await self.redis.hsetnx(self.keys.admin_idempotency, key, "pending"):
            return None
        held = await self.redis.hget(self.keys.admin_idempotency, key)
        return held if held is not None else b"pending"

    async def settle_idempotency(self, key: str, answer: bytes | None) -> None:
        """Keep the answer of the request that claimed ``key`` (None: it failed, release the key)."""
        if answer is None:
            await self.redis.hdel(self.keys.admin_idempotency, key)
        else:
            await self.redis.hset(self.keys.admin_idempotency, key, answer)

    async def ack_alert(self, event_id: str, by: str, at: float) -> dict[str, Any]:
        """Acknowledge an alert for every screen, once: the first acknowledgement stays; returns it."""
        mine = orjson.dumps({"by": by, "at": at})
        if await self.redis.hsetnx(self.keys.acks, event_id, mine):
            return {"by": by, "at": at}
        held = await self.redis.hget(self.keys.acks, event_id)
        return orjson.loads(held) if held is not None else {"by": by, "at": at}

    async def acks(self) -> dict[str, dict[str, Any]]:
        """Every acknowledged alert: event id → ``by``, ``at``."""
        return {k.decode(): orjson.loads(v) for k, v in (await self.redis.hgetall(self.keys.acks)).items()}

    async def clear_gun(self, target: str) -> bool:
        """Remove a gun set by mistake (``pen:<id>`` or ``pursuer``); True if there was one."""
        return bool(await self.redis.hdel(self.keys.guns, target))

    async def set_gun(self, target: str, time_s: float) -> None:
        """Set a gun time explicitly (race control, or the race file's plan)."""
        await self.redis.hset(self.keys.guns, target, f"{time_s:.3f}")

    async def guns(self) -> dict[str, float]:
        raw = await self.redis.hgetall(self.keys.guns)
        return {k.decode(): float(v) for k, v in raw.items()}

    async def chip_bib(self, chip: str) -> str | None:
        """The bib a chip is assigned to now (the race file's, or race control's), None if none."""
        bib = await self.redis.hget(self.keys.chips, chip)
        return bib.decode() if bib is not None else None

    async def clear_derived(self) -> None:
        """Delete every key computed from the journal and the admin log (``pursuit rebuild`` refills them)."""
        k = self.keys
        derived = [
            k.crossings,
            k.passings,
            k.guns,
            k.unknown_chips,
            k.reader_seq,
            k.ingest,
            k.manual_status,
            k.pursuer_gps,
            k.acks,
            *(k.mat(m.id) for m in self.race.mats),
        ]
        await self.redis.delete(*derived)

    async def admin_entries(self) -> tuple[list[tuple[bytes, dict[bytes, bytes]]], dict[bytes, bytes]]:
        """Every admin action journaled, oldest first, and the answers they got, by entry id."""
        return list(await self.redis.xrange(self.keys.admin_log)), await self.redis.hgetall(self.keys.admin_results)
