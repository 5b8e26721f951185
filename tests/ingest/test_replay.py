"""Replay of backup files and rebuild from the journal end in the same passings as live ingest."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from datetime import datetime

import orjson
import pytest

from ingest.chronotrack_server import ChronoTrackServer
from ingest.replay import REASONS_KEPT, REASONS_LOGGED, detect_protocol, rebuild, replay_files
from live.clock import RaceClock
from live.store.store import Store
from simulator.run import simulate
from tests.helpers import eventually


async def _at_least(store, n: int) -> bool:
    return len(await passings(store)) >= n


async def passings(store) -> dict:
    return {(p.bib, p.tp): p.time for p in await store.passings_after() if p.time == p.time}


def local(paris, hms: str) -> float:
    d = paris.pursuer.planned_start.date()
    h, m, s = hms.split(":")
    return datetime(d.year, d.month, d.day, int(h), int(m), tzinfo=paris.timezone).timestamp() + float(s)


def test_protocol_detection():
    assert detect_protocol(b"CT01_33~1~finish~1234~14:02:15.31~0~POINTCAM~0\r\n") == "ctp01"
    assert detect_protocol(b"Finish@Passing@t=1|c=2@1@$") == "mylaps"
    assert detect_protocol(b'{"reader": "finish"}') == "json"
    with pytest.raises(ValueError, match="cannot tell"):
        detect_protocol(b"hello")


async def test_backup_files_of_three_protocols(redis, paris, tmp_path):
    store = Store(redis, paris)
    await store.setup()
    a, b, c = (p.chips[0] for p in paris.participants[200:203])
    (tmp_path / "start.ctp").write_text(
        f"CT01_33~1~start~guntime~10:00:00.00~0~A~0\r\nCT01_33~2~start~{a}~10:00:05.50~0~A~1\r\n"
        f"CT01_33~3~start~{a}~10:00:05.90~0~A~1\r\nCT01_33~4~start~broken\r\n",
        encoding="ascii",
    )
    (tmp_path / "concorde.mylaps").write_text(
        f"concorde@Passing@t=10:09:00.100|c={b}|d=211031@t=10:09:01.000|c={a}|d=211031@1@$\r\n", encoding="ascii"
    )
    t = local(paris, "10:30:00")
    (tmp_path / "finish.jsonl").write_text(orjson.dumps({"reader": "finish", "chip": c, "t": t}).decode() + "\n")
    report = await replay_files(paris, store, sorted(tmp_path.iterdir()))
    assert (report.reads, report.guns, report.errors) == (5, 1, 1)
    assert "start.ctp: line 4" in report.reasons[0]
    got = await passings(store)
    bib = {p.chips[0]: p.bib for p in paris.participants[200:203]}
    assert got[(bib[a], 0)] == pytest.approx(local(paris, "10:00:05.50"), abs=0.001)
    assert got[(bib[a], 2)] == pytest.approx(local(paris, "10:09:01"), abs=0.001)
    assert got[(bib[c], 6)] == pytest.approx(t, abs=0.001)
    assert (await store.guns())["pen:1"] == pytest.approx(local(paris, "10:00:00"), abs=0.001)
    before = got
    await replay_files(paris, store, sorted(tmp_path.iterdir()))  # a second replay changes nothing
    assert await passings(store) == before


async def test_rebuild_from_the_journal_equals_the_live_state(redis, paris):
    store = Store(redis, paris)
    await store.setup()
    wall = time.time()
    clock = RaceClock(origin_wall=wall, origin_race=wall, speed=500.0)
    await store.set_clock(clock)
    server = ChronoTrackServer(paris, store, host="127.0.0.1", port=0)
    await server.start()
    try:
        await simulate(paris, "127.0.0.1", server.port, clock=clock, first_gun=clock.now() + 10, seed=3, runners=60)
        every = 61 * len(paris.timing_points)  # 60 runners and the pursuer at every timing point
        await eventually(lambda: _at_least(store, every))
    finally:
        await server.close()
    bib = paris.participants[300].bib
    await store.log_admin("set_status", {"bib": bib, "status": "dq"})
    await store.set_manual_status(bib, "dq")
    live_passings, live_guns = await passings(store), await store.guns()
    assert len(live_passings) == 61 * len(paris.timing_points)

    report = await rebuild(paris, store)
    assert report.errors == 0 and report.admin_actions == 1
    assert await passings(store) == live_passings
    assert await store.guns() == live_guns
    assert await store.manual_statuses() == {bib: "dq"}


def test_cli_replay_against_a_redis(redis_server, tmp_path, paris):
    (tmp_path / "f.ctp").write_text(f"CT01_33~1~finish~{paris.participants[9].chips[0]}~10:31:00.00~0~A~1\n")
    env = {"REDIS_URL": redis_server.url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "pursuit.cli", "replay", str(tmp_path / "f.ctp")],
                            capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["reads"] == 1


def test_cli_replay_names_the_file_it_cannot_read_and_a_bad_date(redis_server, tmp_path):
    (tmp_path / "good.ctp").write_text("CT01_33~1~finish~058A3F~10:31:00.00~0~A~1\n")
    (tmp_path / "notes.txt").write_text("hello world\n")
    env = {"REDIS_URL": redis_server.url, "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "pursuit.cli", "replay"]
    result = subprocess.run([*run, str(tmp_path / "good.ctp"), str(tmp_path / "notes.txt")],
                            capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert result.returncode == 2
    assert f"pursuit replay: {tmp_path / 'notes.txt'}: cannot tell the protocol of b'hello world'" in result.stderr
    result = subprocess.run([*run, "--date", "2026-13-01", str(tmp_path / "good.ctp")],
                            capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert result.returncode == 2 and "argument --date: expected the date the race started" in result.stderr


async def test_a_race_result_passing_file_names_its_mat_in_box_name_and_survives_rebuild(redis, paris, tmp_path):
    store = Store(redis, paris)
    await store.setup()
    a, b = (p.chips[0] for p in paris.participants[300:302])
    assert detect_protocol(b"1;33;0000-00-00;00:00:02.773;6692;12;-68;09ca52\r\n") == "raceresult"
    (tmp_path / "decoder.txt").write_text(
        f"1;{a};0000-00-00;10:40:01.250;0;12;-51;0;0;;;0;;;;;FINISH;1;1;0A1B\r\n"
        f"2;{b};0000-00-00;10:40:02.500;0;3;-60;0;0;;;0;;;;;finish;1;1;0A1B\r\n"
        f"3;{b};0000-00-00;10:40:03.000;0;3;-60;0;0;;;0;;;;;nowhere;1;1;0A1B\r\n",
        encoding="ascii",
    )
    report = await replay_files(paris, store, [tmp_path / "decoder.txt"])
    assert (report.reads, report.errors) == (2, 1) and "'nowhere' is no mat" in report.reasons[0]
    bib = {p.chips[0]: p.bib for p in paris.participants[300:302]}
    expected = {(bib[a], 6): local(paris, "10:40:01.250"), (bib[b], 6): local(paris, "10:40:02.5")}
    assert await passings(store) == pytest.approx(expected, abs=0.001)
    await rebuild(paris, store)
    assert await passings(store) == pytest.approx(expected, abs=0.001), "the journal's replay lines rebuild the same"


async def test_a_file_of_refused_lines_is_counted_in_full_and_logged_in_brief(redis, paris, tmp_path, caplog):
    """500 broken lines: all counted, the first 100 named in the report, 20 logged and one line that
    says the rest are counted (a rebuild of a journal full of refused lines does not flood the log)."""
    store = Store(redis, paris)
    await store.setup()
    lines = "".join(f"CT01_33~{i}~start~broken\r\n" for i in range(1, 501))
    (tmp_path / "start.ctp").write_text("CT01_33~0~start~guntime~10:00:00.00~0~A~0\r\n" + lines, encoding="ascii")
    with caplog.at_level(logging.WARNING, logger="ingest.replay"):
        report = await replay_files(paris, store, [tmp_path / "start.ctp"])
    assert (report.guns, report.errors, len(report.reasons)) == (1, 500, REASONS_KEPT)
    said = [r.getMessage() for r in caplog.records if r.name == "ingest.replay"]
    assert len(said) == REASONS_LOGGED + 1 and "counted, not logged" in said[-1], said[-3:]


def old_journal_entries(paris, near: float) -> tuple[list[dict[str, str]], dict]:
    """Journal entries as every protocol wrote them before the one shape (written here by hand, not by
    today's writer): ``lines`` newline-joined with ``n`` (ChronoTrack, RACE RESULT, replayed files),
    ``line`` for one JSON or MYLAPS message; and the passings they make."""
    a, b, c, d, e = (p.chips[0] for p in paris.participants[400:405])
    json_t = local(paris, "10:30:00")
    entries = [
        {"proto": "replay-ctp01", "reader": "start.ctp", "wall": "0.0", "near": repr(near), "n": "2",
         "lines": f"CT01_33~1~start~{a}~10:00:05.50~0~A~1\nCT01_33~2~start~{b}~10:00:06.00~0~A~1"},
        {"proto": "mylaps", "reader": "10.0.0.9:5000", "wall": repr(near),
         "line": f"concorde@Passing@t=10:09:00.100|c={c}|d=211031@1@$"},
        {"proto": "json", "reader": "finish", "wall": repr(near),
         "line": orjson.dumps({"reader": "finish", "chip": d, "t": json_t}).decode()},
        {"proto": "raceresult", "reader": "decoder at 10.0.0.8", "wall": repr(near), "mat": "finish", "n": "1",
         "lines": f"1;{e};0000-00-00;10:40:01.250;0;12;-51;0;0;;;0;;;;;FINISH;1;1;0A1B"},
    ]  # fmt: skip
    bib = {p.chips[0]: p.bib for p in paris.participants[400:405]}
    expected = {
        (bib[a], 0): local(paris, "10:00:05.50"),
        (bib[b], 0): local(paris, "10:00:06.00"),
        (bib[c], 2): local(paris, "10:09:00.100"),
        (bib[d], 6): json_t,
        (bib[e], 6): local(paris, "10:40:01.250"),
    }
    return entries, expected


async def test_rebuild_reads_journals_written_before_the_one_shape(redis, paris):
    """A journal of the old shapes (``lines``, ``line``) and today's (``units``) rebuilds the same
    passings; an entry of no shape is counted as an error, not fatal."""
    from live.store.ingest import JournalEntry

    store = Store(redis, paris)
    await store.setup()
    near = local(paris, "10:20:00")
    await store.set_clock(RaceClock(origin_wall=near, origin_race=near, speed=1.0))
    old, expected = old_journal_entries(paris, near)
    for fields in old:
        await redis.xadd(store.keys.journal, fields)
    await redis.xadd(store.keys.journal, {"proto": "ctp01", "reader": "x", "wall": "0.0"})  # no lines at all
    f = paris.participants[405]
    await store.journal_lines("ctp01", "peer", near, [f"CT01_33~3~finish~{f.chips[0]}~10:41:00.00~0~A~1"])
    expected[(f.bib, 6)] = local(paris, "10:41:00")
    report = await rebuild(paris, store)
    assert await passings(store) == pytest.approx(expected, abs=0.001)
    assert (report.reads, report.errors) == (6, 1) and "unreadable entry: no units" in report.reasons[0]
    entries = await store.journal_entries("-", 100)
    newest = JournalEntry.read(entries[-1][1])
    assert list(newest.units) == [f"CT01_33~3~finish~{f.chips[0]}~10:41:00.00~0~A~1"] and newest.wall_s == near
    two = JournalEntry(  # the one shape: a message with a newline in it stays one message
        "json", "r", 1.0, ['{"a":\n 1}', "x"], mat="m", near_s=2.0
    )
    stored = {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in two.fields().items()}
    assert JournalEntry.read(stored) == two
