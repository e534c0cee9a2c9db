"""The RulePolicy matches its rules against the states a rule can reach back to, not the whole
conversation (docs/performance.md)."""

from __future__ import annotations

from typing import Any

from rasa.core.policies.rule_policy import RulePolicy

from custom_components.patches.replacing import replace

rasa_get_possible_keys = RulePolicy._get_possible_keys  # Rasa's own, taken before any patch


def longest_rule(policy: RulePolicy, lookup: dict[str, str]) -> int:
    """The number of states of the policy's longest rule in ``lookup`` (kept on the policy)."""
    cache: dict[int, tuple[int, int]] = policy.__dict__.setdefault("_otke_longest_rule", {})
    known = cache.get(id(lookup))
    if known is None or known[0] != len(lookup):
        longest = max((len(policy._rule_key_to_state(key)) for key in lookup), default=0)
        known = cache[id(lookup)] = (len(lookup), longest)
    return known[1]


def get_possible_keys_of_recent_states(
    self: RulePolicy, lookup: dict[str, str], states: list[dict[str, Any]]
) -> set[str]:
    """Rasa's RulePolicy._get_possible_keys over the states a rule can reach back to: a state older
    than the longest rule rules nothing out (``_is_rule_applicable`` is true for it)."""
    longest = longest_rule(self, lookup)
    recent = states[-longest:] if longest else []
    keys: set[str] = rasa_get_possible_keys(self, lookup, recent)
    return keys


def match_rules_on_recent_states() -> None:
    """RulePolicy._get_possible_keys as far back as the longest rule."""
    replace(RulePolicy, "_get_possible_keys", get_possible_keys_of_recent_states)
