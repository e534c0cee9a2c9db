"""The register reads the one clock (actions/register/clock.py), never the machine's calendar: with
the clock at a month's last second in Kyiv, everything stamped or filed by period says so, whatever
day the tests really run on (before, submit_reading and the enrolments read the real clock)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.operators.demo import seed_demo
from actions.register import clock
from actions.register.meter import enrol_meter, find_meter, record_registration_failure
from actions.register.models import Reading, RegistrationFailure, subscriber_meters
from actions.register.period import KYIV
from actions.register.reading import submit_reading
from actions.register.subscriber import Identity, get_or_create_subscriber

# The last second of January 2025 in Kyiv (already February in no time zone that matters): far
# from any day a test run happens on, and one second from the next period.
MONTH_END = dt.datetime(2025, 1, 31, 23, 59, 59, tzinfo=KYIV)


def test_every_stamp_and_period_comes_from_the_clock(session: Session) -> None:
    with clock.use(clock.fixed(MONTH_END)):
        seed_demo(session)
        meter = find_meter(session, "12345", "222222")
        assert meter is not None
        subscriber = get_or_create_subscriber(session, Identity("viber", "clock-test"))
        session.flush()
        assert enrol_meter(session, subscriber.id, meter.id)
        record_registration_failure(session, subscriber.id)
        saved = submit_reading(
            session, meter.id, Decimal("130.00"), channel="viber", subscriber_id=subscriber.id
        )

    assert (saved.reading.period, saved.reading.submitted_at) == ("2025-01", MONTH_END)
    assert subscriber.created_at == MONTH_END
    enrolled_at = session.scalar(
        select(subscriber_meters.c.enrolled_at).where(subscriber_meters.c.subscriber_id == subscriber.id)
    )
    assert enrolled_at == MONTH_END
    failed_at = session.scalar(
        select(RegistrationFailure.failed_at).where(RegistrationFailure.subscriber_id == subscriber.id)
    )
    assert failed_at == MONTH_END
    # the demo's three earlier periods are the three before the clock's
    periods = session.scalars(
        select(Reading.period).where(Reading.meter_id == meter.id, Reading.channel == "import").distinct()
    ).all()
    assert sorted(periods) == ["2024-10", "2024-11", "2024-12"]

    with clock.use(clock.fixed(MONTH_END + dt.timedelta(seconds=1))):
        later = submit_reading(
            session, meter.id, Decimal("131.00"), channel="viber", subscriber_id=subscriber.id
        )
    assert later.reading.period == "2025-02"
    assert later.superseded is None  # a new period: January's reading stays in force
