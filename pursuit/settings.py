"""What pursuit takes from its environment, read once at the command line and handed down.

Nothing else reads ``os.environ``: the parts get a :class:`Settings` (or the one value they need) from
whoever starts them. Variables:

- ``REDIS_URL``: the Redis to use; unset, ``pursuit serve`` uses ``redis://127.0.0.1:6379/0`` and
  ``pursuit demo`` starts a private ``redis-server``;
- ``PURSUIT_READER_TOKENS``: ``mat=token,…`` pairs of the JSON readers allowed on ``/ingest/ws``;
- the race's admin token, in the variable its race file names (``admin_token_env``, by default
  ``PURSUIT_ADMIN_TOKEN``); unset, race control actions are disabled;
- the ChronoTrack readers' shared secret, in the variable its race file names (``[readers] secret_env``);
- ``PURSUIT_CORS_ORIGINS``: comma-separated origins allowed to read the API from a browser;
- ``PURSUIT_LOOP``: ``uvloop`` to run the servers on uvloop, else ``asyncio``;
- ``PURSUIT_FORWARDED_ALLOW_IPS``: comma-separated addresses of the load balancers in front of the
  web port, whose ``X-Forwarded-For`` names the client (default ``127.0.0.1,::1``, a balancer on the
  same machine). Behind a balancer not listed every client has its address, so race control's
  failed sign-ins, counted per address, would lock every operator out after one stranger's guesses;
- ``PURSUIT_MAX_CONNECTIONS``: the web process's connection cap, over the race file's
  ``[web] max_connections`` (``live/race/web_limits.py``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ingest.json_server import TOKENS_ENV, reader_tokens
from live.race.web_limits import WebLimits, max_connections_value

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_URL_ENV = "REDIS_URL"
CORS_ENV = "PURSUIT_CORS_ORIGINS"
LOOP_ENV = "PURSUIT_LOOP"
LOOPS = ("asyncio", "uvloop")
FORWARDED_ENV = "PURSUIT_FORWARDED_ALLOW_IPS"
LOCAL_BALANCER = ("127.0.0.1", "::1")
MAX_CONNECTIONS_ENV = "PURSUIT_MAX_CONNECTIONS"


@dataclass(frozen=True)
class Settings:
    """The environment of one pursuit process, as typed values."""

    redis_url: str | None = None  # None: the command's default (see the module's docstring)
    reader_tokens: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    cors_origins: tuple[str, ...] = ()
    loop: str = "asyncio"
    forwarded_allow_ips: tuple[str, ...] = LOCAL_BALANCER  # balancers trusted to name the client
    max_connections: int | None = None  # None: the race file's ``[web] max_connections``
    # every variable, for the one the race file names for its admin token (known once the race is loaded)
    environ: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (the process's environment by default); refuses a bad
        ``PURSUIT_LOOP`` or ``PURSUIT_MAX_CONNECTIONS``, naming it."""
        env = dict(os.environ if environ is None else environ)
        cap = env.get(MAX_CONNECTIONS_ENV, "").strip()
        try:
            max_connections = max_connections_value(cap) if cap else None
        except ValueError as exc:
            raise ValueError(f"{MAX_CONNECTIONS_ENV}={cap!r}: {exc}") from exc
        loop = env.get(LOOP_ENV, "asyncio").strip().lower() or "asyncio"
        if loop not in LOOPS:
            raise ValueError(f"{LOOP_ENV}={loop!r}: expected uvloop or asyncio")
        return cls(
            redis_url=env.get(REDIS_URL_ENV) or None,
            reader_tokens=MappingProxyType(reader_tokens(env.get(TOKENS_ENV, ""))),
            cors_origins=tuple(o.strip() for o in env.get(CORS_ENV, "").split(",") if o.strip()),
            loop=loop,
            forwarded_allow_ips=tuple(a.strip() for a in env.get(FORWARDED_ENV, "").split(",") if a.strip())
            or LOCAL_BALANCER,
            max_connections=max_connections,
            environ=MappingProxyType(env),
        )

    def reader_secret(self, variable: str | None) -> str | None:
        """The ChronoTrack readers' shared secret held in ``variable`` (a race's ``[readers] secret_env``)."""
        return (self.environ.get(variable) or None) if variable else None

    def admin_token(self, variable: str) -> str:
        """The admin token held in ``variable`` (a race's ``admin_token_env``); empty when unset."""
        return self.environ.get(variable, "")

    def max_connections_for(self, web: WebLimits) -> int:
        """The web process's connection cap: ``PURSUIT_MAX_CONNECTIONS`` if set, else the race file's."""
        return self.max_connections if self.max_connections is not None else web.max_connections

    def with_reader_tokens(self, tokens: Mapping[str, str]) -> Settings:
        """These settings with more reader tokens (the demo's made-up ones) added."""
        return dataclasses.replace(self, reader_tokens=MappingProxyType({**self.reader_tokens, **tokens}))
