"""A deadline on receiving each HTTP request, and a cap on its head, for the web port.

uvicorn times out a keep-alive connection only once a response has been sent: a client that
connects and sends nothing, or half a request head, or a body slower than it promised, holds a
connection (and a place under ``limit_concurrency``) for as long as it likes, and a head of any
size is buffered. :class:`GuardedHttp` is uvicorn's httptools protocol with two additions:

- from the connection's opening (and from the first byte of each next request on it) the request
  must be wholly received (head and body) within ``request_timeout_s``, else the connection is
  closed; a WebSocket upgrade ends the wait as soon as its head is in;
- a request head over ``MAX_HEAD_BYTES`` is answered ``400`` and the connection closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 10.0  # to receive a whole request, head and body, from its first byte (or the connection)
MAX_HEAD_BYTES = 64 * 1024  # request line and headers


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline per request and a cap on the request head."""

    request_timeout_s = REQUEST_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True
        self._head_bytes = 0

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.request_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            peer = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
            log.warning("HTTP connection from %s closed: no whole request within %g s", peer, self.request_timeout_s)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._disarm()
            self.send_400_response(f"Request head larger than {MAX_HEAD_BYTES} bytes.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True  # what comes next on this connection is the next request's head
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()
