"""The production profile fails closed: its channels refuse to start without the shared settings
that make several instances safe, as the Viber channel already refuses to start without its token.

Channels are created from deploy/credentials.production.yml exactly as `rasa run --credentials`
creates them (rasa.core.run.create_http_input_channels, environment variables expanded), and once
more by a real `rasa run` that must exit with the message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.core.run import create_http_input_channels
from rasa.shared.exceptions import RasaException

from custom_channels.viber import RedisTokenMemory, ViberInput
from custom_channels.webchat import WebChatInput

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = str(ROOT / "deploy" / "credentials.production.yml")
LOCAL = str(ROOT / "credentials.yml")
SHARED = {
    "VIBER_AUTH_TOKEN": "production-test-token",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
    "WEBCHAT_ORIGINS": "https://www.otke.example, https://otke.example:8443/",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Every shared setting present; a test takes away what it checks."""
    for name, value in SHARED.items():
        monkeypatch.setenv(name, value)
    yield monkeypatch


def channels(credentials: str) -> dict[str, object]:
    return {channel.name(): channel for channel in create_http_input_channels(None, credentials)}


def test_with_every_setting_the_production_channels_start(environment: pytest.MonkeyPatch) -> None:
    started = channels(PRODUCTION)
    assert set(started) == {"viber", "webchat"}
    viber, webchat = started["viber"], started["webchat"]
    assert isinstance(viber, ViberInput) and isinstance(viber.memory, RedisTokenMemory)
    assert isinstance(webchat, WebChatInput)
    assert webchat.origins == ["https://www.otke.example", "https://otke.example:8443"]


@pytest.mark.parametrize("value", [None, "", "  "], ids=["unset", "empty", "blank"])
def test_production_refuses_to_start_without_webchat_origins(
    environment: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        environment.delenv("WEBCHAT_ORIGINS")
    else:
        environment.setenv("WEBCHAT_ORIGINS", value)
    with pytest.raises(RasaException, match="set WEBCHAT_ORIGINS"):
        channels(PRODUCTION)


@pytest.mark.parametrize("value", [None, "", " "], ids=["unset", "empty", "blank"])
def test_production_refuses_to_start_without_a_shared_viber_memory(
    environment: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        environment.delenv("REDIS_URL")
    else:
        environment.setenv("REDIS_URL", value)
    with pytest.raises(RasaException, match="The Viber channel needs REDIS_URL"):
        channels(PRODUCTION)


@pytest.mark.parametrize(
    "origins",
    ["*", "www.otke.example", "https://www.otke.example/chat", "javascript:alert(1)", "https://a b.example"],
)
def test_what_is_not_an_origin_is_refused_in_any_profile(
    environment: pytest.MonkeyPatch, origins: str
) -> None:
    environment.setenv("WEBCHAT_ORIGINS", origins)
    for credentials in (PRODUCTION, LOCAL):
        with pytest.raises(RasaException, match="is not an origin"):
            channels(credentials)


def test_the_local_profile_still_starts_without_them(environment: pytest.MonkeyPatch) -> None:
    """`make run` and the tests' own servers: per-process memory, and the origin `make run` sets."""
    environment.delenv("REDIS_URL")
    environment.delenv("WEBCHAT_ORIGINS")
    started = channels(LOCAL)
    viber = started["viber"]
    assert isinstance(viber, ViberInput) and not isinstance(viber.memory, RedisTokenMemory)


def test_a_production_rasa_server_without_webchat_origins_exits_with_the_message(tmp_path: Path) -> None:
    """The refusal stops `rasa run` itself before it serves anything (no model is even needed)."""
    env = {key: value for key, value in os.environ.items() if key != "WEBCHAT_ORIGINS"}
    env |= {"VIBER_AUTH_TOKEN": "t", "REDIS_URL": SHARED["REDIS_URL"], "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("rasa")),
            "run",
            "--credentials",
            PRODUCTION,
            "--model",
            str(tmp_path / "no-model"),
            "--port",
            "1",  # nothing may bind it: the server must stop before listening
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode != 0
    assert "set WEBCHAT_ORIGINS" in done.stdout + done.stderr
