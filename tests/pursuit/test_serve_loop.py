"""``pursuit.serve.run``: the servers' event loop is asyncio's own, uvloop on request where installed."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from pursuit.serve import LOOP_ENV, run


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_servers_run_on_asyncio_by_default_and_on_uvloop_on_request(monkeypatch):
    monkeypatch.delenv(LOOP_ENV, raising=False)
    assert run(_loop_type()) is not uvloop.Loop
    monkeypatch.setenv(LOOP_ENV, "asyncio")
    assert run(_loop_type()) is not uvloop.Loop
    monkeypatch.setenv(LOOP_ENV, "uvloop")
    assert run(_loop_type()) is uvloop.Loop


def test_asyncio_without_uvloop(monkeypatch, caplog):
    monkeypatch.setenv(LOOP_ENV, "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if not installed: the import fails
    assert run(_loop_type()) is not uvloop.Loop
    assert "uvloop is not installed" in caplog.text


def test_an_unknown_loop_is_refused(monkeypatch):
    monkeypatch.setenv(LOOP_ENV, "trio")
    coro = _loop_type()
    with pytest.raises(SystemExit, match="expected uvloop or asyncio"):
        run(coro)
    coro.close()
