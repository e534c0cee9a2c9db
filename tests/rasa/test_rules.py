"""The RulePolicy finds the same rules when it looks back only as far as its longest rule
(custom_components/patches/rules.py), on the trained model's own rules."""

from __future__ import annotations

import json
import random
import tarfile
from pathlib import Path
from typing import Any

from rasa.core.policies.rule_policy import RulePolicy

from custom_components.patches import rules


def lookups_of(model: Path) -> dict[str, dict[str, str]]:
    with tarfile.open(model) as archive:
        member = next(
            m for m in archive.getmembers() if m.name.endswith("train_RulePolicy0/rule_policy.json")
        )
        stored = archive.extractfile(member)
        assert stored is not None
        lookups: dict[str, dict[str, str]] = json.load(stored)["lookup"]
    return lookups


def test_rules_are_matched_as_rasa_matches_them(model: Path) -> None:
    lookups = lookups_of(model)
    policy = RulePolicy.__new__(RulePolicy)  # only the matching, which needs no trained state
    known_rules: list[list[dict[str, Any]]] = [json.loads(key) for key in lookups["rules"]]
    chance = random.Random(7)  # noqa: S311 - the same histories every run
    checked = differ = found = 0
    for _ in range(400):
        # histories of real rule states (so rules match) of every length, some shuffled
        history = [state for rule in chance.choices(known_rules, k=chance.randint(1, 12)) for state in rule]
        if chance.random() < 0.3:
            chance.shuffle(history)
        for name in ("rules", "rules_for_loop_unhappy_path"):
            ours = RulePolicy._get_possible_keys(policy, lookups[name], history)
            rasas = rules.rasa_get_possible_keys(policy, lookups[name], history)
            checked += 1
            differ += ours != rasas
            found += bool(rasas)
    assert RulePolicy._get_possible_keys is rules.get_possible_keys_of_recent_states
    assert rules.rasa_get_possible_keys.__module__ == "rasa.core.policies.rule_policy"
    assert checked == 800 and differ == 0
    assert found > 100  # the histories do match rules, so the comparison means something
    assert 1 < rules.longest_rule(policy, lookups["rules"]) < 10
