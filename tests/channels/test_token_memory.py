"""The Viber channel's memory of handled callbacks (Viber delivers at least once) and its start-up
checks. custom_channels/viber.py imports Rasa, so token_memory_probe.py runs them in the Rasa
interpreter (.venv-rasa) and reports as JSON; the assertions are here."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
PROBE = Path(__file__).with_name("token_memory_probe.py")
# Database 15, as in the end-to-end tests: never a real deployment's keys.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TOKEN_TTL_SECONDS = 24 * 3600
PENDING_TTL_SECONDS = 45
DEFAULT_API_URL = "https://chatapi.viber.com/pa"


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    assert RASA_PYTHON.is_file(), f"{RASA_PYTHON} is missing: the Rasa environment is not set up"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("VIBER_AUTH_TOKEN", "VIBER_API_URL", "REDIS_URL", "PYTHONPATH")
    } | {
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONWARNINGS": "ignore",
    }
    result = subprocess.run(
        [str(RASA_PYTHON), str(PROBE), REDIS_URL, f"test-{secrets.token_hex(8)}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_the_probe_sees_the_same_default_api_url(probe: dict[str, Any]) -> None:
    assert probe["default_api_url"] == DEFAULT_API_URL


def test_a_token_is_claimed_once(probe: dict[str, Any]) -> None:
    memory = probe["token_memory"]
    assert (memory["new"], memory["repeat_while_handled"], memory["other"]) == ("new", "in progress", "new")
    assert memory["repeat_after_done"] == "done"


def test_a_released_token_can_be_claimed_again(probe: dict[str, Any]) -> None:
    memory = probe["token_memory"]
    assert memory["after_release"] == "new"
    assert memory["again_after_release"] == "in progress"
    assert memory["release_unknown_ok"] is True


def test_a_claim_whose_handler_died_lapses_and_a_done_token_is_forgotten_after_its_ttl(
    probe: dict[str, Any],
) -> None:
    memory = probe["token_memory"]
    assert (memory["pending_new"], memory["pending_after_lapse"]) == ("new", "new")
    assert memory["done_repeat_at_once"] == "done"
    assert memory["done_after_expiry"] == "new"


def test_the_memory_is_bounded_and_evicts_the_oldest(probe: dict[str, Any]) -> None:
    memory = probe["token_memory"]
    assert memory["size_claims"] == ["new"] * 4
    assert memory["size_remembered"] == ["2", "3", "4"]
    assert (memory["size_repeat_3"], memory["size_repeat_4"]) == ("in progress", "in progress")
    assert memory["size_evicted_1"] == "new"
    assert memory["size_remembered_after"] == ["3", "4", "1"]


def test_redis_memory_is_shared_by_instances(probe: dict[str, Any]) -> None:
    redis = probe["redis"]
    assert redis["claim"] == "new"
    assert redis["claim_again_same_instance"] == "in progress"
    assert redis["claim_other_instance"] == "in progress"  # another Rasa instance sees the claim
    assert redis["stored_pending"] == "pending"
    assert redis["stored"] == "done"
    assert redis["claim_other_instance_after_done"] == "done"
    assert redis["independent_token"] == "new"


def test_redis_keys_expire(probe: dict[str, Any]) -> None:
    assert 0 < probe["redis"]["pending_ttl"] <= PENDING_TTL_SECONDS
    assert PENDING_TTL_SECONDS < probe["redis"]["ttl"] <= TOKEN_TTL_SECONDS


def test_redis_claim_of_a_killed_instance_lapses(probe: dict[str, Any]) -> None:
    redis = probe["redis"]
    assert (redis["lapsing_claim"], redis["claim_after_lapse_other"]) == ("new", "new")


def test_redis_release_lets_the_retry_through(probe: dict[str, Any]) -> None:
    redis = probe["redis"]
    assert redis["key_after_release"] == 0
    assert redis["claim_after_release"] == "new"
    assert redis["claim_after_release_other"] == "in progress"
    assert redis["left_over_keys"] == 0


@pytest.mark.parametrize("case", ["no_credentials", "no_token", "empty_token", "blank_token"])
def test_the_channel_refuses_to_start_without_a_token(probe: dict[str, Any], case: str) -> None:
    made = probe["from_credentials"][case]
    assert made["raised"] == "RasaException" and made["rasa_exception"] is True
    assert "VIBER_AUTH_TOKEN" in made["message"]


def test_a_sender_name_over_28_characters_is_refused(probe: dict[str, Any]) -> None:
    made = probe["from_credentials"]
    assert made["name_29"]["rasa_exception"] is True
    assert "28" in made["name_29"]["message"]
    assert made["name_28"]["raised"] is None
    assert made["name_28"]["sender"] == {"name": "Я" * 28}


def test_defaults(probe: dict[str, Any]) -> None:
    assert probe["from_credentials"]["defaults"] == {
        "raised": None,
        "api_url": DEFAULT_API_URL,
        "sender": {"name": "АТ «ОТКЕ»"},
        "auth_token": "tok-123",
        "memory": "TokenMemory",
    }
    assert probe["from_credentials"]["avatar"]["sender"] == {
        "name": "АТ «ОТКЕ»",
        "avatar": "https://example.invalid/a.png",
    }


def test_the_api_url_comes_from_credentials_then_the_environment(probe: dict[str, Any]) -> None:
    made = probe["from_credentials"]
    assert made["api_url_from_env"]["api_url"] == "http://127.0.0.1:9/pa"
    assert made["api_url_from_credentials"]["api_url"] == "http://127.0.0.1:8/pa"


def test_redis_url_selects_the_shared_memory(probe: dict[str, Any]) -> None:
    made = probe["from_credentials"]
    assert made["redis_from_env"]["memory"] == "RedisTokenMemory"
    assert made["redis_from_credentials"]["memory"] == "RedisTokenMemory"


def test_credentials_yml_as_rasa_reads_it(probe: dict[str, Any]) -> None:
    made = probe["from_credentials"]
    # VIBER_AUTH_TOKEN unset: Rasa itself refuses to expand ${VIBER_AUTH_TOKEN}, naming it.
    assert made["file_token_unset"]["rasa_exception"] is True
    assert "VIBER_AUTH_TOKEN" in made["file_token_unset"]["message"]
    # set but empty: the channel refuses
    assert made["file_token_empty"]["rasa_exception"] is True
    assert "VIBER_AUTH_TOKEN" in made["file_token_empty"]["message"]
    # other channels (REST, web chat) may be configured too; Viber exactly once
    loaded = dict(made["file_token_set"])
    assert loaded.pop("channels").count("ViberInput") == 1
    assert loaded == {
        "raised": None,
        "api_url": DEFAULT_API_URL,
        "sender": {"name": "АТ «ОТКЕ»"},  # avatar: "" in credentials.yml is omitted
        "auth_token": "file-token",
        "memory": "TokenMemory",
    }
