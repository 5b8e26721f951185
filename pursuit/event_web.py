"""The web app of an event: one race app per race, each under ``/races/{id}/``, the first race's also
at the root, and the event's own routes (``/api/event``, ``/event``) beside them.

A one-race directory gets :func:`pursuit.web.create_app` alone, exactly as before. Every race app
keeps its own engine (its own lease), feed, store and dashboard; this app only routes to them and
runs their lifespans, which Starlette does not pass on to mounted apps.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, Route

from dashboard.event_page import event_routes
from live.race.event import Event
from pursuit.settings import Settings
from pursuit.web import create_app
from web.event_api import EventAPI, race_path
from web.http import JSONResponse, error


def create_event_app(
    event: Event, redis_url: str, *, dashboard: bool = True, settings: Settings | None = None, engine: bool = True
) -> Starlette:
    """The root ASGI app of ``event`` (several races) against the Redis at ``redis_url``."""
    settings = settings or Settings.from_env()
    apps = [
        create_app(race, redis_url, dashboard=dashboard, settings=settings, engine=engine,
                   base="/" if i == 0 else race_path(event, race.id), event=event if i == 0 else None)
        for i, race in enumerate(event.races)
    ]  # fmt: skip
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
    routes += [
        Mount(race_path(event, race.id).rstrip("/"), app=sub) for race, sub in zip(event.races, apps, strict=True)
    ]
    routes.append(Route("/races/{race_id}/{rest:path}", no_such_race, methods=["GET", "HEAD", "POST"]))
    routes.append(Mount("", app=apps[0]))  # everything else: the first race, as a one-race directory has it
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.race_apps = apps
    app.state.event = event
    return app
