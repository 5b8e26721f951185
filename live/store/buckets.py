"""Token buckets held in Redis, so every web process spends from the same ones.

Race control's limits (``web.limits``) are budgets for the race, not for whichever process a
request lands on: behind a load balancer with three web processes, buckets kept in each would let
a client spend three times the budget. A bucket here is one small hash per key (an address, an
operator), counted in Redis's own time by one Lua script (``lua/token_bucket.lua``), so two
processes never both spend its last token, and it expires once it would be full again.

Keys that a client chooses (his address) could each make a bucket; a gate, itself a bucket, bounds
how many new ones a kind may make: a key the gate has no token for is not kept (``take`` answers
None), so Redis holds at most ``gate burst + gate rate × burst / rate`` of them at any time.
"""

from __future__ import annotations

from importlib import resources

from live.store.store import Store

_TOKEN_BUCKET = (resources.files("live.store") / "lua" / "token_bucket.lua").read_text(encoding="utf-8")
MAX_KEY_CHARS = 100  # a longer key is cut: it names a bucket, nothing more


class SharedBuckets:
    """A token bucket per key of one ``kind``: ``burst`` at once, refilled at ``per_s`` a second;
    with ``gate`` (burst, per second), new keys take a token from it first."""

    def __init__(
        self, store: Store, kind: str, burst: float, per_s: float, gate: tuple[float, float] | None = None
    ) -> None:
        self.keys, self.kind = store.keys, kind
        self.burst, self.per_s, self.gate = burst, per_s, gate
        self._script = store.redis.register_script(_TOKEN_BUCKET)

    async def _call(self, key: str, take: bool) -> float:
        names = [self.keys.bucket(self.kind, key[:MAX_KEY_CHARS])]
        args: list[float | str] = [self.burst, self.per_s, "1" if take else "0"]
        if take and self.gate is not None:
            names.append(self.keys.bucket_gate(self.kind))
            args += list(self.gate)
        return float(await self._script(keys=names, args=args))

    async def wait_s(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now); takes nothing."""
        return await self._call(key, take=False)

    async def take(self, key: str) -> float | None:
        """Take a token for ``key``: 0 if there was one, else the seconds until there is (nothing
        taken); None if ``key`` had no bucket and the gate allowed no new one (nothing kept)."""
        wait = await self._call(key, take=True)
        return None if wait < 0 else wait
