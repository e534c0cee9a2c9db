"""Hostile values in every parser of what subscribers type: pure functions, no database.

The policy: NFKC folds full-width and other compatibility forms into ASCII, invisible marks go;
then only ASCII digits 0-9 count. Digits of other scripts, exponents, NaN and infinity, hex,
underscores and reordering (bidi) marks are refused with the usual reasons. "-0" is refused as
negative, like any other minus sign.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from actions.dialogue.conversation import MeterCard, text
from actions.dialogue.meter_choice import choose_meter
from actions.register.account import AccountRefused, parse_account_number
from actions.register.meter import meter_number_candidates, normalise_meter_number
from actions.register.models import MeterKind
from actions.register.reading import ReadingRefused, parse_reading, single_number
from actions.register.typed import suspicious, typed

LONG = "1" * 10_000

# --- readings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed_text", "reason"),
    [
        ("1e3", "not_a_number"),
        ("1E3", "not_a_number"),
        ("1e-3", "not_a_number"),
        ("NaN", "not_a_number"),
        ("nan", "not_a_number"),
        ("-nan", "not_a_number"),
        ("sNaN", "not_a_number"),
        ("∞", "not_a_number"),
        ("-∞", "not_a_number"),
        ("inf", "not_a_number"),
        ("Infinity", "not_a_number"),
        ("-0", "negative"),
        ("-0.00", "negative"),
        ("0x1F", "not_a_number"),
        ("0b101", "not_a_number"),
        ("0o17", "not_a_number"),
        ("١٢٣٫٤٥", "not_a_number"),  # Arabic-Indic digits and decimal separator
        ("١٢٣.٤٥", "not_a_number"),
        ("۱۲۳", "not_a_number"),  # Extended Arabic-Indic (Persian)
        ("१२३", "not_a_number"),  # Devanagari
        ("123١", "not_a_number"),  # one foreign digit among ASCII ones
        ("12٣.45", "not_a_number"),
        ("показання 12٣.45", "not_a_number"),
        ("123.456", "too_many_decimals"),
        ("１２３.４５６", "too_many_decimals"),
        ("123,4,5", "not_a_number"),
        ("  ", "empty"),
        ("\u200b", "empty"),  # only an invisible mark
        (LONG, "too_many_digits"),
        ("x" * 10_000, "not_a_number"),
        ("1." * 5_000, "not_a_number"),
        ("1 " * 5_000 + "a", "not_a_number"),
        ("12 345,67", "too_many_digits"),
        ("1_000", "not_a_number"),
        ("1_0", "not_a_number"),
        ("½", "not_a_number"),
        ("1⁄2", "not_a_number"),
        ("\u202e54.32\u202c", "not_a_number"),  # shown reversed as "23.45"
        ("\u2067123.45\u2069", "not_a_number"),
        ("'; DROP TABLE readings;--", "not_a_number"),
        ("1 OR 1=1", "not_a_number"),
        ("{account_number}", "not_a_number"),
        ("{{7*7}}", "not_a_number"),
        ("${7*7}", "not_a_number"),
        ("%s%s%n", "not_a_number"),
        ("{0.__class__}", "not_a_number"),  # before: the one number in it, 0.00, was accepted
        ("${7}", "not_a_number"),
        ("<b>5</b>", "not_a_number"),
        ("12\x003.45", "not_a_number"),
    ],
)
def test_hostile_readings_are_refused(typed_text: str, reason: str) -> None:
    with pytest.raises(ReadingRefused) as refused:
        parse_reading(typed_text)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("typed_text", "value"),
    [
        ("１２３.４５", "123.45"),  # full-width digits, ASCII point
        ("１２３．４５", "123.45"),  # full-width point
        ("１２３，４５", "123.45"),  # full-width comma
        ("𝟏𝟐𝟑.𝟒𝟓", "123.45"),  # mathematical bold digits
        ("\u3000123.45\u3000", "123.45"),  # ideographic spaces
        ("\u200f123.45\u200e", "123.45"),  # direction marks around the number
        ("12\u200b3.45", "123.45"),  # a zero-width space inside
        ("\ufeff123.45", "123.45"),  # a byte-order mark
        ("+5", "5.00"),
        ("123.45 м³", "123.45"),  # the unit keeps its superscript
        ("показання １２３,４５", "123.45"),
    ],
)
def test_folded_readings_are_accepted(typed_text: str, value: str) -> None:
    assert parse_reading(typed_text) == Decimal(value)


@pytest.mark.parametrize("raw", ["１２３.４５", "\u200b123.45", "１２３", "123.45 м³"])
def test_files_from_billing_are_not_folded(raw: str) -> None:
    """Only what subscribers type is folded; a billing file must say exactly what it means."""
    with pytest.raises(ReadingRefused) as refused:
        parse_reading(raw, among_words=False)
    assert refused.value.reason == "not_a_number"


@pytest.mark.parametrize(
    "typed_text",
    [
        "123١",
        "12٣.45",
        "передати 12٣.45",
        "передати 123,45١",
        "\u202e54.32\u202c",
        "1e3",
        "0x1F",
        "1_000",
        "{0.__class__}",
        "${7}",
        "<b>5</b>",
        "%5%",
        "[5]",
    ],
)
def test_no_single_number_is_taken_from_a_hostile_text(typed_text: str) -> None:
    """action_start_reading takes a reading from the request itself through single_number."""
    assert single_number(typed_text) is None


def test_single_number_reads_full_width_digits() -> None:
    assert single_number("передати показання １２３,４５") == "123,45"


# --- account numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed_text", "reason", "digits"),
    [
        ("12a45", "not_digits", 0),
        ("abcde", "not_digits", 0),
        ("1234", "length", 4),
        ("123456", "length", 6),
        ("١٢٣٤٥", "not_digits", 0),
        ("۱۲۳۴۵", "not_digits", 0),
        ("١12345", "not_digits", 0),  # a foreign digit before five ASCII ones
        ("12345١", "not_digits", 0),
        ("рахунок 12345 ١", "not_digits", 0),
        ("\u202e54321\u202c", "not_digits", 0),
        ("1e3", "not_digits", 0),
        ("0x1F", "not_digits", 0),
        ("1_2345", "not_digits", 0),
        ("'; DROP TABLE readings;--", "not_digits", 0),
        ("1 OR 1=1", "not_digits", 0),
        ("{account_number}", "not_digits", 0),
        ("{{7*7}}", "not_digits", 0),
        ("${7*7}", "not_digits", 0),
        ("%s%s%n", "not_digits", 0),
        ("{0.__class__}", "not_digits", 0),
        (LONG, "length", 10_000),
        ("  ", "not_digits", 0),
    ],
)
def test_hostile_account_numbers_are_refused(typed_text: str, reason: str, digits: int) -> None:
    with pytest.raises(AccountRefused) as refused:
        parse_account_number(typed_text)
    assert (refused.value.reason, refused.value.digits) == (reason, digits)


@pytest.mark.parametrize(
    "typed_text",
    ["12345 ", " 12345", "１２３４５", "№ １２３４５", "12\u200b345", "\u200e12345", "１２ ３４５"],
)
def test_folded_account_numbers_are_accepted(typed_text: str) -> None:
    assert parse_account_number(typed_text) == "12345"


# --- meter numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed_text",
    [
        "٢٢٢٢٢٢",
        "٢22222",
        "222222١",
        "лічильник 222222 ١",
        "\u202e222222\u202c",
        "'; DROP TABLE readings;--",
        "1 OR 1=1",
        "{account_number}",
        "{{7*7}}",
        "${7*7}",
        "%s%s%n",
        "{0.__class__}",
        "1_000",
        "2_22222",  # not the number 22222 glued to "2_"
        "x" * 33,
        "",
        "  ",
    ],
)
def test_hostile_meter_numbers_have_no_candidate(typed_text: str) -> None:
    assert meter_number_candidates(typed_text) == []


@pytest.mark.parametrize(
    "typed_text",
    ["２２２２２２", "222222 ", "№ ２２２ ２２２", "222\u200b222", "\u200f222222", "лічильник ２２２２２２"],
)
def test_folded_meter_numbers_find_the_meter(typed_text: str) -> None:
    assert meter_number_candidates(typed_text)[0] == "222222"
    assert normalise_meter_number(typed_text) == "222222"


def test_a_long_number_is_no_meter_number() -> None:
    assert meter_number_candidates(LONG) == []


# --- choosing one of the subscriber's meters by typing ---------------------------------------------


def card(meter_id: int, number: str, kind: MeterKind = MeterKind.HOT_WATER) -> MeterCard:
    return MeterCard(meter_id, number, kind, "12345", "м. Чернігів, вул. Шевченка, 12, кв. 3", 3, number)


CARDS = [card(1, "111111", MeterKind.HEAT), card(2, "222222")]


@pytest.mark.parametrize(
    "typed_text",
    ["²", "¹", "١", "٢", "१", "9" * 5_000, LONG, "0", "3", "10", "-1", "+1", "1e0", "0x1"],
)
def test_a_hostile_position_chooses_no_meter(typed_text: str) -> None:
    """Before: "²" and a 5,000-digit string raised ValueError in int(), "١" chose the first meter."""
    assert choose_meter(CARDS, typed_text, None) is None


@pytest.mark.parametrize(
    ("typed_text", "index"),
    [("1", 0), ("2", 1), ("１", 0), ("２", 1), (" 2 ", 1), ("①", 0)],  # NFKC folds ①
)
def test_a_position_chooses_the_meter(typed_text: str, index: int) -> None:
    assert choose_meter(CARDS, typed_text, None) == CARDS[index]


def test_a_full_width_meter_number_chooses_the_meter() -> None:
    assert choose_meter(CARDS, "２２２２２２", None) == CARDS[1]


# --- the normalisation itself, and what the answers echo ------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("１２３．４５", "123.45"),
        ("№ 12345", "№ 12345"),  # not "No 12345"
        ("123 м³", "123 м³"),  # not "м3"
        ("12\u200b3\u00ad4\ufeff5", "12345"),
        ("\u200e\u200f", ""),
        ("ﬁ", "fi"),
    ],
)
def test_typed(raw: str, folded: str) -> None:
    assert typed(raw) == folded


@pytest.mark.parametrize(
    ("raw", "result"),
    [
        ("123", False),
        ("١٢٣", True),
        ("12٣", True),
        ("\u202e12", True),
        ("\u2066x\u2069", True),
        ("м³", False),
    ],
)
def test_suspicious(raw: str, result: bool) -> None:
    assert suspicious(raw) is result


@pytest.mark.parametrize(
    "injected", ["{account_number}", "{{7*7}}", "${7*7}", "%s%s%n", "{0.__class__}", "{}"]
)
def test_a_refused_text_is_echoed_literally(injected: str) -> None:
    """The refusal quotes what was typed: a value for the template, never a template itself."""
    assert text("utter_reading_not_a_number", text=injected) == (
        f"«{injected}» не схоже на показання. Введіть число в форматі ХХХ.ХХ, наприклад 123.45."
    )
