"""The import rules of docs/ARCHITECTURE.md, read from the source (every import statement, also inside
functions and ``if TYPE_CHECKING``):

- ``live`` (the domain) imports the standard library, NumPy, orjson and itself; ``redis`` only in
  ``live/store/``, the one door to Redis: nothing outside it imports ``redis`` or reaches for a
  store's ``.redis`` connection (``web``, ``ingest``, ``dashboard`` and ``simulator`` included);
- ``web``, ``ingest``, ``dashboard`` and ``simulator`` build on ``live`` and import none of each other
  (the simulator reaches the ingestor only over sockets, like a real decoder) nor ``pursuit``;
- ``i18n`` (the catalogues and number formats, used by ``web`` and ``dashboard``) imports the standard
  library, Babel and itself, nothing of the project;
- only the command line imports the benchmarks, ``pursuit.bench``: ``pursuit/cli.py`` and the module of
  the ``bench`` command, ``pursuit/measurement.py`` (and the bench's own modules);
- only ``pursuit/settings.py`` reads the environment (the benchmarks and the rehearsal copy it into the
  environments of the processes they start);
- inside ``live``, the rooms import one way: ``race/`` at the bottom; ``chase/``, ``forecast/`` and
  ``store/`` on it and not on each other; ``engine/`` on top. ``clock.py``, ``events.py`` and ``reads.py``
  stay at the root, importable by every room, and import no room;
- no import cycle anywhere: the graph of imports between the project's own modules has no strongly
  connected component of two or more modules.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EDGES = ("web", "ingest", "dashboard", "simulator")
LIVE_THIRD_PARTY = {"numpy", "orjson"}
LANGUAGES_PACKAGE, LANGUAGES_THIRD_PARTY = "i18n", {"babel"}
REDIS_DOOR = "live/store/"
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
        if package == LANGUAGES_PACKAGE:
            if top not in (package, "__future__", *LANGUAGES_THIRD_PARTY) and top not in sys.stdlib_module_names:
                found.append(f"{where}: i18n imports the standard library and babel alone")
            continue
        if package == "live":
            if top in ("live", "__future__") or top in sys.stdlib_module_names or top in LIVE_THIRD_PARTY:
                continue
            if top == "redis" and path.startswith(REDIS_DOOR):
                continue
            found.append(f"{where}: live imports the standard library, numpy, orjson (and redis in live/store/)")
        elif package in EDGES and top != package and top in (*EDGES, "pursuit"):
            found.append(f"{where}: {package} builds on live alone")
        elif package in EDGES and top == "redis":
            found.append(f"{where}: only live/store/ talks to Redis")
        if (name == "pursuit.bench" or name.startswith("pursuit.bench.")) and path not in BENCH_IMPORTERS:
            if not path.startswith("pursuit/bench/"):
                found.append(f"{where}: only the command line (cli.py, measurement.py) imports the benchmarks")
    if package in ("live", *EDGES) and not path.startswith(REDIS_DOOR):
        found += [
            f"{path}:{node.lineno} uses .redis: only live/store/ talks to Redis (ask the store)"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr == "redis"
        ]
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
    return sorted(p for pkg in ("live", *EDGES, "pursuit", LANGUAGES_PACKAGE) for p in (ROOT / pkg).rglob("*.py"))


def test_every_package_is_checked():
    names = {p.relative_to(ROOT).parts[0] for p in sources()}
    assert names == {"live", *EDGES, "pursuit", LANGUAGES_PACKAGE}
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
        ("ingest/json_server.py", "from redis.exceptions import RedisError"),
        ("web/api.py", "async def f(store):\n    return await store.redis.hgetall('x')"),
        ("live/engine/events.py", "async def f(self):\n    await self.store.redis.xlen('j')"),
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
        ("i18n/catalogue.py", "from live.race.race import LANGUAGES"),
        ("i18n/numbers.py", "import numpy as np"),
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
        ("i18n/numbers.py", "import math\nfrom babel.numbers import format_decimal\nfrom i18n.catalogue import N_"),
        ("web/api.py", "from i18n.results import with_display_header"),
    ],
)
def test_an_allowed_import_passes(path: str, source: str):
    assert not violations(path, source)


# The rooms of live/ and the rooms each may import, besides itself and the root modules (clock, events, reads).
LIVE_ROOMS: dict[str, set[str]] = {
    "race": set(),
    "chase": {"race"},
    "forecast": {"race"},
    "store": {"race"},
    "engine": {"race", "chase", "forecast", "store"},
}
LIVE_ROOT_MODULES = {"live", "live.clock", "live.events", "live.reads"}


def module_of(path: str) -> str:
    """The dotted name of the file at ``path`` (relative to the repository)."""
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def project_files() -> dict[str, str]:
    """Every Python file of the packages, by path relative to the repository, with its source."""
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in sources()}


@lru_cache(maxsize=1024)
def import_statements(source: str) -> tuple[ast.Import | ast.ImportFrom, ...]:
    """Every import statement of ``source``, at any depth (parsed once per source text)."""
    return tuple(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import | ast.ImportFrom))


def import_graph(files: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """Which of the project's modules each module imports, with the line of the first such import.

    Every import statement counts (inside functions and ``if TYPE_CHECKING`` too); ``from a import b``
    is an edge to the module ``a.b`` when there is one, else to ``a``; ``import a.b.c`` to the longest
    of ``a.b.c``, ``a.b``, ``a`` that is a module. Third-party and standard-library imports are no edges.
    """
    modules = {module_of(path) for path in files}

    def known(name: str) -> str | None:
        parts = name.split(".")
        while parts and ".".join(parts) not in modules:
            parts.pop()
        return ".".join(parts) or None

    graph: dict[str, dict[str, int]] = {m: {} for m in modules}
    for path, source in files.items():
        module = module_of(path)
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        for node in import_statements(source):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [known(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    name = ".".join([*base, node.module] if node.module else base)
                else:
                    name = node.module or ""
                targets = [f"{name}.{a.name}" if f"{name}.{a.name}" in modules else known(name) for a in node.names]
            for target in targets:
                if target is not None and target != module:
                    graph[module].setdefault(target, node.lineno)
    return graph


def room_of(module: str) -> str | None:
    """The room of a module of ``live`` (``""`` for the root modules), None outside ``live``."""
    parts = module.split(".")
    if parts[0] != "live":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in LIVE_ROOMS else ""


def room_violations(graph: Mapping[str, Mapping[str, int]]) -> list[str]:
    """The imports between modules of ``live`` that run against the order of its rooms."""
    found = []
    for module, targets in sorted(graph.items()):
        room = room_of(module)
        if room is None:
            continue
        for target, line in sorted(targets.items()):
            other = room_of(target)
            if other is None or other == room or other == "":
                continue
            if room == "":
                found.append(
                    f"{module}:{line} imports {target}: the root modules (clock, events, reads) import no room"
                )
            elif other not in LIVE_ROOMS[room]:
                allowed = ", ".join(f"live/{r}/" for r in sorted(LIVE_ROOMS[room])) or "no other room"
                found.append(f"{module}:{line} imports {target}: live/{room}/ may import {allowed}")
    return found


def import_cycles(graph: Mapping[str, Mapping[str, int]]) -> list[list[str]]:
    """The strongly connected components of two or more modules (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph.get(module, {}):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(components)


def describe(cycle: list[str], graph: Mapping[str, Mapping[str, int]]) -> str:
    """A cycle's modules and the imports that bind them (module:line -> module)."""
    members = set(cycle)
    edges = [f"{m}:{line} -> {t}" for m in cycle for t, line in sorted(graph[m].items()) if t in members]
    return f"import cycle among {', '.join(cycle)}: " + "; ".join(edges)


def test_live_is_five_rooms_and_two_root_modules():
    live = {m for m in import_graph(project_files()) if m.startswith("live")}
    assert {m for m in live if room_of(m) == ""} == LIVE_ROOT_MODULES
    assert {room_of(m) for m in live} == {"", *LIVE_ROOMS}
    for room in LIVE_ROOMS:
        assert (ROOT / "live" / room / "__init__.py").is_file()


def test_the_rooms_of_live_import_one_way():
    graph = import_graph(project_files())
    assert not room_violations(graph), "\n".join(room_violations(graph))
    # the graph sees the imports the order is about: the checks are not vacuous
    assert "live.race.race" in graph["live.engine.engine"]
    assert "live.race.schedule" in graph["live.chase.chase"]
    assert "live.clock" in graph["live.store.store"]


def test_no_import_cycle_in_the_project():
    graph = import_graph(project_files())
    cycles = import_cycles(graph)
    assert not cycles, "\n".join(describe(c, graph) for c in cycles)
    assert len(graph) > 80 and sum(len(t) for t in graph.values()) > 250  # the whole project was read


@pytest.mark.parametrize(
    ("path", "added"),
    [
        ("live/race/course.py", "from live.chase.projection import project"),
        ("live/race/race.py", "def f():\n    from live.forecast import model"),
        ("live/chase/chase.py", "from live.store.store import Store"),
        ("live/chase/snapshot.py", "import live.forecast.forecast"),
        ("live/forecast/plan.py", "from live.chase import chase"),
        ("live/store/store.py", "from live.engine.engine import LiveEngine"),
        ("live/store/keys.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from live import engine"),
        ("live/clock.py", "from live.race.race import Race"),
        ("live/reads.py", "from .store import keys"),
        ("live/race/guns.py", "from ..chase import snapshot"),
    ],
)
def test_an_import_against_the_room_order_is_reported(path: str, added: str):
    files = project_files()
    files[path] += "\n" + added + "\n"
    found = room_violations(import_graph(files))
    assert len(found) == 1 and found[0].startswith(module_of(path) + ":"), found


@pytest.mark.parametrize(
    ("path", "added"),
    [
        ("live/engine/engine.py", "from live.store.keys import Keys\nfrom live.chase import projection"),
        ("live/forecast/plan.py", "from live.race.course import Course\nfrom live.reads import ChipTime"),
        ("live/store/keys.py", "from live import clock"),
    ],
)
def test_an_import_along_the_room_order_passes(path: str, added: str):
    files = project_files()
    files[path] += "\n" + added + "\n"
    assert not room_violations(import_graph(files))


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        (
            {"live/a.py": "from live import b\n", "live/b.py": "def f():\n    import live.a\n"},
            ["live.a", "live.b"],
        ),
        (
            {
                "web/a.py": "from .b import x\n",
                "web/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from web.a import y\n",
            },
            ["web.a", "web.b"],
        ),
    ],
)
def test_a_cycle_of_two_synthetic_modules_is_found(files: dict[str, str], cycle: list[str]):
    graph = import_graph({"live/__init__.py": "", "web/__init__.py": "", **files})
    assert import_cycles(graph) == [cycle]
    assert describe(cycle, graph).startswith("import cycle among")


