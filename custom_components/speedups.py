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
  The domain now goes without its responses: our actions read their texts from the same
  domain.yml (actions/texts.py); rasa-sdk's forms use only its slots and forms. (Rasa 3.6's own
  ``enable_selective_domain`` sends no domain at all, which rasa-sdk 3.21 refuses.)
- The RulePolicy matched its rules against every state of the conversation, back to its start,
  although a state older than the longest rule can rule nothing out (``_is_rule_applicable`` is
  true for it whatever the rule): the work grew with each turn. It now stops at the longest rule.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
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


_action_call_format = RemoteAction._action_call_format


def _action_call_without_responses(self: RemoteAction, tracker: Any, domain: Any) -> dict[str, Any]:
    call: dict[str, Any] = _action_call_format(self, tracker, domain)
    if "domain" in call:
        call["domain"] = {key: value for key, value in call["domain"].items() if key != "responses"}
    return call


RemoteAction._action_call_format = _action_call_without_responses  # type: ignore[method-assign]


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
