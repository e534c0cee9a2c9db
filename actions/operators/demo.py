"""Demo accounts and meters that `make run` loads, so a newcomer can try the flows at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from actions.operators.billing import ImportReport, import_accounts
from actions.register import clock
from actions.register.meter import find_meter
from actions.register.period import period_of, previous_period
from actions.register.reading import accepted_reading, submit_reading

# account, address, meter, kind, readings of the three periods before the current one (oldest first)
DEMO_METERS = (
    ("12345", "м. Чернігів, вул. Шевченка, 12, кв. 3", "111111", "heat", ("450.00", "462.35", "475.10")),
    ("12345", "м. Чернігів, вул. Шевченка, 12, кв. 3", "222222", "hot_water", ("120.50", "123.80", "127.15")),
    ("23456", "м. Чернігів, просп. Перемоги, 45, кв. 17", "333333", "hot_water", ("35.20", "38.05", "41.00")),
    ("34567", "м. Чернігів, вул. Реміснича, 7, кв. 1", "444444", "heat", ("980.40", "991.75", "3.60")),
    ("34567", "м. Чернігів, вул. Реміснича, 7, кв. 1", "555555", "hot_water", ("210.00", "214.40", "218.90")),
)


def seed_demo(session: Session, now: dt.datetime | None = None) -> ImportReport:
    """Load the demo register; running it again changes nothing."""
    periods = [previous_period(period_of(now or clock.now()))]
    periods = [previous_period(previous_period(periods[0])), previous_period(periods[0]), periods[0]]
    lines = ["account_number,address,meter_number,meter_kind,last_reading,last_period"]
    lines += [
        f'{account},"{address}",{meter},{kind},{values[-1]},{periods[-1]}'
        for account, address, meter, kind, values in DEMO_METERS
    ]
    report = import_accounts(session, lines)
    for account, _, meter_number, _, values in DEMO_METERS:
        meter = find_meter(session, account, meter_number)
        if meter is None:  # the import above created it; absent only if the schema is broken
            raise LookupError(f"demo meter {meter_number} of account {account} is missing")
        for period, value in zip(periods[:-1], values[:-1], strict=True):
            if accepted_reading(session, meter.id, period) is None:
                submit_reading(session, meter.id, Decimal(value), channel="import", period=period)
                report.readings_created += 1
    return report
