"""``pursuit``: the command line. Thin: it parses options and starts the parts. The options and help
of every command are here; the commands themselves are in ``pursuit/operations.py`` (preparing and
running a race) and ``pursuit/measurement.py`` (``evaluate``, ``fit``, ``bench``)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path

from pursuit.measurement import cmd_bench, cmd_evaluate, cmd_fit
from pursuit.operations import (
    cmd_demo,
    cmd_engine,
    cmd_plan,
    cmd_race_check,
    cmd_rebuild,
    cmd_rehearse,
    cmd_replay,
    cmd_serve,
    cmd_simulate,
    cmd_token,
)
from pursuit.settings import Settings

ENVIRONMENT = """environment (docs/OPERATIONS.md):
  REDIS_URL                    redis://host:6379/0, or redis+sentinel://h1:26379,h2:26379/pursuit/0
                               (default redis://127.0.0.1:6379/0; pursuit demo starts its own)
  PURSUIT_ADMIN_TOKEN          race control's shared token (the variable race.toml's admin_token_env names)
  PURSUIT_READER_TOKENS        finish=...,gps=...: the JSON readers of /ingest/ws
  PURSUIT_CORS_ORIGINS         comma-separated origins that may read the API from a browser
  PURSUIT_FORWARDED_ALLOW_IPS  load balancers trusted to name the client (default 127.0.0.1,::1)
  PURSUIT_LOOP                 uvloop or asyncio (default)
  [readers] secret_env         names the variable holding the ChronoTrack readers' secret"""


