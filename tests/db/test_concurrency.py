"""Racing writers on real PostgreSQL connections: the register's rules hold under concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import text

from actions.register import db
from actions.register.models import Account, Meter, MeterKind
from actions.register.reading import Submission, submit_reading
from actions.register.subscriber import Identity, get_or_create_subscriber

T = TypeVar("T")
ROUNDS = 20


def race(*calls: Callable[[], T]) -> list[T]:
    """Run the calls in threads released together by a barrier; their results, or the first error."""
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as error:  # handed to the test below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    if errors:
        raise errors[0]
    return [result for result in results if result is not None]


def new_meter(account: str = "12345", number: str = "111111") -> int:
    with db.transaction() as session:
        meter = Meter(
            account=Account(number=account, address="вул. Миру, 1"), number=number, kind=MeterKind.HEAT
        )
        session.add(meter)
        session.flush()
        return meter.id


def submitter(
    meter_id: int, value: str, period: str, message_id: str | None = None
) -> Callable[[], Submission]:
    def call() -> Submission:
        with db.transaction() as session:
            return submit_reading(
                session, meter_id, Decimal(value), channel="viber", message_id=message_id, period=period
            )

    return call


def rows(statement: str, **params: object) -> list[tuple[object, ...]]:
    with db.engine().connect() as connection:
        return [tuple(row) for row in connection.execute(text(statement), params)]


def test_two_submissions_for_one_meter_and_period(committed_db: str) -> None:
    meter_id = new_meter()
    for round_ in range(ROUNDS):
        period = f"{2000 + round_}-03"
        first, second = race(submitter(meter_id, "100.00", period), submitter(meter_id, "200.00", period))
        assert not first.duplicate
        assert not second.duplicate
        # Exactly one of them found nothing to supersede; the other superseded that one.
        outcomes = sorted([first, second], key=lambda result: result.superseded is not None)
        earlier, later = outcomes
        assert earlier.superseded is None
        assert later.superseded is not None
        assert later.superseded.id == earlier.reading.id
        stored = rows(
            "SELECT id, value::text, status FROM readings WHERE meter_id = :m AND period = :p ORDER BY id",
            m=meter_id,
            p=period,
        )
        assert stored == [
            (earlier.reading.id, str(earlier.reading.value), "superseded"),
            (later.reading.id, str(later.reading.value), "accepted"),
        ]
    assert rows("SELECT status, count(*) FROM readings GROUP BY status ORDER BY status") == [
        ("accepted", ROUNDS),
        ("superseded", ROUNDS),
    ]


def test_race_with_an_earlier_accepted_reading(committed_db: str) -> None:
    meter_id = new_meter()
    for round_ in range(ROUNDS):
        period = f"{2000 + round_}-03"
        submitter(meter_id, "1.00", period)()
        race(submitter(meter_id, "2.00", period), submitter(meter_id, "3.00", period))
        statuses = rows(
            "SELECT value::text, status FROM readings WHERE meter_id = :m AND period = :p ORDER BY id",
            m=meter_id,
            p=period,
        )
        assert statuses[0] == ("1.00", "superseded")
        assert statuses[1][1] == "superseded"
        assert statuses[2][1] == "accepted"
        assert sorted(value for value, _ in statuses[1:]) == ["2.00", "3.00"]


def test_many_racers_one_accepted(committed_db: str) -> None:
    meter_id = new_meter()
    results = race(*(submitter(meter_id, f"{i}.00", "2026-03") for i in range(6)))
    assert len(results) == 6
    assert sum(result.superseded is None for result in results) == 1
    assert rows("SELECT status, count(*) FROM readings GROUP BY status ORDER BY status") == [
        ("accepted", 1),
        ("superseded", 5),
    ]


def test_same_message_twice(committed_db: str) -> None:
    meter_id = new_meter()
    for round_ in range(ROUNDS):
        message = f"msg-{round_}"
        period = f"{2000 + round_}-03"
        first, second = race(
            submitter(meter_id, "10.00", period, message), submitter(meter_id, "10.00", period, message)
        )
        assert sorted([first.duplicate, second.duplicate]) == [False, True]
        assert first.reading.id == second.reading.id
        stored = rows("SELECT period, status FROM readings WHERE message_id = :m", m=message)
        assert stored == [(period, "accepted")]
    assert rows("SELECT count(*) FROM readings") == [(ROUNDS,)]


def test_two_first_contacts_one_subscriber(committed_db: str) -> None:
    def contact(user: str, name: str) -> Callable[[], int]:
        def call() -> int:
            with db.transaction() as session:
                return get_or_create_subscriber(session, Identity("viber", user), name).id

        return call

    for round_ in range(ROUNDS):
        user = f"user-{round_}"
        first, second = race(contact(user, "A"), contact(user, "B"))
        assert first == second
        assert rows("SELECT id FROM subscribers WHERE channel_user_id = :u", u=user) == [(first,)]
    assert rows("SELECT count(*) FROM subscribers") == [(ROUNDS,)]
