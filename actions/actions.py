"""Custom actions the Rasa server calls through the action server (rasa-sdk)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions import db
from actions.subscriber import Identity, get_or_create_subscriber, identity_of

logger = logging.getLogger(__name__)


def identity(tracker: Tracker) -> Identity:
    return identity_of(tracker.sender_id, tracker.get_latest_input_channel())


def _text_metadata(tracker: Tracker, key: str, limit: int) -> str | None:
    value = (tracker.latest_message.get("metadata") or {}).get(key)
    return value[:limit] if isinstance(value, str) and value.strip() else None


def _remember_subscriber(who: Identity, display_name: str | None, language: str | None) -> None:
    with db.transaction() as session:
        get_or_create_subscriber(session, who, display_name, language)


class ActionRememberSubscriber(Action):
    """Make sure the register knows who is talking (on first contact and each greeting)."""

    def name(self) -> str:
        return "action_remember_subscriber"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        who = identity(tracker)
        try:
            await asyncio.to_thread(
                _remember_subscriber,
                who,
                _text_metadata(tracker, "name", 255),
                _text_metadata(tracker, "language", 16),
            )
        except SQLAlchemyError:
            # The greeting that follows needs no database; the next greeting tries again.
            logger.exception("could not record a %s subscriber", who.channel)
        return []
