"""The runbook, the README and the protocol notes name only commands and options the program has (a
renamed option fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pursuit.cli import build_parser
from tests.helpers.commands import subparsers

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _command_lines(text: str) -> list[str]:
    """Every ``pursuit …`` command in code blocks and inline code, up to a pipe, comment or backtick; a
    line ending in a backslash goes on with the next. Prose ("pursuit takes the reads") is no command."""
    fence = r"^[ \t]*```[a-z]*\n(.*?)^[ \t]*```"
    fenced = re.findall(fence, text, flags=re.S | re.M)
    inline = re.findall(r"`([^`\n]+)`", re.sub(fence, "", text, flags=re.S | re.M))
    code = re.sub(r"\\\n\s*", " ", "\n".join([*fenced, *inline]))
    return [m.group(0) for m in re.finditer(r"\bpursuit (?:[a-z]+)(?:[^`#\n|]*)", code)]


@pytest.mark.parametrize("doc", ["docs/OPERATIONS.md", "docs/PROTOCOLS.md", "README.md"])
def test_every_pursuit_command_in_the_docs_parses(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    commands = _command_lines(text)
    assert len(commands) >= 3, commands
    parser = build_parser()
    checked = 0
    for line in commands:
        words = line.split()
        sub = subparsers(parser)
        assert words[1] in sub, f"{doc}: 'pursuit {words[1]}' is no command ({line!r})"
        command = sub[words[1]]
        rest = words[2:]
        if nested := subparsers(command):
            assert rest and rest[0] in nested, f"{doc}: {line!r}: 'pursuit {words[1]}' needs one of {list(nested)}"
            command, rest = nested[rest[0]], rest[1:]
        options = {o for a in command._actions for o in a.option_strings}
        for word in (w.strip("[]") for w in rest):  # README: `pursuit demo [--runners N]`
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"{doc}: {line!r}: {word} is no option"
        checked += 1
    assert checked == len(commands)
