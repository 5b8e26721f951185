"""``HEAD`` on every GET route: answered as the GET would be, headers only.

FastAPI's routes (and Dash's, on its FastAPI backend) list ``GET`` alone, so ``HEAD /follow`` was
a 405; a link checker, a proxy's health probe or a phone revalidating asks with ``HEAD``. This ASGI
middleware runs a ``HEAD`` request as a ``GET`` and sends the response's status and headers
(``content-length`` included, as the GET's) without its body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Answer ``HEAD`` with the ``GET`` response's head."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def head_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, head_only)
