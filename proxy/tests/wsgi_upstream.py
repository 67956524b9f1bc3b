"""A real WSGI server (the standard library's wsgiref, one thread per request) recording what a WSGI app sees:
its environ and the body it reads by CONTENT_LENGTH, as Django and DRF read it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Seen:
    environ: dict[str, str]
    body: bytes


@dataclass
class WsgiUpstream:
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.seen.append(Seen({k: v for k, v in environ.items() if isinstance(v, str)}, body))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]


@contextmanager
def wsgi_upstream() -> Iterator[WsgiUpstream]:
    upstream = WsgiUpstream()
    server = make_server("127.0.0.1", 0, upstream.app, server_class=_Server, handler_class=_QuietHandler)
    upstream.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
