"""How the data plane answers with an error of its own: the one JSON error body (`errors.error_body`, with
``"producer": "strangler-proxy"`` and the request id), a `Content-Length`, the request id as `X-Request-Id` (every
answer carries it), and nothing else but the headers asked for.
"""

from __future__ import annotations

from strangler_proxy.errors import ProxyError, UpstreamError, error_body
from strangler_proxy.http.asgi import Send
from strangler_proxy.http.headers import Headers


async def send_error_response(send: Send, error: ProxyError, request_id: str, headers: Headers | None = None) -> None:
    """Send `error` as the response; a client that went away meanwhile is not an error."""
    detail = error.detail if isinstance(error, UpstreamError) else str(error)
    body = error_body(error.status, error.code, detail, request_id=request_id)
    head = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode("latin-1")),
    ]
    try:
        await send({"type": "http.response.start", "status": error.status, "headers": head + (headers or [])})
        await send({"type": "http.response.body", "body": body})
    except ConnectionError:  # ClientDisconnected among them
        pass
