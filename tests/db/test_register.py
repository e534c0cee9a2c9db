"""The register in PostgreSQL: its constraints, and the reading, meter and subscriber functions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from actions.register import clock
from actions.register.account import find_account, is_account_number
from actions.register.meter import enrol_meter, enrolled_meters, find_meter, is_enrolled
from actions.register.models import Account, Meter, MeterKind, Reading, ReadingStatus, Subscriber
from actions.register.reading import (
    PeriodReading,
    accepted_reading,
    previous_accepted,
    recent_readings,
    submit_reading,
)
from actions.register.subscriber import (
    Identity,
    find_subscriber,
    get_or_create_subscriber,
    identity_of,
    set_subscribed,
)

T0 = dt.datetime(2026, 3, 26, 8, 0, tzinfo=dt.UTC)


def make_meter(
    session: Session,
    account: str = "12345",
    number: str = "111111",
    kind: MeterKind = MeterKind.HEAT,
    digits: int = 3,
) -> Meter:
    owner = find_account(session, account)
    if owner is None:
        owner = Account(number=account, address=f"вул. Миру, {account}")
        session.add(owner)
    meter = Meter(account=owner, number=number, kind=kind, dial_digits=digits)
    session.add(meter)
    session.flush()
    return meter


def sql(session: Session, statement: str, **params: Any) -> None:
    session.execute(text(statement), params)


def refused(session: Session, statement: str, **params: Any) -> str:
    """Run the statement in a savepoint, expect the database to refuse it; the constraint's name."""
    with pytest.raises(IntegrityError) as error, session.begin_nested():
        sql(session, statement, **params)
    return str(error.value.orig.diag.constraint_name)  # type: ignore[union-attr]


def insert_reading(
    session: Session,
    meter_id: int,
    period: str = "2026-03",
    value: str = "1.00",
    status: str = "accepted",
    channel: str = "rest",
    message_id: str | None = None,
) -> None:
    sql(
        session,
        "INSERT INTO readings (meter_id, period, value, submitted_at, channel, message_id, status)"
        " VALUES (:meter_id, :period, CAST(:value AS numeric), now(), :channel, :message_id, :status)",
        meter_id=meter_id,
        period=period,
        value=value,
        channel=channel,
        message_id=message_id,
        status=status,
    )


def insert_reading_refused(session: Session, meter_id: int, **values: Any) -> str:
    with pytest.raises(IntegrityError) as error, session.begin_nested():
        insert_reading(session, meter_id, **values)
    return str(error.value.orig.diag.constraint_name)  # type: ignore[union-attr]


