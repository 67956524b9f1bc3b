"""Record a sampled, redacted corpus of real requests at the proxy, as JSON lines `strangler replay` reads.

    app = CaptureMiddleware(proxy_app, CorpusWriter(path, max_bytes=...), sample=0.01)

A pure ASGI middleware: for a sampled request it copies the request body as the app reads it (up to
`BODY_LIMIT`), and once the app has answered hands one line to a writer thread through a bounded queue
(`put_nowait`; full: the line is dropped and counted). A request that is not sampled costs one random draw.
Credentials never reach the file (`redact.py`). The writer stops appending when the file reaches `max_bytes`.

One line per request:
    {"v": 1, "ts": "2026-11-25T15:00:00.000+00:00", "method": "GET", "target": "/api/catalog/?page=2",
     "headers": [["accept", "application/json"], ["authorization", "[redacted]"]], "body": "", "status": 200}
`body_b64` replaces `body` when the body is not UTF-8; `body_truncated: true` marks a body over the limit (replay
skips those).
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import random
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strangler_proxy.compare.redact import Redactor
from strangler_proxy.http.asgi import Message, Receive, Scope, Send

log = logging.getLogger("strangler.capture")

BODY_LIMIT = 64 * 1024
QUEUE_SIZE = 1000
CORPUS_VERSION = 1
NOT_RECORDED = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "expect", "te"})


class CorpusWriter:
    """Appends lines on a thread of its own; `close()` flushes what was queued."""

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue[str | None] = queue.Queue(QUEUE_SIZE)
        self._file = path.open("a", encoding="utf-8")
        self._size = path.stat().st_size
        self._thread = threading.Thread(target=self._run, name="strangler-capture", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._file.close()

    def _run(self) -> None:
        full = False
        while True:
            line = self._queue.get()
            try:
                if line is None:
                    return
                data = line + "\n"
                if full or self._size + len(data.encode()) > self.max_bytes:
                    if not full:
                        log.warning(
                            "capture corpus %s reached %d bytes; no more requests recorded", self.path, self._size
                        )
                    full = True
                    self.dropped += 1
                    continue
                try:
                    self._file.write(data)
                    self._file.flush()
                except OSError as exc:
                    log.error("cannot write the capture corpus %s: %s", self.path, exc)
                    full = True
                    continue
                self._size += len(data.encode())
                self.written += 1
            finally:
                self._queue.task_done()


class CaptureMiddleware:
    def __init__(
        self,
        app: Any,
        writer: CorpusWriter,
        *,
        sample: float,
        redactor: Redactor | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.writer = writer
        self.sample = sample
        self.redactor = redactor or Redactor()
        self._random = (rng or random.Random()).random

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.sample <= 0 or self._random() >= self.sample:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        state = {"truncated": False, "status": 0}

        async def recording_receive() -> Message:
            message = await receive()
            chunk = message.get("body", b"")
            if chunk and not state["truncated"]:
                if len(body) + len(chunk) > BODY_LIMIT:
                    state["truncated"] = True
                else:
                    body.extend(chunk)
            return message

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, recording_receive, watching_send)
        finally:
            try:
                self.writer.put(self._line(scope, bytes(body), bool(state["truncated"]), int(state["status"])))
            except Exception:  # recording must never break serving; it says so instead
                log.exception("capture: could not record a request; serving goes on")

    def _line(self, scope: Scope, body: bytes, truncated: bool, status: int) -> str:
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        target = (raw_path + (b"?" + query if query else b"")).decode("latin-1")
        headers = [(n, v) for n, v in scope["headers"] if n.decode("latin-1").lower() not in NOT_RECORDED]
        content_type = next((v.decode("latin-1") for n, v in headers if n.lower() == b"content-type"), "")
        line: dict[str, Any] = {
            "v": CORPUS_VERSION,
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": scope["method"],
            "target": self.redactor.target(target),
            "headers": self.redactor.header_list(headers),
            "status": status,
        }
        redacted = self.redactor.body(body, content_type)
        try:
            line["body"] = redacted.decode("utf-8")
        except UnicodeDecodeError:
            line["body_b64"] = base64.b64encode(redacted).decode()
        if truncated:
            line["body_truncated"] = True
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))
