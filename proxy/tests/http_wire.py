"""Raw HTTP/1.1 on a socket for the server's tests: send bytes exactly as written, read back every response.

Responses are split with a small reader of their own (status line, headers, then the body by Content-Length,
chunked coding, or the connection's end), so a test sees exactly what the proxy wrote, 1xx included.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    interim: list[int] = field(default_factory=list)  # 1xx statuses that came before it

    def header(self, name: str) -> bytes | None:
        for n, v in self.headers:
            if n.lower() == name.lower().encode():
                return v
        return None

    @property
    def closes(self) -> bool:
        return (self.header("connection") or b"").lower() == b"close"


def read_all(sock: socket.socket, timeout: float = 5) -> tuple[bytes, bool]:
    """Everything until the peer closes (True) or `timeout` passes without a byte (False)."""
    sock.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out, True
            out += chunk
    except TimeoutError:
        return out, False
    except ConnectionResetError:
        return out, True


def exchange(port: int, data: bytes, timeout: float = 5) -> tuple[bytes, bool]:
    """Send `data` on a new connection; what came back, and whether the proxy closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_all(sock, timeout)


def parse_replies(data: bytes, methods: list[str] | None = None) -> tuple[list[Reply], bytes]:
    """The complete responses in `data`, in order, and the bytes left over. `methods[i]` is the method of the
    request the i-th response answers (a HEAD response has no body)."""
    replies: list[Reply] = []
    interim: list[int] = []
    rest = data
    while True:
        head, sep, after = rest.partition(b"\r\n\r\n")
        if not sep:
            return replies, rest
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = [(n.strip().lower(), v.strip()) for n, _, v in (line.partition(b":") for line in lines[1:])]
        if 100 <= status < 200:
            interim.append(status)
            rest = after
            continue
        named = dict(headers)
        method = methods[len(replies)] if methods and len(replies) < len(methods) else "GET"
        if method == "HEAD" or status in (204, 304):
            body, rest = b"", after
        elif b"content-length" in named:
            size = int(named[b"content-length"])
            if len(after) < size:
                return replies, rest
            body, rest = after[:size], after[size:]
        elif named.get(b"transfer-encoding", b"").lower() == b"chunked":
            decoded = _dechunk(after)
            if decoded is None:
                return replies, rest
            body, rest = decoded
        else:
            body, rest = after, b""  # delimited by the close
        replies.append(Reply(status, headers, body, interim))
        interim = []


def _dechunk(data: bytes) -> tuple[bytes, bytes] | None:
    body = b""
    while True:
        line, sep, data = data.partition(b"\r\n")
        if not sep:
            return None
        size = int(line.split(b";")[0], 16)
        if size == 0:
            trailer_end = data.find(b"\r\n")
            while trailer_end != 0:  # trailer fields, then the empty line
                if trailer_end < 0:
                    return None
                data = data[trailer_end + 2 :]
                trailer_end = data.find(b"\r\n")
            return body, data[2:]
        if len(data) < size + 2:
            return None
        body += data[:size]
        data = data[size + 2 :]


def wait_until(condition: Callable[[], object], timeout: float = 5, what: str = "the condition") -> None:
    """Poll `condition()` until it is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
