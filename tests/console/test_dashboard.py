"""The console's Period page on real PostgreSQL: a small register built by hand, exact numbers.

Readings and refusals sit on Kyiv's midnights (and on the night in October when summer time ends),
so a count bucketed by the UTC date or the server's time zone shows up as a wrong day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from actions.console import dashboard
from actions.console.dashboard import (
    MISSING_COLUMNS,
    REFUSAL_REASONS,
    ChannelRegistrations,
    Coverage,
    DayCount,
    MissingMeter,
    RefusalCount,
    chart_svg,
    coverage,
    current_period,
    daily_readings,
    missing_readings,
    period_page,
    received_by_day,
    refusals_by_reason,
    registrations,
    write_missing_csv,
)
from actions.console.models import Conversation, Refusal
from actions.operators.billing import FORMULA_START
from actions.register import clock, db
from actions.register.models import (
    Account,
    Meter,
    MeterKind,
    Reading,
    ReadingStatus,
    Subscriber,
    subscriber_meters,
)
from actions.register.period import KYIV
from actions.texts import responses
from tests.support.database import fresh_schema
from tests.support.moments import LAST, PERIOD

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE_ADDRESS = "вул. \"Лесі\" <script>alert(1)</script>\nкв. 5, '8'"
FORMULA_ADDRESS = "=cmd|' /C calc'!A0"
ACCEPTED, SUPERSEDED = ReadingStatus.ACCEPTED, ReadingStatus.SUPERSEDED


def kyiv(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=KYIV)


def build_register(session: Session) -> None:
    """Six meters on four accounts, five subscribers (one without meters), readings of three periods."""
    accounts = [
        Account(number="10001", address="м. Чернігів, вул. Миру, 1"),
        Account(number="10002", address=HOSTILE_ADDRESS),
        Account(number="10003", address=FORMULA_ADDRESS),
        Account(number="10004", address="м. Чернігів, вул. Нікого, 4"),
    ]
    session.add_all(accounts)
    session.flush()
    a1, a2, a3, a4 = (account.id for account in accounts)
    meters = {
        "m1": Meter(account_id=a1, number="111", kind=MeterKind.HEAT),
        "m2": Meter(account_id=a1, number="112", kind=MeterKind.HOT_WATER),
        "m3": Meter(account_id=a2, number="@221", kind=MeterKind.HEAT),
        "m4": Meter(account_id=a3, number="331", kind=MeterKind.HOT_WATER),
        "m5": Meter(account_id=a4, number="441", kind=MeterKind.HEAT),  # nobody's
        "m6": Meter(account_id=a1, number="114", kind=MeterKind.HOT_WATER),
    }
    subscribers = {
        "s1": Subscriber(channel="viber", channel_user_id="v1"),
        "s2": Subscriber(channel="socketio", channel_user_id="w2"),
        "s3": Subscriber(channel="viber", channel_user_id="v3"),
        "s4": Subscriber(channel="socketio", channel_user_id="w4"),  # never registered a meter
        "s5": Subscriber(channel="socketio", channel_user_id="w5"),
    }
    session.add_all([*meters.values(), *subscribers.values()])
    session.flush()
    m = {name: meter.id for name, meter in meters.items()}
    s = {name: subscriber.id for name, subscriber in subscribers.items()}
    enrolments = [
        ("s1", "m1", kyiv(10, 5, 9)),
        ("s1", "m2", kyiv(10, 5, 9)),
        ("s1", "m6", kyiv(11, 2, 9)),
        ("s2", "m1", kyiv(11, 1)),  # the first moment of November: not registered in October
        ("s2", "m3", kyiv(10, 10, 9)),
        ("s3", "m4", kyiv(11, 20, 9)),
        ("s3", "m1", kyiv(11, 20, 9)),
        ("s5", "m4", kyiv(11, 21, 9)),
    ]
    session.execute(
        insert(subscriber_meters),
        [{"subscriber_id": s[who], "meter_id": m[what], "enrolled_at": at} for who, what, at in enrolments],
    )
    readings = [
        # November (PERIOD)
        ("m1", "2026-11", "470.00", kyiv(11, 24, 23, 59, 59), "viber", "s1", SUPERSEDED),
        ("m1", "2026-11", "471.00", kyiv(11, 25), "viber", "s1", ACCEPTED),
        ("m2", "2026-11", "130.00", kyiv(11, 30, 23, 59, 59), "viber", "s1", ACCEPTED),
        ("m5", "2026-11", "5.00", kyiv(11, 1), "socketio", None, ACCEPTED),
        ("m6", "2026-11", "50.00", kyiv(11, 10, 12), "import", None, ACCEPTED),
        # October (LAST); summer time ends at 04:00 on the 25th, so 23:30 and midnight share a UTC date
        ("m1", "2026-10", "460.00", kyiv(10, 1), "viber", "s1", SUPERSEDED),
        ("m1", "2026-10", "462.00", kyiv(10, 25, 23, 30), "viber", "s1", ACCEPTED),
        ("m2", "2026-10", "125.00", kyiv(10, 26), "viber", "s1", ACCEPTED),
        ("m3", "2026-10", "100.00", kyiv(10, 31, 10), "socketio", "s2", SUPERSEDED),
        ("m3", "2026-10", "100.50", kyiv(10, 31, 23, 59, 59), "socketio", "s2", ACCEPTED),
        # September, one of them imported in November: it belongs to no day of November
        ("m3", "2026-09", "90.00", kyiv(9, 28, 12), "socketio", "s2", ACCEPTED),
        ("m4", "2026-09", "12.00", kyiv(11, 27, 10), "import", None, ACCEPTED),
    ]
    session.add_all(
        Reading(
            meter_id=m[meter],
            period=period,
            value=Decimal(value),
            submitted_at=at,
            channel=channel,
            subscriber_id=s[who] if who else None,
            status=status,
        )
        for meter, period, value, at, channel, who, status in readings
    )
    conversations = [
        Conversation(
            sender_id=f"sender-{n}",
            first_event_id=n * 100,
            last_event_id=n * 100 + 50,
            started_at=kyiv(10, 31, 12),
            last_at=kyiv(12, 1, 1),
            channel=channel,
            refused=True,
        )
        for n, channel in ((1, "viber"), (2, "socketio"))
    ]
    session.add_all(conversations)
    session.flush()
    c1, c2 = (conversation.id for conversation in conversations)
    refusals = [
        (c1, kyiv(10, 31, 23, 59, 59), "utter_account_unknown"),
        (c1, kyiv(11, 1), "utter_account_unknown"),
        (c1, kyiv(11, 15, 12), "utter_account_unknown"),
        (c2, kyiv(11, 15, 13), "utter_reading_negative"),
        (c2, kyiv(11, 16, 9), "utter_reading_negative"),
        (c2, kyiv(11, 30, 23, 59, 59), "utter_only_text"),
        (c2, kyiv(12, 1), "utter_only_text"),
        (c1, kyiv(11, 10, 9), "utter_retired_refusal"),
    ]
    session.add_all(
        Refusal(event_id=event_id, conversation_id=conversation, at=at, reason=reason)
        for event_id, (conversation, at, reason) in enumerate(refusals, start=1)
    )


@pytest.fixture(scope="module")
def register_engine() -> Iterator[Engine]:
    with fresh_schema() as url:
        engine = db.make_engine(url)
        with Session(engine) as session, session.begin():
            build_register(session)
        yield engine
        engine.dispose()


@pytest.fixture
def session(register_engine: Engine) -> Iterator[Session]:
    with Session(register_engine) as session:
        yield session


def counts(days: tuple[DayCount, ...]) -> dict[int, int]:
    return {day.day: day.count for day in days if day.count}


def test_the_test_calendar_is_november_2026() -> None:
    assert (PERIOD, LAST) == ("2026-11", "2026-10")
    assert current_period() == PERIOD


def test_the_current_period_changes_at_kyiv_midnight() -> None:
    with clock.use(clock.fixed(kyiv(11, 30, 23, 59, 59))):
        assert current_period() == "2026-11"
    with clock.use(clock.fixed(kyiv(12, 1))):
        assert current_period() == "2026-12"


def test_registrations_by_channel_count_distinct_meters_and_subscribers(session: Session) -> None:
    november = registrations(session, PERIOD)
    assert november.by_channel == (
        ChannelRegistrations("socketio", meters=3, subscribers=2),
        ChannelRegistrations("viber", meters=4, subscribers=2),
    )
    # Meter 111 is on both channels and on two Viber subscribers: once in each count.
    assert (november.meters, november.subscribers, november.register_meters) == (5, 4, 6)


def test_registrations_of_an_earlier_period_leave_out_later_enrolments(session: Session) -> None:
    october = registrations(session, LAST)
    assert october.by_channel == (
        ChannelRegistrations("socketio", meters=1, subscribers=1),
        ChannelRegistrations("viber", meters=2, subscribers=1),
    )
    assert (october.meters, october.subscribers, october.register_meters) == (3, 2, 6)


def test_readings_per_day_by_kyiv_date(session: Session) -> None:
    november = received_by_day(session, PERIOD)
    assert [day.date for day in november] == [dt.date(2026, 11, day) for day in range(1, 31)]
    # Imported readings (10th, and September's on the 27th) are not received from subscribers.
    assert counts(november) == {1: 1, 24: 1, 25: 1, 30: 1}

    october = received_by_day(session, LAST)
    assert len(october) == 31
    assert counts(october) == {1: 1, 25: 1, 26: 1, 31: 2}


def test_daily_readings_pair_the_period_with_the_previous_one(session: Session) -> None:
    daily = daily_readings(session, PERIOD)
    assert daily.window == (25, 30)
    assert (daily.received, daily.previous_received) == (4, 5)
    assert (len(daily.days), len(daily.previous)) == (30, 31)
    assert daily_readings(session, "2027-02").window == (25, 28)


def test_coverage_counts_registered_meters_with_an_accepted_reading(session: Session) -> None:
    november = coverage(session, PERIOD)
    # The imported reading of meter 114 is accepted; meter 441 has one but nobody registered it.
    assert november == Coverage(registered=5, with_reading=3)
    assert (november.without_reading, november.percent) == (2, Decimal("60.0"))
    assert coverage(session, LAST) == Coverage(registered=3, with_reading=3)
    assert coverage(session, LAST).percent == Decimal("100.0")
    assert coverage(session, "2026-01") == Coverage(registered=0, with_reading=0)
    assert coverage(session, "2026-01").percent is None
    assert Coverage(registered=3, with_reading=2).percent == Decimal("66.7")


def test_refusals_by_reason_within_the_kyiv_month(session: Session) -> None:
    assert refusals_by_reason(session, PERIOD) == (
        RefusalCount("utter_account_unknown", "Рахунок не знайдено", 2),
        RefusalCount("utter_reading_negative", "Від’ємне показання", 2),
        RefusalCount("utter_only_text", "Не текстове повідомлення", 1),
        # A reason the mapping no longer knows is shown by its response name.
        RefusalCount("utter_retired_refusal", "utter_retired_refusal", 1),
    )
    assert refusals_by_reason(session, LAST) == (
        RefusalCount("utter_account_unknown", "Рахунок не знайдено", 1),
    )


def test_refusal_reasons_are_the_refusing_responses_of_the_domain() -> None:
    expected = {
        "utter_account_not_digits", "utter_account_wrong_length", "utter_account_unknown",
        "utter_meter_number_invalid", "utter_meter_not_on_account", "utter_registration_failed",
        "utter_registration_blocked", "utter_meter_choice_unknown", "utter_reading_empty",
        "utter_reading_not_a_number", "utter_reading_negative", "utter_reading_too_many_decimals",
        "utter_reading_too_many_digits", "utter_reading_below_previous", "utter_reading_window_closed",
        "utter_meter_not_available", "utter_reading_not_confirmed", "utter_only_text",
    }  # fmt: skip
    assert set(REFUSAL_REASONS) == expected
    assert expected <= set(responses())
    labels = list(REFUSAL_REASONS.values())
    assert all(label.strip() for label in labels)
    assert len(set(labels)) == len(labels)


M3 = MissingMeter(
    account_number="10002",
    address=HOSTILE_ADDRESS,
    meter_number="@221",
    kind=MeterKind.HEAT,
    channels=("socketio",),
    last_period="2026-10",
    last_value=Decimal("100.50"),
)
M4 = MissingMeter(
    account_number="10003",
    address=FORMULA_ADDRESS,
    meter_number="331",
    kind=MeterKind.HOT_WATER,
    channels=("socketio", "viber"),
    last_period="2026-09",
    last_value=Decimal("12.00"),
)


def test_missing_readings_are_paged_by_account_and_meter(session: Session) -> None:
    everything = missing_readings(session, PERIOD)
    assert (everything.meters, everything.total, everything.pages) == ((M3, M4), 2, 1)

    first = missing_readings(session, PERIOD, page=1, page_size=1)
    second = missing_readings(session, PERIOD, page=2, page_size=1)
    beyond = missing_readings(session, PERIOD, page=3, page_size=1)
    assert (first.meters, second.meters, beyond.meters) == ((M3,), (M4,), ())
    assert (first.total, first.pages, second.page) == (2, 2, 2)

    october = missing_readings(session, LAST)
    assert (october.meters, october.total, october.pages) == ((), 0, 1)


def test_missing_readings_refuse_odd_pages_and_periods(session: Session) -> None:
    with pytest.raises(ValueError, match="pages start at 1"):
        missing_readings(session, PERIOD, page=0)
    with pytest.raises(ValueError, match="pages start at 1"):
        missing_readings(session, PERIOD, page_size=dashboard.MAX_PAGE_SIZE + 1)
    with pytest.raises(ValueError, match="YYYY-MM"):
        registrations(session, "2026-13")
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_page(session, "2026-11'; DROP TABLE readings; --")


EXPECTED_CSV = [
    list(MISSING_COLUMNS),
    ["10002", HOSTILE_ADDRESS, "'@221", "Тепло", "socketio", "2026-10", "100.50"],
    ["10003", "'" + FORMULA_ADDRESS, "331", "Гаряча вода", "socketio, viber", "2026-09", "12.00"],
]


@pytest.mark.parametrize("chunk", [dashboard.CSV_CHUNK, 1, 2])
def test_missing_readings_csv_neutralises_formulas(
    session: Session, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(dashboard, "CSV_CHUNK", chunk)
    out = io.StringIO(newline="")
    assert write_missing_csv(session, PERIOD, out) == 2
    text = out.getvalue()
    assert list(csv.reader(io.StringIO(text, newline=""))) == EXPECTED_CSV
    # Billing's export writes no byte order mark, so neither does this file.
    assert not text.startswith("\ufeff")
    assert '"вул. ""Лесі"" <script>alert(1)</script>\nкв. 5, \'8\'"' in text
    for line in text.splitlines():
        for cell in next(csv.reader([line])):
            assert not cell.startswith(FORMULA_START)


def test_missing_readings_csv_of_a_complete_period_is_its_header(session: Session) -> None:
    out = io.StringIO(newline="")
    assert write_missing_csv(session, LAST, out) == 0
    assert out.getvalue() == ",".join(MISSING_COLUMNS) + "\n"


def test_period_page_defaults_to_the_current_period(session: Session) -> None:
    page = period_page(session)
    assert (page.period, page.title) == ("2026-11", "листопад 2026")
    assert page.coverage.without_reading == page.missing.total == 2
    assert page.registrations.meters == page.coverage.registered
    assert page.chart == chart_svg(page.daily.days, page.daily.previous, (25, 30))


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 (our own output, parsed to check it is well-formed)


def test_chart_has_a_bar_per_day_and_a_point_per_previous_day(session: Session) -> None:
    daily = daily_readings(session, PERIOD)
    root = parse(chart_svg(daily.days, daily.previous, daily.window))

    bars = root.findall(f".//{SVG}rect[@class='bar']")
    assert [int(bar.get("data-day", "")) for bar in bars] == list(range(1, 31))
    assert {int(bar.get("data-day", "")): int(bar.get("data-count", "")) for bar in bars} == {
        day: {1: 1, 24: 1, 25: 1, 30: 1}.get(day, 0) for day in range(1, 31)
    }
    tips = {bar.get("data-day"): bar.findtext(f"{SVG}title") for bar in bars}
    assert (tips["25"], tips["2"]) == ("25 листопада: 1 показання", "2 листопада: 0 показань")

    points = root.findall(f".//{SVG}circle[@class='point']")
    assert len(points) == 31
    shown = {int(point.get("data-day", "")): int(point.get("data-count", "")) for point in points}
    assert {day: count for day, count in shown.items() if count} == {1: 1, 25: 1, 26: 1, 31: 2}
    assert points[-1].findtext(f"{SVG}title") == "31 жовтня: 2 показання"
    assert len(root.findall(f".//{SVG}polyline")) == 1

    day_labels = [label.text for label in root.findall(f".//{SVG}g[@class='days']/{SVG}text")]
    assert day_labels == [str(day) for day in range(1, 32)]
    assert root.findtext(f".//{SVG}text[@class='max']") == "2"


def test_chart_is_accessible_and_self_contained(session: Session) -> None:
    daily = daily_readings(session, PERIOD)
    svg = chart_svg(daily.days, daily.previous, daily.window)
    root = parse(svg)
    assert root.get("viewBox") == "0 0 720 260"
    assert root.get("role") == "img"
    assert root.get("aria-label") == (
        "Показання за днями: листопад 2026. Отримано 4 показання; жовтень 2026: 5 показань. "
        "Найбільше за день: 2 показання. Вікно передачі показань: 25–30 число."
    )
    assert root[0].tag == f"{SVG}title" and root[0].text == "Показання за днями: листопад 2026"
    assert root[1].tag == f"{SVG}desc" and root[1].text == root.get("aria-label")
    window = root.find(f".//{SVG}rect[@class='window']")
    assert window is not None and window.findtext(f"{SVG}title") == "Вікно передачі показань: 25–30 число"
    # The window covers the slots of days 25 to 30 of 31: 664 px wide plot from x = 44.
    assert (float(window.get("x", "")), float(window.get("width", ""))) == (
        round(44 + 24 * 664 / 31, 1),
        round(6 * 664 / 31, 1),
    )
    for element in root.iter():
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
    assert "<script" not in svg and "href" not in svg and "url(" not in svg


def test_chart_words_and_escaping_without_a_database() -> None:
    per_day = {1: 1, 2: 2, 3: 5, 4: 11, 5: 21, 6: 22, 7: 25, 8: 0, 9: 112, 25: 42}
    december = [DayCount(dt.date(2026, 12, day), count) for day, count in per_day.items()]
    root = parse(chart_svg(december, [], (25, 31)))
    tips = [bar.findtext(f"{SVG}title") for bar in root.findall(f".//{SVG}rect[@class='bar']")]
    assert tips == [
        "1 грудня: 1 показання",
        "2 грудня: 2 показання",
        "3 грудня: 5 показань",
        "4 грудня: 11 показань",
        "5 грудня: 21 показання",
        "6 грудня: 22 показання",
        "7 грудня: 25 показань",
        "8 грудня: 0 показань",
        "9 грудня: 112 показань",
        "25 грудня: 42 показання",
    ]
    assert root.findall(f".//{SVG}polyline") == []
    assert root.findtext(f".//{SVG}text[@class='max']") == "112"
    # The tallest bar fills the plot; the others are in proportion.
    heights = {
        bar.get("data-day"): float(bar.get("height", ""))
        for bar in root.iter(f"{SVG}rect")
        if bar.get("data-day")
    }
    assert (heights["9"], heights["8"], heights["25"]) == (186.0, 0.0, round(186 * 42 / 112, 1))

    empty = parse(chart_svg([], [], (25, 31)))
    assert empty.findall(f".//{SVG}rect[@class='bar']") == []
    assert "Отримано 0 показань" in (empty.get("aria-label") or "")

    assert dashboard._attr('a "b" <c> & d\n') == "a &quot;b&quot; &lt;c&gt; &amp; d&#10;"
