"""A conversation designer's story takes effect: a copy of the project's config, domain and data
gets a new topic (two intents, two responses, a two-turn story in data/stories/), is trained with
`rasa train` and served by a Rasa server on the REST channel, which follows the story, and only
in the story's context."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ruamel.yaml import YAML

from tests.support.otke import CLOSED_PORT_URL
from tests.support.paths import ROOT
from tests.support.servers import (
    free_port,
    rasa_command,
    server_env,
    start_process,
    stop_process,
    wait_until_up,
)

# Training takes about 15-30 s on two cores (its time budget in the suite); this only stops a hang.
TRAINING_TIMEOUT_SECONDS = 600

NLU = """\
version: "3.1"

nlu:
  - intent: ask_heating_season
    examples: |
      - коли почнеться опалювальний сезон
      - коли початок опалювального сезону
      - коли дадуть тепло
      - коли включать опалення
      - коли увімкнуть опалення
      - коли почнуть топити
      - з якого числа опалювальний сезон
      - опалювальний сезон коли
      - вже холодно, коли буде опалення
      - коли підключать опалення цього року
      - чи відомо, коли стартує опалювальний сезон
      - коли запустять опалення в місті

  - intent: ask_heating_schedule
    examples: |
      - покажіть графік
      - покажіть графік по моєму будинку
      - графік по моєму будинку
      - який графік підключення будинку
      - графік підключення
      - надішліть графік
      - хочу подивитися графік
      - графік для мого будинку
      - де подивитися графік підключення
      - скиньте графік будь ласка
      - а графік є
"""

DOMAIN = """\
version: "3.1"

intents:
  - ask_heating_season
  - ask_heating_schedule

responses:
  utter_heating_season:
    - text: >-
        Опалювальний сезон у Чернігові починається за рішенням міської ради, коли середньодобова
        температура три дні поспіль нижча за +8 °C. Показати графік по вашому будинку?
  utter_heating_schedule:
    - text: >-
        Будинки підключають до опалення протягом тижня після початку сезону: спершу лікарні й
        школи, потім житлові будинки за графіком вашої дільниці.
"""

STORY = """\
version: "3.1"

stories:
  - story: The subscriber asks when the heating season starts, then for the schedule
    steps:
      - intent: ask_heating_season
      - action: utter_heating_season
      - intent: ask_heating_schedule
      - action: utter_heating_schedule
"""

# what the server sends: the first variant's text
RESPONSES = {
    name: str(variants[0]["text"]) for name, variants in YAML(typ="safe").load(DOMAIN)["responses"].items()
}
SEASON_QUESTION = "коли вже дадуть тепло?"
SCHEDULE_QUESTION = "покажіть графік по нашому будинку"


def designer_project(folder: Path) -> Path:
    """The project's config, domain, data and NLU components, with the designer's new files."""
    shutil.copy(ROOT / "config.yml", folder / "config.yml")
    (folder / "domain").mkdir()
    shutil.copy(ROOT / "domain.yml", folder / "domain" / "domain.yml")
    (folder / "domain" / "heating_season.yml").write_text(DOMAIN, encoding="utf-8")
    shutil.copytree(ROOT / "data", folder / "data")
    shutil.copytree(ROOT / "custom_components", folder / "custom_components")
    (folder / "data" / "nlu" / "heating_season.yml").write_text(NLU, encoding="utf-8")
    (folder / "data" / "stories").mkdir(exist_ok=True)
    (folder / "data" / "stories" / "heating_season.yml").write_text(STORY, encoding="utf-8")
    return folder


def train(project: Path, budget: float) -> Path:
    try:
        done = subprocess.run(
            [
                str(ROOT / ".venv-rasa/bin/rasa"),
                "train",
                "--config",
                "config.yml",
                "--domain",
                "domain",
                "--data",
                "data",
                "--out",
                "models",
                "--fixed-model-name",
                "designer",
            ],
            cwd=project,  # Rasa imports custom components from its working directory: the copy
            env=server_env(CLOSED_PORT_URL),
            capture_output=True,
            text=True,
            timeout=budget,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"training took more than {budget:.0f} s", pytrace=False)
    assert done.returncode == 0, f"training failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return project / "models" / "designer.tar.gz"


def rest_only(folder: Path) -> tuple[Path, Path]:
    """A REST channel and no action server: the story needs none."""
    endpoints, credentials = folder / "endpoints.yml", folder / "credentials.yml"
    endpoints.write_text("action_endpoint:\n  url: http://127.0.0.1:1/webhook\n", encoding="utf-8")
    credentials.write_text("custom_channels.rest.RestInput:\n", encoding="utf-8")
    return endpoints, credentials


@pytest.fixture
def started(tmp_path: Path) -> Iterator[str]:
    """A Rasa server on the designer's model; yields its URL."""
    model = train(designer_project(tmp_path), TRAINING_TIMEOUT_SECONDS)
    port = free_port()
    command = rasa_command(model, *rest_only(tmp_path), "--enable-api", "--port", str(port))
    process, log = start_process("designer-story-rasa-server", command, server_env(CLOSED_PORT_URL))
    try:
        wait_until_up(f"http://127.0.0.1:{port}/webhooks/rest/", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def said(url: str, sender: str, text: str) -> list[str]:
    answer = httpx.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30)
    answer.raise_for_status()
    return [str(message.get("text", "")) for message in answer.json()]


def understood(url: str, text: str) -> tuple[str, list[str]]:
    """The intent and the names of the entities the NLU pipeline finds in a message."""
    parsed = httpx.post(f"{url}/model/parse", json={"text": text}, timeout=30)
    parsed.raise_for_status()
    found = parsed.json()
    return str(found["intent"]["name"]), [str(entity["entity"]) for entity in found["entities"]]


@pytest.mark.e2e
def test_a_new_story_is_followed_and_only_in_its_context(started: tuple[str, float]) -> None:
    url = started
    season, schedule = RESPONSES["utter_heating_season"], RESPONSES["utter_heating_schedule"]
    # NLU first, so a failure below is the dialogue's, not the classifier's
    season_intent, season_entities = understood(url, SEASON_QUESTION)
    schedule_intent, schedule_entities = understood(url, SCHEDULE_QUESTION)
    assert (season_intent, schedule_intent) == ("ask_heating_season", "ask_heating_schedule")
    # A story's turn is its intent and the entities that influence the conversation: a policy that
    # learns stories is needed, and entities found in these words must not change the turn.
    found = f"entities found: {season_entities}, {schedule_entities}"

    first = said(url, "designer-story", SEASON_QUESTION)
    assert first == [season], f"the story was not followed; {found}: {first}"
    second = said(url, "designer-story", SCHEDULE_QUESTION)
    assert second == [schedule], f"the story was not followed; {found}: {second}"

    # the same second turn, without the first: the story's context is missing
    assert schedule not in said(url, "designer-control", SCHEDULE_QUESTION)
