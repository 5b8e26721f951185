"""``pursuit simulate`` as a real process against a real ingestor, then ``pursuit replay`` of what it recorded."""

from __future__ import annotations

import asyncio
from datetime import datetime

from ingest.chronotrack_server import ChronoTrackServer
from ingest.mylaps_server import MyLapsServer
from ingest.raceresult_client import RaceResultClient
from live.clock import RaceClock
from live.race.race import Race, RaceResultDecoder
from live.store.store import Store
from pursuit.redis_server import free_port
from tests.helpers import eventually
from tests.helpers.commands import cli
from tests.helpers.paths import PARIS
from tests.helpers.readers import crossings, same_crossings

RUNNERS = 20


async def test_simulate_command_speaks_three_protocols_with_faults_and_records_replayable_files(
    redis_server, redis, paris: Race, tmp_path
):
    store = Store(redis, paris)
    await store.setup()
    await store.set_clock(RaceClock.real_time())
    ct = ChronoTrackServer(paris, store, host="127.0.0.1", port=0)
    mylaps = MyLapsServer(paris, store, host="127.0.0.1", port=0)
    await ct.start()
    await mylaps.start()
    rr_port, stop = free_port(), asyncio.Event()
    client = RaceResultClient(paris, store, RaceResultDecoder("finish", "127.0.0.1", rr_port), poll_s=0.1)
    pulling = asyncio.create_task(client.run(stop))
    try:
        code, out, err = await cli(
            redis_server.url, "simulate", "--race", str(PARIS), "--runners", str(RUNNERS), "--speed", "3000",
            "--seed", "3", "--ingest-port", str(ct.port), "--mylaps-port", str(mylaps.port),
            "--protocols", "start=mylaps,finish=raceresult", "--raceresult-port", str(rr_port),
            "--faults", "drop,dup,garble", "--record", str(tmp_path),
        )  # fmt: skip
        assert code == 0, err

        async def complete() -> dict[str, list[float]] | None:  # CTP01 has no acknowledgement: the last lines
            got = await crossings(store)
            return got if sum(map(len, got.values())) == (RUNNERS + 1) * len(paris.timing_points) else None

        live = await eventually(complete)
    finally:
        stop.set()
        await asyncio.wait_for(pulling, 10)
        await ct.close()
        await mylaps.close()

    assert f'[[readers.raceresult]]\nmat = "finish"\nhost = "127.0.0.1"\nport = {rr_port}' in out
    assert "faults: drop,dup,garble" in out and "backup files:" in out and "missing" not in out
    assert client.sessions >= 2, "the decoder dropped the ingestor, which came back"
    assert len(live) == (RUNNERS + 1) * len(paris.mats), "every runner and the pursuer at every mat"
    assert sum(map(len, live.values())) == (RUNNERS + 1) * len(paris.timing_points)
    assert len(await store.guns()) == 6

    names = sorted(p.name for p in tmp_path.iterdir())  # noqa: ASYNC240 (a test's temporary directory)
    assert names == ["concorde-chronotrack.txt", "finish-raceresult.txt", "george-v-chronotrack.txt",
                     "marbeuf-chronotrack.txt", "start-mylaps.txt"]  # fmt: skip
    # the race's day is its first gun's (a run at midnight in Paris has its guns on one side of it)
    day = datetime.fromtimestamp(min((await store.guns()).values()), paris.timezone).date().isoformat()
    await redis.flushall()
    code, out, err = await cli(
        redis_server.url, "replay", "--race", str(PARIS), "--date", day, *(str(tmp_path / n) for n in names)
    )
    assert code == 0, err
    assert '"errors":0' in out and '"guns":6' in out
    assert same_crossings(await crossings(Store(redis, paris)), live)
