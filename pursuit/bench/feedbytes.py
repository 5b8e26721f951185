"""``pursuit bench feedbytes``: what a spectator who follows nobody receives during a generated race,
and the snapshot a joining one gets, for the feed as served (positions resent only past what the
browser extrapolates, ``web.feed_rows``) and, in the same run, for the rule before it (every new
passing resent), the baseline. Virtual time, no sockets: ``pursuit.bench.fanout.race_traffic``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pursuit.bench.common import machine, race_with_runners
from pursuit.bench.fanout import race_traffic

BYTES_TARGET = 2_000  # bytes per spectator per second, at 40,000 runners (issue 27)
SNAPSHOT_TARGET = 100_000  # the snapshot as sent gzipped to a joining spectator, at 40,000 runners
TARGET_RUNNERS = 40_000


def _summary(traffic: dict[str, Any], wall_s: float) -> dict[str, Any]:
    return {
        "bytes_per_client_per_s": traffic["bytes_per_client_per_s"],
        "bytes_per_gzip_client_per_s": traffic["bytes_per_gzip_client_per_s"],
        "tick_bytes": traffic["tick_bytes"],
        "snapshot_bytes": traffic["snapshot"]["bytes"],
        "snapshot_gzip_bytes": traffic["snapshot"]["gzip_bytes"],
        "least_compressible_snapshot_gzip_by_array": traffic["snapshot"]["least_compressible_by_array"],
        "wall_s": round(wall_s, 1),
    }


def bench_feedbytes(runners: tuple[int, ...] = (TARGET_RUNNERS,), tick_s: float = 1.0) -> dict[str, Any]:
    """For each field size, every ``tick_s`` tick from the first gun to 10 min after the pursuer's finish,
    with the position rule as served and the baseline rule; targets at ``TARGET_RUNNERS``."""
    out: dict[str, Any] = {
        "bench": "feedbytes",
        "machine": machine(),
        "target": f"<= {BYTES_TARGET:,} bytes/s per spectator and a snapshot <= {SNAPSHOT_TARGET:,} bytes "
        f"gzipped at {TARGET_RUNNERS:,} runners",
        "results": [],
    }
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in runners:
            try:
                race = race_with_runners(n, Path(tmp) / f"race-{n}")
                row: dict[str, Any] = {"runners": n, "race_seconds": 0}
                for name, rule in (("baseline_every_passing", None), ("served", -1.0)):
                    started = time.perf_counter()
                    traffic = race_traffic(race, tick_s, position_resend_m=rule)
                    row[name] = _summary(traffic, time.perf_counter() - started)
                    row["race_seconds"] = traffic["race_seconds"]
                base, served = row["baseline_every_passing"], row["served"]
                row["ratio_to_baseline"] = {
                    "bytes_per_client_per_s": round(
                        served["bytes_per_client_per_s"] / base["bytes_per_client_per_s"], 2
                    ),
                    "snapshot_gzip_max": round(
                        served["snapshot_gzip_bytes"]["max"] / base["snapshot_gzip_bytes"]["max"], 2
                    ),
                }
                out["results"].append(row)
            except Exception as exc:  # reported in the JSON, whatever it was
                failures.append(f"{n:,} runners: {type(exc).__name__}: {exc}")
    out["targets"] = feedbytes_targets(out["results"])
    out["targets_missed"] = [name for name, t in out["targets"].items() if not t["met"]]
    out["failures"] = failures
    return out


def _target(target: str, measured: Any, met: bool) -> dict[str, Any]:
    return {"target": target, "measured": measured, "met": bool(met)}


def feedbytes_targets(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The two targets at ``TARGET_RUNNERS`` (none if that size was not measured)."""
    out: dict[str, dict[str, Any]] = {}
    for row in results:
        if row["runners"] == TARGET_RUNNERS:
            served = row["served"]
            rate, snap = served["bytes_per_client_per_s"], served["snapshot_gzip_bytes"]["max"]
            out["bytes_per_spectator"] = {
                "target": f"<= {BYTES_TARGET:,} B/s",
                "measured": rate,
                "met": rate <= BYTES_TARGET,
            }
            out["snapshot_gzip"] = {
                "target": f"<= {SNAPSHOT_TARGET:,} B",
                "measured": snap,
                "met": snap <= SNAPSHOT_TARGET,
            }
    return out


__all__ = ["bench_feedbytes"]
