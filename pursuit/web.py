"""The web process's root ASGI app: the JSON API, the live engine's tick, and the dashboard.

A FastAPI app (Dash's native backend, itself a Starlette app) is the root, so lifespan events
reach Dash and our own startup alike (Starlette does not forward them to mounted sub-apps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ingest.json_server import JsonIngest
from live.engine.engine import TICK_S, LiveEngine
from live.engine.events import EventDetector
from live.race.event import Event
from live.race.race import Race
from live.store.connection import redis_client, replicas_to_wait_for
from live.store.event_store import EventStore
from live.store.leader import FrameChannel, Lease
from live.store.store import REDIS_UNAVAILABLE, Store
from pursuit.metrics import CONTENT_TYPE_LATEST, render_metrics
from pursuit.settings import Settings
from web.admin import AdminAPI
from web.api import RaceAPI
from web.connection_cap import cap_of
from web.events_feed import EventsFeed
from web.feed import LiveFeed, Publisher, feed_routes
from web.head import HeadAsGet
from web.http import JSONResponse, error
from web.openapi import openapi_schema, with_event
from web.relay import FrameRelay

log = logging.getLogger(__name__)
PAGES_ROUTE = "/{path:path}"  # the dashboard's pages: any other GET (not an API answer for /api/…)
REDIS_DOWN_LOG_EVERY_S = 10.0  # while Redis fails, one log line per this many seconds, with the count


def create_app(
    race: Race,
    redis_url: str,
    *,
    dashboard: bool = True,
    settings: Settings | None = None,
    engine: bool = True,
    base: str = "/",
    event: Event | None = None,
    in_event: bool = False,
) -> FastAPI:
    """Build the web app for one race against the Redis at ``redis_url``; ``settings``: the process's
    (reader and admin tokens, CORS origins), by default read from the environment now. With ``engine``
    the process stands for the engine lease and runs the live engine while it holds it; otherwise, and
    while another process holds it, it relays the leader's ticks (``web.relay``). ``base``: the path
    the race's pages are served under (``/races/10k/`` for an event's other races). ``event``: the
    event whose JSON readers this app takes (``/ingest/ws``, routed by chip); None: the race alone.
    ``in_event``: the race is one of an event's, whose pages link to the event's view."""
    settings = settings or Settings.from_env()
    redis = redis_client(redis_url)
    store = Store(redis, race)
    store.wait_replicas = replicas_to_wait_for(redis_url)  # JSON readers' answers wait for a replica, as MYLAPS acks
    ingest_store = store if event is None else EventStore(redis, event.ingest_race(), event.races)
    ingest_store.wait_replicas = store.wait_replicas
    live = LiveEngine(race, store)
    live.lease = Lease(store)
    live.listeners.append(EventDetector(live))
    api = RaceAPI(live)
    channel = FrameChannel(store)
    feed = LiveFeed(live, publisher=Publisher(channel, live.lease))
    relay = FrameRelay(live, feed, channel)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await (store if base != "/" else ingest_store).setup()
        stop = asyncio.Event()
        relay.start()
        ticker = asyncio.create_task(live.run(stop), name="live-tick") if engine else None
        try:
            yield
        finally:
            await feed.close()
            await relay.close()
            stop.set()
            if ticker is not None:
                await ticker
            await redis.aclose()

    # our own OpenAPI document (web/openapi.py); FastAPI's docs page would load its JS from a CDN
    app = FastAPI(title=f"pursuit — {race.name}", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    cors = list(settings.cors_origins)
    if cors:  # closed unless configured
        app.add_middleware(CORSMiddleware, allow_origins=cors, allow_methods=["GET"], allow_headers=["Last-Event-ID"])
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(HeadAsGet)  # outermost: HEAD /follow is the GET without its body (web/head.py)
    app.state.engine = live
    app.state.feed = feed
    app.state.store = store
    unavailable = _redis_unavailable_handler()
    for kind in REDIS_UNAVAILABLE:
        app.add_exception_handler(kind, unavailable)

    async def healthz(request: Request) -> JSONResponse:
        try:
            await redis.ping()
            newest = await redis.xrevrange(store.keys.journal, count=1)
        except Exception as exc:  # report, do not raise: this is the health check
            return JSONResponse({"ok": False, "redis": f"unreachable: {exc}"}, status_code=503)
        try:  # race day wants the journal on disk (SPEC §9); a managed Redis may refuse CONFIG
            aof: bool | None = (await redis.config_get("appendonly")).get("appendonly") == "yes"
        except Exception:
            aof = None
        now = time.time()
        last_read_age = now - int(newest[0][0].split(b"-")[0]) / 1000 if newest else None
        tick_age = now - live.last_tick_wall if live.last_tick_wall else None
        ok = tick_age is not None and tick_age < 5 * TICK_S
        body = {
            "ok": ok,
            "redis": "ok",
            "tick_ms": round(live.tick_ms, 2),
            "tick_age_s": round(tick_age, 2) if tick_age is not None else None,
            "last_read_age_s": round(last_read_age, 2) if last_read_age is not None else None,
            "feed_clients": len(feed.clients),
            **({"connections": cap.open, "max_connections": cap.limit} if (cap := cap_of(request.scope)) else {}),
            "engine": "leader" if live.lease is not None and live.lease.held else ("standby" if engine else "relay"),
            "seq": feed.seq,
            "redis_aof": aof,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        body = await render_metrics(live, feed, admin.limits.untracked, cap_of(request.scope))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    schema = orjson.dumps(
        openapi_schema(race) if event is None else with_event(openapi_schema(race), [r.id for r in event.races])
    )

    async def openapi(request: Request) -> Response:
        return Response(schema, media_type="application/json")

    async def api_not_found(request: Request) -> JSONResponse:
        """404 for a path no route has; 405 (with Allow) for a route asked with a method it lacks."""
        path = request.url.path
        allowed = sorted(
            {
                m
                for r in app.router.routes
                if isinstance(r, Route)
                and r.endpoint is not api_not_found
                and r.path != PAGES_ROUTE
                and r.path_regex.match(path)
                for m in r.methods or ()
            }
            - {"HEAD"}
        )
        if allowed:
            refused = error(405, f"{request.method} is not allowed on {path}: use {', '.join(allowed)}")
            refused.headers["allow"] = ", ".join(allowed)
            return refused
        return error(404, f"no such API endpoint: {path}")

    admin = AdminAPI(live, settings.admin_token(race.admin_token_env))
    routes: list[BaseRoute] = [*api.routes(), *admin.routes()]
    if base == "/":  # the JSON readers of an event connect once, to the first race's app
        routes += JsonIngest(ingest_store.race, ingest_store, settings.reader_tokens).routes()
    routes += [*feed_routes(feed), *EventsFeed(store).routes()]
    for route in routes:
        app.router.routes.append(route)
    app.router.routes.append(Route("/healthz", healthz))
    app.router.routes.append(Route("/api/openapi.json", openapi))
    app.router.routes.append(Route("/metrics", metrics))
    app.router.routes.append(Route("/api/{path:path}", api_not_found, methods=["GET", "POST", "PUT", "DELETE"]))

    if dashboard:
        from dashboard.app import create_dashboard

        create_dashboard(
            app,
            race,
            lambda: live.snapshot,
            lambda: list(live.forecast_history),
            base=base,
            event_view="/event" if in_event else None,
        )
    return app


def _redis_unavailable_handler() -> Callable[[Request, Exception], Awaitable[Response]]:
    """A request that needed Redis while it fails (down, failing over, refusing writes at maxmemory)
    is answered 503 with what Redis said and ``Retry-After``, not 500; logged once per
    ``REDIS_DOWN_LOG_EVERY_S`` with the count since, not a traceback per request."""
    logged = {"at": 0.0, "since": 0}

    async def redis_unavailable(request: Request, exc: Exception) -> Response:
        logged["since"] += 1
        now = time.monotonic()
        if now - logged["at"] >= REDIS_DOWN_LOG_EVERY_S:
            log.warning(
                "Redis failed %d request(s), the last %s %s: %s", logged["since"], request.method, request.url.path, exc
            )
            logged["at"], logged["since"] = now, 0
        refused = error(503, f"the race's Redis is unavailable, try again shortly: {exc}")
        refused.headers["retry-after"] = "1"
        return refused

    return redis_unavailable
