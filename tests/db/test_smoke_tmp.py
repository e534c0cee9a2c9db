from decimal import Decimal
from actions.billing import import_accounts
from actions.reading import submit_reading
from actions.meter import find_meter

def test_import_and_submit(session):
    r = import_accounts(session, ["account_number,address,meter_number,meter_kind", "12345,addr,111,heat"])
    assert r.meters_created == 1 and not r.errors
    m = find_meter(session, "12345", "111")
    s = submit_reading(session, m.id, Decimal("1.5"), channel="rest")
    assert s.reading.value == Decimal("1.50")

def test_clean(session):
    assert find_meter(session, "12345", "111") is None
