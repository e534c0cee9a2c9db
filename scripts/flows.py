"""Draw the conversation flows from data/rules as Mermaid charts (docs/flows.md).

Usage: .venv/bin/python scripts/flows.py > docs/flows.md   (or: make flows)
tests/unit/test_flows_doc.py fails when docs/flows.md and the rules disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = 48


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _id(kind: str, name: str) -> str:
    return f"{kind}_{re.sub(r'[^0-9A-Za-z_]', '_', name)}"


def _label(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


class Chart:
    def __init__(self, responses: dict[str, Any]) -> None:
        self.responses = responses
        self.nodes: dict[str, str] = {}
        self.edges: list[str] = []

    def node(self, step: dict[str, Any]) -> str | None:
        if "intent" in step:
            name = step["intent"]
            return self._add(_id("user", name), f'(["👤 {name}"])')
        if "action" in step:
            name = step["action"]
            if name.startswith("utter_"):
                first = self.responses.get(name, [{}])[0].get("text", "")
                snippet = first if len(first) <= SNIPPET else first[: SNIPPET - 1] + "…"
                return self._add(_id("bot", name), f'["{name}<br/><i>{_label(snippet)}</i>"]')
            if name.endswith("_form"):
                return self._add(_id("form", name), f'{{{{"📝 {name}"}}}}')
            return self._add(_id("bot", name), f'[["⚙️ {name}"]]')
        return None

    def _add(self, node_id: str, shape: str) -> str:
        self.nodes.setdefault(node_id, f"    {node_id}{shape}")
        return node_id

    def rule(self, rule: dict[str, Any]) -> None:
        previous = None
        for condition in rule.get("condition", []):
            if condition.get("active_loop"):
                name = condition["active_loop"]
                previous = self._add(_id("during", name), f'(("during {name}"))')
        label = ""
        for step in rule["steps"]:
            if "slot_was_set" in step:
                pairs = [f"{k}={v}" for item in step["slot_was_set"] for k, v in item.items()]
                label = ", ".join(pairs)
                continue
            if "active_loop" in step:
                continue
            current = self.node(step)
            if current is None:
                continue
            if previous is not None and previous != current:
                edge = (
                    f"    {previous} -->|{_label(label)}| {current}"
                    if label
                    else f"    {previous} --> {current}"
                )
                if edge not in self.edges:
                    self.edges.append(edge)
            previous, label = current, ""

    def render(self) -> str:
        return "\n".join(["```mermaid", "flowchart LR", *self.nodes.values(), *self.edges, "```"])


def main() -> None:
    responses = _load(ROOT / "domain.yml").get("responses", {})
    out = [
        "# Conversation flows",
        "",
        "Generated from `data/rules/*.yml` by `make flows`; do not edit by hand",
        "(`tests/unit/test_flows_doc.py` fails when this page and the rules disagree).",
        "👤 is what the subscriber says (an intent), boxes are what the assistant does:",
        "responses with their first words, ⚙️ actions of the action server, 📝 forms.",
        "Edge labels are the slots an action set, which decide the branch.",
    ]
    for path in sorted((ROOT / "data" / "rules").glob("*.yml")):
        chart = Chart(responses)
        for rule in _load(path).get("rules", []):
            chart.rule(rule)
        out += ["", f"## {path.stem} (`data/rules/{path.name}`)", "", chart.render()]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
