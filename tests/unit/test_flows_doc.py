"""docs/flows.md is the picture of data/rules and data/stories; it must not drift from them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "flows.md"
NODE = re.compile(r"^    ([A-Za-z0-9_]+)(?:\(|\[|\{|>)")
EDGE = re.compile(r'^    ([A-Za-z0-9_]+) -->(?:\|"[^"]*"\|)? ([A-Za-z0-9_]+)$')


def charts() -> list[list[str]]:
    return [
        block.splitlines()
        for block in re.findall(r"```mermaid\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    ]


def test_flows_page_matches_the_data() -> None:
    drawn = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "flows.py")], capture_output=True, text=True, check=True
    ).stdout
    assert PAGE.read_text(encoding="utf-8") == drawn, "run `make flows`"


@pytest.mark.parametrize("kind", ["rules", "stories"])
def test_every_rule_and_story_file_has_a_chart(kind: str) -> None:
    page = PAGE.read_text(encoding="utf-8")
    for path in (ROOT / "data" / kind).glob("*.yml"):
        assert f"`data/{kind}/{path.name}`" in page, "run `make flows`"


def test_the_charts_are_well_formed() -> None:
    """Each node declared once, each edge between declared nodes, every subgraph closed."""
    assert charts()
    for lines in charts():
        assert lines[0] == "flowchart LR"
        declared: list[str] = []
        depth = 0
        for line in lines[1:]:
            if line.startswith("    subgraph "):
                depth += 1
            elif line == "    end":
                depth -= 1
            elif edge := EDGE.match(line):
                assert set(edge.groups()) <= set(declared), line
            elif node := NODE.match(line):
                declared.append(node.group(1))
                label = line[node.end() - 1 :]
                # a quote inside a label ends it early: flows.py writes #quot; instead
                assert label.count('"') == 2, line
            else:
                pytest.fail(f"not a node, an edge or a subgraph: {line!r}")
            assert depth in (0, 1), line
        assert depth == 0
        assert len(declared) == len(set(declared)), "node ids must be unique in a chart"
