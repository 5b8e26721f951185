"""The web process's root ASGI app: the JSON API, the live engine's tick, and the dashboard.

A FastAPI app (Dash's native backend, itself a Starlette app) is the root, so lifespan events
reach Dash and our own startup alike (Starlette does not forward them to mounted sub-apps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import Route

from ingest.json_server import JsonIngest
from live.admin import AdminAPI
from live.api import JSONResponse, RaceAPI, error
from live.engine import LiveEngine
from live.events import EventDetector
from live.events_feed import EventsFeed
from live.feed import LiveFeed, feed_routes
from live.race import Race
from live.store import Store

log = logging.getLogger(__name__)


def create_app(race: Race, redis_url: str, *, dashboard: bool = True) -> FastAPI:
    """Build the web app for one race against the Redis at ``redis_url``."""
    redis = aioredis.Redis.from_url(redis_url)
    store = Store(redis, race)
    engine = LiveEngine(race, store)
    engine.listeners.append(EventDetector(engine))
    api = RaceAPI(engine)
    feed = LiveFeed(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.setup()
        stop = asyncio.Event()
        ticker = asyncio.create_task(engine.run(stop), name="live-tick")
        try:
            yield
        finally:
            await feed.close()
            stop.set()
            await ticker
            await redis.aclose()

    app = FastAPI(
        title=f"pursuit — {race.name}", lifespan=lifespan, docs_url="/api/docs", openapi_url="/api/openapi.json"
    )
    app.state.engine = engine
    app.state.feed = feed
    app.state.store = store

    async def healthz(request: Request) -> JSONResponse:
        try:
            await redis.ping()
        except Exception as exc:  # report, do not raise: this is the health check
            return JSONResponse({"ok": False, "redis": f"unreachable: {exc}"}, status_code=503)
        snap = engine.snapshot
        return JSONResponse({"ok": snap is not None, "redis": "ok", "tick_ms": round(engine.tick_ms, 2)})

    async def api_not_found(request: Request) -> JSONResponse:
        return error(404, f"no such API endpoint: {request.url.path}")

    routes = [*api.routes(), *AdminAPI(engine).routes(), *JsonIngest(race, store).routes()]
    routes += [*feed_routes(feed), *EventsFeed(store).routes()]
    for route in routes:
        app.router.routes.append(route)
    app.router.routes.append(Route("/healthz", healthz))
    app.router.routes.append(Route("/api/{path:path}", api_not_found, methods=["GET", "POST", "PUT", "DELETE"]))

    if dashboard:
        from dashboard.app import create_dashboard

        create_dashboard(app, race, lambda: engine.snapshot)
    return app
