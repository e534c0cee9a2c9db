"""Draw the conversation flows from data/rules and data/stories as Mermaid charts (docs/flows.md).

One chart per flow: data/rules/X.yml and data/stories/X.yml. Rules are drawn as one graph (the
same intent or action is one box); each story is a path of its own, in a box with its name.

Usage: .venv/bin/python scripts/flows.py > docs/flows.md   (or: make flows)
tests/unit/test_flows_doc.py fails when docs/flows.md and the data disagree.
"""

from __future__ import annotations

import re
import sys
import zlib
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SNIPPET = 48
# drawn once per rule: one box shared by every rule that leaves a form would join their paths
PASS_THROUGH = frozenset({"action_deactivate_loop"})


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}


def _id(kind: str, name: str) -> str:
    """A Mermaid node id; names that are not ASCII (a user's text) keep apart by a checksum."""
    suffix = "" if name.isascii() else f"_{zlib.crc32(name.encode()):08x}"
    return f"{kind}_{re.sub(r'[^0-9A-Za-z_]', '_', name)}{suffix}"


def _label(text: str) -> str:
    """Text safe inside a quoted Mermaid label (its markup, <br/> and <i>, is added after this)."""
    text = " ".join(str(text).split())
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def _snippet(text: str) -> str:
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else str(value)


def _entities(step: dict[str, Any]) -> list[str]:
    """The entity names a user step lists (`- name`, `- name: value` or `- entity: name`), once each."""
    names: list[str] = []
    for entity in step.get("entities") or []:
        if isinstance(entity, dict):
            found = [str(entity["entity"])] if "entity" in entity else [str(key) for key in entity]
        else:
            found = [str(entity)]
        names += [name for name in found if name not in names]
    return names


def _slots(step: dict[str, Any]) -> list[str]:
    """A slot_was_set step as `slot=value` (or just `slot`) pairs."""
    pairs = []
    for item in step["slot_was_set"]:
        if isinstance(item, dict):
            pairs += [f"{slot}={_value(value)}" for slot, value in item.items()]
        else:
            pairs.append(str(item))
    return pairs


class Chart:
    """One flow's chart: its rules as a graph, then its stories as paths."""

    def __init__(self, responses: dict[str, Any]) -> None:
        self.responses = responses
        self.rule_nodes: dict[str, str] = {}
        self.rule_edges: list[str] = []
        self.stories: list[list[str]] = []

    def shape(self, step: dict[str, Any]) -> tuple[str, str] | None:
        """A step's (id in the rules' graph, Mermaid shape with its label), or None if it draws nothing."""
        if "or" in step:
            either = [self.said(alternative) for alternative in step["or"]]
            return _id("user", "_or_".join(either)), f'(["👤 {_label(" / ".join(either))}"])'
        if "intent" in step or "user" in step:
            said = self.said(step)
            return _id("user", said), f'(["👤 {_label(said)}"])'
        if "action" in step:
            name = step["action"]
            if name.startswith("utter_"):
                first = self.responses.get(name, [{}])[0].get("text", "")
                return _id("bot", name), f'["{name}<br/><i>{_label(_snippet(first))}</i>"]'
            if name.endswith("_form"):
                return _id("form", name), f'{{{{"📝 {name}"}}}}'
            return _id("bot", name), f'[["⚙️ {name}"]]'
        if "checkpoint" in step:
            return _id("checkpoint", step["checkpoint"]), f'>"⤵ {_label(step["checkpoint"])}"]'
        return None

    @staticmethod
    def said(step: dict[str, Any]) -> str:
        """A user step as the intent (or the text) and the entities it lists."""
        said = step.get("intent") or f"«{_snippet(str(step.get('user', '')).strip())}»"
        entities = _entities(step)
        return f"{said} · {', '.join(entities)}" if entities else said

    @staticmethod
    def edge(source: str, target: str, slots: list[str]) -> str:
        if not slots:
            return f"    {source} --> {target}"
        return f'    {source} -->|"{_label(", ".join(slots))}"| {target}'

    def rule(self, rule: dict[str, Any]) -> None:
        previous = None
        for condition in rule.get("condition") or []:
            if condition.get("active_loop"):
                name = condition["active_loop"]
                previous = _id("during", name)
                self.rule_nodes.setdefault(previous, f'    {previous}(("during {name}"))')
        slots: list[str] = []
        for step in rule["steps"]:
            if "slot_was_set" in step:
                slots += _slots(step)
                continue
            drawn = self.shape(step)
            if drawn is None:
                continue
            current, shape = drawn
            if step.get("action") in PASS_THROUGH and previous is not None:
                current = f"{previous}_{step['action']}"
            self.rule_nodes.setdefault(current, f"    {current}{shape}")
            if previous is not None and previous != current:
                edge = self.edge(previous, current, slots)
                if edge not in self.rule_edges:
                    self.rule_edges.append(edge)
            previous, slots = current, []

    def story(self, story: dict[str, Any]) -> None:
        number = len(self.stories) + 1
        lines = [f'    subgraph story_{number} ["{_label(story.get("story", f"story {number}"))}"]']
        edges: list[str] = []
        previous, slots = None, []
        for step in story.get("steps") or []:
            if "slot_was_set" in step:
                slots += _slots(step)
                continue
            drawn = self.shape(step)
            if drawn is None:
                continue
            current = f"s{number}_{len(lines)}"
            lines.append(f"    {current}{drawn[1]}")
            if previous is not None:
                edges.append(self.edge(previous, current, slots))
            previous, slots = current, []
        self.stories.append([*lines, *edges, "    end"])

    def render(self) -> str:
        body: list[str] = [*self.rule_nodes.values(), *self.rule_edges]
        if self.stories and body:
            body = ['    subgraph rules ["rules"]', *body, "    end"]
        for story in self.stories:
            body += story
        return "\n".join(["```mermaid", "flowchart LR", *body, "```"])


def main() -> None:
    responses = _load(ROOT / "domain.yml").get("responses", {})
    out = [
        "# Conversation flows",
        "",
        "Generated from `data/rules/*.yml` and `data/stories/*.yml` by `make flows`; do not edit by",
        "hand (`tests/unit/test_flows_doc.py` fails when this page and the data disagree).",
        "",
        "One chart per flow. Its rules are drawn together: an intent or action is one box however many",
        "rules name it (except `action_deactivate_loop`, drawn once per rule), and ◯ during X starts",
        "a rule that applies while form X is active. Then each story is a path of its own, read left",
        "to right in a frame with the story's name.",
        "👤 is what the subscriber says (an intent, with the entities the step lists after ·); boxes",
        "are what the assistant does: responses with their first words, ⚙️ actions of the action server,",
        "📝 forms. Edge labels are the slots set on the way (`slot_was_set`), which decide the branch.",
    ]
    flows = sorted({path.stem for kind in ("rules", "stories") for path in (DATA / kind).glob("*.yml")})
    for flow in flows:
        chart = Chart(responses)
        sources = []
        for kind in ("rules", "stories"):
            path = DATA / kind / f"{flow}.yml"
            if not path.exists():
                continue
            sources.append(f"`data/{kind}/{path.name}`")
            draw = chart.rule if kind == "rules" else chart.story
            for item in _load(path).get(kind) or []:
                draw(item)
        out += ["", f"## {flow} ({', '.join(sources)})", "", chart.render()]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
