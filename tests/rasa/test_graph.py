"""The model's graph gives the same parses, predictions and errors without dask's scheduler
(custom_components/patches/graph.py), on the trained model and the NLU test set."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.utils.log_utils import configure_structlog

from custom_components.patches import graph

ROOT = Path(__file__).resolve().parents[2]
RUNS: dict[str, Callable[..., dict[str, Any]]] = {"ours": graph.run, "dask": graph.rasa_run}


@pytest.fixture(scope="module")
def agent(model: Path) -> Iterator[Agent]:
    configure_structlog(logging.INFO)
    yield Agent.load(str(model))


def both(runner: DaskGraphRunner, inputs: Callable[[], dict[str, Any]], target: str) -> list[Any]:
    """Each way's result, or its error as text."""
    outcomes: list[Any] = []
    for run in RUNS.values():
        try:
            outcomes.append(run(runner, inputs(), [target]))
        except Exception as error:
            outcomes.append(f"{type(error).__name__}: {error}")
    return outcomes


def test_the_model_graph_runs_as_dask_runs_it(agent: Agent) -> None:
    assert DaskGraphRunner.run is graph.run
    assert graph.rasa_run.__module__ == "rasa.engine.runner.dask"
    processor = agent.processor
    assert processor is not None
    runner, meta, domain = processor.graph_runner, processor.model_metadata, agent.domain
    texts = [message.get(TEXT) for message in load_data(str(ROOT / "tests/nlu/test_nlu.yml")).intent_examples]
    texts += ["", " ", '/submit_reading{"meter_id": 42}', "ʼ" * 500, "1e3", "123.45", "Привіт!!!"]
    parses = predictions = differ = refused = 0
    for text in texts:

        def message(text: str = text) -> dict[str, Any]:
            return {PLACEHOLDER_MESSAGE: [UserMessage(text, message_id="probe")], PLACEHOLDER_TRACKER: None}

        ours, dasks = both(runner, message, meta.nlu_target)
        if isinstance(ours, str) or isinstance(dasks, str):  # the same error, or a difference
            differ += ours != dasks
            refused += 1
            continue
        (our_message,), (dask_message,) = ours[meta.nlu_target], dasks[meta.nlu_target]
        parses += 1
        differ += ours.keys() != dasks.keys() or our_message.as_dict() != dask_message.as_dict()
        parse = our_message.as_dict()

        def tracker(text: str = text, parse: dict[str, Any] = parse) -> dict[str, Any]:
            events = [
                ActionExecuted("action_listen"),
                UserUttered(text, parse.get("intent"), parse.get("entities", []), parse),
            ]
            return {
                PLACEHOLDER_TRACKER: DialogueStateTracker.from_events("probe", events, slots=domain.slots)
            }

        ours, dasks = both(runner, tracker, meta.core_target)
        a, b = ours[meta.core_target], dasks[meta.core_target]
        predictions += 1
        differ += (a.probabilities, a.policy_name, a.events, a.hide_rule_turn) != (
            b.probabilities,
            b.policy_name,
            b.events,
            b.hide_rule_turn,
        )
    assert parses > 200 and predictions == parses
    assert differ == 0  # the same intents, rankings, entities and next actions


def test_a_failing_node_and_a_clashing_input_fail_as_with_dask(agent: Agent) -> None:
    processor = agent.processor
    assert processor is not None
    runner, name = processor.graph_runner, processor.model_metadata.nlu_target
    node = runner._instantiated_nodes[name]

    def broken(*args: Any) -> Any:
        raise RuntimeError("a node failed")

    errors: dict[str, str] = {}
    runner._instantiated_nodes[name] = broken
    try:
        for label, run in RUNS.items():
            with pytest.raises(GraphRunError) as error:
                run(
                    runner,
                    {PLACEHOLDER_MESSAGE: [UserMessage("x", message_id="probe")], PLACEHOLDER_TRACKER: None},
                    [name],
                )
            errors[label] = type(error.value.__cause__).__name__
    finally:
        runner._instantiated_nodes[name] = node
    assert errors == {"ours": "RuntimeError", "dask": "RuntimeError"}
    for run in RUNS.values():
        with pytest.raises(GraphRunError, match="clashes with a node name"):
            run(runner, {PLACEHOLDER_MESSAGE: name, PLACEHOLDER_TRACKER: None}, [name])
