"""The commands that prepare and run a race: check a race directory (``race check``), plan its head
starts (``plan``), issue operator tokens (``token``), run its processes (``serve``, ``ingest``, ``web``,
``engine``; ``demo`` and ``rehearse`` on one machine), play emulated readers at them (``simulate``), and
feed backup files or rebuild the live state (``replay``, ``rebuild``). Each takes the options
``pursuit/cli.py`` parsed and returns the exit status."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections import Counter
from pathlib import Path

from live.race.errors import RaceError
from live.race.event import Event, load_event
from live.race.race import Race
from live.race.race_file import load_race
from pursuit.settings import DEFAULT_REDIS_URL, Settings

DEFAULT_RACE = Path(__file__).resolve().parent.parent / "races" / "paris-j1000"


def race_or_exit(path: str | None) -> Race:
    """The race directory at ``path`` (default: the Paris J-1000); on a race error, the message on
    stderr and exit status 2, as for every command that takes ``--race``."""
    try:
        return load_race(path or DEFAULT_RACE)
    except RaceError as exc:
        print(f"pursuit: race error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def event_or_exit(path: str | None) -> Event:
    """The event at ``path``: an event directory (``event.toml``) or a race directory as an event of one
    race (default: the Paris J-1000); on an error, the message on stderr and exit status 2."""
    try:
        return load_event(path or DEFAULT_RACE)
    except RaceError as exc:
        print(f"pursuit: race error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def redis_or_exit(url: str | None, command: str) -> str:
    """``url`` (``REDIS_URL``, or the default) once its Redis answers a PING; else the reason on stderr
    and exit status 1 (a supervisor starts the process again), rather than a traceback."""
    from urllib.parse import urlsplit

    from redis.asyncio.sentinel import MasterNotFoundError
    from redis.exceptions import RedisError

    from live.store.connection import redis_client

    url = url or DEFAULT_REDIS_URL

    async def ping() -> None:
        redis = redis_client(url)
        try:
            await redis.ping()
        finally:
            await redis.aclose()

    parts = urlsplit(url)
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # never print a password
    try:
        asyncio.run(ping())
    except ValueError as exc:
        print(f"pursuit {command}: REDIS_URL={shown} cannot be used: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    except (RedisError, OSError) as exc:
        reason = str(exc)
        if isinstance(exc, MasterNotFoundError):  # its message carries the client's whole repr: keep the cause
            reason = f"no Sentinel names the master ({reason.rpartition(' - ')[2]})"
        print(f"pursuit {command}: no answer from Redis at {shown} (REDIS_URL): {reason}", file=sys.stderr)
        raise SystemExit(1) from exc
    return url


def cmd_race_check(args: argparse.Namespace) -> int:
    """Validate a race or event directory and print a summary of each race."""
    event = event_or_exit(args.dir)
    if len(event.races) > 1:
        print(f"{event.name} ({event.id}), {event.date}, time zone {event.timezone.key}: {len(event.races)} races")
        uses = Counter(m.id for r in event.races for m in r.mats)
        shared = sorted(mat for mat, n in uses.items() if n > 1)
        print(f"  shared mats {', '.join(shared) or 'none'} (one reader connection each)\n")
    for race in event.races:
        print_race(race)
    print("OK")
    return 0


def print_race(race: Race) -> None:
    """A race's summary, as ``race check`` prints it."""
    pens = Counter(p.pen for p in race.runners)
    print(f"{race.name} ({race.id})")
    measured = race.course.measured_m
    print(f"  course     {race.distance_m:,.0f} m ({measured:,.0f} m measured), time zone {race.timezone.key}")
    print(f"  mats       {len(race.mats)}, timing points {len(race.timing_points)}:")
    for tp in race.timing_points:
        print(f"               {tp.at_m:>7,.0f} m  {tp.id}")
    if (pursuer := race.pursuer) is not None:
        print(
            f"  pursuer    bib {pursuer.bib} {pursuer.name}, {pursuer.pace_s_per_km:.0f} s/km, "
            f"start {pursuer.planned_start:%H:%M:%S}"
        )
        if (schedule := pursuer.schedule) is not None:
            steps = ", ".join(f"{v:g} km/h from {s / 3600:g} h" for s, v in schedule.steps)
            print(f"  schedule   {steps}")
    else:
        print("  pursuer    none: a timed race, placed by gun time")
    if race.by_distance:
        marks = ", ".join(f"{m / 1000:g} km" for m in race.milestones_m) or "none"
        print(f"  outcome    distance (catcher car: the result is where it passes each runner); milestones {marks}")
    for p in race.pens:
        head = f"head start {p.head_start_s / 60:.0f} min, " if p.head_start_s is not None else ""
        print(f"  pen {p.id:<6} {p.name}: {pens[p.id]:,} runners, {head}start {p.planned_start:%H:%M:%S}")
    plus = " (+ the pursuer)" if race.pursuer is not None else ""
    print(f"  runners    {sum(pens.values()):,}{plus}, quota {race.quota}")
    for group, table in race.quotas.items():
        print(f"  quotas     {group}: " + ", ".join(f"{label} {n:,}" for label, n in table.items()))
    if race.basemap is not None:
        kinds = Counter(f.kind for f in race.basemap.features)
        print(
            f"  basemap    {race.basemap.path.name}: "
            + ", ".join(f"{n:,} {k}" for k, n in kinds.items())
            + f'; credited "{race.basemap.attribution}"'
        )
    if race.tiles is not None:
        print(f'  tiles      {race.tiles.url} (online, over the basemap), credited "{race.tiles.attribution}"')


