"""The CTP01 parser: the literal example lines of the research notes, and malformed input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.protocols import chronotrack as ctp
from live import reads
from live.reads import EARLIEST_UNIX_S

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    "line",
    [
        b"CT01_33~1~finish~1234~14:02:15.31~0~POINTCAM~0\r\n",
        b"CT01_33~1~finish~1234~2026-02-01T14:02:15.31~0~POINTCAM~0\r\n",
        b"CT01_33~1~finish~1234~50535310~0~POINTCAM~0\r\n",
    ],
)
def test_time_formats_resolve_to_the_same_local_instant(line):
    msg = ctp.parse_line(line)
    assert isinstance(msg, ctp.TagRead)
    assert (msg.seq, msg.location, msg.chip, msg.meta) == (1, "finish", "1234", ("0", "POINTCAM", "0"))
    expected = datetime(2026, 2, 1, 14, 2, 15, 310000, tzinfo=PARIS).timestamp()
    near = datetime(2026, 2, 1, 12, 0, tzinfo=PARIS).timestamp()
    assert msg.time.resolve(PARIS, near) == pytest.approx(expected, abs=0.001)


def test_unix_time_is_absolute():
    msg = ctp.parse_line(b"CT01_33~1~finish~1234~1738418535.31~0~POINTCAM~0\r\n")
    assert isinstance(msg, ctp.TagRead)
    assert msg.time.resolve(PARIS, 0.0) == pytest.approx(1738418535.31, abs=0.001)


def test_time_of_day_takes_the_nearest_date_across_midnight():
    t = ctp.parse_time("23:59:58.00")
    just_after_midnight = datetime(2026, 2, 2, 0, 0, 5, tzinfo=PARIS).timestamp()
    assert t.resolve(PARIS, just_after_midnight) == datetime(2026, 2, 1, 23, 59, 58, tzinfo=PARIS).timestamp()


def test_unknown_tag_is_still_a_read():
    msg = ctp.parse_line(b"CT01_33~3~finish~UNKNOWN~14:02:16.02~0~POINTCAM~0\r\n")
    assert isinstance(msg, ctp.TagRead) and msg.chip == "UNKNOWN" and msg.seq == 3


def test_gun_and_new_location_markers():
    gun = ctp.parse_line(b"CT01_33~4~start~guntime~07:45:01.01~0~DF239A~0")
    assert isinstance(gun, ctp.GunTime) and gun.location == "start"
    assert gun.time.seconds_of_day == pytest.approx(7 * 3600 + 45 * 60 + 1.01)
    new = ctp.parse_line(b"CT01_33~2038~30k~newlocation~09:15:21.00~0~ED932A~0")
    assert new == ctp.NewLocation(2038, "30k")


def test_ct01_13_comma_line():
    msg = ctp.parse_line(b"CT01_13, 24, START, 50101,15:54:48.90, 1, 117F37, 8")
    assert isinstance(msg, ctp.TagRead)
    assert (msg.seq, msg.location, msg.chip, msg.meta) == (24, "START", "50101", ("1", "117F37", "8"))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"RunScore~Version 6.5~CTP01\r\n", ctp.Greeting("RunScore", "Version 6.5")),
        (b"PointCam~1.0.0~4\r\n", ctp.GreetingReply("PointCam", "1.0.0", 4)),
        (b"stream-mode=push\r\n", ctp.Setting("stream-mode", "push")),
        (b"pushmode-ack=true\r\n", ctp.Setting("pushmode-ack", "true")),
        (b"start~finish\r\n", ctp.Command("start", ("finish",))),
        (b"ack~start~finish\r\n", ctp.Command("ack", ("start", "finish"))),
        (b"start~finish~4530\r\n", ctp.Command("start", ("finish", "4530"))),
        (b"ping\r\n", ctp.Command("ping", ())),
        (b"ack~ping\r\n", ctp.Command("ack", ("ping",))),
        (
            b"ack~getlocations~finish~split-1~split-2\r\n",
            ctp.Command("ack", ("getlocations", "finish", "split-1", "split-2")),
        ),
        (b"err~start~invalid location\r\n", ctp.Command("err", ("start", "invalid location"))),
    ],
)
def test_handshake_and_command_lines(line, expected):
    assert ctp.parse_line(line) == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"CT01_33~1~finish~1234~14:02:15.31~0~POINTCAM", "needs 8 fields"),
        (b"CT01_33~x1~finish~1234~14:02:15.31~0~POINTCAM~0", "sequence number"),
        (b"CT01_33~1~~1234~14:02:15.31~0~POINTCAM~0", "location"),
        (b"CT01_33~1~finish~12 34~14:02:15.31~0~POINTCAM~0", "chip"),
        (b"CT01_33~1~finish~1234~25:02:15.31~0~POINTCAM~0", "out of range"),
        (b"CT01_33~1~finish~1234~2026-02-30T14:02:15~0~POINTCAM~0", "ISO time"),
        (b"CT01_33~1~finish~1234~yesterday~0~POINTCAM~0", "no CTP01 format"),
        (b"CT01_33~1~finish~1234~2000-01-01T00:00:12.00~0~POINTCAM~0", "implausible"),
        (b"CT01_33~1~finish~1234~2080-01-01T10:00:00.00~0~POINTCAM~0", "implausible"),
        (b"CT01_33~1~finish~1234~946684812.00~0~POINTCAM~0", "implausible"),
        (b"CT01_33~1~finish~\xff\xfe~14:02:15.31~0~POINTCAM~0", "not ASCII"),
        (b"hello world", "unknown message"),
        (b"", "empty line"),
        (b"CT01_33~" + b"9" * 2000, "longer than"),
    ],
)
def test_malformed_lines_say_why(line, reason):
    msg = ctp.parse_line(line)
    assert isinstance(msg, ctp.ParseError)
    assert reason in msg.reason


@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data):
    result = ctp.parse_line(data)
    assert result is not None


@given(
    st.integers(min_value=0, max_value=10**9),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=20),
    st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=24),
    st.integers(min_value=0, max_value=86_399_99),
)
def test_well_formed_tag_lines_round_trip(seq, location, chip, centis):
    h, rem = divmod(centis, 360_000)
    m, rem = divmod(rem, 6000)
    s, cc = divmod(rem, 100)
    line = f"CT01_33~{seq}~{location}~{chip}~{h:02d}:{m:02d}:{s:02d}.{cc:02d}~0~ABCDEF~1".encode()
    msg = ctp.parse_line(line)
    assert isinstance(msg, ctp.TagRead) or (chip == "guntime" or chip == "newlocation")
    assert msg.seq == seq
    if isinstance(msg, ctp.TagRead):
        assert msg.time.seconds_of_day == pytest.approx(centis / 100)


def test_time_of_day_on_the_day_the_clocks_go_back():
    # 31 Oct 2021 (the J-1000): Paris left summer time at 03:00; 10:00 that morning is UTC+1
    near = datetime(2021, 10, 31, 12, 0, tzinfo=PARIS).timestamp()
    assert (
        ctp.parse_time("10:00:00.00").resolve(PARIS, near)
        == datetime(2021, 10, 31, 9, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    )


ZONES = [
    PARIS,
    ZoneInfo("UTC"),
    ZoneInfo("Asia/Tokyo"),  # no summer time
    ZoneInfo("America/St_Johns"),  # half-hour offset, changed its clocks at 00:01 until 2011
    ZoneInfo("Australia/Lord_Howe"),  # half-hour summer time
    ZoneInfo("America/Santiago"),  # changes its clocks at midnight
    ZoneInfo("Asia/Kathmandu"),  # +05:45
    timezone(timedelta(hours=-3, minutes=-30)),
]


@given(
    st.integers(min_value=0, max_value=86_400 * 1_000_000 - 1),
    st.floats(min_value=EARLIEST_UNIX_S, max_value=2_600_000_000.0),
    st.sampled_from(ZONES),
)
def test_cached_time_of_day_is_exactly_the_datetime_result(us_of_day, near, tz):
    expected = reads._resolve_by_datetimes(us_of_day / 1_000_000, tz, near)
    assert reads.resolve_time_of_day(us_of_day, tz, near) == expected


@given(
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2079, 12, 31)),
    st.sampled_from(ZONES),
)
def test_cached_local_time_is_exactly_the_datetime_result(local, tz):
    assert reads.resolve_local(local, tz) == local.replace(tzinfo=tz).timestamp()


@pytest.mark.parametrize("tz", [PARIS, ZoneInfo("Asia/Tokyo"), UTC])
def test_time_of_day_across_midnight_with_the_day_start_cached(tz):
    # the same near time twice (the second answer comes from the cache), then on the next day
    late = datetime(2026, 6, 14, 23, 59, 50, tzinfo=tz).timestamp()
    for near in (late, late, late + 20):
        assert ctp.parse_time("00:00:05.25").resolve(tz, near) == late + 15.25
        assert ctp.parse_time("23:59:58.5").resolve(tz, near) == late + 8.5


def test_days_the_clocks_change_are_not_cached():
    assert reads._day_start_us(date(2021, 10, 31), PARIS) is None
    assert reads._day_start_us(date(2021, 3, 28), PARIS) is None
    assert reads._day_start_us(date(2021, 10, 30), PARIS) == datetime(2021, 10, 30, tzinfo=PARIS).timestamp() * 1e6
    assert reads._day_start_us(date(2021, 10, 31), ZoneInfo("Asia/Tokyo")) is not None


def _field(alphabet: str, max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=0, max_size=max_size)


_TIMES = st.one_of(
    st.builds(
        lambda h, m, s, frac: f"{h}:{m:02d}:{s:02d}{frac}",
        st.integers(0, 30),
        st.integers(0, 70),
        st.integers(0, 70),
        st.sampled_from(["", ".", ".5", ".31", ".123456", ".1234567"]),
    ),
    st.integers(0, 99_999_999).map(str),  # ms since midnight
    st.floats(9e8, 3.6e9).map(lambda x: f"{x:.2f}"),  # unix
    st.just("2026-02-01T14:02:15.31"),
    st.just(" 14:02:15.31 "),
    _field("0123456789:.- T", 14),
)
_TAG_LINES = st.builds(
    lambda head, seq, loc, chip, t, tail: f"{head}~{seq}~{loc}~{chip}~{t}~{tail}".encode(),
    st.sampled_from(["CT01_33", "CT01_33", "CT01_13", " CT01_33", "ct01_33"]),
    st.one_of(st.integers(0, 10**9).map(str), _field("0123456789a -", 5)),
    st.one_of(st.sampled_from(["finish", "marbeuf", "x" * 64, "x" * 65]), _field("abcZ09-_ ~é", 8)),
    st.one_of(
        st.sampled_from(["1234", "guntime", "newlocation", "C0012345", "A" * 64, "A" * 65]), _field("AZ09_-.é ~")
    ),
    _TIMES,
    st.sampled_from(["0~POINTCAM~0", "0~POINTCAM~0 ", "0~X", "0~A~B~C", "~~"]),
)


@given(st.lists(_TAG_LINES, min_size=1, max_size=8), st.floats(1e9, 3e9), st.sampled_from(ZONES))
def test_bulk_tag_reads_are_exactly_the_line_by_line_reads(lines, near, tz):
    bulk = ctp.parse_tag_reads(lines, tz, near)
    assert len(bulk) == len(lines)
    for raw, read in zip(lines, bulk, strict=True):
        msg = ctp.parse_line(raw)
        if read is not None:
            assert isinstance(msg, ctp.TagRead) and raw.startswith(b"CT01_33~")
            assert (read.seq, read.location, read.chip) == (msg.seq, msg.location, msg.chip)
            assert read.time_s == msg.time.resolve(tz, near)


def test_bulk_tag_reads_take_the_common_lines_and_leave_the_rest():
    lines = [
        b"CT01_33~1~finish~1234~14:02:15.31~0~POINTCAM~0",
        b"CT01_33~2~finish~1234~2026-02-01T14:02:15.31~0~POINTCAM~0",
        b"CT01_33~3~finish~1234~50535310~0~POINTCAM~0",
        b"CT01_33~4~finish~guntime~14:00:00.00~0~POINTCAM~0",
        b"CT01_33~5~finish~1234~24:00:00.00~0~POINTCAM~0",
        b"CT01_13,6,finish,1234,14:02:15.31,0,POINTCAM,0",
        b"ping",
    ]
    near = datetime(2026, 2, 1, 12, 0, tzinfo=PARIS).timestamp()
    expected = datetime(2026, 2, 1, 14, 2, 15, 310000, tzinfo=PARIS).timestamp()
    reads = ctp.parse_tag_reads(lines, PARIS, near)
    assert reads[:3] == [ctp.TimedRead(n, "finish", "1234", expected) for n in (1, 2, 3)]
    assert reads[3:] == [None] * 4
