"""A bounded fuzz run per seed: hostile lines at ChronoTrack, MYLAPS, RACE RESULT and /ingest/ws of a
real ``pursuit serve``, good reads among them (``pursuit bench fuzz`` is the long run)."""

from __future__ import annotations

import pytest

from pursuit.bench.fuzz import run_fuzz
from tests.helpers.paths import PARIS


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hostile_input_at_every_door_crashes_nothing_and_every_good_read_lands(seed):
    result = run_fuzz(6_000, seed, PARIS)
    assert result["process_up"] and result["tracebacks_in_log"] == 0, result["first_traceback"]
    assert result["good_reads"] == 60 and result["good_reads_applied"] == 60
    assert result["client_reconnects"] == {"chronotrack": 0, "mylaps": 0, "json": 0}
    assert int(result["reader_errors"]["127.0.0.1"]["errors"]) > 5_000, "the hostile lines were refused and counted"
    assert result["redis_used_memory_mb"] < 64
