"""Calls to the action server share kept-alive connections and end at the endpoint's ``timeout``
(docs/performance.md)."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.shared.exceptions import FileNotFoundException
from rasa.utils.endpoints import ClientResponseError, EndpointConfig, concat_url

from custom_components.patches.replacing import replace

# Below the keep-alive timeout of Sanic (the action server's, 5 s by default), so the client
# lets an idle connection go before the server closes it under a request in flight.
KEEPALIVE_SECONDS = 3.0
_SESSIONS: dict[tuple[int, int], aiohttp.ClientSession] = {}


def _shared_session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """One session per endpoint and event loop."""
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
            connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
        )
        _SESSIONS[key] = session
    return session


async def request(
    self: EndpointConfig,
    method: str = "post",
    subpath: str | None = None,
    content_type: str | None = "application/json",
    compress: bool = False,
    **kwargs: Any,
) -> Any:
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
            # call); the retry's failure must not read as "never reached" (action_failures.py).
            raise error from disconnected
    return None


def keep_action_server_connections_alive() -> None:
    """EndpointConfig.request on one kept-alive session per endpoint, within its ``timeout``."""
    replace(EndpointConfig, "request", request)
