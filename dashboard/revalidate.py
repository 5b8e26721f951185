"""Validators for GET responses that change rarely but are not content-addressed: Dash's
``/_dash-layout`` and ``/_dash-dependencies``. A phone coming back sends
``If-None-Match`` and gets a ``304`` of a few hundred bytes instead of the body again."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Revalidated:
    """ETag (a hash of the body) and ``Cache-Control: no-cache`` on the GETs ``wanted(path)`` names;
    ``304`` when the client already has that body."""

    def __init__(self, app: ASGIApp, wanted: Callable[[str], bool]) -> None:
        self.app = app
        self.wanted = wanted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or not self.wanted(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            else:
                await send(message)

        await self.app(scope, receive, keep)
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"etag", b"cache-control", b"vary")]
        if start.get("status") != 200:
            await send({**start, "headers": start.get("headers", [])})
            await send({"type": "http.response.body", "body": body})
            return
        etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
        headers += [
            (b"etag", etag),
            (b"cache-control", b"no-cache"),
            (b"vary", b"Accept-Language, Cookie"),
        ]  # the layout's language
        asked = dict(scope["headers"]).get(b"if-none-match")
        if asked == etag:
            kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})
