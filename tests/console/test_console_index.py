"""The console's index of Rasa's events: sessions, flags, refusals, the inbox, and catching up
incrementally (a conversation that goes on is summarised again; nothing is counted twice)."""

from __future__ import annotations

from sqlalchemy import func, select

from actions.console import index
from actions.console.models import Conversation, InboxMessage, InboxStatus, IndexState, Refusal
from actions.register import db
from tests.console.conftest import TrackerStore
from tests.support.tracker_events import action, bot, loop, session_start, slot, user


def conversations() -> list[Conversation]:
    with db.transaction() as session:
        return list(session.scalars(select(Conversation).order_by(Conversation.first_event_id)))


def inbox() -> list[InboxMessage]:
    with db.transaction() as session:
        return list(session.scalars(select(InboxMessage).order_by(InboxMessage.event_id)))


def test_a_registration_with_a_refusal_and_an_unsure_message(tracker_store: TrackerStore) -> None:
    ids = tracker_store.write(
        "viber:anna",
        [
            *session_start(),
            user("Додати лічильник", "register_meter"),
            action("registration_form"),
            loop("registration_form"),
            bot("Введіть номер особового рахунку", "utter_ask_account_number"),
            user("99999", "inform_number", 0.99),
            bot("Особовий рахунок 99999 не знайдено", "utter_account_unknown"),
            user(
                "а коли дадуть гарячу воду?",
                "nlu_fallback",
                0.31,
                ranking=[
                    {"name": "nlu_fallback", "confidence": 0.4},
                    {"name": "submit_reading", "confidence": 0.31},
                    {"name": "out_of_scope", "confidence": 0.22},
                ],
            ),
            action("action_deactivate_loop"),
            loop(None),
            bot("Вибачте, я не зрозумів повідомлення.", "utter_default"),
        ],
    )
    assert index.index_events() == len(ids)
    [row] = conversations()
    assert (row.sender_id, row.first_event_id, row.last_event_id) == ("viber:anna", ids[0], ids[-1])
    assert row.channel == "viber"
    assert row.user_messages == 3
    assert (row.fallback, row.refused, row.unfinished, row.failure, row.low_confidence) == (
        True, True, True, False, True,
    )  # fmt: skip
    with db.transaction() as session:
        assert session.scalars(select(Refusal.reason)).all() == ["utter_account_unknown"]
    [unsure] = inbox()
    assert unsure.normalised == "а коли дадуть гарячу воду"
    assert (unsure.why, unsure.intent, unsure.second_intent) == ("fallback", "submit_reading", "out_of_scope")
    assert unsure.status is InboxStatus.OPEN
    # nothing new: nothing read, nothing changed
    assert index.index_events() == 0
    assert len(conversations()) == 1


def test_a_conversation_that_goes_on_is_summarised_again(tracker_store: TrackerStore) -> None:
    tracker_store.write(
        "viber:bob", [*session_start(), user("Привіт", "greet"), bot("Вітаю!", "utter_greet")]
    )
    index.index_events()
    [before] = conversations()
    assert not before.failure
    tracker_store.write(
        "viber:bob",
        [
            user("Передати показання", "submit_reading"),
            bot("Сервіс недоступний", "utter_service_unavailable"),
        ],
    )
    index.index_events()
    [after] = conversations()
    assert after.id == before.id
    assert after.user_messages == 2
    assert after.failure
    assert after.last_event_id > before.last_event_id


def test_a_new_session_is_a_new_conversation_and_senders_stay_apart(tracker_store: TrackerStore) -> None:
    tracker_store.write("viber:cat", [*session_start(), user("Привіт", "greet")])
    tracker_store.write(
        "socketio-xyz", [*session_start(), user("Мої лічильники", "my_meters", channel="socketio")]
    )
    tracker_store.write("viber:cat", [*session_start(), user("Контакти", "contacts")])
    index.index_events(batch=3)  # batches that cut conversations in the middle
    rows = conversations()
    assert [(row.sender_id, row.channel, row.user_messages) for row in rows] == [
        ("viber:cat", "viber", 1),
        ("socketio-xyz", "socketio", 1),
        ("viber:cat", "viber", 1),
    ]


