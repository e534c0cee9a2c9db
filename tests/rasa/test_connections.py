"""Calls to the action server share a kept-alive connection, end at the endpoint's timeout, and
a call whose server died mid-call is not reported as never reached
(custom_components/patches/connections.py). Local servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from local_webhook import local_webhook
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from custom_components.patches.replacing import rasas_own

TOKEN = "t0k"  # a query parameter Rasa adds to every call


class Peers:
    """An aiohttp action server that notes each connection, can drop one call, can fail."""

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self.dropped = False

    async def handle(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer not in self.connections:
            self.connections.append(peer)
        body = await request.json()
        if body.get("drop") and not self.dropped:
            self.dropped = True  # the server closes this kept-alive connection without answering
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if body.get("fail"):
            return web.json_response({"error": "x"}, status=500)
        return web.json_response({"n": body["n"], "token": request.query.get("token")})


async def serving(peers: Peers, calls: Any) -> Any:
    async with local_webhook(peers.handle) as url:
        return await calls(EndpointConfig(url, token=TOKEN))


def test_calls_share_one_kept_alive_connection() -> None:
    peers = Peers()

    async def five(endpoint: EndpointConfig) -> list[Any]:
        return [await endpoint.request(json={"n": n}) for n in range(5)]

    assert asyncio.run(serving(peers, five)) == [{"n": n, "token": TOKEN} for n in range(5)]
    assert len(peers.connections) == 1


def test_rasa_opens_a_connection_per_call() -> None:
    """Rasa's own request, for contrast: what the patch removes."""
    peers = Peers()
    request = rasas_own(EndpointConfig, "request")

    async def five(endpoint: EndpointConfig) -> list[Any]:
        return [await request(endpoint, json={"n": n}) for n in range(5)]

    assert asyncio.run(serving(peers, five)) == [{"n": n, "token": TOKEN} for n in range(5)]
    assert len(peers.connections) == 5


def test_a_call_on_a_connection_the_server_dropped_is_sent_once_more() -> None:
    async def calls(endpoint: EndpointConfig) -> Any:
        await endpoint.request(json={"n": 0})
        return await endpoint.request(json={"n": 5, "drop": True})

    assert asyncio.run(serving(Peers(), calls)) == {"n": 5, "token": TOKEN}


def test_an_error_status_is_rasas_error() -> None:
    async def calls(endpoint: EndpointConfig) -> Any:
        with pytest.raises(ClientResponseError) as error:
            await endpoint.request(json={"n": 6, "fail": True})
        return error.value.status

    assert asyncio.run(serving(Peers(), calls)) == 500


def test_an_endpoints_timeout_bounds_each_call() -> None:
    """Without the endpoint's timeout the call would wait Rasa's five minutes."""
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/webhook"

    async def call() -> None:
        await EndpointConfig(url, timeout=0.5).request(json={}, timeout=DEFAULT_REQUEST_TIMEOUT)

    start = time.monotonic()
    with silent, pytest.raises(asyncio.TimeoutError):
        asyncio.run(asyncio.wait_for(call(), timeout=10))  # the test's own limit, far below 300 s
    assert time.monotonic() - start < 5
    assert DEFAULT_REQUEST_TIMEOUT == 300


def serve_once_then_die(listener: socket.socket) -> None:
    connection, _ = listener.accept()
    received = b""
    while b"\r\n\r\n" not in received:  # the whole call arrives (the server may act on it)...
        received += connection.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += connection.recv(65536)
    listener.close()  # ...and the server dies before answering: a FIN, not a reset of unread data
    connection.close()


def test_a_call_whose_server_died_mid_call_is_not_reported_as_never_reached() -> None:
    """The retry on a fresh connection is refused; its error is chained to the first disconnect,
    so the apology does not say nothing was saved (custom_components/patches/action_failures.py)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    threading.Thread(target=serve_once_then_die, args=(listener,), daemon=True).start()

    async def call() -> None:
        await EndpointConfig(f"http://127.0.0.1:{port}/webhook").request(json={"n": 1})

    with pytest.raises(aiohttp.ClientConnectorError) as error:
        asyncio.run(call())
    assert isinstance(error.value.__cause__, aiohttp.ServerDisconnectedError)
