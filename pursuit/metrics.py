"""Prometheus metrics of a web process: reads, passings and errors per mat, feed clients and fan-out
time, tick time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from live.engine.engine import LiveEngine
from live.store.store import attached
from web.connection_cap import ConnectionCap
from web.feed import LiveFeed
from web.frames import FANOUT_BUCKETS_S, FanoutTimes

__all__ = ["CONTENT_TYPE_LATEST", "fanout_families", "render_fanout_metrics", "render_metrics"]


class _Snapshot(Collector):
    """Values fetched (async, from Redis) just before a scrape, exposed as metric families."""

    def __init__(
        self,
        health: dict[str, dict[str, str]],
        engine: LiveEngine,
        feed: LiveFeed,
        readers: dict[str, dict[str, str]] | None = None,
        signins_untracked: int = 0,
        cap: ConnectionCap | None = None,
    ) -> None:
        self.health, self.engine, self.feed, self.readers = health, engine, feed, readers or {}
        self.signins_untracked = signins_untracked
        self.cap = cap

    def collect(self) -> Iterator[Metric]:
        for name, key, help_text in (
            ("pursuit_reads", "reads", "raw reads per mat"),
            ("pursuit_passings", "passings", "passings per mat"),
            ("pursuit_read_errors", "errors", "malformed or rejected lines per mat"),
            ("pursuit_unknown_chip_reads", "unknown_reads", "reads of chips no participant wears"),
        ):
            family = CounterMetricFamily(name, help_text, labels=["mat"])
            for mat, h in self.health.items():
                family.add_metric([mat], float(h.get(key, 0)))
            yield family
        by_source = CounterMetricFamily(
            "pursuit_reader_errors", "refused input per sending address", labels=["address"]
        )
        for address, r in self.readers.items():
            by_source.add_metric([address], float(r.get("errors", 0)))
        yield by_source
        connected = GaugeMetricFamily("pursuit_mat_connected", "reader connections per mat", labels=["mat"])
        for mat, h in self.health.items():
            connected.add_metric([mat], float(h.get("connected", 0)))
        yield connected
        yield GaugeMetricFamily("pursuit_feed_clients", "live-feed WebSocket clients", value=len(self.feed.clients))
        yield CounterMetricFamily("pursuit_feed_dropped", "slow live-feed clients dropped", value=self.feed.dropped)
        yield CounterMetricFamily(
            "pursuit_feed_resumed",
            "live-feed clients that reconnected with ?after= and continued from their seq, without a snapshot",
            value=self.feed.resumed,
        )
        yield CounterMetricFamily(
            "pursuit_admin_signins_untracked",
            "failed race-control sign-ins from new addresses refused but not remembered: many addresses at once",
            value=self.signins_untracked,
        )
        yield from fanout_families(self.feed.times)
        if self.cap is not None:
            yield from cap_families(self.cap)
        yield GaugeMetricFamily("pursuit_tick_seconds", "time of the last live tick", value=self.engine.tick_ms / 1000)
        counts = GaugeMetricFamily("pursuit_runners", "runners by status", labels=["status"])
        if self.engine.snapshot is not None:
            for status, n in self.engine.snapshot.counts.items():
                counts.add_metric([status], float(n))
        yield counts


def fanout_families(times: FanoutTimes) -> Iterator[Metric]:
    """Per live tick, the time to build its frame and to write it to every client, as histograms."""
    for name, counts, total, help_text in (
        (
            "pursuit_feed_build_seconds",
            times.build_counts,
            times.build_s,
            "per live tick: building its frame (changed rows, JSON, WebSocket framing), once for all clients",
        ),
        (
            "pursuit_feed_write_seconds",
            times.write_counts,
            times.write_s,
            "per live tick: writing (or queueing) its frame to every live-feed client",
        ),
    ):
        cumulative = [sum(counts[: i + 1]) for i in range(len(counts))]
        buckets = [(f"{bound:g}", float(n)) for bound, n in zip(FANOUT_BUCKETS_S, cumulative, strict=True)]
        yield HistogramMetricFamily(name, help_text, buckets=[*buckets, ("+Inf", float(times.ticks))], sum_value=total)


def cap_families(cap: ConnectionCap) -> Iterator[Metric]:
    """The web process's connection cap (``web.connection_cap``): what it holds, its limit, its refusals."""
    yield GaugeMetricFamily("pursuit_connections", "HTTP requests and WebSockets open, under the cap", value=cap.open)
    yield GaugeMetricFamily("pursuit_max_connections", "the connection cap ([web] max_connections)", value=cap.limit)
    refused = CounterMetricFamily(
        "pursuit_connections_refused",
        "connections refused at the cap: HTTP 503 with Retry-After, WebSocket closed with 1013",
        labels=["kind"],
    )
    for kind, n in sorted(cap.refused.items()):
        refused.add_metric([kind], float(n))
    yield refused


class _Fanout(Collector):
    def __init__(self, times: FanoutTimes) -> None:
        self.times = times

    def collect(self) -> Iterator[Metric]:
        return fanout_families(self.times)


def render_fanout_metrics(times: FanoutTimes) -> bytes:
    """The fan-out histograms alone, for a process that only fans out (the bench's bare server)."""
    registry = CollectorRegistry()
    registry.register(_Fanout(times))
    return generate_latest(registry)


async def render_metrics(
    engine: LiveEngine, feed: LiveFeed, signins_untracked: int = 0, cap: ConnectionCap | None = None
) -> bytes:
    """The Prometheus text exposition of this process's metrics (``signins_untracked``: its race
    control's failed sign-ins it could not remember, ``web.limits.AdminLimits.untracked``; ``cap``: the
    connection cap the request passed, if any)."""
    registry = CollectorRegistry()
    store = attached(engine.store)
    health, readers = await store.mat_health(), await store.reader_errors()
    registry.register(_Snapshot(health, engine, feed, readers, signins_untracked, cap))
    return generate_latest(registry)
