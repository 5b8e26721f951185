"""Long commands' progress on stderr: plain lines at each tenth off a terminal, a bar and a table on one."""

from __future__ import annotations

import io

from pursuit.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_progress_is_a_plain_line_at_each_tenth():
    out = io.StringIO()
    with Progress("pursuit replay", stream=out) as progress:
        for done in range(0, 1001, 50):
            progress.update(done, 1000)
        progress.table("pursuit replay", {"lines": 1000})
    lines = out.getvalue().splitlines()
    assert lines[0] == "pursuit replay: started"
    assert lines[1:12] == [f"pursuit replay: {10 * t}% ({100 * t:,} of 1,000)" for t in range(11)]
    assert lines[12].startswith("pursuit replay: done in ") and len(lines) == 13, "no table off a terminal"


def test_on_a_terminal_a_bar_then_the_figures_as_a_table():
    out = Terminal()
    with Progress("pursuit bench tick", stream=out) as progress:
        progress.update(3, 10)
        progress.table("pursuit bench tick", {"bench": "tick", "reads": 861242, "met": True, "results": [1, 2]})
    text = out.getvalue()
    assert "861,242" in text and "tick" in text and "True" in text
    assert "results" not in text, "only the top-level figures; stdout has the whole result"
    assert "pursuit bench tick: done in " in text


def test_a_failure_says_stopped():
    out = io.StringIO()
    try:
        with Progress("pursuit replay", stream=out):
            raise ValueError("bad file")
    except ValueError:
        pass
    assert out.getvalue().splitlines()[-1].startswith("pursuit replay: stopped in ")
