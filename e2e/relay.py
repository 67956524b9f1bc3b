"""A TCP relay between the monolith and a service: bytes pass both ways, unless told to swallow the service's
answers or the caller's requests. A swallowed answer is a response lost on the network after the service acted (a
timeout with the work done); a swallowed request, a service that cannot be reached (a timeout with nothing done).
No real process can be asked to do either on cue."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class Relay:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.swallowing = False  # the service's answers
        self.dropping = False  # the caller's requests
        self.swallowed = 0  # answers (chunks from the service) dropped so far
        self.requests: list[bytes] = []  # the first line of each request chunk passed on
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def requests_to(self, path: str) -> int:
        with self._lock:
            return sum(1 for line in self.requests if line.startswith(f"POST {path} ".encode()))

    def close(self) -> None:
        self._server.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, answers: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if answers and self.swallowing:
                    with self._lock:
                        self.swallowed += 1
                    continue
                if not answers and self.dropping:
                    continue
                if not answers:
                    with self._lock:
                        self.requests.append(chunk.split(b"\r\n", 1)[0])
                target.sendall(chunk)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def relay_to(upstream_port: int) -> Iterator[Relay]:
    relay = Relay(upstream_port)
    try:
        yield relay
    finally:
        relay.close()
