"""Subscribers: one person on one channel, known by (channel, channel user id)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from actions.register.models import Subscriber

DEFAULT_CHANNEL = "rest"


@dataclass(frozen=True)
class Identity:
    channel: str
    user_id: str


def identity_of(sender_id: str, input_channel: str | None) -> Identity:
    """Who is talking, qualified by the channel the message came through.

    Channels send channel-qualified sender ids ("viber:<id>"); the qualifier is only trusted
    when it names the channel the message really came through, so a REST or web chat sender
    called "viber:<id>" stays a REST or web chat subscriber.
    """
    channel = input_channel or DEFAULT_CHANNEL
    return Identity(channel, sender_id.removeprefix(f"{channel}:"))


def find_subscriber(session: Session, identity: Identity) -> Subscriber | None:
    return session.scalars(
        select(Subscriber).where(
            Subscriber.channel == identity.channel,
            Subscriber.channel_user_id == identity.user_id,
        )
    ).one_or_none()


def get_or_create_subscriber(
    session: Session,
    identity: Identity,
    display_name: str | None = None,
    language: str | None = None,
) -> Subscriber:
    """The subscriber for this identity, created on first contact; name and language refreshed."""
    subscriber = find_subscriber(session, identity)
    if subscriber is None:
        try:
            with session.begin_nested():
                subscriber = Subscriber(
                    channel=identity.channel,
                    channel_user_id=identity.user_id,
                    display_name=display_name,
                    language=language,
                )
                session.add(subscriber)
        except IntegrityError:
            # Another request created the same subscriber a moment ago.
            subscriber = find_subscriber(session, identity)
            if subscriber is None:
                raise
        return subscriber
    if display_name and subscriber.display_name != display_name:
        subscriber.display_name = display_name
    if language and subscriber.language != language:
        subscriber.language = language
    return subscriber


def set_subscribed(
    session: Session,
    identity: Identity,
    subscribed: bool,
    display_name: str | None = None,
    language: str | None = None,
) -> Subscriber:
    subscriber = get_or_create_subscriber(session, identity, display_name, language)
    subscriber.subscribed = subscribed
    return subscriber
