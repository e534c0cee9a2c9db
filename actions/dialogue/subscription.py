"""Who is talking (data/rules/menu.yml, channel_events.yml): the subscriber is remembered at each
greeting, and Viber's subscribe and unsubscribe events are recorded."""

from __future__ import annotations

import logging
import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.dialogue.conversation import identity, in_register, when_register_fails
from actions.register.subscriber import get_or_create_subscriber, set_subscribed

logger = logging.getLogger(__name__)

# What PostgreSQL and UTF-8 cannot store (NUL, lone surrogates) and other control characters:
# the REST and web chat channels pass the caller's metadata through as it came.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _text_metadata(tracker: Tracker, key: str, limit: int) -> str | None:
    value = (tracker.latest_message.get("metadata") or {}).get(key)
    if not isinstance(value, str):
        return None
    cleaned = _UNSTORABLE.sub("", value)[:limit]
    return cleaned if cleaned.strip() else None


class ActionRememberSubscriber(Action):
    """Make sure the register knows who is talking (on first contact and each greeting)."""

    def name(self) -> str:
        return "action_remember_subscriber"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        who = identity(tracker)
        name, language = _text_metadata(tracker, "name", 255), _text_metadata(tracker, "language", 16)
        try:
            await in_register(get_or_create_subscriber, who, name, language)
        except SQLAlchemyError:
            # The greeting that follows needs no database; the next greeting tries again.
            logger.exception("could not record a %s subscriber", who.channel)
        return []


class ActionUpdateSubscription(Action):
    """Record that the subscriber joined or left the channel's public account (Viber events)."""

    def name(self) -> str:
        return "action_update_subscription"

    @when_register_fails
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        joined = (tracker.latest_message.get("intent") or {}).get("name") == "subscribed"
        name, language = _text_metadata(tracker, "name", 255), _text_metadata(tracker, "language", 16)
        await in_register(set_subscribed, identity(tracker), joined, name, language)
        return []
