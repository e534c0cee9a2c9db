"""The console's index of Rasa's conversations: one summary row per conversation session, the
refusals in it, and the NLU inbox, kept up to date from the events table incrementally.

Pages read the index, never a million raw events; a transcript reads one conversation's events.
A conversation is a Rasa session: it starts at ``action_session_start`` (after 60 idle minutes,
domain.yml's session_config) and the next one's start ends it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from actions.console import tracker
from actions.console.dashboard import REFUSAL_REASONS
from actions.console.masking import UTTERED_RESPONSE
from actions.console.models import Conversation, InboxMessage, InboxStatus, IndexState, Refusal
from actions.console.nlu_data import CHANNEL_INTENTS
from actions.console.tracker import Event
from actions.register import db

SESSION_START = "action_session_start"
# Rasa sets it from the channel's metadata just before running action_session_start
SESSION_METADATA_SLOT = "session_started_metadata"
# config.yml's FallbackClassifier: below it Rasa answers with the fallback
FALLBACK_THRESHOLD = 0.4
# the top two intents this close: the model could not tell them apart (inbox "margin")
AMBIGUITY_MARGIN = 0.1
# below it a conversation is listed under "low confidence" though Rasa still answered
LOW_CONFIDENCE = 0.6
FALLBACK_INTENTS = {"nlu_fallback", "out_of_scope"}
FALLBACK_ACTIONS = {"action_default_fallback", "utter_default", "utter_out_of_scope"}
FAILURES = {"utter_service_unavailable", "utter_service_interrupted"}
DEACTIVATE_LOOP = "action_deactivate_loop"
BATCH = 20_000
# what a page opened indexes itself before answering (≈130 ms at 300 events, bench/results/console.md);
# the background thread does the rest
PAGE_BATCH = 300


@dataclass
class Unsure:
    event_id: int
    at: dt.datetime
    normalised: str
    intent: str
    confidence: float
    second_intent: str
    second_confidence: float
    why: str


@dataclass
class Summary:
    sender_id: str
    first_event_id: int
    last_event_id: int
    started_at: dt.datetime
    last_at: dt.datetime
    channel: str = ""
    user_messages: int = 0
    fallback: bool = False
    unfinished: bool = False
    failure: bool = False
    low_confidence: bool = False
    refusals: list[tuple[int, dt.datetime, str]] = field(default_factory=list)
    unsure: list[Unsure] = field(default_factory=list)


def moment(event: Event) -> dt.datetime:
    return dt.datetime.fromtimestamp(event.timestamp, dt.UTC)


def starts_session(event: Event) -> bool:
    return event.kind == "action" and event.data.get("name") == SESSION_START


def sessions(events: Sequence[Event]) -> Iterator[list[Event]]:
    """A sender's events split into conversations at each session start (with the metadata slot
    set just before it, which opens the session too)."""
    current: list[Event] = []
    for event in events:
        if starts_session(event):
            opening = [current.pop()] if current and _is_session_metadata(current[-1]) else []
            if current:
                yield current
            current = opening
        current.append(event)
    if current:
        yield current


def _is_session_metadata(event: Event) -> bool:
    return event.kind == "slot" and event.data.get("name") == SESSION_METADATA_SLOT


_DIGITS = re.compile(r"[0-9]+")
_SPACES = re.compile(r"\s+")


def normalised(text: str) -> str:
    """What groups messages in the inbox: case, spacing, digits (account and meter numbers, values)
    and trailing punctuation do not matter."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DIGITS.sub("#", text)
    text = _SPACES.sub(" ", text).strip().rstrip(".!?…,;: ")
    return text[:255]


def is_payload(text: str) -> bool:
    return text.startswith("/")


def intents_of(event: Event) -> tuple[str, float, list[tuple[str, float]]]:
    parse = event.data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    ranking = [
        (str(entry.get("name") or ""), float(entry.get("confidence") or 0.0))
        for entry in parse.get("intent_ranking") or []
        if isinstance(entry, dict)
    ]
    return str(intent.get("name") or ""), float(intent.get("confidence") or 0.0), ranking


def unsure(event: Event) -> Unsure | None:
    """A typed message the model was unsure of: fallback, out of scope, or two intents too close."""
    text = str(event.data.get("text") or "")
    intent, confidence, ranking = intents_of(event)
    if not text.strip() or is_payload(text) or intent in CHANNEL_INTENTS:
        return None
    guesses = [entry for entry in ranking if entry[0] != "nlu_fallback"]
    top, top_confidence = guesses[0] if guesses else (intent, confidence)
    second, second_confidence = guesses[1] if len(guesses) > 1 else ("", 0.0)
    if intent == "nlu_fallback" or confidence < FALLBACK_THRESHOLD:
        why = "fallback"
    elif intent == "out_of_scope":
        why = "out_of_scope"
    elif second and top_confidence - second_confidence < AMBIGUITY_MARGIN:
        why = "margin"
    else:
        return None
    return Unsure(
        event.id, moment(event), normalised(text), top, top_confidence, second, second_confidence, why
    )


