"""The web app of an event: one race app per race, each under ``/races/{id}/``, the first race's also
at the root, and the event's own routes (``/api/event``, ``/event``) beside them.

A one-race directory gets :func:`pursuit.web.create_app` alone, exactly as before. Every race app
keeps its own engine (its own lease), feed, store and dashboard; the event app only routes to them
and runs their lifespans, which Starlette does not pass on to mounted apps.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dashboard.event_page import event_routes
from live.race.event import Event
from pursuit.settings import Settings
from pursuit.web import create_app
from web.event_api import EventAPI, race_path
from web.http import RACE_BASE, JSONResponse, error

RACE_PATH = re.compile(r"^/races/([^/]+)(/.*)?$")


class EventApp:
    """ASGI: ``/races/{id}/…`` to race ``id``'s app with the prefix taken off the path (and kept in the
    scope's ``RACE_BASE`` for the URLs the app gives out), so each race app (Dash's middleware, its
    static assets) sees the paths it sees alone; the event's own routes to :attr:`own`; anything
    else to the first race's app. Not ``root_path``: Starlette expects it at the head of ``path``."""

    def __init__(self, event: Event, own: Starlette, apps: list[Any]) -> None:
        self.event = event
        self.own = own
        self.apps = apps
        self.by_id: dict[str, ASGIApp] = {race.id: app for race, app in zip(event.races, apps, strict=True)}
        self.own_paths = {r.path for r in own.routes if isinstance(r, Route) and "{" not in r.path}
        self.state = own.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.own(scope, receive, send)  # the lifespan: the event's, which runs every race's
            return
        path: str = scope["path"]
        if (found := RACE_PATH.match(path)) and found[1] in self.by_id:
            rest = found[2] or "/"
            scope = dict(scope, path=rest, raw_path=rest.encode(), **{RACE_BASE: f"/races/{found[1]}"})
            await self.by_id[found[1]](scope, receive, send)
        elif path in self.own_paths or found:
            await self.own(scope, receive, send)
        else:
            await self.apps[0](scope, receive, send)


def create_event_app(
    event: Event, redis_url: str, *, dashboard: bool = True, settings: Settings | None = None, engine: bool = True
) -> EventApp:
    """The root ASGI app of ``event`` (several races) against the Redis at ``redis_url``."""
    settings = settings or Settings.from_env()
    apps = [
        create_app(
            race,
            redis_url,
            dashboard=dashboard,
            settings=settings,
            engine=engine,
            base="/" if i == 0 else race_path(event, race.id),
            event=event if i == 0 else None,
            in_event=True,
        )
        for i, race in enumerate(event.races)
    ]
    api = EventAPI(event, [a.state.engine for a in apps])

    async def no_such_race(request: Request) -> JSONResponse:
        known = ", ".join(r.id for r in event.races)
        return error(404, f"no race {request.path_params['race_id']!r} in event {event.id} (its races: {known})")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for sub in apps:
                await stack.enter_async_context(sub.router.lifespan_context(sub))
            yield

    routes: list[BaseRoute] = [*api.routes(), *event_routes(event)]
    routes.append(Route("/races/{race_id}/{rest:path}", no_such_race, methods=["GET", "HEAD", "POST"]))
    own = Starlette(routes=routes, lifespan=lifespan)
    own.state.race_apps = apps
    own.state.event = event
    return EventApp(event, own, apps)
