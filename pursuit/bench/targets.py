"""What each ``pursuit bench`` result is checked against (SPEC §8), for its exit status: each target,
what was measured for it and whether it was met. ``pursuit bench fanout`` checks its own
(``pursuit.bench.fanout_run.fanout_targets``); the others' are read from their results here."""

from __future__ import annotations

from typing import Any

# the tick's targets (issue 27), ms: by field size; "berlin": the marathon at halfway; "quiet": 40,000
# runners and no new passing
TICK_TARGETS_MS = {3_600: None, 40_000: 15.0, 100_000: 35.0, "berlin": 15.0, "quiet": 5.0}
REPLAY_TARGET_S = 60.0  # a whole marathon end to end


def _target(target: str, measured: Any, met: bool) -> dict[str, Any]:
    return {"target": target, "measured": measured, "met": bool(met)}


def bench_targets(what: str, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The targets of bench ``what`` checked against its ``result`` (none for a bench without one)."""
    out: dict[str, dict[str, Any]] = {}
    if what == "tick":
        for row in result.get("results", []):
            key = "berlin" if "course" in row else "quiet" if row.get("no_new_passings") else row.get("runners")
            wanted = TICK_TARGETS_MS.get(key)
            if wanted is not None:
                name = f"tick_{key}"
                out[name] = _target(f"<= {wanted:g} ms", row["tick_ms"], row["tick_ms"] <= wanted)
    elif what == "ingest" and "reads_per_s" in result:
        wanted = result.get("target_reads_per_s", 100_000)
        out["reads_per_s"] = _target(f">= {wanted:,} reads/s", result["reads_per_s"], result["reads_per_s"] >= wanted)
    elif what == "replay" and "wall_s" in result:
        out["wall_s"] = _target(f"<= {REPLAY_TARGET_S:g} s", result["wall_s"], result["wall_s"] <= REPLAY_TARGET_S)
    elif what == "fuzz" and "tracebacks_in_log" in result:
        crashed = (not result["process_up"]) or result["tracebacks_in_log"] > 0
        out["no_crash"] = _target("the server up, no traceback in its log", not crashed, not crashed)
        out["good_reads_applied"] = _target(
            f"all {result['good_reads']:,} good reads applied",
            result["good_reads_applied"],
            result["good_reads_applied"] == result["good_reads"],
        )
    return out