def readings_of(session: Session, meter_id: int) -> list[tuple[str, str, str]]:
    rows = session.execute(
        text("SELECT period, value::text, status FROM readings WHERE meter_id = :m ORDER BY id"),
        {"m": meter_id},
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


# --- constraints ------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1234a", "1234", "", " 1234", "１２３４５", "12.34", "-1234"])
def test_account_number_check(session: Session, number: str) -> None:
    statement = "INSERT INTO accounts (number, address) VALUES (:number, 'a')"
    assert refused(session, statement, number=number) == "ck_accounts_number_five_digits"


def test_account_number_too_long(session: Session) -> None:
    with pytest.raises(DataError, match="character varying\\(5\\)"), session.begin_nested():
        sql(session, "INSERT INTO accounts (number, address) VALUES ('123456', 'a')")
    sql(session, "INSERT INTO accounts (number, address) VALUES ('01234', 'a')")
    assert find_account(session, "01234") is not None


def test_account_number_unique(session: Session) -> None:
    sql(session, "INSERT INTO accounts (number, address) VALUES ('12345', 'a')")
    statement = "INSERT INTO accounts (number, address) VALUES ('12345', 'b')"
    assert refused(session, statement) == "uq_accounts_number"


def test_meter_checks(session: Session) -> None:
    account_id = make_meter(session).account_id

    def meter(number: str = "2", kind: str = "heat", digits: int = 3) -> str:
        return refused(
            session,
            "INSERT INTO meters (account_id, number, kind, dial_digits) VALUES (:a, :n, :k, :d)",
            a=account_id,
            n=number,
            k=kind,
            d=digits,
        )

    assert meter(kind="gas") == "ck_meters_kind_known"
    assert meter(kind="HEAT") == "ck_meters_kind_known"
    assert meter(number="") == "ck_meters_number_not_empty"
    assert meter(digits=0) == "ck_meters_dial_digits_range"
    assert meter(digits=8) == "ck_meters_dial_digits_range"
    assert meter(number="111111") == "uq_meters_account_id_number"
    assert refused(session, "INSERT INTO meters (account_id, number, kind) VALUES (999999, '1', 'heat')") == (
        "fk_meters_account_id_accounts"
    )
    sql(session, "INSERT INTO meters (account_id, number, kind) VALUES (:a, '2', 'hot_water')", a=account_id)
    digits = session.scalar(text("SELECT dial_digits FROM meters WHERE number = '2'"))
    assert digits == 3


def test_same_meter_number_on_two_accounts(session: Session) -> None:
    first = make_meter(session, "12345", "777")
    second = make_meter(session, "23456", "777")
    assert first.id != second.id
    assert find_meter(session, "12345", "777") is first
    assert find_meter(session, "23456", "777") is second
    assert find_meter(session, "34567", "777") is None
    assert find_meter(session, "12345", "778") is None


def test_account_with_meters_cannot_be_deleted(session: Session) -> None:
    meter = make_meter(session)
    statement = "DELETE FROM accounts WHERE id = :a"
    assert refused(session, statement, a=meter.account_id) == "fk_meters_account_id_accounts"


def test_one_accepted_reading_per_meter_and_period(session: Session) -> None:
    meter = make_meter(session)
    insert_reading(session, meter.id, "2026-03", "10.00")
    assert insert_reading_refused(session, meter.id, period="2026-03") == "uq_readings_accepted_meter_period"
    # Superseded rows may be many; other periods and other meters are independent.
    insert_reading(session, meter.id, "2026-03", "9.00", status="superseded")
    insert_reading(session, meter.id, "2026-03", "8.00", status="superseded")
    insert_reading(session, meter.id, "2026-02", "7.00")
    other = make_meter(session, number="222222")
    insert_reading(session, other.id, "2026-03", "1.00")
    assert readings_of(session, meter.id) == [
        ("2026-03", "10.00", "accepted"),
        ("2026-03", "9.00", "superseded"),
        ("2026-03", "8.00", "superseded"),
        ("2026-02", "7.00", "accepted"),
    ]


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"value": "-0.01"}, "ck_readings_value_not_negative"),
        ({"period": "2026-13"}, "ck_readings_period_format"),
        ({"period": "2026-00"}, "ck_readings_period_format"),
        ({"period": "2026/01"}, "ck_readings_period_format"),
        ({"period": "26-01"}, "ck_readings_period_format"),
        ({"period": "2026-1"}, "ck_readings_period_format"),
        ({"period": "202a-01"}, "ck_readings_period_format"),
        ({"period": "2026-0a"}, "ck_readings_period_format"),
        ({"status": "pending"}, "ck_readings_status_known"),
        ({"status": "ACCEPTED"}, "ck_readings_status_known"),
    ],
)
def test_reading_checks(session: Session, values: dict[str, str], constraint: str) -> None:
    meter = make_meter(session)
    assert insert_reading_refused(session, meter.id, **values) == constraint


def test_reading_value_limits(session: Session) -> None:
    meter = make_meter(session)
    insert_reading(session, meter.id, "2026-01", "0.00")
    insert_reading(session, meter.id, "2026-02", "9999999.99")
    with pytest.raises(DataError, match="numeric field overflow"), session.begin_nested():
        insert_reading(session, meter.id, "2026-03", "10000000.00")
    assert readings_of(session, meter.id) == [
        ("2026-01", "0.00", "accepted"),
        ("2026-02", "9999999.99", "accepted"),
    ]


def test_reading_needs_a_meter(session: Session) -> None:
    assert insert_reading_refused(session, 999999) == "fk_readings_meter_id_meters"


def test_channel_message_unique(session: Session) -> None:
    meter = make_meter(session)
    insert_reading(session, meter.id, "2026-01", message_id="m1")
    assert (
        insert_reading_refused(session, meter.id, period="2026-02", message_id="m1")
        == "uq_readings_channel_message"
    )
    # The same id on another channel, and any number of readings without a message id, are fine.
    insert_reading(session, meter.id, "2026-02", channel="viber", message_id="m1")
    insert_reading(session, meter.id, "2026-03", message_id=None)
    insert_reading(session, meter.id, "2026-04", message_id=None)
    count = session.scalar(select(func.count()).select_from(Reading).where(Reading.meter_id == meter.id))
    assert count == 4


