"""The domain, the rules and the action server agree on names: every response exists and is used."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import ActionExecutor
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def domain() -> dict[str, Any]:
    return load(ROOT / "domain.yml")


def dialogue_text() -> str:
    files = [*(ROOT / "data").rglob("*.yml"), ROOT / "tests" / "test_stories.yml"]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def action_code() -> str:
    """The action server's code and the Rasa server's own parts (which utter apologies too); not the
    console, which reads what was uttered (its names are checked in tests/console)."""
    files = [
        *(path for path in (ROOT / "actions").rglob("*.py") if "console" not in path.parts),
        *(ROOT / "custom_components").rglob("*.py"),
    ]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def test_every_response_the_action_server_utters_exists(domain: dict[str, Any]) -> None:
    used = set(re.findall(r'"(utter_[a-z_]+)"', action_code()))
    assert used - set(domain["responses"]) == set()


def test_every_response_is_used_by_the_dialogue_or_the_action_server(domain: dict[str, Any]) -> None:
    used = set(re.findall(r"\b(utter_[a-z_]+)\b", dialogue_text() + action_code()))
    asked_by_forms = {
        f"utter_ask_{slot}" for form in domain["forms"].values() for slot in form["required_slots"]
    }
    assert set(domain["responses"]) - used - asked_by_forms == set()


def test_custom_actions_in_the_domain_and_in_the_action_server_are_the_same(domain: dict[str, Any]) -> None:
    """What `python -m rasa_sdk --actions actions.dialogue` registers is exactly the domain's actions."""
    executor = ActionExecutor()
    executor.register_package("actions.dialogue")
    assert set(executor.actions) == set(domain["actions"])


def test_placeholders_are_plain_names(domain: dict[str, Any]) -> None:
    for name, variants in domain["responses"].items():
        for variant in variants:
            for placeholder in re.findall(r"{([^}]*)}", variant["text"]):
                assert re.fullmatch(r"[a-z_]+", placeholder), (name, placeholder)


def test_menu_has_the_five_entries_in_order(domain: dict[str, Any]) -> None:
    titles = [button["title"] for button in domain["responses"]["utter_menu"][0]["buttons"]]
    assert titles == [
        "Передати показання",
        "Додати лічильник",
        "Мої лічильники",
        "Історія показань",
        "Контакти",
    ]


def test_the_seed_pages_wording_is_kept(domain: dict[str, Any]) -> None:
    texts = {name: variants[0]["text"] for name, variants in domain["responses"].items()}
    assert texts["utter_registered"] == "Тепер Ви зареєстровані!"
    assert texts["utter_reading_accepted"] == "Прийнято {value} до обробки. Дякуємо"
    assert "в форматі ХХХ.ХХ" in texts["utter_ask_reading_value"]
    assert "(0 800) 407-707" in texts["utter_contacts"] and "0 800-50-50-51" in texts["utter_contacts"]
