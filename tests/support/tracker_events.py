"""Rasa tracker events as the SQL tracker store keeps them (the JSON in ``events.data``), for
tests that fill a tracker store by hand."""

from __future__ import annotations

from typing import Any


def user(text: str, intent: str, confidence: float = 0.95, **extra: Any) -> dict[str, Any]:
    ranking = extra.pop("ranking", [{"name": intent, "confidence": confidence}])
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": confidence},
            "entities": extra.pop("entities", []),
            "intent_ranking": ranking,
            "text": text,
        },
        "input_channel": extra.pop("channel", "viber"),
        "message_id": extra.pop("message_id", text),
        **extra,
    }


def bot(text: str, response: str, **extra: Any) -> dict[str, Any]:
    return {"event": "bot", "text": text, "data": extra, "metadata": {"utter_action": response}}


def action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name, "policy": "RulePolicy", "confidence": 1.0}


def session_start(metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """As Rasa 3.6 writes a session's start when the channel sends metadata (Viber and the web chat
    do): the metadata slot first, then the session start action."""
    profile = metadata if metadata is not None else {"name": "Олена Петренко", "language": "uk"}
    return [
        slot("session_started_metadata", profile),
        action("action_session_start"),
        {"event": "session_started"},
        action("action_listen"),
    ]


def loop(name: str | None) -> dict[str, Any]:
    return {"event": "active_loop", "name": name}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}
