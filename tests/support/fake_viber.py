"""A stand-in for the Viber REST Bot API on 127.0.0.1 that records every call made to it.

Only Viber itself is faked in the tests; everything of ours runs for real against it.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    endpoint: str
    token: str | None
    body: dict[str, Any]


@dataclass
class FakeViber:
    """Answers like Viber; ``statuses`` maps a receiver id to the status to answer for it,
    ``endpoint_statuses`` an endpoint ("set_webhook") to the status for calls without a receiver
    status; ``http_errors`` maps a receiver id to an HTTP error status answered instead, with an
    HTML error page (as a failing proxy in front of Viber would); ``on_call``, when set, sees
    every call before it is answered (and may hold it)."""

    server: ThreadingHTTPServer
    calls: list[Call] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    endpoint_statuses: dict[str, int] = field(default_factory=dict)
    http_errors: dict[str, int] = field(default_factory=dict)
    on_call: Callable[[Call], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/pa"

    def sent_to(self, receiver: str) -> list[dict[str, Any]]:
        """The send_message bodies for one Viber user, in order."""
        with self.lock:
            return [
                c.body
                for c in self.calls
                if c.endpoint == "send_message" and c.body.get("receiver") == receiver
            ]

    def texts_to(self, receiver: str) -> list[str]:
        return [str(body.get("text", "")) for body in self.sent_to(receiver)]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_fake_viber() -> FakeViber:
    tokens = itertools.count(5_000_000_000_000_000_000)
    fake: FakeViber

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {"_unparsed": raw.decode("utf-8", "replace")}
            endpoint = self.path.rsplit("/", 1)[-1]
            call = Call(endpoint, self.headers.get("X-Viber-Auth-Token"), body)
            with fake.lock:
                fake.calls.append(call)
            if fake.on_call is not None:
                fake.on_call(call)
            http_error = fake.http_errors.get(str(body.get("receiver")))
            if http_error is not None:
                self.send_error(http_error)
                return
            status = fake.statuses.get(str(body.get("receiver")), fake.endpoint_statuses.get(endpoint, 0))
            answer: dict[str, Any] = {"status": status, "status_message": "ok" if status == 0 else "failed"}
            if endpoint == "send_message" and status == 0:
                answer |= {"message_token": next(tokens), "billing_status": 0}
            if endpoint == "get_account_info":
                answer |= {
                    "id": "pa:otke",
                    "name": "АТ «ОТКЕ»",
                    "uri": "chernihiv_otke",
                    "subscribers_count": 10500,
                }
            if endpoint == "set_webhook":
                answer |= {"event_types": body.get("event_types", [])}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeViber(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake
