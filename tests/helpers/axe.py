"""axe-core (vendored in ``tests/data/axe.min.js``, npm ``axe-core``): its source for a page and the
call that lists a page's serious and critical violations."""

from __future__ import annotations

from pathlib import Path

import pytest

AXE = Path(__file__).resolve().parents[1] / "data" / "axe.min.js"
RUN_AXE = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}));
}"""


def axe_source() -> str:
    if not AXE.exists():  # vendored with the tests: missing is a broken checkout, never a skip
        pytest.fail(f"{AXE} is missing: npm install axe-core and copy node_modules/axe-core/axe.min.js there")
    return AXE.read_text(encoding="utf-8")
