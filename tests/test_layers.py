"""The import rules of docs/ARCHITECTURE.md, read from the source (every import statement, also inside
functions and ``if TYPE_CHECKING``):

- ``live`` (the domain) imports the standard library, NumPy, orjson and itself; ``redis`` only in
  ``live/store/store.py`` and ``live/store/connection.py``;
- ``web``, ``ingest``, ``dashboard`` and ``simulator`` build on ``live`` and import none of each other
  (the simulator reaches the ingestor only over sockets, like a real decoder) nor ``pursuit``;
- only the command line imports the benchmarks, ``pursuit.bench``: ``pursuit/cli.py`` and the module of
  the ``bench`` command, ``pursuit/measurement.py`` (and the bench's own modules);
- only ``pursuit/settings.py`` reads the environment (the benchmarks and the rehearsal copy it into the
  environments of the processes they start).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EDGES = ("web", "ingest", "dashboard", "simulator")
LIVE_THIRD_PARTY = {"numpy", "orjson"}
LIVE_REDIS_MODULES = {"live/store/store.py", "live/store/connection.py", "live/store/event_store.py"}
BENCH_IMPORTERS = {"pursuit/cli.py", "pursuit/measurement.py"}
ENVIRONMENT_READERS = {"pursuit/settings.py"}


def imported(source: str, module: str) -> list[tuple[int, str]]:
    """Every module name ``source`` imports (line, dotted name); relative imports made absolute
    against ``module``, the dotted name of the file itself."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name))
            out += [(node.lineno, f"{name}.{alias.name}") for alias in node.names if name == "pursuit"]
    return out


def violations(path: str, source: str) -> list[str]:
    """What in ``source`` (the file at ``path``, relative to the repository) breaks the rules."""
    package = path.split("/")[0]
    module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    found = []
    for line, name in imported(source, module):
        top = name.split(".")[0]
        where = f"{path}:{line} imports {name}"
        if package == "live":
            if top in ("live", "__future__") or top in sys.stdlib_module_names or top in LIVE_THIRD_PARTY:
                continue
            if top == "redis" and path in LIVE_REDIS_MODULES:
                continue
            found.append(f"{where}: live imports the standard library, numpy, orjson (and redis in store.py)")
        elif package in EDGES and top != package and top in (*EDGES, "pursuit"):
            found.append(f"{where}: {package} builds on live alone")
        if (name == "pursuit.bench" or name.startswith("pursuit.bench.")) and path not in BENCH_IMPORTERS:
            if not path.startswith("pursuit/bench/"):
                found.append(f"{where}: only the command line (cli.py, measurement.py) imports the benchmarks")
    return found


def environment_reads(path: str, source: str) -> list[str]:
    """Where ``source`` touches ``os.environ`` or ``os.getenv`` outside the settings module."""
    if path in ENVIRONMENT_READERS or path.startswith("pursuit/bench/") or path == "pursuit/rehearse.py":
        return []
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            found.append(f"{path}:{node.lineno} reads os.{node.attr}: take it from pursuit.settings.Settings")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            names = {a.name for a in node.names} & {"environ", "getenv", "environb"}
            found += [f"{path}:{node.lineno} imports os.{n}" for n in sorted(names)]
    return found


def sources() -> list[Path]:
    return sorted(p for pkg in ("live", *EDGES, "pursuit") for p in (ROOT / pkg).rglob("*.py"))


def test_every_package_is_checked():
    names = {p.relative_to(ROOT).parts[0] for p in sources()}
    assert names == {"live", *EDGES, "pursuit"}
    assert (ROOT / "live" / "store" / "store.py") in sources() and (ROOT / "pursuit" / "cli.py") in sources()


def test_the_import_rules_hold():
    broken = []
    for path in sources():
        broken += violations(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
    assert not broken, "\n".join(broken)


def test_only_the_settings_read_the_environment():
    reads = []
    for path in sources():
        reads += environment_reads(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
    assert not reads, "\n".join(reads)
    assert environment_reads("web/admin.py", "import os\ntoken = os.environ.get('X', '')")
    assert environment_reads("pursuit/demo.py", "from os import getenv")
    assert not environment_reads("pursuit/settings.py", "import os\nenv = dict(os.environ)")


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("live/engine/engine.py", "import redis.asyncio as aioredis"),
        ("live/chase/chase.py", "from starlette.responses import Response"),
        ("live/engine/events.py", "def f():\n    from web.http import num"),
        ("web/api.py", "from dashboard.figures import map_figure"),
        ("dashboard/app.py", "from web import messages"),
        ("simulator/run.py", "from ingest.chronotrack_server import ChronoTrackServer"),
        ("ingest/replay.py", "from simulator import faults"),
        ("web/feed.py", "from pursuit.metrics import render_metrics"),
        ("pursuit/serve.py", "from pursuit.bench.fanout import bench_tick"),
        ("pursuit/demo.py", "from pursuit import bench"),
        ("pursuit/web.py", "import pursuit.bench.ingest"),
        ("pursuit/operations.py", "from pursuit.bench.tick import bench_tick"),
    ],
)
def test_a_broken_rule_is_reported(path: str, source: str):
    assert violations(path, source), f"{path}: {source!r} should break a rule"


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("live/store/store.py", "import redis.asyncio as aioredis"),
        ("live/chase/chase.py", "import numpy as np\nfrom live.chase.projection import project"),
        ("web/api.py", "from live.engine.engine import LiveEngine\nfrom web.http import num\nimport starlette"),
        ("pursuit/cli.py", "from pursuit.bench.fanout import bench_tick"),
        ("pursuit/measurement.py", "from pursuit.bench.tick import bench_tick"),
        ("pursuit/bench/ingest.py", "from pursuit.bench.fanout import machine"),
        ("pursuit/web.py", "from ingest.json_server import JsonIngest\nfrom dashboard.app import build"),
    ],
)
def test_an_allowed_import_passes(path: str, source: str):
    assert not violations(path, source)
