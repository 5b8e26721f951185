"""Run the ingestor and/or the web app of one race in this process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import redis.asyncio as aioredis
import uvicorn
from redis.asyncio.sentinel import SentinelConnectionPool

from ingest.chronotrack_server import ChronoTrackServer
from ingest.mylaps_server import MyLapsServer
from ingest.raceresult_client import RaceResultClient
from ingest.tcp import ReaderServer
from live.race.event import Event, event_of
from live.race.race import Race
from live.race.web_limits import DEFAULT_MAX_CONNECTIONS
from live.store.connection import describe, is_cluster, master_address, redis_client, replicas_to_wait_for
from live.store.event_store import ingest_store
from live.store.leader import FrameChannel, Lease
from live.store.store import Store
from pursuit.event_web import create_event_app
from pursuit.http_guard import REQUEST_TIMEOUT_S, GuardedHttp
from pursuit.settings import LOCAL_BALANCER, LOOPS, Settings
from pursuit.web import create_app
from web.connection_cap import EXEMPT, EXEMPT_PREFIXES, ConnectionCap, server_limit
from web.event_api import race_path

log = logging.getLogger(__name__)

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], loop: str = "asyncio") -> T:
    """Run a server's main coroutine to completion: on asyncio's own event loop, or on uvloop with
    ``loop="uvloop"`` (``PURSUIT_LOOP=uvloop``; asyncio's if uvloop is missing). uvloop is not the
    default: the live feed's fan-out, which is mostly the kernel's ``send`` per client, measured the
    same on both (docs/BENCHMARKS.md)."""
    if loop not in LOOPS:
        raise ValueError(f"unknown event loop {loop!r}: expected uvloop or asyncio")
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed: running on asyncio's event loop")
        else:
            return uvloop.run(main)
    return asyncio.run(main)


MASTER_WATCH_S = 0.5  # how often the ingestor asks the Sentinels where the master is
DESCRIPTORS_RESERVED = 256  # open files a web process needs besides its connections (Redis, logs, the race)
WS_MAX_BYTES = 64 * 1024  # the largest WebSocket message read (uvicorn's default is 16 MiB)
KEEP_ALIVE_S = 5  # an idle keep-alive HTTP connection is closed after this (uvicorn's default, made explicit)


def uvicorn_server(
    app: Callable[..., Any],
    host: str,
    port: int,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    forwarded_allow_ips: tuple[str, ...] = LOCAL_BALANCER,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    exempt: tuple[tuple[str, ...], tuple[str, ...]] = (EXEMPT, EXEMPT_PREFIXES),
) -> uvicorn.Server:
    """A uvicorn server for our app: no per-message deflate (it costs ~50 KiB per connection), a
    WebSocket message at most 64 KiB, at most ``max_connections`` requests and WebSockets at once
    (``web.connection_cap``: beyond, HTTP 503 with Retry-After and WebSockets closed with 1013,
    counted; the paths and prefixes in ``exempt`` always answered; uvicorn's own bare 503 a tenth higher), an idle
    keep-alive connection closed after ``KEEP_ALIVE_S``, and every request wholly received within
    ``request_timeout_s`` of its start, with a head of at most 64 KiB (``pursuit/http_guard.py``).
    A request through a balancer at one of ``forwarded_allow_ips`` has the client its
    ``X-Forwarded-For`` names; from anywhere else the header is ignored."""
    http = type("GuardedHttp", (GuardedHttp,), {"request_timeout_s": request_timeout_s})
    limit = server_limit(max_connections)
    open_files(limit + DESCRIPTORS_RESERVED)
    capped = ConnectionCap(app, max_connections, *exempt)
    config = uvicorn.Config(
        capped,
        host=host,
        port=port,
        log_level="warning",
        ws_per_message_deflate=False,
        lifespan="on",
        ws_max_size=WS_MAX_BYTES,
        limit_concurrency=limit,
        timeout_keep_alive=KEEP_ALIVE_S,
        http=http,
        proxy_headers=True,
        forwarded_allow_ips=list(forwarded_allow_ips),
    )
    return uvicorn.Server(config)


def open_files(needed: int) -> int:
    """Raise this process's open-file limit towards ``needed`` (up to its hard limit; one descriptor
    per connection) and return it; a warning if the cap cannot be reached with it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft < needed:
        log.warning(
            "open-file limit %d is below the %d the connection cap needs: lower [web] max_connections "
            "(or PURSUIT_MAX_CONNECTIONS) or raise the limit (ulimit -n)",
            soft,
            needed,
        )
    return soft


def race_exempt(event: Event) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The paths and path prefixes the connection cap never refuses (``web.connection_cap``), with
    those of each race of an event under its ``/races/<id>``."""
    paths, prefixes = list(EXEMPT), list(EXEMPT_PREFIXES)
    for race in event.races[1:]:
        base = race_path(event, race.id).rstrip("/")
        paths += [base + path for path in EXEMPT]
        prefixes += [base + prefix for prefix in EXEMPT_PREFIXES]
    return tuple(paths), tuple(prefixes)


def readers_exposure(race: Race, host: str) -> str | None:
    """A loud warning when the reader ports listen beyond this machine with no allowlist; None if not."""
    if host in ("127.0.0.1", "::1", "localhost") or race.readers.allow:
        return None
    return (
        f"WARNING: the reader ports listen on {host} and accept reads and guns from ANY address that "
        "reaches them. Set [readers] host to the timing network's interface and [readers.allow] per mat "
        "in race.toml (docs/OPERATIONS.md, 'Securing race day')."
    )


async def start_ingest(
    race: Race | Event,
    redis_url: str,
    host: str,
    port: int | None,
    mylaps_port: int | None = None,
    secret: str | None = None,
) -> tuple[list[ReaderServer], aioredis.Redis]:
    """Start the TCP reader servers (ChronoTrack, MYLAPS) of a race or of every race of an event (one
    server per protocol, each read to the race of its chip); returns them and their Redis client.
    ``secret``: the ChronoTrack readers' shared secret, when the race asks for one."""
    event = race if isinstance(race, Event) else event_of(race)
    redis = redis_client(redis_url)
    store = ingest_store(redis, event)
    race = store.race
    store.wait_replicas = replicas_to_wait_for(redis_url)
    await store.setup()
    servers: list[ReaderServer] = [
        ChronoTrackServer(race, store, host=host, port=port, secret=secret),
        MyLapsServer(race, store, host=host, port=mylaps_port),
    ]
    for server in servers:
        await server.start()
    return servers, redis


async def watch_master(redis: aioredis.Redis, servers: list[ReaderServer], stop: asyncio.Event) -> None:
    """Behind Sentinel: when the master changes, close every reader connection, so that each reader is
    asked to resume after the last line the *new* master holds (a failover may lose the last writes the
    old one acknowledged). In a Redis Cluster, when any master changes. Nothing to do for a single server."""
    last = None
    while not stop.is_set():
        try:
            now = await master_address(redis)
        except Exception as exc:  # no Sentinel (or cluster node) answers, or none knows a master yet: ask again
            log.warning("Redis: no master address (%r)", exc)
            now = last
        if now is None and last is None and not isinstance(redis.connection_pool, SentinelConnectionPool):
            if not is_cluster(redis):
                await stop.wait()  # one server: nothing moves
                return
        if last is not None and now is not None and now != last:  # a cluster: any of its masters
            closed = sum(server.reset_connections(f"Redis master moved to {describe(now)}") for server in servers)
            log.warning(
                "Redis master moved from %s to %s: %d reader connections closed to resume there",
                describe(last),
                describe(now),
                closed,
            )
        last = now or last
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), MASTER_WATCH_S)