def summarise(events: Sequence[Event]) -> Summary:
    """One conversation's summary from its events."""
    summary = Summary(
        sender_id=events[0].sender_id,
        first_event_id=events[0].id,
        last_event_id=events[-1].id,
        started_at=moment(events[0]),
        last_at=moment(events[-1]),
    )
    active_loop: str | None = None
    last_action = ""
    for event in events:
        data = event.data
        if event.kind == "user":
            _count_user_message(summary, event)
        elif event.kind == "bot":
            response = str((data.get("metadata") or {}).get(UTTERED_RESPONSE) or "")
            if response in REFUSAL_REASONS:
                summary.refusals.append((event.id, moment(event), response))
            summary.failure |= response in FAILURES
            summary.fallback |= response in FALLBACK_ACTIONS
        elif event.kind == "action":
            last_action = str(data.get("name") or "")
            summary.fallback |= last_action in FALLBACK_ACTIONS
        elif event.kind == "active_loop":
            name = data.get("name")
            if name is None and active_loop and last_action == DEACTIVATE_LOOP:
                summary.unfinished = True  # the subscriber left the form for something else
            active_loop = str(name) if name else None
    summary.unfinished |= active_loop is not None
    return summary


def _count_user_message(summary: Summary, event: Event) -> None:
    data = event.data
    if not summary.channel and data.get("input_channel"):
        summary.channel = str(data["input_channel"])[:32]
    intent, confidence, _ = intents_of(event)
    if intent in CHANNEL_INTENTS:
        return
    summary.user_messages += 1
    summary.fallback |= intent in FALLBACK_INTENTS
    typed = not is_payload(str(data.get("text") or ""))
    summary.low_confidence |= typed and confidence < LOW_CONFIDENCE
    if (found := unsure(event)) is not None:
        summary.unsure.append(found)


def index_events(batch: int = BATCH, max_batches: int | None = None, *, wait: bool = True) -> int:
    """Index the events written since the last run; returns how many were read.

    One transaction per batch, holding the index state's row lock: concurrent console workers
    index one after the other, never twice. ``wait=False`` (a page being opened) skips the run
    when another worker is indexing, rather than keep the page waiting."""
    if not tracker.has_events_table():
        return 0
    read = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        with db.transaction() as session:
            # the row comes with migration 0005; None here means another worker holds it
            state = session.scalar(
                select(IndexState).where(IndexState.name == "events").with_for_update(skip_locked=not wait)
            )
            if state is None:
                break
            new = tracker.events_after(state.last_event_id, batch)
            if not new:
                break
            _index(session, new)
            state.last_event_id = new[-1].id
            read += len(new)
        if len(new) < batch:
            break
    return read


def _index(session: Session, new: Sequence[Event]) -> None:
    by_sender: dict[str, list[Event]] = {}
    for event in new:
        by_sender.setdefault(event.sender_id, []).append(event)
    latest = _latest_conversations(session, list(by_sender))
    for sender, events in by_sender.items():
        previous = latest.get(sender)
        if previous is not None:
            # it goes on, or a new session starts (whose metadata slot the last run may have
            # counted as the previous one's end): read it again from its first event
            events = tracker.sender_events(sender, previous.first_event_id, events[-1].id)
        for chunk in sessions(events):
            existing = previous if previous and previous.first_event_id == chunk[0].id else None
            _store(session, summarise(chunk), existing)


def _latest_conversations(session: Session, senders: list[str]) -> dict[str, Conversation]:
    found: dict[str, Conversation] = {}
    for start in range(0, len(senders), 500):
        part = senders[start : start + 500]
        latest = (
            select(Conversation.sender_id, func.max(Conversation.first_event_id).label("first"))
            .where(Conversation.sender_id.in_(part))
            .group_by(Conversation.sender_id)
            .subquery()
        )
        rows = session.scalars(
            select(Conversation).join(
                latest,
                (Conversation.sender_id == latest.c.sender_id)
                & (Conversation.first_event_id == latest.c.first),
            )
        )
        found.update((row.sender_id, row) for row in rows)
    return found


def _store(session: Session, summary: Summary, row: Conversation | None) -> None:
    fresh = row is None
    if row is None:
        row = Conversation(sender_id=summary.sender_id[:255], first_event_id=summary.first_event_id)
        session.add(row)
    row.last_event_id = summary.last_event_id
    row.started_at = summary.started_at
    row.last_at = summary.last_at
    row.channel = summary.channel or row.channel or ""
    row.user_messages = summary.user_messages
    row.fallback = summary.fallback
    row.refused = bool(summary.refusals)
    row.unfinished = summary.unfinished
    row.failure = summary.failure
    row.low_confidence = summary.low_confidence
    session.flush()
    known: set[int] = set()
    if not fresh:
        session.execute(delete(Refusal).where(Refusal.conversation_id == row.id))
        known = set(
            session.scalars(select(InboxMessage.event_id).where(InboxMessage.conversation_id == row.id))
        )
    session.add_all(
        Refusal(event_id=event_id, conversation_id=row.id, at=at, reason=reason)
        for event_id, at, reason in summary.refusals
    )
    session.add_all(
        InboxMessage(
            event_id=item.event_id,
            conversation_id=row.id,
            at=item.at,
            normalised=item.normalised,
            intent=item.intent[:64],
            confidence=item.confidence,
            second_intent=item.second_intent[:64],
            second_confidence=item.second_confidence,
            why=item.why,
            status=InboxStatus.OPEN,
        )
        for item in summary.unsure
        if item.event_id not in known
    )