def _port(text: str) -> int:
    """A TCP port, 1–65535."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"expected a TCP port 1–65535, got {text!r}")
    return port


def _race_day(text: str) -> str:
    """``--date``: a calendar date, YYYY-MM-DD (kept as text for the command)."""
    try:
        date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected the date the race started, YYYY-MM-DD, got {text!r}") from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pursuit",
        description="Race-day tracking for chase races.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    demo.add_argument("--port", type=_port, default=8000, help="web port (default 8000)")
    demo.add_argument("--ingest-port", type=_port, default=None, help="ChronoTrack port (default: the race's, 61611)")
    demo.add_argument("--seed", type=int, default=2021, help="simulation seed")
    demo.set_defaults(func=cmd_demo)

    for name, help_text, ingest, web in (
        ("serve", "ingestor + web against REDIS_URL (production)", True, True),
        ("ingest", "the ingestor only, against REDIS_URL", True, False),
        ("web", "the web app (API + dashboard) only, against REDIS_URL", False, True),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--race", help="race directory (default: the Paris J-1000)")
        p.add_argument(
            "--host",
            default="0.0.0.0",
            help="address to listen on (default 0.0.0.0, every interface"
            + ("; the reader ports take [readers] host from race.toml if it is set)" if ingest else ")"),
        )
        if web:
            p.add_argument("--port", type=_port, default=8000, help="web port (default 8000)")
        if ingest:
            where = "the race's [readers] {}_port, else {}"
            p.add_argument(
                "--ingest-port", type=_port, help=f"ChronoTrack port (default: {where.format('chronotrack', 61611)})"
            )
            p.add_argument(
                "--mylaps-port", type=_port, help=f"MYLAPS T&S port (default: {where.format('mylaps', 3097)})"
            )
        if web:
            p.add_argument(
                "--no-engine",
                dest="engine",
                action="store_false",
                help="never run the live engine here: relay the ticks of the process that does",
            )
        p.set_defaults(func=lambda a, i=ingest, w=web: cmd_serve(a, ingest=i, web=w))

    reh = sub.add_parser("rehearse", help="the scale-out layout on this machine with faults; prints what it measured")
    reh.add_argument("--race", help="race directory (default: the Paris J-1000)")
    reh.add_argument("--runners", type=int, default=300, help="runners simulated (default 300)")
    reh.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second (default 60)")
    reh.add_argument("--seed", type=int, default=5, help="simulation seed")
    reh.add_argument("--dir", default=".pursuit/rehearsal", help="logs and Redis data (default .pursuit/rehearsal)")
    reh.set_defaults(func=cmd_rehearse)

    eng = sub.add_parser(
        "engine", help="the live engine only, against REDIS_URL: leads while it holds the engine lease, else stands by"
    )
    one_of = eng.add_mutually_exclusive_group()
    one_of.add_argument("--race", help="race directory (default: the Paris J-1000)")
    one_of.add_argument(
        "--event",
        metavar="DIR",
        help="join the engine pool of this event: processes given the same event share its races "
        "(each leads at most its fair share; a dead one's races are taken over within 3 s)",
    )
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
    ev.add_argument(
        "--catcher-car",
        dest="catcher_car",
        action="store_true",
        help="instead: replay the --results races under the World Run's catcher car (30 min behind, its "
        "schedule); score the forecast count still running at 10, 21.1 and 30 km at --hours",
    )
    ev.add_argument(
        "--hours", type=float, nargs="+", default=[1.0, 2.0], help="for --catcher-car: hours after the car's start"
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
    ev.add_argument(
        "--dropouts",
        type=float,
        default=0.0,
        help="make this share of each race's runners (e.g. 0.02) stop at a random split point and never finish",
    )
    ev.add_argument("--dropout-seed", type=int, default=26, help="seed of the --dropouts draw (default 26)")
    ev.add_argument("--table", action="store_true", help="print the tables even for one race and one moment")
    ev.add_argument(
        "--plot",
        help="write the forecast, its band and the true count over the (first) race (HTML), "
        "and beside it FILE-reliability.html: predicted vs observed per decile with its 95 %% interval",
    )
    ev.add_argument(
        "--out",
        help="write bib,predicted_status,predicted_margin_s,true_status,true_margin_s,"
        "win_probability CSV here (the first race, the first moment)",
    )
    ev.set_defaults(func=cmd_evaluate)

    ft = sub.add_parser("fit", help="fit the forecast model on races with splits (live/forecast/model.json)")
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
        default=str(Path(__file__).resolve().parent.parent / "live" / "forecast" / "model.json"),
        help="where to write the model (default: the shipped live/forecast/model.json)",
    )
    ft.set_defaults(func=cmd_fit)

    rp = sub.add_parser(
        "replay", help="feed reader backup files (ChronoTrack, MYLAPS, RACE RESULT, JSON lines) through ingest"
    )
    rp.add_argument("--race", help="race directory (default: the Paris J-1000)")
    rp.add_argument(
        "--date",
        type=_race_day,
        help="date the race started, YYYY-MM-DD, for time-of-day reads (default: the race file's)",
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
    b.add_argument("what", choices=["tick", "ingest", "fanout", "feedbytes", "browser", "replay", "fuzz"])
    b.add_argument("--lines", type=int, default=1_000_000, help="fuzz: hostile lines and messages, all protocols")
    b.add_argument("--seed", type=int, default=1, help="fuzz: seed of the hostile generator")
    b.add_argument("--race", help="fuzz: race directory (default: the Paris J-1000)")
    b.add_argument("--results", nargs="+", help="replay: results file(s) with 5 km splits (default: Berlin 2017)")
    b.add_argument("--reads-per-crossing", type=int, default=2, help="replay: raw reads per mat crossing (1-4)")
    b.add_argument("--ingestors", type=int, default=1, help="replay: ingest processes the mats are shared among")
    b.add_argument("--reads", type=int, default=100_000, help="ingest: raw reads to send")
    b.add_argument("--aof", action="store_true", help="ingest: Redis keeps its AOF, as on race day")
    b.add_argument(
        "--rates",
        type=int,
        nargs="*",
        default=[3_000, 50_000],
        help="ingest: steady reads/s at which read latency is measured (none: skip)",
    )
    b.add_argument("--latency-seconds", type=float, default=4.0, help="ingest: seconds of reads per rate")
    b.add_argument(
        "--layouts",
        nargs="+",
        choices=["serve", "split"],
        default=["serve", "split"],
        help="ingest: latency via pursuit serve (one process), pursuit ingest + pursuit web",
    )
    b.add_argument("--clients", type=int, nargs="+", default=[1_000, 5_000], help="fanout: client counts")
    b.add_argument(
        "--balanced",
        action="store_true",
        help="fanout: through HAProxy on 3 web processes relaying one engine (scale-out), then the "
        "same clients on one of them directly (the same-run baseline)",
    )
    b.add_argument(
        "--cluster",
        action="store_true",
        help="tick, fanout --balanced: also on a Redis Cluster of 3 masters and 3 replicas, one redis-server "
        "the same-run baseline",
    )
    b.add_argument("--races", type=int, default=6, help="tick --cluster: races at once")
    b.add_argument("--race-runners", type=int, default=5_000, help="tick --cluster: runners per race")
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
    b.add_argument("--runners", type=int, nargs="+", default=[3_600, 40_000], help="browser, feedbytes: field sizes")
    b.set_defaults(func=cmd_bench)

    sim = sub.add_parser("simulate", help="emulated readers in every protocol against a running ingestor")
    sim.add_argument("--race", help="race directory (default: the Paris J-1000)")
    sim.add_argument("--host", default="127.0.0.1", help="ingestor host")
    sim.add_argument("--ingest-port", type=_port, default=None, help="ingestor ChronoTrack port (default: the race's)")
    sim.add_argument("--mylaps-port", type=_port, default=None, help="ingestor MYLAPS T&S port (default: the race's)")
    sim.add_argument("--runners", type=int, help="simulate only this many runners")
    sim.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    sim.add_argument("--seed", type=int, default=2021, help="simulation seed (default 2021)")
    sim.add_argument(
        "--protocols",
        default="chronotrack",
        help="mat=protocol,… (others ChronoTrack), one of chronotrack|mylaps|raceresult|json for all, or 'mixed' "
        "(the start mat carries the guns: ChronoTrack or MYLAPS)",
    )
    sim.add_argument(
        "--raceresult-port",
        type=_port,
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
