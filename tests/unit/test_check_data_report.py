"""scripts/check_data.py's scores: what `make check-data` passes or fails on must be counted right.

Only the pure functions (no Rasa in this environment); the Rasa steps run in `make check-data`.
"""

from __future__ import annotations

import pytest

from scripts import check_data
from scripts.check_data import Score, entity_pairs, entity_scores, intent_scores, unexpected_warnings


def test_only_the_two_expected_kinds_of_validation_warning_pass() -> None:
    said = [
        "The utterance 'utter_registered' is not used in any story or rule.",
        "The intent 'subscribed' is listed in the domain file, but is not found in the NLU training data.",
        "The intent 'greet' is listed in the domain file, but is not found in the NLU training data.",
        "Issue found in 'data/rules/menu.yml': the action 'utter_menu' is not in the domain.",
    ]
    assert unexpected_warnings(said) == said[2:]


def test_a_score_without_counts_is_zero_not_an_error() -> None:
    assert (Score().precision, Score().recall, Score().f1, Score().support) == (0.0, 0.0, 0.0, 0)


def test_intent_scores_count_a_misread_against_both_intents() -> None:
    scores = intent_scores([("greet", "greet"), ("greet", "help"), ("help", "help"), ("thank", "thank")])
    assert (scores["greet"].precision, scores["greet"].recall, scores["greet"].support) == (1.0, 0.5, 2)
    assert (scores["help"].precision, scores["help"].recall, scores["help"].support) == (0.5, 1.0, 1)
    assert scores["greet"].f1 == pytest.approx(2 / 3)
    assert scores["thank"].f1 == 1.0


def test_entity_pairs_compare_values_as_typed_without_space_or_case() -> None:
    annotated = [
        {"entity": "reading_value", "value": " 0123 ", "start": 0, "end": 6},
        {"entity": "meter_kind", "value": "Hot_Water", "start": 7, "end": 20},  # a synonym's value
    ]
    assert entity_pairs(annotated, predicted=False) == {
        ("reading_value", "0123"),
        ("meter_kind", "hot_water"),
    }
    predicted = [{"entity": "reading_value", "value": 123, "extractor": "RegexEntityExtractor"}]
    assert entity_pairs(predicted, predicted=True) == {("reading_value", "123")}  # not "0123"


def test_entity_pairs_leave_out_meter_id_and_predictions_of_no_extractor() -> None:
    predicted = [
        {"entity": "meter_id", "value": "7", "extractor": "RegexEntityExtractor"},
        {"entity": "account_number", "value": "12345", "extractor": None},
        {"entity": "account_number", "value": "54321"},
    ]
    assert entity_pairs(predicted, predicted=True) == set()
    assert entity_pairs([{"entity": "meter_id", "value": "7"}], predicted=False) == set()


def test_entity_scores_per_type_over_examples() -> None:
    scores = entity_scores(
        [
            ({("account_number", "12345")}, {("account_number", "12345")}),
            ({("account_number", "111")}, {("account_number", "11")}),  # one miss, one false find
            ({("reading_value", "42")}, set()),
            (set(), {("meter_kind", "heat")}),  # found where none is annotated
        ]
    )
    account = scores["account_number"]
    assert (account.true_positives, account.false_positives, account.false_negatives) == (1, 1, 1)
    assert account.f1 == pytest.approx(0.5)
    assert (scores["reading_value"].recall, scores["reading_value"].f1) == (0.0, 0.0)
    assert scores["meter_kind"].support == 0


def test_entity_table_lists_every_type() -> None:
    table = check_data.entity_table({"account_number": Score(3, 0, 1), "meter_kind": Score(0, 2, 0)})
    assert table[0].split() == ["entity", "precision", "recall", "F1", "annotated"]
    assert table[1].split() == ["account_number", "1.00", "0.75", "0.86", "4"]
    assert table[2].split() == ["meter_kind", "0.00", "0.00", "0.00", "0"]


def test_a_threshold_that_is_not_a_number_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLU_MIN_ACCURACY", "high")
    with pytest.raises(check_data.CheckFailed, match="NLU_MIN_ACCURACY must be a number"):
        check_data.threshold("NLU_MIN_ACCURACY", 0.95)
    monkeypatch.setenv("NLU_MIN_ACCURACY", "0.9")
    assert check_data.threshold("NLU_MIN_ACCURACY", 0.95) == 0.9


def test_entities_are_listed_as_a_designer_writes_them() -> None:
    assert check_data.listed([]) == "none"
    found = [{"entity": "meter_kind", "value": "heat"}, {"entity": "reading_value", "value": "123,45"}]
    assert check_data.listed(found) == "meter_kind=heat, reading_value=123,45"
