"""``pursuit.serve.run``: the servers' event loop is asyncio's own, uvloop on request where installed;
the request is ``PURSUIT_LOOP``, read into the settings once."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from pursuit.serve import run
from pursuit.settings import LOOP_ENV, Settings


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_servers_run_on_asyncio_by_default_and_on_uvloop_on_request():
    assert Settings.from_env({}).loop == "asyncio"
    assert run(_loop_type(), Settings.from_env({}).loop) is not uvloop.Loop
    assert run(_loop_type(), Settings.from_env({LOOP_ENV: "asyncio"}).loop) is not uvloop.Loop
    assert run(_loop_type(), Settings.from_env({LOOP_ENV: " UVLoop "}).loop) is uvloop.Loop


def test_asyncio_without_uvloop(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if not installed: the import fails
    assert run(_loop_type(), "uvloop") is not uvloop.Loop
    assert "uvloop is not installed" in caplog.text


def test_an_unknown_loop_is_refused():
    with pytest.raises(ValueError, match="PURSUIT_LOOP='trio': expected uvloop or asyncio"):
        Settings.from_env({LOOP_ENV: "trio"})
    coro = _loop_type()
    with pytest.raises(ValueError, match="expected uvloop or asyncio"):
        run(coro, "trio")
    coro.close()


def test_settings_are_read_once_into_typed_values():
    env = {"REDIS_URL": "redis://h:1/0", "PURSUIT_READER_TOKENS": "finish=a, gps=b,bad", "MY_ADMIN": "t0k",
           "PURSUIT_CORS_ORIGINS": "https://a.example, ,https://b.example"}  # fmt: skip
    s = Settings.from_env(env)
    assert s.redis_url == "redis://h:1/0"
    assert dict(s.reader_tokens) == {"finish": "a", "gps": "b"}
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.admin_token("MY_ADMIN") == "t0k" and s.admin_token("PURSUIT_ADMIN_TOKEN") == ""
    assert dict(s.with_reader_tokens({"start": "c"}).reader_tokens) == {"finish": "a", "gps": "b", "start": "c"}
    assert Settings.from_env({"REDIS_URL": ""}).redis_url is None
    assert Settings.from_env({}).forwarded_allow_ips == ("127.0.0.1", "::1"), "a balancer on this machine"
    balancers = Settings.from_env({"PURSUIT_FORWARDED_ALLOW_IPS": " 10.0.0.5, ,10.0.0.6"}).forwarded_allow_ips
    assert balancers == ("10.0.0.5", "10.0.0.6")