def test_subscriber_identity_unique(session: Session) -> None:
    statement = "INSERT INTO subscribers (channel, channel_user_id, created_at) VALUES (:c, :u, now())"
    sql(session, statement, c="viber", u="abc")
    sql(session, statement, c="telegram", u="abc")
    assert refused(session, statement, c="viber", u="abc") == "uq_subscribers_channel_user"


# --- submitting readings -------------------------------------------------------------------------


def test_first_submission(session: Session) -> None:
    meter = make_meter(session)
    result = submit_reading(
        session, meter.id, Decimal("123.4"), channel="viber", period="2026-03", submitted_at=T0
    )
    assert result.superseded is None
    assert result.duplicate is False
    assert result.reading.status is ReadingStatus.ACCEPTED
    assert result.reading.value == Decimal("123.40")
    assert result.reading.period == "2026-03"
    assert result.reading.channel == "viber"
    assert result.reading.submitted_at == T0
    assert readings_of(session, meter.id) == [("2026-03", "123.40", "accepted")]


def test_resubmission_supersedes(session: Session) -> None:
    meter = make_meter(session)
    first = submit_reading(session, meter.id, Decimal("100.00"), channel="rest", period="2026-03")
    second = submit_reading(session, meter.id, Decimal("101.00"), channel="rest", period="2026-03")
    assert second.superseded is first.reading
    assert first.reading.status is ReadingStatus.SUPERSEDED
    assert second.reading.status is ReadingStatus.ACCEPTED
    third = submit_reading(session, meter.id, Decimal("99.50"), channel="viber", period="2026-03")
    assert third.superseded is second.reading
    other_period = submit_reading(session, meter.id, Decimal("90.00"), channel="rest", period="2026-02")
    assert other_period.superseded is None
    assert readings_of(session, meter.id) == [
        ("2026-03", "100.00", "superseded"),
        ("2026-03", "101.00", "superseded"),
        ("2026-03", "99.50", "accepted"),
        ("2026-02", "90.00", "accepted"),
    ]
    accepted = accepted_reading(session, meter.id, "2026-03")
    assert accepted is not None
    assert accepted.id == third.reading.id
    assert accepted_reading(session, meter.id, "2026-04") is None


def test_period_follows_kyiv_calendar(session: Session) -> None:
    meter = make_meter(session)
    moment = dt.datetime(2026, 10, 31, 22, 30, tzinfo=dt.UTC)  # 00:30 on 1 November in Kyiv
    result = submit_reading(session, meter.id, Decimal("5"), channel="rest", submitted_at=moment)
    assert result.reading.period == "2026-11"
    session.expire_all()
    stored = session.get(Reading, result.reading.id)
    assert stored is not None
    assert stored.submitted_at == moment
    assert stored.submitted_at.tzinfo is dt.UTC


def test_duplicate_message_writes_nothing(session: Session) -> None:
    meter = make_meter(session)
    subscriber = get_or_create_subscriber(session, Identity("viber", "u1"))
    first = submit_reading(
        session,
        meter.id,
        Decimal("100.00"),
        channel="viber",
        subscriber_id=subscriber.id,
        message_id="5432101",
        period="2026-03",
    )
    again = submit_reading(
        session,
        meter.id,
        Decimal("200.00"),
        channel="viber",
        subscriber_id=subscriber.id,
        message_id="5432101",
        period="2026-03",
    )
    assert again.duplicate is True
    assert again.superseded is None
    assert again.reading.id == first.reading.id
    assert again.reading.value == Decimal("100.00")
    assert readings_of(session, meter.id) == [("2026-03", "100.00", "accepted")]
    # The same message id on another channel is another message.
    other = submit_reading(
        session, meter.id, Decimal("101.00"), channel="telegram", message_id="5432101", period="2026-03"
    )
    assert other.duplicate is False
    assert other.superseded is not None
    assert other.superseded.id == first.reading.id
    assert readings_of(session, meter.id) == [
        ("2026-03", "100.00", "superseded"),
        ("2026-03", "101.00", "accepted"),
    ]


