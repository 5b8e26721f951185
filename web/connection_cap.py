"""The web process's connection cap: a clear refusal beyond it, counted, with monitoring still answered.

:class:`ConnectionCap` is an ASGI middleware around the whole app. It counts what is open at once —
HTTP requests in flight (a Server-Sent Events stream for as long as it lasts) and WebSockets (the
live feed, the events feed) — and beyond ``limit`` refuses the newcomer in words:

- a WebSocket is accepted and at once closed with 1013 ("try again later") and a reason saying the
  server is full, which a browser's ``close`` event and every client library report;
- an HTTP request gets ``503`` with ``Retry-After`` and the JSON error body every route answers with.

Paths in ``exempt`` (``/metrics`` and ``/healthz``: race control's monitoring) and under
``EXEMPT_PREFIXES`` (the JSON readers' ``/ingest/ws``, race control's ``/api/admin/``, each with its
own token and limits) are neither counted nor refused: a full house of spectators must not cut off
a timing reader or an operator. Refusals are counted by kind for ``/metrics``
(``pursuit_connections_refused``).

uvicorn's own ``limit_concurrency`` answers a bare 503 before the app sees a request (it counts
every connection, idle keep-alive ones too, and never refuses a WebSocket upgrade), so the server is
given a higher one, :func:`server_limit`, as a last line behind this cap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from web.http import error_body

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013  # RFC 6455 §7.4 (IANA registry): the server is overloaded, reconnect later
RETRY_AFTER_S = 5  # what a refused client is told to wait
EXEMPT = ("/metrics", "/healthz")
EXEMPT_PREFIXES = ("/ingest/", "/api/admin/")  # timing readers and race control: never refused
SCOPE_KEY = "pursuit.connection_cap"  # the cap, in every scope it passes, for ``/metrics``
LOG_EVERY_S = 10.0  # while refusing, one log line per this many seconds, with the count


def server_limit(cap: int) -> int:
    """uvicorn's ``limit_concurrency`` behind a cap of ``cap``: room for the exempt requests, idle
    keep-alive connections and the refusals themselves (a tenth more, at least 64)."""
    return cap + max(64, cap // 10)


class ConnectionCap:
    """At most ``limit`` HTTP requests and WebSockets at once through ``app``; beyond, a clear refusal."""

    def __init__(
        self, app: ASGIApp, limit: int, exempt: Iterable[str] = EXEMPT, exempt_prefixes: Iterable[str] = EXEMPT_PREFIXES
    ) -> None:
        if limit < 1:
            raise ValueError(f"a connection cap must be at least 1, got {limit}")
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt)
        self.exempt_prefixes = tuple(exempt_prefixes)
        self.open = 0  # counted requests and WebSockets now
        self.peak = 0
        self.refused = {"http": 0, "websocket": 0}
        self._logged_at = 0.0
        self._since_log = 0

    @property
    def reason(self) -> str:
        return f"server full ({self.limit:,} connections): try again in {RETRY_AFTER_S} s"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)  # the lifespan
            return
        scope[SCOPE_KEY] = self
        path: str = scope["path"]
        if path in self.exempt or path.startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        if self.open >= self.limit:
            await self._refuse(kind, scope, receive, send)
            return
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1

    async def _refuse(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        self.refused[kind] += 1
        self._since_log += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            log.warning(
                "connection cap %d reached: refused %d connection(s), the last %s %s",
                self.limit,
                self._since_log,
                kind,
                scope["path"],
            )
            self._logged_at, self._since_log = now, 0
        if kind == "websocket":
            message = await receive()
            if message["type"] != "websocket.connect":
                return  # gone before its handshake was taken
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": self.reason})
            return
        body = orjson.dumps(error_body(503, self.reason))
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(RETRY_AFTER_S).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def cap_of(scope: Scope) -> ConnectionCap | None:
    """The connection cap the request of ``scope`` passed, None if it passed none (an app served bare)."""
    cap = scope.get(SCOPE_KEY)
    return cap if isinstance(cap, ConnectionCap) else None
