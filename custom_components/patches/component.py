"""The graph component that installs the patches when Rasa creates it (see __init__.py)."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from custom_components.patches.installing import RasaPatchesRefused, install


# A message featurizer only because Rasa creates those both when it trains the pipeline and when
# it loads a model; it passes messages on untouched.
@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class RasaPatches(GraphComponent):
    """First in config.yml's pipeline: installs custom_components.patches when Rasa creates it."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RasaPatches:
        try:
            install()
        except RasaPatchesRefused as refusal:
            # Rasa's load_agent logs any Exception and serves on without a model: stop instead.
            raise SystemExit(str(refusal)) from refusal
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        return messages
