"""Rate limits: a token bucket (``TokenBucket``: each live or events feed client's messages, kept by
the process that serves him) and race control's limits (``AdminLimits``): failed sign-ins per client
address, and requests per operator, reads (GET) and actions (POST) apart.

Race control's buckets are held in Redis (``live.store.buckets``), so they are the race's budgets, the
same whichever web process a request reaches behind a load balancer. A bucket holds a burst and
refills at a steady rate; a refused request is answered with ``Retry-After``, the whole seconds
until the bucket has a token again. An IPv6 client is counted by its /64 (one subscriber's
network); new addresses take a token from a gate first, so addresses that try once and never come
back cannot fill Redis.
"""

from __future__ import annotations

import ipaddress
import math
import time

from starlette.exceptions import HTTPException

from live.store.buckets import SharedBuckets
from live.store.store import Store
from web.http import refuse

REQUEST_BURST, REQUEST_PER_S = 50, 5.0  # actions (POST)
READ_BURST, READ_PER_S = 100, 20.0  # reads (GET): every signed-in screen polls twice a second
FAILED_BURST, FAILED_PER_S = 20, 1 / 3
# new addresses with a failed sign-in: at most 2,200 tracked at once (1,000 + 20/s × the 60 s a
# bucket of 20 takes to refill); past that, a stranger's failure is refused but not remembered
NEW_FAILING_BURST, NEW_FAILING_PER_S = 1000, 20.0


class TokenBucket:
    """One token bucket: ``burst`` at once, refilled at ``per_s`` a second (a feed client's messages)."""

    __slots__ = ("at", "burst", "per_s", "tokens")

    def __init__(self, burst: float, per_s: float) -> None:
        self.burst, self.per_s = burst, per_s
        self.tokens, self.at = burst, time.monotonic()

    def level(self, now: float) -> float:
        """The tokens it holds at ``now``."""
        return min(self.burst, self.tokens + (now - self.at) * self.per_s)

    def take(self, now: float | None = None) -> float:
        """Take a token: 0 if there was one, else the seconds until there is (nothing taken)."""
        now = time.monotonic() if now is None else now
        level = self.level(now)
        if level < 1:
            return (1 - level) / self.per_s
        self.tokens, self.at = level - 1, now
        return 0.0

    def allow(self) -> bool:
        """Take a token if there is one."""
        return self.take() == 0.0


def limited(status: int, message: str, wait_s: float) -> HTTPException:
    """The refusal ``status`` saying ``message``, with ``Retry-After`` the whole seconds of ``wait_s``."""
    return refuse(status, message, {"retry-after": str(max(1, math.ceil(wait_s)))})


def client_key(address: str) -> str:
    """What failed sign-ins are counted by: an IPv4 address, an IPv6 address's /64, else the text."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class AdminLimits:
    """The admin API's limits, shared by every web process of the race: failed sign-ins per client
    address, reads and actions per operator."""

    def __init__(self, store: Store) -> None:
        self.requests = SharedBuckets(store, "actions", REQUEST_BURST, REQUEST_PER_S)
        self.reads = SharedBuckets(store, "reads", READ_BURST, READ_PER_S)
        gate = (NEW_FAILING_BURST, NEW_FAILING_PER_S)
        self.failures = SharedBuckets(store, "failed", FAILED_BURST, FAILED_PER_S, gate=gate)
        self.untracked = 0  # failed sign-ins from new addresses the gate had no room for

    async def address_refusal(self, address: str) -> HTTPException | None:
        """The 401 for ``address`` if it failed to sign in too often to try again yet, else None."""
        client = client_key(address)
        if (wait := await self.failures.wait_s(client)) > 0:
            return limited(401, f"too many failed sign-ins from {client}: try again in {math.ceil(wait)} s", wait)
        return None

    async def failed(self, address: str) -> None:
        """Count a failed sign-in from ``address``."""
        if await self.failures.take(client_key(address)) is None:
            self.untracked += 1

    async def operator_refusal(self, name: str, method: str) -> HTTPException | None:
        """Count a request of operator ``name``: the 429 if he is over his limit for ``method`` (GET
        reads, anything else acts), else None."""
        bucket = self.reads if method == "GET" else self.requests
        if (wait := await bucket.take(name) or 0.0) > 0:
            return limited(429, f"too many admin requests from {name}: try again in {math.ceil(wait)} s", wait)
        return None