class WebStartError(RuntimeError):
    """The web app could not start (its port in use, say): uvicorn has logged why."""


async def _serve_web(web: uvicorn.Server, host: str, port: int) -> None:
    """``web.serve()``, saying its URL once it listens (not before: a script that waits for the line
    may then connect), with uvicorn's ``sys.exit`` on a failed start turned into
    :class:`WebStartError`, so that ``pursuit serve`` stops its ingestor too rather than printing a
    task's traceback and going on without a web port."""

    async def announce() -> None:
        while not web.started:  # noqa: ASYNC110 - uvicorn sets a flag, there is no event to await
            await asyncio.sleep(0.05)
        print(f"web: http://{host}:{port}/ (API at /api/state)", flush=True)

    # uvicorn's serve() runs here, not in a task of its own: the SystemExit of a failed start must
    # reach the except below, and a task would hand it to the event loop instead
    announcer = asyncio.create_task(announce(), name="web-announce")
    try:
        await web.serve()
    except SystemExit as exc:
        raise WebStartError(
            f"the web app could not start on {host}:{port} (uvicorn's ERROR line above says why)"
        ) from exc
    finally:
        announcer.cancel()


async def serve(
    race: Race | Event,
    redis_url: str,
    *,
    port: int | None,
    ingest: bool,
    ingest_port: int | None,
    mylaps_port: int | None = None,
    host: str = "0.0.0.0",
    settings: Settings | None = None,
    engine: bool = True,
) -> int:
    """The ingestor (if ``ingest``) and the web app (if ``port`` is given) of a race, or of every race
    of an event, until interrupted."""
    event = race if isinstance(race, Event) else event_of(race)
    race = event.ingest_race()
    tasks = []
    stop = asyncio.Event()
    if ingest:
        readers_host = race.readers.host or host
        secret = (settings or Settings()).reader_secret(race.readers.secret_env)
        ingestors, ingest_redis = await start_ingest(event, redis_url, readers_host, ingest_port, mylaps_port, secret)
        for server in ingestors:
            print(f"ingest: {server.protocol} on {readers_host}:{server.port}", flush=True)
        if warning := readers_exposure(race, readers_host):
            print(warning, flush=True)
            log.warning(warning)
        store = ingest_store(ingest_redis, event)
        tasks.append(asyncio.create_task(watch_master(ingest_redis, ingestors, stop), name="watch-master"))
        for decoder in race.readers.decoders:
            tasks.append(asyncio.create_task(RaceResultClient(race, store, decoder).run(stop)))
            print(
                f"ingest: pulling RACE RESULT decoder {decoder.host}:{decoder.port} for mat {decoder.mat}", flush=True
            )
    if port is not None:
        app: Callable[..., Any] = (
            create_app(event.first, redis_url, settings=settings, engine=engine)
            if len(event.races) == 1
            else create_event_app(event, redis_url, settings=settings, engine=engine)
        )
        settings = settings or Settings()
        cap = settings.max_connections_for(event.first.web)
        web = uvicorn_server(
            app,
            host,
            port,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            max_connections=cap,
            exempt=race_exempt(event),
        )
        print(f"web: at most {cap:,} connections at once ([web] max_connections)", flush=True)
        tasks.append(asyncio.create_task(_serve_web(web, host, port)))
    try:
        if tasks:
            await asyncio.gather(*tasks)
        else:
            await asyncio.Event().wait()
    finally:
        stop.set()
        if ingest:
            for server in ingestors:
                await server.close()
            await ingest_redis.aclose()
    return 0


