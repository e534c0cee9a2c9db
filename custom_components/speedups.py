"""Measured costs of the Rasa 3.6 server that we remove without changing its behaviour.

Imported by ``custom_components/__init__.py``, so every Rasa process that loads our model has it.

- Rasa validates every action server response with ``jsonschema.validate``, which first checks
  the (constant) schema itself, on every call: a third of the Rasa server's CPU under load
  (py-spy, bench/conversations.py at 15 turns/s). The schema is checked once here; every
  response is still validated against it, with the same error message. Each event is checked
  against the one branch of the schema's 23-way "oneOf" its type names, not all 23 (the rest of
  that cost); a response that fails is checked again against the whole schema for Rasa's error.
- Every event read back (the tracker store's whole conversation each turn, every action
  response) finds its class by walking all subclasses of ``Event`` and asking ``inspect`` whether
  each is abstract: 8 % of the Rasa server's CPU. The classes are looked up in a table here,
  built in the same order (first match wins) and rebuilt once on a miss, so an event class
  imported later is still found.
- Every call to the action server opened a new HTTP connection (a new aiohttp session per
  request). Calls now share one keep-alive session per endpoint and event loop; a call that
  finds its reused connection closed by the server is sent once more on a new connection. An
  endpoint's ``timeout`` in endpoints.yml bounds each call (Rasa 3.6 waits five minutes).
- Every call to the action server carried the whole domain, 44 KB of JSON of which 39 KB are
  the responses, encoded here and decoded there for each of the two or three calls of a turn.
  The domain now goes without its responses (made once per model): our actions read their texts
  from the same domain.yml (actions/texts.py); rasa-sdk's forms use only its slots and forms.
  (Rasa 3.6's own ``enable_selective_domain`` sends no domain at all, which rasa-sdk 3.21 refuses.)
- Every call also carried the whole conversation's events (18 KB on average in the benchmark's
  conversations, 31 KB by their end, growing with every turn), serialised here and parsed
  there, although what an action reads of them is the current turn: the slots, the latest
  message and the active loop come separately, rasa-sdk's form validation looks at the slot
  events after the latest user message, ``get_latest_input_channel`` at that message. Calls now
  carry the events from the latest user message on; our actions read nothing older.
- Every NLU parse and every policy prediction ran the model's graph through dask's scheduler,
  built anew for each run (the minimal schema for the targets, a dask graph, dask's bookkeeping
  of ready tasks): about a tenth of the Rasa server's CPU per turn (cProfile), for a graph of a
  dozen nodes run in one thread. The graph now runs the same nodes, each once, in an order that
  respects their inputs, with the same inputs and errors (a node that needs something nobody
  provides gets the name, as dask passes it); the minimal schema is kept per set of targets.
- The processor, the RulePolicy and forms deep-copy the states, events and slots they pass to
  ``structlogger.debug`` on every call, before structlog drops the message when debug logs are
  off: 5 % of the CPU per turn. Those three modules use ``copy`` for nothing else; they now get
  a ``copy`` whose ``deepcopy`` hands the value over as it is while structlog filters debug
  messages out, and copies as before when they are logged (``rasa run --debug``).
- The RulePolicy matched its rules against every state of the conversation, back to its start,
  although a state older than the longest rule can rule nothing out (``_is_rule_applicable`` is
  true for it whatever the rule): the work grew with each turn. It now stops at the longest rule.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import ssl
import types
from typing import Any

import aiohttp
import rasa
import rasa.core.actions.forms
import rasa.core.policies.rule_policy
import rasa.core.processor
import structlog
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.exceptions import FileNotFoundException
from rasa.shared.utils.common import all_subclasses
from rasa.shared.utils.schemas.events import EVENT_SCHEMA
from rasa.utils.endpoints import ClientResponseError, EndpointConfig, concat_url

_SCHEMA = RemoteAction.action_response_format_spec()
_VALIDATOR = validator_for(_SCHEMA)(_SCHEMA)
validator_for(_SCHEMA).check_schema(_SCHEMA)


def _event_validators() -> dict[str, Any]:
    """One validator per event type: the event schema with only the branch of its "oneOf" whose
    "event" constant names that type. Every branch fixes "event" to a different constant, so an
    event is valid under the oneOf exactly when it is valid under its own branch."""
    base = {key: value for key, value in EVENT_SCHEMA.items() if key != "oneOf"}
    validators = {}
    for branch in EVENT_SCHEMA["oneOf"]:
        kind = branch.get("properties", {}).get("event", {}).get("const")
        if not isinstance(kind, str) or kind in validators:
            return {}  # a schema this reasoning does not fit: every response takes the whole schema
        schema = {**base, "allOf": [branch]}
        validators[kind] = validator_for(schema)(schema)
    return validators


_EVENT_VALIDATORS = _event_validators()
_SHELL = {**_SCHEMA, "properties": {**_SCHEMA["properties"], "events": {"type": "array"}}}
_SHELL_VALIDATOR = validator_for(_SHELL)(_SHELL)


def _is_valid(result: Any) -> bool:
    """The action response schema, checked event by event against its own type's branch."""
    if not _SHELL_VALIDATOR.is_valid(result):
        return False
    for event in result.get("events") or ():
        kind = event.get("event") if isinstance(event, dict) else None
        validator = _EVENT_VALIDATORS.get(kind) if isinstance(kind, str) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    if _is_valid(result):
        return True
    try:  # the whole schema, for Rasa's own error
        _VALIDATOR.validate(result)
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from "
            f"the Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise
    return True


RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


_DOMAIN: list[tuple[Domain, dict[str, Any]]] = []  # the served model's domain, and its dict


def _domain_without_responses(domain: Domain) -> dict[str, Any]:
    """domain.as_dict() without its responses, made once per Domain object (a served model's
    domain does not change; a new model brings a new Domain)."""
    if not _DOMAIN or _DOMAIN[0][0] is not domain:
        trimmed = {key: value for key, value in domain.as_dict().items() if key != "responses"}
        _DOMAIN[:] = [(domain, trimmed)]
    return _DOMAIN[0][1]


def _current_turn(tracker: DialogueStateTracker) -> list[Event]:
    """The events from the latest user message on (all of them if there is none)."""
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[index:]
    return events


def _action_call(self: RemoteAction, tracker: DialogueStateTracker, domain: Domain) -> dict[str, Any]:
    """Rasa's RemoteAction._action_call_format with the current turn's events only, and the
    domain without its responses."""
    state = tracker.current_state(EventVerbosity.NONE)
    state["events"] = [event.as_dict() for event in _current_turn(tracker)]
    call: dict[str, Any] = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": state,
        "version": rasa.__version__,
    }
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(
        self.name()
    ):
        call["domain"] = _domain_without_responses(domain)
    return call


RemoteAction._action_call_format = _action_call  # type: ignore[method-assign]


# --- event classes by type name -------------------------------------------------------------

_EVENT_CLASSES: dict[str, type[Event]] = {}


def _index_event_classes() -> None:
    table: dict[str, type[Event]] = {}
    for cls in all_subclasses(Event):
        table.setdefault(cls.type_name, cls)
    _EVENT_CLASSES.clear()
    _EVENT_CLASSES.update(table)


def _resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """Rasa's Event.resolve_by_type, from a table instead of a walk over every subclass."""
    cls = _EVENT_CLASSES.get(type_name)
    if cls is None:
        _index_event_classes()
        cls = _EVENT_CLASSES.get(type_name)
    if cls is not None:
        return cls
    if type_name == "topic":
        return None  # Rasa's backwards compatibility for old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[method-assign,assignment]


# --- one keep-alive HTTP session per endpoint ---------------------------------------------

# Below the keep-alive timeout of Sanic (the action server's, 5 s by default), so the client
# lets an idle connection go before the server closes it under a request in flight.
_KEEPALIVE_SECONDS = 3.0
_SESSIONS: dict[tuple[int, int], aiohttp.ClientSession] = {}


def _shared_session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    key = (id(endpoint), id(loop))
    session = _SESSIONS.get(key)
    if session is None or session.closed or getattr(session, "_loop", loop) is not loop:
        auth = (
            aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
            if endpoint.basic_auth
            else None
        )
        session = aiohttp.ClientSession(
            headers=endpoint.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=_KEEPALIVE_SECONDS),
        )
        _SESSIONS[key] = session
    return session


