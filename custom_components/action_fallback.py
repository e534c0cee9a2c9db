"""When the action server cannot answer, the subscriber is told so, instead of silence.

Imported by ``custom_components/__init__.py``, so every Rasa process that loads our model has it.

Rasa 3.6 (``MessageProcessor._run_action``) logs any failure of a custom action, drops the
action's events and goes on predicting: with the action server down, a form step answers nothing
and an unvalidated value stays in its slot. Here a custom action whose call fails (no connection,
a timeout, a 5xx, an answer that is not an action server's) instead:

- utters ``utter_service_unavailable`` (the apology with the menu buttons, from domain.yml) when
  no connection could be made, or ``utter_service_interrupted`` when the call got through and
  then failed (a timeout, a 5xx, a cut connection), since the action may have saved by then;
- ends the active form, if any, and clears its slots, so the flow starts again from the beginning;
- makes ``action_listen`` the next action, so no rule runs on the half-finished flow.

Form validations (``validate_<form>``) and the forms' ``action_ask_*`` go through the same
``RemoteAction.run``, so a failure in the middle of a form ends it the same way. A 400 answer
(``ActionExecutionRejection``, an action refusing to run) keeps Rasa's own handling.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import aiohttp
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.events import ActiveLoop, Event, FollowupAction, SlotSet

if TYPE_CHECKING:
    from rasa.core.channels.channel import OutputChannel
    from rasa.core.nlg import NaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

UNAVAILABLE = "utter_service_unavailable"  # "nothing was saved": true when no call got through
INTERRUPTED = "utter_service_interrupted"  # the action may have finished: no such promise

_run_remote_action = RemoteAction.run


async def run_or_apologise(
    self: RemoteAction,
    output_channel: OutputChannel,
    nlg: NaturalLanguageGenerator,
    tracker: DialogueStateTracker,
    domain: Domain,
) -> list[Event]:
    """RemoteAction.run, with the apology in place of lost events when the call fails."""
    try:
        return await _run_remote_action(self, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise
    except Exception as error:  # whatever went wrong, the subscriber must not be left without an answer
        form = tracker.active_loop_name
        logger.error(
            "Custom action '%s' failed (%s); answered with %s%s",
            self.name(),
            _reason(error),
            UNAVAILABLE,
            f" and ended {form}" if form else "",
        )
        apology = UNAVAILABLE if _never_reached(error) else INTERRUPTED
        return await service_unavailable(output_channel, nlg, tracker, domain, apology)


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


RemoteAction.run = run_or_apologise  # type: ignore[method-assign]