def test_submit_for_unknown_meter(session: Session) -> None:
    from sqlalchemy.exc import NoResultFound

    with pytest.raises(NoResultFound):
        submit_reading(session, 999999, Decimal("1"), channel="rest", period="2026-03")


def history(session: Session, meter: Meter, values: dict[str, list[str]]) -> None:
    """Submit the readings in order; each period's last value is the accepted one."""
    for period, period_values in values.items():
        for value in period_values:
            submit_reading(session, meter.id, Decimal(value), channel="rest", period=period)


def test_previous_accepted(session: Session) -> None:
    meter = make_meter(session)
    history(session, meter, {"2025-12": ["450.00"], "2026-01": ["460.00", "462.35"], "2026-03": ["475.10"]})
    other = make_meter(session, number="222222")
    history(session, other, {"2026-02": ["1.00"]})

    def previous(period: str) -> str | None:
        reading = previous_accepted(session, meter.id, period)
        return None if reading is None else f"{reading.period} {reading.value}"

    assert previous("2025-12") is None
    assert previous("2026-01") == "2025-12 450.00"
    assert previous("2026-02") == "2026-01 462.35"  # not the superseded 460.00
    assert previous("2026-03") == "2026-01 462.35"  # a period without a reading is skipped
    assert previous("2026-04") == "2026-03 475.10"
    assert previous("2027-01") == "2026-03 475.10"


def test_recent_readings_with_consumption_and_rollover(session: Session) -> None:
    meter = make_meter(session, number="444444")
    history(
        session,
        meter,
        {
            "2025-12": ["970.00"],
            "2026-01": ["980.40"],
            "2026-02": ["991.00", "991.75"],
            "2026-03": ["3.60"],
        },
    )
    assert recent_readings(session, meter) == [
        PeriodReading("2026-03", Decimal("3.60"), Decimal("11.85")),
        PeriodReading("2026-02", Decimal("991.75"), Decimal("11.35")),
        PeriodReading("2026-01", Decimal("980.40"), Decimal("10.40")),
    ]
    assert recent_readings(session, meter, periods=1) == [
        PeriodReading("2026-03", Decimal("3.60"), Decimal("11.85"))
    ]
    assert recent_readings(session, meter, periods=5)[-1] == PeriodReading("2025-12", Decimal("970.00"), None)
    assert len(recent_readings(session, meter, periods=5)) == 4


def test_recent_readings_with_wider_register(session: Session) -> None:
    meter = make_meter(session, digits=4)
    history(session, meter, {"2026-01": ["9990.00"], "2026-02": ["5.00"]})
    assert recent_readings(session, meter) == [
        PeriodReading("2026-02", Decimal("5.00"), Decimal("15.00")),
        PeriodReading("2026-01", Decimal("9990.00"), None),
    ]


def test_recent_readings_of_a_new_meter(session: Session) -> None:
    meter = make_meter(session)
    assert recent_readings(session, meter) == []
    history(session, meter, {"2026-03": ["1.00"]})
    assert recent_readings(session, meter) == [PeriodReading("2026-03", Decimal("1.00"), None)]


@pytest.mark.parametrize("value", ["0.00", "0.01", "0.10", "0.30", "123.45", "999.99", "1000.10"])
def test_decimal_round_trip(session: Session, value: str) -> None:
    meter = make_meter(session, digits=4)
    result = submit_reading(session, meter.id, Decimal(value), channel="rest", period="2026-03")
    session.expire_all()
    stored = session.get(Reading, result.reading.id)
    assert stored is not None
    assert type(stored.value) is Decimal
    assert str(stored.value) == value
    raw = session.scalar(text("SELECT value FROM readings WHERE id = :i"), {"i": result.reading.id})
    assert type(raw) is Decimal
    assert str(raw) == value


def test_decimal_sums_are_exact(session: Session) -> None:
    meter = make_meter(session)
    history(session, meter, {"2026-01": ["0.10"], "2026-02": ["0.20"]})
    total = session.scalar(select(func.sum(Reading.value)).where(Reading.meter_id == meter.id))
    assert total == Decimal("0.30")
    assert str(total) == "0.30"


# --- meters and subscribers -------------------------------------------------------------------------


def test_enrol_meter(session: Session) -> None:
    first = make_meter(session, number="111111")
    second = make_meter(session, number="222222")
    subscriber = get_or_create_subscriber(session, Identity("viber", "u1"))
    assert enrolled_meters(session, subscriber.id) == []
    assert is_enrolled(session, subscriber.id, first.id) is False
    moment = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
    with clock.use(clock.fixed(moment)):
        assert enrol_meter(session, subscriber.id, second.id) is True
    with clock.use(clock.fixed(moment + dt.timedelta(seconds=1))):
        assert enrol_meter(session, subscriber.id, first.id) is True
        assert enrol_meter(session, subscriber.id, first.id) is False
    assert is_enrolled(session, subscriber.id, first.id) is True
    # In the order they were enrolled (the later enrolment of the older meter comes last).
    assert enrolled_meters(session, subscriber.id) == [second, first]
    rows = session.scalar(
        text("SELECT count(*) FROM subscriber_meters WHERE subscriber_id = :s"), {"s": subscriber.id}
    )
    assert rows == 2


def test_one_meter_two_subscribers(session: Session) -> None:
    meter = make_meter(session)
    alice = get_or_create_subscriber(session, Identity("viber", "alice"))
    bob = get_or_create_subscriber(session, Identity("telegram", "bob"))
    carol = get_or_create_subscriber(session, Identity("rest", "carol"))
    assert enrol_meter(session, alice.id, meter.id) is True
    assert enrol_meter(session, bob.id, meter.id) is True
    assert enrolled_meters(session, alice.id) == [meter]
    assert enrolled_meters(session, bob.id) == [meter]
    assert enrolled_meters(session, carol.id) == []
    assert is_enrolled(session, carol.id, meter.id) is False
    session.expire_all()
    assert [m.number for m in session.get_one(Subscriber, alice.id).meters] == ["111111"]


def test_get_or_create_subscriber(session: Session) -> None:
    identity = Identity("viber", "01234567890A=")
    assert find_subscriber(session, identity) is None
    created = get_or_create_subscriber(session, identity, "Олена", "uk")
    assert created.id is not None
    assert (created.channel, created.channel_user_id, created.display_name, created.language) == (
        "viber",
        "01234567890A=",
        "Олена",
        "uk",
    )
    assert created.subscribed is True
    again = get_or_create_subscriber(session, identity)
    assert again is created
    assert again.display_name == "Олена"  # not blanked by a call without a name
    renamed = get_or_create_subscriber(session, identity, "Олена К.", "en")
    assert renamed.id == created.id
    session.flush()
    session.expire_all()
    stored = find_subscriber(session, identity)
    assert stored is not None
    assert (stored.id, stored.display_name, stored.language) == (created.id, "Олена К.", "en")
    other = get_or_create_subscriber(session, Identity("telegram", "01234567890A="))
    assert other.id != created.id
    count = session.scalar(select(func.count()).select_from(Subscriber))
    assert count == 2


def test_set_subscribed(session: Session) -> None:
    identity = Identity("viber", "u1")
    assert set_subscribed(session, identity, False).subscribed is False
    session.flush()
    session.expire_all()
    stored = find_subscriber(session, identity)
    assert stored is not None
    assert stored.subscribed is False
    assert set_subscribed(session, identity, True).id == stored.id


@pytest.mark.parametrize(
    ("sender_id", "channel", "identity"),
    [
        ("viber:abc", "viber", Identity("viber", "abc")),
        ("viber:abc", "rest", Identity("rest", "viber:abc")),
        ("viber:abc", None, Identity("rest", "viber:abc")),
        ("rest:abc", None, Identity("rest", "abc")),
        ("abc", "viber", Identity("viber", "abc")),
        ("viber:viber:abc", "viber", Identity("viber", "viber:abc")),
        ("telegram:42", "viber", Identity("viber", "telegram:42")),
    ],
)
def test_identity_of(sender_id: str, channel: str | None, identity: Identity) -> None:
    assert identity_of(sender_id, channel) == identity


def test_is_account_number() -> None:
    assert is_account_number("01234") is True
    assert is_account_number("1234") is False
    assert is_account_number("１２３４５") is False
    assert is_account_number("12345\n") is False
