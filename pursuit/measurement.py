"""The commands that measure pursuit rather than run a race: how well the forecast predicted real
races (``evaluate``), the forecast model fitted on them (``fit``), and the performance figures
(``bench``; this is the one module that imports ``pursuit.bench``). Each takes the options
``pursuit/cli.py`` parsed and returns the exit status."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pursuit.operations import race_or_exit


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Replay results files as chases and print how well the engine predicted them."""
    import csv

    import orjson

    from live.forecast.results import ResultsError
    from simulator.evaluation import RaceFiles, evaluate_races, fit_races, forecast_history, simulated_history
    from simulator.report import evaluation_tables, forecast_history_plot, history_table, reliability_plot

    if args.simulated:
        race = race_or_exit(args.race)
        history, truth = simulated_history(race, args.seed)
        print(history_table(history, truth, race.quota))
        if args.plot:
            forecast_history_plot(
                history, truth, race.quota, args.plot, f"{race.name}: forecast of winners (simulated)"
            )
        return 0
    groups = args.results
    if args.catcher_car:
        return _evaluate_catcher_car(args)
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
        for line in (line for r in races for line in r.report()):
            print(f"pursuit evaluate: {line}", file=sys.stderr)
        evaluations = evaluate_races(races, pursuers, args.delay, args.at, args.loo, args.dropouts, args.dropout_seed)
        if args.plot:
            model = fit_races(races[1:]) if args.loo else None
            history, truth = forecast_history(races[0], pursuers[0], args.delay, model)
            title = f"{races[0].name}: forecast of winners over the chase" + (" (out of sample)" if args.loo else "")
            forecast_history_plot(history, truth, None, args.plot, title)
            reliability = reliability_path(args.plot)
            reliability_plot(
                evaluations,
                reliability,
                "Calibration: predicted vs observed win rate per decile" + (" (out of sample)" if args.loo else ""),
            )
            print(f"pursuit evaluate: plots written to {args.plot} and {reliability}", file=sys.stderr)
    except (ResultsError, ValueError, OSError) as exc:
        print(f"pursuit evaluate: {exc}", file=sys.stderr)
        return 2
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                ["bib", "predicted_status", "predicted_margin_s", "true_status", "true_margin_s", "win_probability"]
            )
            writer.writerows(evaluations[0].rows())
    if len(evaluations) == 1 and not args.table:
        print(orjson.dumps(evaluations[0].summary()).decode())
    else:
        print(evaluation_tables(evaluations))
    return 0


def _evaluate_catcher_car(args: argparse.Namespace) -> int:
    """``pursuit evaluate --catcher-car``: the races under the World Run's car, milestone counts scored."""
    from live.forecast.results import ResultsError
    from simulator.catcher_evaluation import catcher_table, evaluate_catcher_races
    from simulator.evaluation import RaceFiles

    if not args.results or (args.loo and len(args.results) < 2):
        print(
            "pursuit evaluate --catcher-car: give --results (two or more groups with --leave-one-out)", file=sys.stderr
        )
        return 2
    try:
        scores = evaluate_catcher_races([RaceFiles.load(g) for g in args.results], args.hours, args.loo)
    except (ResultsError, ValueError, OSError) as exc:
        print(f"pursuit evaluate: {exc}", file=sys.stderr)
        return 2
    print(catcher_table(scores))
    return 0


def reliability_path(plot: str) -> str:
    """Where ``--plot FILE.html`` puts the reliability plot: ``FILE-reliability.html`` beside it."""
    stem = plot[: -len(".html")] if plot.endswith(".html") else plot
    return f"{stem}-reliability.html"


def cmd_fit(args: argparse.Namespace) -> int:
    """Fit the forecast model on races with splits and write it as JSON."""
    from live.forecast.results import ResultsError
    from simulator.evaluation import RaceFiles, fit_races

    try:
        races = [RaceFiles.load(g) for g in args.results]
        for line in (line for r in races for line in r.report()):
            print(f"pursuit fit: {line}", file=sys.stderr)
        model = fit_races(races)
        model.save(args.out)
    except (ResultsError, ValueError, OSError) as exc:
        print(f"pursuit fit: {exc}", file=sys.stderr)
        return 2
    print(f"pursuit fit: {len(args.results)} race(s) ({', '.join(model.trained_on)}) -> {args.out}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run one benchmark and print its JSON, always: a bench that raises is reported as its error and
    the last lines of its traceback. Exit status 1 when anything failed (``failures``) or a target
    was missed (``targets_missed``), else 0."""
    import traceback

    import orjson

    from pursuit.progress import Progress

    with Progress(f"pursuit bench {args.what}") as progress:
        try:
            result = _run_bench(args)
        except Exception as exc:  # the JSON says what failed; the exit status says that it did
            where = traceback.format_exception(exc)[-3:]
            result = {
                "bench": args.what,
                "failures": [f"{type(exc).__name__}: {exc}"],
                "traceback": "".join(where).strip().splitlines(),
            }
        if "targets" not in result:
            from pursuit.bench.targets import bench_targets

            result["targets"] = bench_targets(args.what, result)
            result["targets_missed"] = [name for name, t in result["targets"].items() if not t["met"]]
        progress.table(f"pursuit bench {args.what}", result)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode(), flush=True)
    return 1 if result.get("failures") or result.get("targets_missed") else 0


def _run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """The bench ``args.what`` names, with its options."""
    if args.what == "tick" and args.cluster:
        from pursuit.bench.cluster import bench_tick_cluster

        result = bench_tick_cluster(args.races, args.race_runners)
    elif args.what == "tick":
        from pursuit.bench.tick import bench_tick

        result = bench_tick()
    elif args.what == "ingest":
        from pursuit.bench.ingest import bench_ingest

        result = bench_ingest(
            args.reads, aof=args.aof, rates=tuple(args.rates), seconds=args.latency_seconds, layouts=tuple(args.layouts)
        )
    elif args.what == "replay":
        from pursuit.bench.replay import bench_replay

        runners = args.runners[0] if len(args.runners) == 1 else None  # --runners N; browser's default: all
        result = bench_replay(
            args.results, runners, reads_per_crossing=args.reads_per_crossing, ingestors=args.ingestors
        )
    elif args.what == "fuzz":
        from pursuit.bench.fuzz import run_fuzz

        result = run_fuzz(args.lines, args.seed, race_or_exit(args.race).directory)
    elif args.what == "feedbytes":
        from pursuit.bench.feedbytes import bench_feedbytes

        result = bench_feedbytes(tuple(args.runners))
    elif args.what == "browser":
        from pursuit.bench.browser import bench_browser

        result = bench_browser(tuple(args.runners), seconds=args.seconds)
    elif args.balanced:
        from pursuit.bench.balanced import bench_fanout_balanced

        result = bench_fanout_balanced(
            tuple(args.clients),
            seconds=args.seconds,
            speed=args.speed,
            procs=args.client_processes,
            cluster=args.cluster,
        )
    else:
        from pursuit.bench.fanout import bench_fanout

        result = bench_fanout(
            tuple(args.clients),
            seconds=args.seconds,
            speed=args.speed,
            procs=args.client_processes,
            traffic_runners=args.traffic_runners,
            traffic_seconds=args.traffic_seconds,
        )
    return result
