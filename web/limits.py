"""Rate limits: a token bucket (``TokenBucket``: each live or events feed client's messages) and
buckets per key (``RateLimit``) for race control (``web.admin``): failed sign-ins per client address,
and requests per operator, reads (GET) and actions (POST) apart.

A key's bucket holds a burst and refills at a steady rate; a refused request is answered with
``Retry-After``, the whole seconds until the bucket has a token again. Each limit tracks at most
``MAX_BUCKETS`` keys per process, dropping the least recently seen, so addresses that try once and
never come back cannot grow it without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

from web.http import JSONResponse, error

REQUEST_BURST, REQUEST_PER_S = 50, 5.0  # actions (POST)
READ_BURST, READ_PER_S = 100, 20.0  # reads (GET): every signed-in screen polls twice a second
FAILED_BURST, FAILED_PER_S = 20, 1 / 3
MAX_BUCKETS = 10_000  # addresses or operators tracked per process (least recently seen dropped)


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


class RateLimit:
    """A token bucket per key (an address, an operator): ``burst`` at once, refilled at ``per_s``; at
    most ``max_keys`` held, the least recently seen dropped (a dropped key starts full again)."""

    def __init__(self, burst: float, per_s: float, max_keys: int = MAX_BUCKETS) -> None:
        self.burst, self.per_s, self.max_keys = burst, per_s, max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def wait_s(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now); takes nothing."""
        bucket = self._buckets.get(key)
        level = self.burst if bucket is None else bucket.level(time.monotonic())
        return 0.0 if level >= 1 else (1 - level) / self.per_s

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 if there was one, else the seconds until there is (nothing taken)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.burst, self.per_s)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return bucket.take()


def limited(status: int, message: str, wait_s: float) -> JSONResponse:
    """The refusal ``status`` saying ``message``, with ``Retry-After`` the whole seconds of ``wait_s``."""
    refused = error(status, message)
    refused.headers["retry-after"] = str(max(1, math.ceil(wait_s)))
    return refused


class AdminLimits:
    """The admin API's limits: failed sign-ins per client address, reads and actions per operator."""

    def __init__(self) -> None:
        self.requests = RateLimit(REQUEST_BURST, REQUEST_PER_S)
        self.reads = RateLimit(READ_BURST, READ_PER_S)
        self.failures = RateLimit(FAILED_BURST, FAILED_PER_S)

    def address_refusal(self, address: str) -> JSONResponse | None:
        """The 401 for ``address`` if it failed to sign in too often to try again yet, else None."""
        if (wait := self.failures.wait_s(address)) > 0:
            return limited(401, f"too many failed sign-ins from {address}: try again in {math.ceil(wait)} s", wait)
        return None

    def failed(self, address: str) -> None:
        """Count a failed sign-in from ``address``."""
        self.failures.take(address)

    def operator_refusal(self, name: str, method: str) -> JSONResponse | None:
        """Count a request of operator ``name``: the 429 if he is over his limit for ``method`` (GET
        reads, anything else acts), else None."""
        bucket = self.reads if method == "GET" else self.requests
        if (wait := bucket.take(name)) > 0:
            return limited(429, f"too many admin requests from {name}: try again in {math.ceil(wait)} s", wait)
        return None