def test_a_form_still_open_is_unfinished_and_a_submitted_one_is_not(tracker_store: TrackerStore) -> None:
    tracker_store.write(
        "viber:dan",
        [
            *session_start(),
            user("Передати показання", "submit_reading"),
            action("reading_form"),
            loop("reading_form"),
        ],
    )
    tracker_store.write(
        "viber:eve",
        [
            *session_start(),
            user("Передати показання", "submit_reading"),
            action("reading_form"),
            loop("reading_form"),
            user("128,50", "inform_number"),
            action("reading_form"),
            slot("reading_value", "128.50"),
            loop(None),
            bot("Прийнято 128.50 до обробки. Дякуємо", "utter_reading_accepted"),
        ],
    )
    index.index_events()
    assert [(row.sender_id, row.unfinished) for row in conversations()] == [
        ("viber:dan", True),
        ("viber:eve", False),
    ]


def test_payloads_channel_events_and_sure_messages_stay_out_of_the_inbox(tracker_store: TrackerStore) -> None:
    tracker_store.write(
        "viber:fay",
        [
            *session_start(),
            user("", "conversation_started", 1.0),
            user('/choose_meter{"meter_id":"7"}', "choose_meter", 1.0),
            user("Передати показання", "submit_reading", 0.97),
            user(
                "ну таке",
                "deny",
                0.48,
                ranking=[
                    {"name": "deny", "confidence": 0.48},
                    {"name": "affirm", "confidence": 0.41},
                ],
            ),
            user("яка погода", "out_of_scope", 0.9),
        ],
    )
    index.index_events()
    assert [(item.normalised, item.why) for item in inbox()] == [
        ("ну таке", "margin"),
        ("яка погода", "out_of_scope"),
    ]
    [row] = conversations()
    assert row.user_messages == 4  # the channel's conversation_started is not a message
    assert row.low_confidence  # 0.48


def test_digits_and_spacing_do_not_split_a_group(tracker_store: TrackerStore) -> None:
    assert (
        index.normalised("  Мій рахунок 12345!!") == index.normalised("мій   рахунок 678") == "мій рахунок #"
    )
    hostile = "<script>alert(1)</script>'; DROP TABLE events; --" + "я" * 1000
    tracker_store.write("viber:gus", [*session_start(), user(hostile, "nlu_fallback", 0.1)])
    index.index_events()
    [item] = inbox()
    assert item.normalised.startswith("<script>alert(#)</script>'; drop table events; --")
    assert len(item.normalised) == 255
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1


def test_undecodable_event_data_is_read_as_empty(tracker_store: TrackerStore) -> None:
    from sqlalchemy import insert

    from actions.console import tracker

    tracker_store.write("viber:hal", session_start())
    with tracker_store.engine.begin() as connection:
        connection.execute(
            insert(tracker.events).values(
                sender_id="viber:hal", type_name="user", timestamp=1.0, data="{not json"
            )
        )
        connection.execute(
            insert(tracker.events).values(
                sender_id="viber:hal", type_name="user", timestamp=1.0, data="[1, 2]"
            )
        )
    assert index.index_events() == 6
    [row] = conversations()
    assert row.user_messages == 0


def test_a_page_does_not_wait_while_another_worker_indexes(tracker_store: TrackerStore) -> None:
    tracker_store.write("viber:ivy", [*session_start(), user("Привіт", "greet")])
    with db.transaction() as busy:  # another worker in the middle of a batch
        busy.execute(select(IndexState).where(IndexState.name == "events").with_for_update())
        assert index.index_events(wait=False) == 0
    assert conversations() == []
    assert index.index_events(wait=False) == 5
    assert len(conversations()) == 1
