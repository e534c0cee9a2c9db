"""The bot's words: the responses of domain.yml, read once per process.

The Rasa server sends the domain to every action call without its responses (see
docs/performance.md), so actions and reminders take their texts from here; both servers run from
the same checkout, and both are restarted after domain.yml changes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

DOMAIN = Path(__file__).resolve().parent.parent / "domain.yml"

Response = dict[str, Any]


@cache
def responses() -> dict[str, list[Response]]:
    domain = YAML(typ="safe").load(DOMAIN.read_text(encoding="utf-8"))
    loaded: dict[str, list[Response]] = domain["responses"]
    return loaded


def response(name: str) -> Response:
    """The first variant of a response (its text, buttons, ...)."""
    return responses()[name][0]
