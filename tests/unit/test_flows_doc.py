"""docs/flows.md is the picture of data/rules; it must not drift from them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_flows_page_matches_the_rules() -> None:
    drawn = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "flows.py")], capture_output=True, text=True, check=True
    ).stdout
    assert (ROOT / "docs" / "flows.md").read_text(encoding="utf-8") == drawn, "run `make flows`"


def test_every_rule_file_has_a_chart() -> None:
    page = (ROOT / "docs" / "flows.md").read_text(encoding="utf-8")
    for rules in (ROOT / "data" / "rules").glob("*.yml"):
        assert f"`data/rules/{rules.name}`" in page
