"""The command line: race check prints a summary or a located error; every command says what it takes."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from pursuit.cli import build_parser
from tests.helpers.commands import subparsers
from tests.helpers.paths import PARIS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pursuit.cli", *args], capture_output=True, text=True, timeout=60)


def test_race_check_prints_a_summary():
    result = run("race", "check", str(PARIS))
    assert result.returncode == 0, result.stderr
    assert "5,000 m" in result.stdout and "marbeuf#2" in result.stdout and "3,599" in result.stdout
    assert result.stdout.strip().endswith("OK")


def test_race_check_summarises_a_catcher_car_race():
    result = run("race", "check", str(PARIS.parent / "world-run-paris"))
    assert result.returncode == 0, result.stderr
    assert "20 km/h from 3 h, 35 km/h from 5 h" in result.stdout and "arc#27" in result.stdout
    assert "outcome    distance" in result.stdout and "milestones 5 km, 10 km, 21.0975 km" in result.stdout
    assert "outcome" not in run("race", "check", str(PARIS)).stdout


def test_race_check_names_the_file_and_line_of_an_error(tmp_path):
    race = tmp_path / "race"
    shutil.copytree(PARIS, race)
    csv = race / "participants.csv"
    lines = csv.read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6].rsplit(",", 1)[0] + ",soon"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("race", "check", str(race))
    assert result.returncode == 2
    assert "participants.csv: line 7: declared_s 'soon'" in result.stderr


def test_help_lists_the_commands():
    result = run("--help")
    for command in ("demo", "serve", "ingest", "web", "simulate", "race"):
        assert command in result.stdout


def _options(*command: str) -> set[str]:
    parser = build_parser()
    for word in command:
        parser = subparsers(parser)[word]
    return {o for a in parser._actions for o in a.option_strings}


def test_each_process_offers_only_the_ports_it_opens():
    """`pursuit ingest --port 8000` opened no web port and said nothing; `pursuit web --ingest-port` neither."""
    assert {"--ingest-port", "--mylaps-port"} <= _options("ingest") and "--port" not in _options("ingest")
    assert "--port" in _options("web") and not {"--ingest-port", "--mylaps-port"} & _options("web")
    assert {"--port", "--ingest-port", "--mylaps-port", "--no-engine"} <= _options("serve")
    refused = run("ingest", "--port", "8000")
    assert refused.returncode == 2 and "unrecognized arguments: --port" in refused.stderr


def test_every_option_and_command_says_what_it_is():
    """Every command and option has a help text, and none stops mid-sentence (the engine's said 'stands by to')."""

    def walk(parser, path):  # type: ignore[no-untyped-def]
        for action in parser._actions:
            if action.option_strings and action.help != "==SUPPRESS==":
                assert action.help, f"pursuit {path} {action.option_strings[0]} has no help"
        sub = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        for choice in sub[0]._choices_actions if sub else []:
            assert choice.help and not choice.help.rstrip().endswith((" to", " or", " and", ",")), (
                f"pursuit {path} {choice.dest}: {choice.help!r}"
            )
        for name, child in subparsers(parser).items():
            walk(child, f"{path} {name}".strip())

    walk(build_parser(), "")


def test_token_prints_a_table_race_toml_accepts(tmp_path):
    import hashlib

    from live.race.race_file import load_race

    made = run("token", "Marie Dubois")
    assert made.returncode == 0, made.stderr
    token = made.stderr.rsplit(": ", 1)[1].strip()
    race = tmp_path / "race"
    shutil.copytree(PARIS, race)
    with (race / "race.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n" + made.stdout)
    (operator,) = load_race(race).operators
    assert operator.name == "Marie Dubois"
    assert operator.token_sha256 == hashlib.sha256(token.encode()).hexdigest()


def test_token_refuses_a_name_race_toml_would_refuse():
    refused = run("token", "x" * 61)
    assert refused.returncode == 2 and "at most 60" in refused.stderr and not refused.stdout


@pytest.mark.parametrize("command", [["ingest"], ["web"], ["engine"], ["rebuild"], ["replay", "backup.txt"]])
def test_a_redis_that_does_not_answer_is_one_line_not_a_traceback(command):
    """Race morning, Redis not started yet or REDIS_URL mistyped: the crew reads what is wrong."""
    import os
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "REDIS_URL": f"redis://:hunter2@127.0.0.1:{port}/0"}
    result = subprocess.run([sys.executable, "-m", "pursuit.cli", *command], capture_output=True, text=True,
                            timeout=60, env=env)  # fmt: skip
    assert result.returncode == 1
    assert f"pursuit {command[0]}: no answer from Redis at redis://127.0.0.1:{port}/0 (REDIS_URL)" in result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_help_names_every_environment_variable_the_settings_read():
    from ingest.json_server import TOKENS_ENV
    from pursuit import settings

    text = run("--help").stdout
    variables = [settings.REDIS_URL_ENV, settings.CORS_ENV, settings.LOOP_ENV, settings.FORWARDED_ENV, TOKENS_ENV]
    for variable in [*variables, "PURSUIT_ADMIN_TOKEN", "secret_env"]:
        assert variable in text, f"pursuit --help does not name {variable}"


@pytest.mark.parametrize("option", ["--ingest-port", "--mylaps-port"])
def test_a_port_out_of_range_is_an_argument_error(option):
    """--ingest-port 70000 ended in 'OverflowError: bind(): port must be 0-65535' after Redis was set up."""
    result = run("ingest", option, "70000")
    assert result.returncode == 2 and f"argument {option}: expected a TCP port 1–65535, got '70000'" in result.stderr


def test_simulate_refuses_a_web_url_without_its_scheme():
    """`--web 127.0.0.1:8000` made the JSON reader retry 'isn't a valid URI' every 2 s, for ever."""
    result = run("simulate", "--protocols", "george-v=json", "--web", "127.0.0.1:8000", "--ingest-port", "9")
    assert (
        result.returncode == 2 and "--web '127.0.0.1:8000': give the web app's URL, http://host:port" in result.stderr
    )
