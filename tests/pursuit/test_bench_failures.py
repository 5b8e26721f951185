"""``pursuit bench`` reports what failed instead of crashing: spectators refused at the web process's
cap, a client process that dies, a ``/metrics`` scrape refused, a bench that raises — each ends in the
JSON with a non-zero exit status. Small numbers: seconds each."""

from __future__ import annotations

import subprocess
import sys

import orjson

from pursuit.bench.fanout import _Demo
from pursuit.bench.fanout_run import _client_outcome, fanout_per_tick, fanout_targets, run_clients, scrape_all
from pursuit.cli import main
from pursuit.redis_server import free_port
from pursuit.settings import MAX_CONNECTIONS_ENV

CAP = 3


def test_spectators_beyond_the_cap_are_reported_as_refused_in_words(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_CONNECTIONS_ENV, str(CAP))  # the demo process takes it from its environment
    demo = _Demo(tmp_path / "demo", speed=10.0)
    try:
        full = run_clients(demo, CAP, 1.0, 1)  # exactly the cap: every one held
        run = run_clients(demo, 5, 2.0, 2)  # right after: the last window's clients are gone first
    finally:
        demo.close()
    assert full["held_to_the_end"] == CAP and full["refused"] == {} and "failures" not in full
    assert run["clients"] == 5 and run["connected"] == run["held_to_the_end"] == CAP
    assert run["failed"] == 2 and run["unreported_clients"] == 0
    assert run["refused"] == {
        f"closed with 1013 before the first message: server full ({CAP} connections): try again in 5 s": 2
    }
    assert run["server_max_connections"] == CAP, "/metrics answered at the cap"
    assert run["server_refused"]["websocket"] >= 2
    assert run["server_fanout_per_tick"]["ticks"] >= 1 and "failures" not in run
    targets = fanout_targets({"results": [run]})
    assert targets["clients_5_held"]["met"], "every client up to the cap held"
    assert targets["clients_5_refused_beyond_the_cap"]["met"]
    assert not targets["clients_5_p99_to_bare"]["met"], "no bare server ran: no ratio, not met"


def test_a_client_process_that_dies_is_reported_with_what_it_said(tmp_path):
    code = "import sys; sys.stderr.write('Traceback ...\\nOSError: [Errno 24] Too many open files\\n'); sys.exit(3)"
    (tmp_path / "clients-9-0.err").write_text("")
    with (tmp_path / "clients-9-0.err").open("w") as err:
        process = subprocess.Popen([sys.executable, "-c", code], stderr=err, text=True)
        process.wait()
    failures: list[str] = []
    assert _client_outcome(tmp_path, 9, 0, process, failures) is None
    assert failures == [
        "client process 0 of 9 exited with 3 and no result: Traceback ... | OSError: [Errno 24] Too many open files"
    ]
    (tmp_path / "clients-9-1.json").write_bytes(orjson.dumps({"clients": 4, "error": "ValueError: no"}))
    assert _client_outcome(tmp_path, 9, 1, process, failures) is None
    assert failures[-1] == "client process 1 of 9 failed (exit 3): ValueError: no"


def test_a_refused_metrics_scrape_is_reported_not_raised():
    port = free_port()  # nothing listens there
    failures: list[str] = []
    assert scrape_all([port], failures, "before") is None
    assert len(failures) == 1 and failures[0].startswith(f"/metrics on port {port} before the window: ")
    assert "Connection refused" in failures[0]
    assert fanout_per_tick(None, None, 10) == {"ticks": 0}


def test_a_bench_that_raises_still_prints_its_json_and_fails(capsys, tmp_path):
    missing = tmp_path / "no-such-results.csv"
    assert main(["bench", "replay", "--results", str(missing)]) == 1
    result = orjson.loads(capsys.readouterr().out)
    assert result["bench"] == "replay"
    assert result["failures"] == [f"FileNotFoundError: [Errno 2] No such file or directory: '{missing}'"]
    assert any("load_results" in line for line in result["traceback"])


def test_a_missed_target_is_named():
    run = {"clients": 100, "held_to_the_end": 97, "delay_from_server_send": {"p99_ms": 612.0}, "refused": {},
           "ratio_to_bare_server": {"delay_from_server_send_p99": 1.1}}  # fmt: skip
    traffic = {"bytes_per_client_per_s": 5_571, "snapshot": {"gzip_bytes": {"max": 195_000}}}
    targets = fanout_targets({"results": [run], "traffic": {"real_time_in_virtual_time": traffic}})
    assert {name for name, t in targets.items() if not t["met"]} == {
        "clients_100_held", "clients_100_p99", "bytes_per_spectator"
    }  # fmt: skip
    assert targets["clients_100_p99_to_bare"] == {"target": "p99 <= 1.2 x the bare server's", "measured": 1.1,
                                                  "met": True}  # fmt: skip


def test_the_other_benches_are_checked_against_their_targets():
    from pursuit.bench.targets import bench_targets

    tick = {"results": [{"runners": 3_600, "tick_ms": 4.0}, {"runners": 40_000, "tick_ms": 14.1},
                        {"runners": 40_000, "no_new_passings": True, "tick_ms": 5.2},
                        {"runners": 40_000, "course": "marathon", "tick_ms": 80.0}]}  # fmt: skip
    assert bench_targets("tick", tick) == {
        "tick_40000": {"target": "<= 15 ms", "measured": 14.1, "met": True},
        "tick_quiet": {"target": "<= 5 ms", "measured": 5.2, "met": False},
        "tick_berlin": {"target": "<= 15 ms", "measured": 80.0, "met": False},
    }
    assert bench_targets("ingest", {"reads_per_s": 133_010, "target_reads_per_s": 100_000})["reads_per_s"]["met"]
    assert not bench_targets("replay", {"wall_s": 61.0})["wall_s"]["met"]
    fuzz = {"process_up": True, "tracebacks_in_log": 0, "good_reads": 10, "good_reads_applied": 9}
    assert {k: t["met"] for k, t in bench_targets("fuzz", fuzz).items()} == {
        "no_crash": True, "good_reads_applied": False
    }  # fmt: skip
    assert bench_targets("browser", {}) == {}