def test_a_cycle_added_to_the_project_is_found():
    files = project_files()
    assert "live.race.errors" in import_graph(files)["live.race.basemap"]
    files["live/race/errors.py"] += "\ndef f() -> None:\n    from live.race import basemap\n"
    cycles = import_cycles(import_graph(files))
    assert cycles == [["live.race.basemap", "live.race.errors"]]


def imports_of_other_tests(files: Mapping[str, str]) -> list[str]:
    """Each ``path: module`` where a test file imports from ``tests.`` anything but ``tests.helpers``
    (another test module or a conftest): what tests share lives in ``tests/helpers/``."""
    found = []
    for path, text in sorted(files.items()):
        for node in ast.walk(ast.parse(text, filename=path)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name.startswith("tests.") and not (name == "tests.helpers" or name.startswith("tests.helpers.")):
                    found.append(f"{path}: {name}")
    return found


def test_tests_share_code_only_through_tests_helpers():
    tests = ROOT / "tests"
    files = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in tests.rglob("*.py")}
    assert imports_of_other_tests(files) == []
    files["tests/live/test_x.py"] = "from tests.live.test_forecast import MARATHON\nimport tests.conftest\n"
    assert imports_of_other_tests(files) == [
        "tests/live/test_x.py: tests.live.test_forecast",
        "tests/live/test_x.py: tests.conftest",
    ]


MAX_MODULE_LINES = 450  # issue 24: a module longer than this holds more than one idea


def test_no_module_of_the_packages_is_longer_than_450_lines():
    long = {path: text.count("\n") for path, text in project_files().items() if text.count("\n") > MAX_MODULE_LINES}
    assert long == {}, f"split these by idea: {long}"