def cmd_demo(args: argparse.Namespace) -> int:
    from pursuit.demo import run_demo
    from pursuit.redis_server import RedisServerError
    from pursuit.serve import run

    settings: Settings = args.settings
    try:
        demo = run_demo(
            event_or_exit(args.race),
            runners=args.runners,
            speed=args.speed,
            port=args.port,
            ingest_port=args.ingest_port,
            seed=args.seed,
            settings=settings,
        )
        return run(demo, settings.loop)
    except RedisServerError as exc:
        print(f"pursuit demo: {exc}", file=sys.stderr)
        return 2


def cmd_serve(args: argparse.Namespace, ingest: bool = True, web: bool = True) -> int:
    from ingest.tcp import ReaderPortError
    from pursuit.serve import WebStartError, run, serve

    settings: Settings = args.settings
    race = event_or_exit(args.race)
    redis_url = redis_or_exit(settings.redis_url, args.command)
    try:
        return run(
            serve(
                race,
                redis_url,
                port=args.port if web else None,
                ingest=ingest,
                ingest_port=getattr(args, "ingest_port", None),
                mylaps_port=getattr(args, "mylaps_port", None),
                host=args.host,
                settings=settings,
                engine=getattr(args, "engine", True),
            ),
            settings.loop,
        )
    except ReaderPortError as exc:
        print(
            f"pursuit {args.command}: {exc} (another ingestor on this machine? [readers] in race.toml, "
            "--ingest-port, --mylaps-port)",
            file=sys.stderr,
        )
        return 1
    except WebStartError as exc:
        print(f"pursuit {args.command}: {exc}", file=sys.stderr)
        return 1


def cmd_rehearse(args: argparse.Namespace) -> int:
    """The scale-out rehearsal (pursuit/rehearse.py): its measurements as JSON."""
    import orjson

    from pursuit.rehearse import rehearse

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request of the fault script
    if args.cluster:
        from pursuit.rehearse_cluster import rehearse_cluster

        if args.race:
            print("pursuit rehearse: --cluster plays its own World Run; --race does not go with it", file=sys.stderr)
            return 2
        where = Path(args.dir or ".pursuit/rehearsal-cluster")
        outcome = asyncio.run(rehearse_cluster(where, args.runners or 1000, args.speed or 120.0, args.seed))
        print(orjson.dumps(outcome.report, option=orjson.OPT_INDENT_2).decode())
        return 0 if outcome.report["catches_within_tolerance"] >= 0.99 and not outcome.report["races_wrong"] else 1
    where, race = Path(args.dir or ".pursuit/rehearsal"), race_or_exit(args.race)
    report = asyncio.run(rehearse(race, where, args.runners or 300, args.speed or 60.0, args.seed))
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    return 0 if report["same_winners_bib_for_bib"] else 1


def cmd_engine(args: argparse.Namespace) -> int:
    """The live engine alone: it takes the engine lease when free and publishes every tick for the web
    processes to relay; while another process holds the lease it stands by."""
    from pursuit.serve import run, run_engines

    settings: Settings = args.settings
    event = event_or_exit(args.event or args.race)
    redis_url = redis_or_exit(settings.redis_url, "engine")
    if args.event:  # a member of the event's engine pool (pursuit/engine_pool.py)
        from pursuit.engine_pool import run_pool

        return run(run_pool(event, redis_url), settings.loop)
    return run(run_engines(event, redis_url), settings.loop)


