"""Whitespace tokens that keep Ukrainian words with an apostrophe whole, and numbers apart.

Rasa's WhitespaceTokenizer splits "зв'язатися" and "п’ять" at the apostrophe (only U+02BC
survives). People type ', ’, ` or ʼ interchangeably, so all of them become U+02BC, which is
one character like the others: token offsets into the original text stay right.

A number is its own token even when glued to letters or signs ("128.50м³", "№5550123",
"23456;333333"), so the entities of custom_components/register_entities.py are whole tokens.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

# An apostrophe between two letters, in any of the forms people type.
APOSTROPHE = re.compile(r"(?<=\w)['’`ʼ‘](?=\w)")
MODIFIER_APOSTROPHE = "\u02bc"
# A run of ASCII digits with "." or "," between groups: "23456", "128,50", "25.11.2026".
NUMBER = re.compile(r"(?<![0-9])[0-9]+(?:[.,][0-9]+)*")
# A token cut at its numbers: the numbers, and the words between them without the signs at their
# edges ("ГВП-128,3" is "ГВП" and "128,3").
PIECE = re.compile(rf"{NUMBER.pattern}|[^\W0-9](?:[^0-9]*[^\W0-9])?")


def normalise_apostrophes(text: str) -> str:
    return APOSTROPHE.sub(MODIFIER_APOSTROPHE, text)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class UkrainianTokenizer(WhitespaceTokenizer):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        config: dict[str, Any] = WhitespaceTokenizer.get_default_config()
        return config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UkrainianTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        normalised = normalise_apostrophes(text) if isinstance(text, str) else text
        tokens: list[Token] = super().tokenize(
            message if normalised == text else Message(data={attribute: normalised}), attribute
        )
        return [piece for token in tokens for piece in split_numbers(token)]


def split_numbers(token: Token) -> list[Token]:
    """The token cut into its numbers and the words between them; punctuation alone goes."""
    if NUMBER.search(token.text) is None or NUMBER.fullmatch(token.text) is not None:
        return [token]
    pieces = [
        Token(piece.group(), token.start + piece.start(), data=dict(token.data))
        for piece in PIECE.finditer(token.text)
    ]
    return pieces or [token]
