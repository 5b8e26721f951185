"""``[web]`` of a race file: the limits of the web process that serves the race.

```toml
[web]
max_connections = 10000   # spectators' requests and WebSockets at once; beyond: 503 / close 1013
```

``max_connections`` counts HTTP requests in flight and open WebSockets (the live feed, the events
feed, the Server-Sent Events stream) of one web process; ``/metrics`` and ``/healthz`` are not
counted and are answered at the cap. It is sized by measurement (docs/OPERATIONS.md, "Scale out"):
what one process fans out within the delay target, and the process's open-file limit (one
descriptor per connection). ``PURSUIT_MAX_CONNECTIONS`` overrides it (``pursuit.settings``).
"""

from __future__ import annotations

from dataclasses import dataclass

from live.race.errors import RaceError
from live.race.toml import TomlDoc

DEFAULT_MAX_CONNECTIONS = 10_000  # what one process held within its delay target (docs/BENCHMARKS.md)
MAX_CONNECTIONS_LIMIT = 1_000_000  # beyond any one process's descriptors: a typo
WEB_KEYS = ("max_connections",)


@dataclass(frozen=True)
class WebLimits:
    """What one web process takes at once."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS


def max_connections_value(value: object) -> int:
    """``value`` as a connection cap (a whole number from 1 to ``MAX_CONNECTIONS_LIMIT``); ValueError
    saying what is wrong otherwise."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONNECTIONS_LIMIT:
        raise ValueError(f"must be a whole number from 1 to {MAX_CONNECTIONS_LIMIT:,}, got {value!r}")
    return value


def load_web(cfg: TomlDoc) -> WebLimits:
    """The ``[web]`` table of ``cfg`` (defaults where absent); a :class:`RaceError` naming the key if wrong."""
    table = cfg.get("web")
    if table is None:
        return WebLimits()
    if not isinstance(table, dict):
        raise RaceError(cfg.path, "web", f"must be a table ([web]), got {table!r}")
    for key in table:
        if key not in WEB_KEYS:
            raise RaceError(cfg.path, f"web.{key}", f"unknown key; [web] takes {', '.join(WEB_KEYS)}")
    if "max_connections" not in table:
        return WebLimits()
    try:
        cap = max_connections_value(table["max_connections"])
    except ValueError as exc:
        raise RaceError(cfg.path, "web.max_connections", str(exc)) from exc
    return WebLimits(max_connections=cap)
