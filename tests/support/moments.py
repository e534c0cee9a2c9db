"""The calendar the tests live in: a fixed moment, never the day they happen to run on.

The root conftest sets it as the clock of the test process and, through OTKE_NOW, of every server
and command the tests start, so a run that crosses midnight at a month's end sees one period.
"""

from __future__ import annotations

import datetime as dt

from actions.register.period import KYIV, period_of, previous_period

# The 27th: inside the reading window (the 25th to the month's end); the 10th is outside it.
IN_WINDOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=KYIV).astimezone(dt.UTC)
OUT_OF_WINDOW = dt.datetime(2026, 11, 10, 12, 0, tzinfo=KYIV).astimezone(dt.UTC)
TEST_MOMENT = IN_WINDOW
PERIOD = period_of(TEST_MOMENT)
LAST = previous_period(PERIOD)  # the demo register's newest readings
MIDDLE = previous_period(LAST)
OLDEST = previous_period(MIDDLE)
