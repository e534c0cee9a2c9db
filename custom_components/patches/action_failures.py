"""When the action server cannot answer, the subscriber gets an apology instead of silence, the
active form ends and Rasa listens (docs/performance.md, "Action server failures")."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import aiohttp
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.events import ActiveLoop, Event, FollowupAction, SlotSet

from custom_components.patches.replacing import replace

if TYPE_CHECKING:
    from rasa.core.channels.channel import OutputChannel
    from rasa.core.nlg import NaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

UNAVAILABLE = "utter_service_unavailable"  # "nothing was saved": true when no call got through
INTERRUPTED = "utter_service_interrupted"  # the action may have finished: no such promise

rasa_run = RemoteAction.run  # Rasa's own, taken before any patch


async def run_or_apologise(
    self: RemoteAction,
    output_channel: OutputChannel,
    nlg: NaturalLanguageGenerator,
    tracker: DialogueStateTracker,
    domain: Domain,
) -> list[Event]:
    """RemoteAction.run, with the apology in place of lost events when the call fails."""
    try:
        events: list[Event] = await rasa_run(self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise
    except Exception as error:  # whatever went wrong, the subscriber must not be left without an answer
        apology = UNAVAILABLE if _never_reached(error) else INTERRUPTED
        form = tracker.active_loop_name
        logger.error(
            "Custom action '%s' failed (%s); answered with %s%s",
            self.name(),
            _reason(error),
            apology,
            f" and ended {form}" if form else "",
        )
        return await service_unavailable(output_channel, nlg, tracker, domain, apology)
    return events


async def service_unavailable(
    output_channel: OutputChannel,
    nlg: NaturalLanguageGenerator,
    tracker: DialogueStateTracker,
    domain: Domain,
    apology: str = UNAVAILABLE,
) -> list[Event]:
    """The apology, the end of the active form with its slots cleared, then listening."""
    events: list[Event] = list(
        await RemoteAction._utter_responses([{"response": apology}], output_channel, nlg, tracker)
    )
    form = tracker.active_loop_name
    if form:
        events += [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
        events += [SlotSet(slot, None) for slot in domain.required_slots_for_form(form)]
    events.append(FollowupAction(ACTION_LISTEN_NAME))
    return events


def _root(error: BaseException) -> BaseException:
    while (cause := error.__cause__ or error.__context__) is not None:
        error = cause
    return error


def _never_reached(error: BaseException) -> bool:
    """Whether the call failed before the action server could have done anything (no connection).
    After a timeout, a 5xx or a cut connection the action may have saved, so the apology must not
    say that nothing was saved."""
    return isinstance(_root(error), (aiohttp.ClientConnectorError, ConnectionRefusedError))


def _reason(error: BaseException) -> str:
    """What went wrong, on one line: the root cause (Rasa wraps the aiohttp error in its own)."""
    root = _root(error)
    return f"{type(root).__name__}: {root}"[:300]


def apologise_when_an_action_fails() -> None:
    """RemoteAction.run: a failed call answers with the apology, ends the form and listens."""
    replace(RemoteAction, "run", run_or_apologise)
