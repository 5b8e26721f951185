"""``pursuit``: the command line. Thin: it parses options and starts the parts."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from live.race import Race, RaceError
from live.race_file import load_race
from pursuit.settings import DEFAULT_REDIS_URL, Settings

DEFAULT_RACE = Path(__file__).resolve().parent.parent / "races" / "paris-j1000"


def _race(path: str | None) -> Race:
    try:
        return load_race(path or DEFAULT_RACE)
    except RaceError as exc:
        print(f"pursuit: race error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def cmd_race_check(args: argparse.Namespace) -> int:
    """Validate a race directory and print a summary."""
    race = _race(args.dir)
    pens = Counter(p.pen for p in race.participants if p.bib != race.pursuer.bib)
    print(f"{race.name} ({race.id})")
    measured = race.course.measured_m
    print(f"  course     {race.distance_m:,.0f} m ({measured:,.0f} m measured), time zone {race.timezone.key}")
    print(f"  mats       {len(race.mats)}, timing points {len(race.timing_points)}:")
    for tp in race.timing_points:
        print(f"               {tp.at_m:>7,.0f} m  {tp.id}")
    print(f"  pursuer    bib {race.pursuer.bib} {race.pursuer.name}, {race.pursuer.pace_s_per_km:.0f} s/km, "
          f"start {race.pursuer.planned_start:%H:%M:%S}")  # fmt: skip
    for p in race.pens:
        print(f"  pen {p.id:<6} {p.name}: {pens[p.id]:,} runners, head start {p.head_start_s / 60:.0f} min, "
              f"start {p.planned_start:%H:%M:%S}")  # fmt: skip
    print(f"  runners    {sum(pens.values()):,} (+ the pursuer), quota {race.quota}")
    if race.basemap is not None:
        kinds = Counter(f.kind for f in race.basemap.features)
        print(f"  basemap    {race.basemap.path.name}: " + ", ".join(f"{n:,} {k}" for k, n in kinds.items())
              + f"; credited \"{race.basemap.attribution}\"")  # fmt: skip
    if race.tiles is not None:
        print(f'  tiles      {race.tiles.url} (online, over the basemap), credited "{race.tiles.attribution}"')
    print("OK")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pursuit.demo import run_demo
    from pursuit.redis_server import RedisServerError
    from pursuit.serve import run

    settings: Settings = args.settings
    try:
        demo = run_demo(_race(args.race), runners=args.runners, speed=args.speed, port=args.port,
                        ingest_port=args.ingest_port, seed=args.seed, settings=settings)  # fmt: skip
        return run(demo, settings.loop)
    except RedisServerError as exc:
        print(f"pursuit demo: {exc}", file=sys.stderr)
        return 2


def cmd_serve(args: argparse.Namespace, ingest: bool = True, web: bool = True) -> int:
    from pursuit.serve import run, serve

    settings: Settings = args.settings
    race = _race(args.race)
    return run(
        serve(race, settings.redis_url or DEFAULT_REDIS_URL, port=args.port if web else None, ingest=ingest,
              ingest_port=args.ingest_port, mylaps_port=args.mylaps_port, host=args.host, settings=settings,
              engine=getattr(args, "engine", True)),
        settings.loop,
    )  # fmt: skip


def cmd_rehearse(args: argparse.Namespace) -> int:
    """The scale-out rehearsal (pursuit/rehearse.py): its measurements as JSON."""
    import orjson

    from pursuit.rehearse import rehearse

    report = asyncio.run(rehearse(_race(args.race), Path(args.dir), args.runners, args.speed, args.seed))
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    return 0 if report["same_winners_bib_for_bib"] else 1


def cmd_engine(args: argparse.Namespace) -> int:
    """The live engine alone: it takes the engine lease when free and publishes every tick for the web
    processes to relay; while another process holds the lease it stands by."""
    from pursuit.serve import run, run_engine

    settings: Settings = args.settings
    return run(run_engine(_race(args.race), settings.redis_url or DEFAULT_REDIS_URL), settings.loop)


def _simulate_results(args: argparse.Namespace) -> int:
    """``simulate --results``: the file as a chase written as a race directory (``--race``, default
    ``.pursuit/replay/<id>``), then one ChronoTrack decoder per split mat played to the ingestor."""
    import math
    import time

    from ingest.chronotrack_server import ChronoTrackServer
    from live.results import ResultsError
    from simulator.results import ReplayError, play_results, prepare_replay, race_id_for

    if args.pursuer is None or args.delay is None:
        print("pursuit simulate: --results needs --pursuer BIB and --delay S", file=sys.stderr)
        return 2
    speed = None if args.speed <= 0 or math.isinf(args.speed) else args.speed
    directory = Path(args.race) if args.race else Path(".pursuit") / "replay" / race_id_for(args.results)
    try:
        replayed = prepare_replay(args.results, args.pursuer, args.delay, directory, speed=speed, now=time.time(),
                                  runners=args.runners)  # fmt: skip
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
    report = asyncio.run(play_results(replayed, host=args.host, port=port, speed=speed,
                                      redis_url=args.settings.redis_url))  # fmt: skip
    print(report, flush=True)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Emulated readers, each in its protocol's role, against a running ingestor (and web app)."""
    if args.results:
        return _simulate_results(args)
    from pathlib import Path

    from simulator.faults import Faults
    from simulator.run import assign_protocols, play

    race = _race(args.race)
    try:
        faults = Faults.parse(args.faults)
        protocols = assign_protocols(race, args.protocols)
    except ValueError as exc:
        print(f"pursuit simulate: {exc}", file=sys.stderr)
        return 2
    web = args.web.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") if args.web else None
    offsets = {m: args.clock_offset for m, p in protocols.items() if p == "raceresult"}
    try:
        report = asyncio.run(
            play(race, host=args.host, speed=args.speed, redis_url=args.settings.redis_url,
                 ingest_port=args.ingest_port, raceresult_port=args.raceresult_port, mylaps_port=args.mylaps_port,
                 runners=args.runners, seed=args.seed, protocols=protocols, faults=faults, late_max_s=args.late,
                 miss_rates=args.miss_rate, record=Path(args.record) if args.record else None,
                 clock_offsets=offsets, web_url=web, reader_tokens=args.settings.reader_tokens)
        )  # fmt: skip
    except (ValueError, OSError) as exc:
        print(f"pursuit simulate: {exc}", file=sys.stderr)
        return 2
    print(report, flush=True)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Replay results files as chases and print how well the engine predicted them."""
    import csv

    import orjson

    from live.results import ResultsError
    from simulator.evaluation import RaceFiles, evaluate_races, fit_races, forecast_history, simulated_history
    from simulator.report import evaluation_tables, forecast_history_plot, history_table

    if args.simulated:
        race = _race(args.race)
        history, truth = simulated_history(race, args.seed)
        print(history_table(history, truth, race.quota))
        if args.plot:
            forecast_history_plot(
                history, truth, race.quota, args.plot, f"{race.name}: forecast of winners (simulated)"
            )
        return 0
    groups = args.results
    if not groups or not args.pursuer or args.delay is None:
        print("pursuit evaluate: give --results, --pursuer and --delay (or --simulated)", file=sys.stderr)
        return 2
    pursuers = args.pursuer if len(args.pursuer) == len(groups) else args.pursuer[:1] * len(groups)
    if len(args.pursuer) not in (1, len(groups)):
        print("pursuit evaluate: give one --pursuer for all races or one per --results group", file=sys.stderr)
        return 2
    if args.loo and len(groups) < 2:
        print("pursuit evaluate: --leave-one-out needs two or more --results groups", file=sys.stderr)
        return 2
    try:
        races = [RaceFiles.load(g) for g in groups]
        evaluations = evaluate_races(races, pursuers, args.delay, args.at, args.loo)
        if args.plot:
            model = fit_races(races[1:]) if args.loo else None
            history, truth = forecast_history(races[0], pursuers[0], args.delay, model)
            title = f"{races[0].name}: forecast of winners over the chase" + (" (out of sample)" if args.loo else "")
            forecast_history_plot(history, truth, None, args.plot, title)
    except (ResultsError, ValueError, OSError) as exc:
        print(f"pursuit evaluate: {exc}", file=sys.stderr)
        return 2
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["bib", "predicted_status", "predicted_margin_s", "true_status", "true_margin_s",
                             "win_probability"])  # fmt: skip
            writer.writerows(evaluations[0].rows())
    if len(evaluations) == 1 and not args.table:
        print(orjson.dumps(evaluations[0].summary()).decode())
    else:
        print(evaluation_tables(evaluations))
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    """Fit the forecast model on races with splits and write it as JSON."""
    from live.results import ResultsError
    from simulator.evaluation import RaceFiles, fit_races

    try:
        model = fit_races([RaceFiles.load(g) for g in args.results])
        model.save(args.out)
    except (ResultsError, ValueError, OSError) as exc:
        print(f"pursuit fit: {exc}", file=sys.stderr)
        return 2
    print(f"pursuit fit: {len(args.results)} race(s) ({', '.join(model.trained_on)}) -> {args.out}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Expected winners per pen for the race's head starts, and head starts that meet the quota."""
    from live.plan import plan_race

    race = _race(args.race)
    source = "declared times"
    try:
        times = None
        if args.results:
            from live.plan import field_times
            from live.results import load_results

            times, column = field_times(load_results(args.results), race.distance_m)
            source = f"last year's results ({len(times):,} times, column {column!r}), dealt to the pens slowest first"
        plans = plan_race(race, quota=args.quota, sigma=args.sigma, field_times_s=times)
    except (ValueError, OSError) as exc:  # ResultsError is a ValueError
        print(f"pursuit plan: {exc}", file=sys.stderr)
        return 2
    quota = args.quota if args.quota is not None else race.quota
    total = sum(p.expected for p in plans)
    print(f"{race.name}: quota {quota:,}, pursuer {race.pursuer.pace_s_per_km:.0f} s/km, from {source}")
    header = ("pen", "runners", "head start", "expected", "band", "fair share", "proposed", "then")
    widths = (-6, 8, 12, 10, 13, 12, 10, 8)
    print("".join(f"{h:<{-w}}" if w < 0 else f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for p in plans:
        print(f"{p.pen:<6}{p.runners:>8,}{p.head_start_s / 60:>10.1f} m{p.expected:>10.0f}{f'{p.low}–{p.high}':>13}"
              f"{p.fair_share:>12.0f}{p.proposed_head_start_s / 60:>8.1f} m{p.proposed_expected:>8.0f}")  # fmt: skip
    print(f"{'all':<6}{sum(p.runners for p in plans):>8,}{'':>12}{total:>10.0f}")
    starved = [p.pen for p in plans if p.expected < 0.25 * p.fair_share]
    if starved:
        print(f"warning: pen(s) {', '.join(starved)} can hardly win with these head starts")
    return 0


async def _with_store(race: Race, redis_url: str | None, work):  # type: ignore[no-untyped-def]
    from live.connection import redis_client
    from live.store import Store

    redis = redis_client(redis_url or DEFAULT_REDIS_URL)
    try:
        store = Store(redis, race)
        await store.setup()
        return await work(store)
    finally:
        await redis.aclose()


def cmd_replay(args: argparse.Namespace) -> int:
    """Feed reader backup files through ingest (against REDIS_URL)."""
    import orjson

    from ingest.replay import replay_files
    from pursuit.progress import Progress

    race = _race(args.race)
    try:
        with Progress("pursuit replay") as progress:
            report = asyncio.run(
                _with_store(race, args.settings.redis_url,
                            lambda store: replay_files(race, store, args.files, args.date, progress.update))
            )  # fmt: skip
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

    name = args.name.strip()
    if not name:
        print("pursuit token: give the operator's name", file=sys.stderr)
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

    race = _race(args.race)
    report = asyncio.run(_with_store(race, args.settings.redis_url, lambda store: rebuild(race, store)))
    print(orjson.dumps(report.as_dict()).decode())
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run one benchmark and print its JSON."""
    import orjson

    from pursuit.progress import Progress

    with Progress(f"pursuit bench {args.what}") as progress:
        result = _run_bench(args)
        progress.table(f"pursuit bench {args.what}", result)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


def _run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """The bench ``args.what`` names, with its options."""
    if args.what == "tick":
        from pursuit.bench.tick import bench_tick

        result = bench_tick()
    elif args.what == "ingest":
        from pursuit.bench.ingest import bench_ingest

        result = bench_ingest(args.reads, aof=args.aof, rates=tuple(args.rates),
                              seconds=args.latency_seconds, layouts=tuple(args.layouts))  # fmt: skip
    elif args.what == "replay":
        from pursuit.bench.replay import bench_replay

        runners = args.runners[0] if len(args.runners) == 1 else None  # --runners N; browser's default: all
        result = bench_replay(args.results, runners, reads_per_crossing=args.reads_per_crossing,
                              ingestors=args.ingestors)  # fmt: skip
    elif args.what == "fuzz":
        from pursuit.bench.fuzz import run_fuzz

        result = run_fuzz(args.lines, args.seed, _race(args.race).directory)
    elif args.what == "browser":
        from pursuit.bench.browser import bench_browser

        result = bench_browser(tuple(args.runners), seconds=args.seconds)
    elif args.balanced:
        from pursuit.bench.balanced import bench_fanout_balanced

        result = bench_fanout_balanced(tuple(args.clients), seconds=args.seconds, speed=args.speed,
                                       procs=args.client_processes)  # fmt: skip
    else:
        from pursuit.bench.fanout import bench_fanout

        result = bench_fanout(tuple(args.clients), seconds=args.seconds, speed=args.speed,
                              procs=args.client_processes, traffic_runners=args.traffic_runners,
                              traffic_seconds=args.traffic_seconds)  # fmt: skip
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pursuit", description="Race-day tracking for chase races.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True)

    race = sub.add_parser("race", help="race directory tools")
    race_sub = race.add_subparsers(dest="race_command", required=True)
    check = race_sub.add_parser("check", help="validate a race directory and print a summary")
    check.add_argument("dir", help="race directory (race.toml, participants.csv, course)")
    check.set_defaults(func=cmd_race_check)

    demo = sub.add_parser("demo", help="everything on one machine: Redis, ingestor, web, simulated race")
    demo.add_argument("--race", help="race directory (default: the Paris J-1000)")
    demo.add_argument("--runners", type=int, help="simulate only this many runners (default: all)")
    demo.add_argument("--speed", type=float, default=10.0, help="simulated seconds per real second (default 10)")
    demo.add_argument("--port", type=int, default=8000, help="web port (default 8000)")
    demo.add_argument("--ingest-port", type=int, default=None, help="ChronoTrack port (default: the race's, 61611)")
    demo.add_argument("--seed", type=int, default=2021, help="simulation seed")
    demo.set_defaults(func=cmd_demo)

    for name, help_text, ingest, web in (
        ("serve", "ingestor + web against REDIS_URL (production)", True, True),
        ("ingest", "the ingestor only, against REDIS_URL", True, False),
        ("web", "the web app (API + dashboard) only, against REDIS_URL", False, True),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--race", help="race directory (default: the Paris J-1000)")
        p.add_argument("--host", default="0.0.0.0", help="address to listen on")
        p.add_argument("--port", type=int, default=8000, help="web port")
        p.add_argument("--ingest-port", type=int, default=None, help="ChronoTrack port (default: the race's)")
        p.add_argument("--mylaps-port", type=int, default=None, help="MYLAPS T&S port (default: the race's, 3097)")
        if web:
            p.add_argument("--no-engine", dest="engine", action="store_false",
                           help="never run the live engine here: relay the ticks of the process that does")  # fmt: skip
        p.set_defaults(func=lambda a, i=ingest, w=web: cmd_serve(a, ingest=i, web=w))

    reh = sub.add_parser("rehearse", help="the scale-out layout on this machine with faults; prints what it measured")
    reh.add_argument("--race", help="race directory (default: the Paris J-1000)")
    reh.add_argument("--runners", type=int, default=300, help="runners simulated (default 300)")
    reh.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second (default 60)")
    reh.add_argument("--seed", type=int, default=5, help="simulation seed")
    reh.add_argument("--dir", default=".pursuit/rehearsal", help="logs and Redis data (default .pursuit/rehearsal)")
    reh.set_defaults(func=cmd_rehearse)

    eng = sub.add_parser("engine", help="the live engine only, against REDIS_URL: leads, or stands by to")
    eng.add_argument("--race", help="race directory (default: the Paris J-1000)")
    eng.set_defaults(func=cmd_engine)

    plan = sub.add_parser("plan", help="pre-race: expected winners per pen vs quota; head starts that meet it")
    plan.add_argument("--race", help="race directory (default: the Paris J-1000)")
    plan.add_argument("--quota", type=int, help="winners wanted (default: the race's quota)")
    plan.add_argument("--sigma", type=float, default=0.06, help="spread of actual vs declared times (log scale)")
    plan.add_argument("--results", nargs="+", help="last year's results (pipe-separated) instead of declared times")
    plan.set_defaults(func=cmd_plan)

    ev = sub.add_parser("evaluate", help="replay results files with splits as chases; report prediction accuracy")
    ev.add_argument(
        "--results",
        nargs="+",
        action="append",
        metavar="FILE",
        help="results file(s) with 5 km splits of one race; repeat the option for more races",
    )
    ev.add_argument(
        "--pursuer",
        action="append",
        help="bib of the runner who plays the pursuer ('winner': the fastest), one for all or one per race",
    )
    ev.add_argument("--delay", type=float, help="seconds the pursuer starts after the field")
    ev.add_argument(
        "--simulated",
        action="store_true",
        help="instead: the forecast over a simulated race (--race, default the J-1000; --seed) and its truth",
    )
    ev.add_argument("--race", help="race directory for --simulated (default: the Paris J-1000)")
    ev.add_argument("--seed", type=int, default=2021, help="simulation seed for --simulated (default 2021)")
    ev.add_argument(
        "--at", type=float, nargs="+", default=[0.5], help="fraction(s) of the course the pursuer has run (default 0.5)"
    )
    ev.add_argument(
        "--leave-one-out",
        dest="loo",
        action="store_true",
        help="score each race with a model fitted on the other races only (out of sample)",
    )
    ev.add_argument("--table", action="store_true", help="print the tables even for one race and one moment")
    ev.add_argument("--plot", help="write the forecast, its band and the true count over the (first) race (HTML)")
    ev.add_argument(
        "--out",
        help="write bib,predicted_status,predicted_margin_s,true_status,true_margin_s,"
        "win_probability CSV here (the first race, the first moment)",
    )
    ev.set_defaults(func=cmd_evaluate)

    ft = sub.add_parser("fit", help="fit the forecast model on races with splits (live/forecast_model.json)")
    ft.add_argument(
        "--results",
        nargs="+",
        action="append",
        required=True,
        metavar="FILE",
        help="results file(s) of one race; repeat the option for each race",
    )
    ft.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parent.parent / "live" / "forecast_model.json"),
        help="where to write the model (default: the shipped live/forecast_model.json)",
    )
    ft.set_defaults(func=cmd_fit)

    rp = sub.add_parser("replay", help="feed reader backup files (ChronoTrack, MYLAPS, JSON lines) through ingest")
    rp.add_argument("--race", help="race directory (default: the Paris J-1000)")
    rp.add_argument(
        "--date", help="date the race started, YYYY-MM-DD, for time-of-day reads (default: the race file's)"
    )
    rp.add_argument("files", nargs="+", help="backup files")
    rp.set_defaults(func=cmd_replay)

    tk = sub.add_parser("token", help="a new race-control operator token and its [[operators]] table for race.toml")
    tk.add_argument("name", help="the operator's name, as the audit log will show it")
    tk.set_defaults(func=cmd_token)

    rb = sub.add_parser("rebuild", help="recompute the live state from the journal and the admin log")
    rb.add_argument("--race", help="race directory (default: the Paris J-1000)")
    rb.set_defaults(func=cmd_rebuild)

    b = sub.add_parser("bench", help="performance figures (SPEC §8) as JSON, each with a same-run baseline")
    b.add_argument("what", choices=["tick", "ingest", "fanout", "browser", "replay", "fuzz"])
    b.add_argument("--lines", type=int, default=1_000_000, help="fuzz: hostile lines and messages, all protocols")
    b.add_argument("--seed", type=int, default=1, help="fuzz: seed of the hostile generator")
    b.add_argument("--race", help="fuzz: race directory (default: the Paris J-1000)")
    b.add_argument("--results", nargs="+", help="replay: results file(s) with 5 km splits (default: Berlin 2017)")
    b.add_argument("--reads-per-crossing", type=int, default=2, help="replay: raw reads per mat crossing (1-4)")
    b.add_argument("--ingestors", type=int, default=1, help="replay: ingest processes the mats are shared among")
    b.add_argument("--reads", type=int, default=100_000, help="ingest: raw reads to send")
    b.add_argument("--aof", action="store_true", help="ingest: Redis keeps its AOF, as on race day")
    b.add_argument("--rates", type=int, nargs="*", default=[3_000, 50_000],
                   help="ingest: steady reads/s at which read latency is measured (none: skip)")  # fmt: skip
    b.add_argument("--latency-seconds", type=float, default=4.0, help="ingest: seconds of reads per rate")
    b.add_argument("--layouts", nargs="+", choices=["serve", "split"], default=["serve", "split"],
                   help="ingest: latency via pursuit serve (one process), pursuit ingest + pursuit web")  # fmt: skip
    b.add_argument("--clients", type=int, nargs="+", default=[1_000, 5_000], help="fanout: client counts")
    b.add_argument("--balanced", action="store_true",
                   help="fanout: through HAProxy on 3 web processes relaying one engine (scale-out), then the "
                        "same clients on one of them directly (the same-run baseline)")  # fmt: skip
    b.add_argument("--client-processes", type=int, default=2, help="fanout: processes the clients are spread over")
    b.add_argument("--speed", type=float, default=10.0, help="fanout: simulated seconds per real second")
    b.add_argument(
        "--traffic-runners",
        type=int,
        default=40_000,
        help="fanout: field of the race measured for bytes per spectator and snapshot size (0: skip)",
    )
    b.add_argument(
        "--traffic-seconds",
        type=float,
        help="fanout: seconds of it measured (default: first gun to 10 min after the pursuer's finish)",
    )
    b.add_argument("--seconds", type=float, default=20.0, help="fanout, browser: seconds measured per size")
    b.add_argument("--runners", type=int, nargs="+", default=[3_600, 40_000], help="browser: field sizes")
    b.set_defaults(func=cmd_bench)

    sim = sub.add_parser("simulate", help="emulated readers in every protocol against a running ingestor")
    sim.add_argument("--race", help="race directory (default: the Paris J-1000)")
    sim.add_argument("--host", default="127.0.0.1", help="ingestor host")
    sim.add_argument("--ingest-port", type=int, default=None, help="ingestor ChronoTrack port (default: the race's)")
    sim.add_argument("--mylaps-port", type=int, default=None, help="ingestor MYLAPS T&S port (default: the race's)")
    sim.add_argument("--runners", type=int, help="simulate only this many runners")
    sim.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    sim.add_argument("--seed", type=int, default=2021)
    sim.add_argument(
        "--protocols",
        default="chronotrack",
        help="mat=protocol,… (others ChronoTrack), one of chronotrack|mylaps|raceresult|json for all, or 'mixed' "
        "(the start mat carries the guns: ChronoTrack or MYLAPS)",
    )
    sim.add_argument(
        "--raceresult-port",
        type=int,
        default=3601,
        help="RACE RESULT decoders without a [[readers.raceresult]] table listen here and upwards; the tables the "
        "ingestor's race file needs are printed",
    )
    sim.add_argument("--clock-offset", type=float, default=0.0, help="RACE RESULT decoders' clock minus race time (s)")
    sim.add_argument("--web", help="web app URL for JSON readers (tokens from PURSUIT_READER_TOKENS)")
    sim.add_argument("--faults", help="drop,dup,garble,unknown,pursuer-miss,silent or all")
    sim.add_argument("--late", type=float, default=6.0, help="reports delivered up to this many seconds late")
    sim.add_argument("--miss-rate", type=float, default=0.0, help="chance a mat does not read a crossing at all")
    sim.add_argument("--record", metavar="DIR", help="write every reader's backup file here (for pursuit replay)")
    sim.add_argument(
        "--results",
        nargs="+",
        help="replay a real results file with 5 km splits as a chase instead: its race is written to --race DIR "
        "(default .pursuit/replay/<id>) for `pursuit serve --race DIR`; --speed 0 plays as fast as possible",
    )
    sim.add_argument("--pursuer", help="with --results: bib of the runner who plays the pursuer")
    sim.add_argument("--delay", type=float, help="with --results: seconds the pursuer starts after the field")
    sim.set_defaults(func=cmd_simulate)
    return parser


def one_blas_thread() -> None:
    """The forecast's matrix products are small: split over every core, they wait on whatever else
    the machine runs (a web process, Redis). With the other core busy, 100,000 runners ticked in
    126–139 ms with two BLAS threads against 103–108 ms with one (docs/BENCHMARKS.md)."""
    import numpy  # noqa: F401  (its BLAS must be loaded for the limit to reach it)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.settings = Settings.from_env()  # the environment, read once here and handed down
    except ValueError as exc:
        print(f"pursuit: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    one_blas_thread()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
