"""Where the repository and its default race are, for every test."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARIS = ROOT / "races" / "paris-j1000"
