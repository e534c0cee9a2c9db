"""A TCP forwarder that a test can cut and restore: a database "outage" for one server only.

Put it between a server and PostgreSQL (the server's DATABASE_URL names the proxy's port) and
`cut()` closes every live connection and refuses new ones, as a restarted or unreachable database
would; `restore()` lets connections through again. Other users of the database see nothing.
`cut_on(...)` cuts at an exact point of a conversation with the database (e.g. just before the
COMMIT of the transaction that inserts a reading), which makes "in the middle of" deterministic.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._open = True
        self._closed = False
        self.accepted = 0
        self.tripped = threading.Event()
        self._markers: tuple[bytes, ...] = ()
        self._progress: dict[socket.socket, int] = {}
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    def cut(self) -> None:
        """Drop every connection through the proxy and refuse new ones until restore()."""
        with self._lock:
            self._open = False
            live, self._live = self._live, set()
        for connection in live:
            _close(connection)

    def restore(self) -> None:
        """Let connections through again (and disarm a cut_on that has not tripped)."""
        with self._lock:
            self._open = True
            self._markers, self._progress = (), {}

    def cut_on(self, *markers: bytes) -> None:
        """Arm a cut: when one connection's client has sent each of ``markers`` in turn, the data
        carrying the last one is not forwarded and everything is cut() (``tripped`` is set)."""
        with self._lock:
            self._markers, self._progress = markers, {}
            self.tripped.clear()

    def _trips(self, client: socket.socket, chunk: bytes) -> bool:
        """Whether this chunk from a client completes the armed markers (then they are disarmed)."""
        with self._lock:
            if not self._markers:
                return False
            seen, position = self._progress.get(client, 0), 0
            while seen < len(self._markers) and (found := chunk.find(self._markers[seen], position)) >= 0:
                seen, position = seen + 1, found + len(self._markers[seen])
            if seen < len(self._markers):
                self._progress[client] = seen
                return False
            self._markers, self._progress = (), {}
            return True

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self._listener)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                is_open = self._open
            if not is_open:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._live.update((client, upstream))
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink, source is client), daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            with contextlib.suppress(OSError):
                while chunk := source.recv(65536):
                    if from_client and self._trips(source, chunk):
                        self.tripped.set()
                        self.cut()
                        return
                    sink.sendall(chunk)
        finally:
            with self._lock:
                self._live.difference_update((source, sink))
            _close(source)
            _close(sink)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
