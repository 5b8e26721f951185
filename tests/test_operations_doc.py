"""The runbook names only commands and options the program has (a renamed option fails here)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from pursuit.cli import build_parser

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def _command_lines(text: str) -> list[str]:
    """Every ``pursuit …`` command in code blocks and inline code, up to a pipe, comment or backtick."""
    return [m.group(0) for m in re.finditer(r"\bpursuit (?:[a-z]+)(?:[^`#\n|]*)", text)]


def test_every_pursuit_command_in_the_runbook_parses():
    text = (DOCS / "OPERATIONS.md").read_text(encoding="utf-8")
    commands = _command_lines(text)
    assert len(commands) >= 8, commands
    parser = build_parser()
    checked = 0
    for line in commands:
        words = line.split()
        sub = _subparsers(parser)
        assert words[1] in sub, f"docs/OPERATIONS.md: 'pursuit {words[1]}' is no command ({line!r})"
        command = sub[words[1]]
        rest = words[2:]
        if nested := _subparsers(command):
            assert rest and rest[0] in nested, (
                f"docs/OPERATIONS.md: {line!r}: 'pursuit {words[1]}' needs one of {list(nested)}"
            )
            command, rest = nested[rest[0]], rest[1:]
        options = {o for a in command._actions for o in a.option_strings}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"docs/OPERATIONS.md: {line!r}: {word} is no option"
        checked += 1
    assert checked == len(commands)