async def _request(
    self: EndpointConfig,
    method: str = "post",
    subpath: str | None = None,
    content_type: str | None = "application/json",
    compress: bool = False,
    **kwargs: Any,
) -> Any | None:
    """Rasa's EndpointConfig.request (same arguments, result and errors) on a shared session."""
    headers: dict[str, str] = {}
    if content_type:
        headers["Content-Type"] = content_type
    headers.update(kwargs.pop("headers", None) or {})
    if self.headers:
        headers.update(self.headers)
    sslcontext = None
    if self.cafile:
        try:
            sslcontext = ssl.create_default_context(cafile=self.cafile)
        except FileNotFoundError as error:
            raise FileNotFoundException(
                f"Failed to find certificate file, '{self.cafile}' does not exist."
            ) from error
    if self.kwargs.get("timeout") is not None:
        # endpoints.yml's `timeout` (seconds) instead of Rasa's fixed five minutes per action call
        kwargs["timeout"] = aiohttp.ClientTimeout(total=float(self.kwargs["timeout"]))
    params = self.combine_parameters(kwargs)
    url = concat_url(self.url, subpath)
    disconnected: aiohttp.ServerDisconnectedError | None = None
    for attempt in (1, 2):
        try:
            async with _shared_session(self).request(
                method, url, headers=headers, params=params, compress=compress, ssl=sslcontext, **kwargs
            ) as response:
                if response.status >= 400:
                    raise ClientResponseError(response.status, response.reason, await response.content.read())
                try:
                    return await response.json()
                except aiohttp.ContentTypeError:
                    return None
        except aiohttp.ServerDisconnectedError as error:
            # The server closed a kept-alive connection just as it was reused: no answer came.
            if attempt == 2:
                raise
            disconnected = error
        except aiohttp.ClientError as error:
            if disconnected is None:
                raise
            # The first attempt reached a server that then went away (it may have acted on the
            # call); the retry's failure must not read as "never reached" (action_fallback.py).
            raise error from disconnected
    return None


EndpointConfig.request = _request  # type: ignore[method-assign]


# --- rules matched only as far back as the longest rule -------------------------------------

_get_possible_keys = RulePolicy._get_possible_keys


def _longest_rule(policy: RulePolicy, lookup: dict[str, str]) -> int:
    cache: dict[int, tuple[int, int]] = policy.__dict__.setdefault("_otke_longest_rule", {})
    known = cache.get(id(lookup))
    if known is None or known[0] != len(lookup):
        longest = max((len(policy._rule_key_to_state(key)) for key in lookup), default=0)
        known = cache[id(lookup)] = (len(lookup), longest)
    return known[1]


def _get_possible_keys_of_recent_states(
    self: RulePolicy, lookup: dict[str, str], states: list[dict[str, Any]]
) -> set[str]:
    """Rasa's RulePolicy._get_possible_keys over the states a rule can reach back to."""
    longest = _longest_rule(self, lookup)
    recent = states[-longest:] if longest else []
    return _get_possible_keys(self, lookup, recent)


RulePolicy._get_possible_keys = _get_possible_keys_of_recent_states  # type: ignore[method-assign]


# --- the model's graph run without dask's scheduler -------------------------------------------


_dask_run = DaskGraphRunner.run


def _minimal_schema(runner: DaskGraphRunner, targets: tuple[str, ...]) -> GraphSchema:
    cache: dict[tuple[str, ...], GraphSchema] = runner.__dict__.setdefault("_otke_minimal_schemas", {})
    schema = cache.get(targets)
    if schema is None:
        schema = cache[targets] = runner._graph_schema.minimal_graph_schema(list(targets))
    return schema


def _run_graph(
    self: DaskGraphRunner, inputs: dict[str, Any] | None = None, targets: list[str] | None = None
) -> dict[str, Any]:
    """Rasa's DaskGraphRunner.run (same nodes, inputs, results and errors) without dask."""
    run_targets = targets if targets else self._graph_schema.target_names
    schema = _minimal_schema(self, tuple(run_targets))
    # as in dask: an input is a literal value in the graph, a name clashing with a node is refused
    results: dict[str, Any] = {}
    if inputs:
        self._add_inputs_to_graph(inputs, dict(schema.nodes))
        results = {name: (name, value) for name, value in inputs.items()}

    def compute(name: str) -> Any:
        if name in results:
            return results[name]
        node = schema.nodes.get(name)
        if node is None:
            return name  # dask hands an unknown key over as it is; GraphNode warns about it
        args = [compute(need) for need in node.needs.values()]
        results[name] = self._instantiated_nodes[name](*args)
        return results[name]

    try:
        return dict(compute(target) for target in run_targets)
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error


DaskGraphRunner.run = _run_graph  # type: ignore[method-assign]


# --- no deep copies of values for debug messages nobody logs ------------------------------

_QUIET = {
    structlog.make_filtering_bound_logger(level)
    for level in (logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
}


def _deepcopy_for_debug_message(value: Any, memo: dict[int, Any] | None = None) -> Any:
    if structlog.get_config()["wrapper_class"] in _QUIET:
        return value  # the debug message that takes it is dropped unread
    return copy.deepcopy(value, memo)


_COPY_FOR_LOGS = types.SimpleNamespace(deepcopy=_deepcopy_for_debug_message)
for _module in (rasa.core.processor, rasa.core.policies.rule_policy, rasa.core.actions.forms):
    _module.copy = _COPY_FOR_LOGS  # type: ignore[attr-defined]
