"""Where things are: the project, and tests/output/ (server logs and screenshots kept for reading)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "tests" / "output"
