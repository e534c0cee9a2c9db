"""Rasa's REST channel (local use and tests) with its identity made safe, like the web chat's.

Loaded from credentials.yml as ``custom_channels.rest.RestInput``; the URL stays
``/webhooks/rest/webhook``. Rasa's channel takes the message's input channel from the request
body (``"input_channel": "viber"``), and the action server trusts that name to qualify who is
talking, so a REST caller could have become any Viber or web chat subscriber. Here the input
channel is always ``rest``, and every sender becomes ``rest:<sender>``, so a REST caller never
shares a conversation with a Viber or web chat subscriber either. The production profile has no
REST channel at all.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic.request import Request

CHANNEL = "rest"
PREFIX = f"{CHANNEL}:"


def qualified(sender: Any) -> str | None:
    """``rest:<sender>``; None (Rasa's "default" sender) stays None."""
    if sender is None:
        return None
    sender = str(sender)
    return sender if sender.startswith(PREFIX) else f"{PREFIX}{sender}"


class RestInput(RasaRestInput):
    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def _extract_sender(self, req: Request) -> str | None:
        return qualified(await super()._extract_sender(req))

    def _extract_input_channel(self, req: Request) -> str:
        return CHANNEL