def _simulate_results(args: argparse.Namespace) -> int:
    """``simulate --results``: the file as a chase written as a race directory (``--race``, default
    ``.pursuit/replay/<id>``), then one ChronoTrack decoder per split mat played to the ingestor."""
    import math
    import time

    from ingest.chronotrack_server import ChronoTrackServer
    from live.forecast.results import ResultsError
    from simulator.results import ReplayError, play_results, prepare_replay, race_id_for

    if args.pursuer is None or args.delay is None:
        print("pursuit simulate: --results needs --pursuer BIB and --delay S", file=sys.stderr)
        return 2
    speed = None if args.speed <= 0 or math.isinf(args.speed) else args.speed
    directory = Path(args.race) if args.race else Path(".pursuit") / "replay" / race_id_for(args.results)
    try:
        replayed = prepare_replay(
            args.results, args.pursuer, args.delay, directory, speed=speed, now=time.time(), runners=args.runners
        )
    except (ResultsError, ReplayError, RaceError, OSError) as exc:
        print(f"pursuit simulate: {exc}", file=sys.stderr)
        return 2
    port = args.ingest_port or replayed.race.readers.port("chronotrack", ChronoTrackServer.DEFAULT_PORT)
    print(
        f"race written to {directory}/ ({replayed.chase.runners:,} runners, {len(replayed.race.mats)} mats, "
        f"{replayed.plan.reads:,} reads); the ingestor must run it: pursuit serve --race {directory}",
        flush=True,
    )
    print(f"playing to {args.host}:{port} {'as fast as possible' if speed is None else f'at {speed:g}x'}", flush=True)
    report = asyncio.run(
        play_results(replayed, host=args.host, port=port, speed=speed, redis_url=args.settings.redis_url)
    )
    print(report, flush=True)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Emulated readers, each in its protocol's role, against a running ingestor (and web app)."""
    if args.results:
        return _simulate_results(args)
    from pathlib import Path

    from simulator.faults import Faults
    from simulator.run import assign_protocols, play

    event = event_or_exit(args.race)
    race = event.ingest_race()
    try:
        faults = Faults.parse(args.faults)
        protocols = assign_protocols(race, args.protocols)
    except ValueError as exc:
        print(f"pursuit simulate: {exc}", file=sys.stderr)
        return 2
    if args.web and not args.web.startswith(("http://", "https://", "ws://", "wss://")):
        print(f"pursuit simulate: --web {args.web!r}: give the web app's URL, http://host:port", file=sys.stderr)
        return 2
    if args.settings.redis_url:  # the simulated clock goes there
        redis_or_exit(args.settings.redis_url, "simulate")
    web = args.web.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") if args.web else None
    offsets = {m: args.clock_offset for m, p in protocols.items() if p == "raceresult"}
    try:
        report = asyncio.run(
            play(
                event,
                host=args.host,
                speed=args.speed,
                redis_url=args.settings.redis_url,
                ingest_port=args.ingest_port,
                raceresult_port=args.raceresult_port,
                mylaps_port=args.mylaps_port,
                runners=args.runners,
                seed=args.seed,
                protocols=protocols,
                faults=faults,
                late_max_s=args.late,
                miss_rates=args.miss_rate,
                record=Path(args.record) if args.record else None,
                clock_offsets=offsets,
                web_url=web,
                reader_tokens=args.settings.reader_tokens,
            )
        )
    except (ValueError, OSError) as exc:
        print(f"pursuit simulate: {exc}", file=sys.stderr)
        return 2
    print(report, flush=True)
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Expected winners per pen for the race's head starts, and head starts that meet the quota; for
    an event, for each of its chases (a race without a pursuer has no head starts to plan)."""
    event = event_or_exit(args.race)
    if len(event.races) == 1:
        return plan_one(event.first, args)
    status = 0
    for race in event.races:
        if race.pursuer is None:
            print(f"{race.name} ({race.id}): no pursuer, no head starts to plan\n")
            continue
        status = max(status, plan_one(race, args))
        print()
    return status


def plan_one(race: Race, args: argparse.Namespace) -> int:
    """``plan`` for one race (the table and the warning), its exit status."""
    from live.forecast.plan import plan_race

    source = "declared times"
    try:
        times = None
        if args.results:
            from live.forecast.plan import field_times
            from live.forecast.results import load_results, skip_report

            results = load_results(args.results)
            for line in skip_report(results):
                print(f"pursuit plan: {line}", file=sys.stderr)
            times, column = field_times(results, race.distance_m)
            source = f"last year's results ({len(times):,} times, column {column!r}), dealt to the pens slowest first"
        plans = plan_race(race, quota=args.quota, sigma=args.sigma, field_times_s=times)
    except (ValueError, OSError) as exc:  # ResultsError is a ValueError
        print(f"pursuit plan: {exc}", file=sys.stderr)
        return 2
    quota = args.quota if args.quota is not None else race.quota
    total = sum(p.expected for p in plans)
    pace = race.require_pursuer("pursuit plan").pace_s_per_km
    print(f"{race.name}: quota {quota:,}, pursuer {pace:.0f} s/km, from {source}")
    header = ("pen", "runners", "head start", "expected", "band", "fair share", "proposed", "then")
    widths = (-6, 8, 12, 10, 13, 12, 10, 8)
    print("".join(f"{h:<{-w}}" if w < 0 else f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for p in plans:
        print(
            f"{p.pen:<6}{p.runners:>8,}{p.head_start_s / 60:>10.1f} m{p.expected:>10.0f}{f'{p.low}–{p.high}':>13}"
            f"{p.fair_share:>12.0f}{p.proposed_head_start_s / 60:>8.1f} m{p.proposed_expected:>8.0f}"
        )
    print(f"{'all':<6}{sum(p.runners for p in plans):>8,}{'':>12}{total:>10,.0f}")
    starved = [p.pen for p in plans if p.expected < 0.25 * p.fair_share]
    if starved:
        print(f"warning: pen(s) {', '.join(starved)} can hardly win with these head starts")
    return 0


async def _with_store(event: Event, redis_url: str | None, work):  # type: ignore[no-untyped-def]
    """``work(store)`` on the store the event's readers write through (a race's own, for one race)."""
    from live.store.connection import redis_client
    from live.store.event_store import ingest_store

    redis = redis_client(redis_url or DEFAULT_REDIS_URL)
    try:
        store = ingest_store(redis, event)
        await store.setup()
        return await work(store)
    finally:
        await redis.aclose()


def cmd_replay(args: argparse.Namespace) -> int:
    """Feed reader backup files through ingest (against REDIS_URL)."""
    import orjson

    from ingest.replay import replay_files
    from pursuit.progress import Progress

    event = event_or_exit(args.race)
    race = event.ingest_race()  # an event's backup files: each read to the race of its chip
    redis_or_exit(args.settings.redis_url, "replay")
    try:
        with Progress("pursuit replay") as progress:
            report = asyncio.run(
                _with_store(
                    event,
                    args.settings.redis_url,
                    lambda store: replay_files(race, store, args.files, args.date, progress.update),
                )
            )
            progress.table("pursuit replay", report.as_dict())
    except (OSError, ValueError) as exc:
        print(f"pursuit replay: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps(report.as_dict()).decode())
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """A new race-control operator token: the token for the operator (keep it secret), and the
    ``[[operators]]`` table for race.toml, which holds only its SHA-256."""
    import hashlib
    import json
    import secrets

    from live.race.race_file import MAX_OPERATOR_NAME

    name = args.name.strip()
    if not name:
        print("pursuit token: give the operator's name", file=sys.stderr)
        return 2
    if len(name) > MAX_OPERATOR_NAME:  # race.toml would refuse the table
        print(f"pursuit token: the name has {len(name)} characters, at most {MAX_OPERATOR_NAME}", file=sys.stderr)
        return 2
    token = secrets.token_urlsafe(24)
    print(f"token for {name} (give it to them; it is not stored anywhere): {token}", file=sys.stderr)
    print(f"[[operators]]\nname = {json.dumps(name, ensure_ascii=False)}")
    print(f'token_sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"')
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Recompute the race's live state from its journal and admin log (against REDIS_URL)."""
    import orjson

    from ingest.replay import rebuild

    event = event_or_exit(args.race)
    race = event.ingest_race()
    redis_or_exit(args.settings.redis_url, "rebuild")
    report = asyncio.run(_with_store(event, args.settings.redis_url, lambda store: rebuild(race, store)))
    print(orjson.dumps(report.as_dict()).decode())
    return 0
