"""The two contracts our Rasa server's patches impose on action code (actions/dialogue/conversation.py):
the domain arrives without its responses, and ``tracker.events`` holds the current turn only.

The action tests already hand actions the domain as the server sends it (tests/support/dialogue.py);
this guard also catches code paths those tests do not reach. tests/rasa checks the server's side.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import ROOT

DIALOGUE = sorted((ROOT / "actions" / "dialogue").glob("*.py"))


def reads_of_the_contracts(source: str) -> list[str]:
    """Each place that reads the domain's responses or the tracker's events, as "line: what"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in {"events", "applied_events"}:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Constant) and node.value == "responses":
            found.append(f"{node.lineno}: 'responses'")
        elif isinstance(node, ast.Attribute) and node.attr == "get_last_event_for":
            found.append(f"{node.lineno}: .{node.attr}")
    return sorted(found)


@pytest.mark.parametrize("path", DIALOGUE, ids=lambda path: path.name)
def test_dialogue_code_reads_neither_the_responses_nor_earlier_events(path: Path) -> None:
    assert reads_of_the_contracts(path.read_text(encoding="utf-8")) == []


def test_the_guard_sees_both() -> None:
    source = 'domain["responses"]["utter_menu"]\nfor e in tracker.events: pass\ntracker.applied_events()\n'
    assert reads_of_the_contracts(source) == ["1: 'responses'", "2: .events", "3: .applied_events"]
