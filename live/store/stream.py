"""The events stream: commentary and alerts appended once each, read back in order."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from live.store.base import EMIT_ONCE, StoreBase


class EventStream(StoreBase):
    """The race's durable events stream."""

    async def append_event(self, kind: str, time_s: float, text: str, data: dict[str, object]) -> str:
        """Append a commentary/alert event to the durable events stream; returns its id."""
        entry_id = await self.redis.xadd(
            self.keys.events,
            {
                "kind": kind,
                "time": repr(float(time_s)),
                "text": text,
                "data": orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
            },
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def emit_once(self, key: str, kind: str, time_s: float, text: str, data: dict[str, object]) -> str | None:
        """Append an event unless one with the same dedupe ``key`` was emitted (by any process)."""
        return (await self.emit_many([(key, kind, time_s, text, data)]))[0]

    async def emit_many(self, events: Sequence[tuple[str, str, float, str, dict[str, object]]]) -> list[str | None]:
        """``emit_once`` for many events (key, kind, time, text, data) in one round trip, in order; the
        id of each appended event, None where its key was emitted before. A tick with a pack caught
        makes hundreds of events: one round trip each held the tick up. ``EVAL`` with the script's text,
        as ``apply_reads``: a Redis Cluster's pipeline cannot load a script a master has not seen."""
        if not events:
            return []
        keys = [self.keys.event_keys, self.keys.events]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, kind, time_s, text, data in events:
                payload = orjson.dumps({**data, "key": key}, option=orjson.OPT_SERIALIZE_NUMPY).decode()
                pipe.eval(EMIT_ONCE, len(keys), *keys, key, kind, repr(float(time_s)), text, payload)
            results = await pipe.execute()
        return [None if not r else r.decode() if isinstance(r, bytes) else str(r) for r in results]

    async def events_after(self, after_id: str = "0-0", count: int = 500) -> list[dict[str, object]]:
        """Events after ``after_id`` (exclusive), oldest first, as dicts with ``id``."""
        low = "-" if after_id in ("0", "0-0", "") else f"({after_id}"
        raw = await self.redis.xrange(self.keys.events, min=low, count=count)
        out = []
        for entry_id, f in raw:
            out.append(
                {
                    "id": entry_id.decode(),
                    "kind": f[b"kind"].decode(),
                    "time": float(f[b"time"]),
                    "text": f[b"text"].decode(),
                    **orjson.loads(f[b"data"]),
                }
            )
        return out

    async def event(self, event_id: str) -> dict[str, object] | None:
        """One event of the events stream by its id, None if there is none."""
        raw = await self.redis.xrange(self.keys.events, min=event_id, max=event_id, count=1)
        if not raw:
            return None
        entry_id, f = raw[0]
        return {
            "id": entry_id.decode(),
            "kind": f[b"kind"].decode(),
            "time": float(f[b"time"]),
            "text": f[b"text"].decode(),
            **orjson.loads(f[b"data"]),
        }

    async def emitted_keys(self) -> set[str]:
        """The dedupe keys of every event emitted so far (``emit_once``'s)."""
        return {k.decode() for k in await self.redis.hkeys(self.keys.event_keys)}

    async def newest_event_ids(self, count: int) -> list[str]:
        """The ids of the newest ``count`` events, newest first."""
        return [entry_id.decode() for entry_id, _ in await self.redis.xrevrange(self.keys.events, count=count)]

    async def last_event_id(self, upto: str = "+") -> str:
        """The id of the last event at or before ``upto`` (``0-0`` if none)."""
        last = await self.redis.xrevrange(self.keys.events, max=upto, count=1)
        if not last:
            return "0-0"
        entry_id = last[0][0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def wait_for_events(self, after: str, block_ms: int) -> bool:
        """Block until an event comes after ``after`` or ``block_ms`` pass; whether one did."""
        return bool(await self.redis.xread({self.keys.events: after}, count=1, block=block_ms))