async def run_engines(event: Event, redis_url: str, stop: asyncio.Event | None = None) -> int:
    """The live engines of every race of an event in this process (one lease each)."""
    stop = stop or asyncio.Event()
    await asyncio.gather(*(run_engine(race, redis_url, stop) for race in event.races))
    return 0


async def run_engine(
    race: Race, redis_url: str, stop: asyncio.Event | None = None, lease_for: Callable[[Store], Lease] | None = None
) -> int:
    """The live engine of one race in this process, until interrupted (or ``stop``): while it holds the
    engine lease it ticks, emits the race's events and publishes each tick's frame for the web
    processes to relay; otherwise it stands by, ready to take the lease when it lapses. ``lease_for``
    makes its lease (an engine pool's, ``pursuit.engine_pool``; default: a plain one)."""
    from live.engine.engine import LiveEngine
    from live.engine.events import EventDetector
    from web.feed import LiveFeed, Publisher

    redis = redis_client(redis_url)
    store = Store(redis, race)
    await store.setup()
    engine = LiveEngine(race, store)
    engine.lease = lease = (lease_for or Lease)(store)
    engine.listeners.append(EventDetector(engine))
    feed = LiveFeed(engine, publisher=Publisher(FrameChannel(store), lease))  # builds the frames; no clients here
    print(f"engine: race {race.id}, lease {lease.key} as {lease.token}", flush=True)
    stop = stop or asyncio.Event()
    try:
        await engine.run(stop)
    finally:
        await feed.close()
        await redis.aclose()
    return 0
