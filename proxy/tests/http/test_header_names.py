"""Header names: outside the RFC 9110 token grammar refused; with ``_`` dropped, as nginx does by default, so that no
spelling a WSGI server maps to an internal or framing header reaches an upstream (issue 9, class 2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from http_wire import exchange, parse_replies
from wsgi_upstream import WsgiUpstream, wsgi_upstream

# Not tchar (RFC 9110 §5.6.2): every one must be refused, none may reach the upstream.
BAD_NAMES = [b"X@Y", b"X Y", b"X\x7fY", b'X"Y', b"X(Y", b"X/Y", b"X{Y", b"X=Y", b"X\xe9Y", b"X,Y", b"X;Y", b"X\\Y"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n) for n in BAD_NAMES])
def test_a_header_name_outside_the_token_grammar_is_refused(stack: Stack, name: bytes) -> None:
    reply, closed = exchange(stack.port, b"GET / HTTP/1.1\r\nHost: h\r\n" + name + b" 1\r\n\r\n")
    assert parse_replies(reply)[0][0].status == 400 and closed
    assert stack.monolith.received == []


def test_names_with_an_underscore_never_reach_the_upstream(stack: Stack) -> None:
    exchange(
        stack.port,
        b"POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nX_Strangler_Identity: forged\r\n"
        b"Content_Length: 40\r\nTransfer_Encoding: chunked\r\nX_Custom: 1\r\nX-Custom: 2\r\nConnection: close\r\n\r\n"
        b"ok",
    )
    (received,) = stack.monolith.received
    assert not [n for n in received.header_names() if "_" in n]
    assert received.header("X-Custom") == b"2" and received.body == b"ok"


@pytest.fixture
def wsgi() -> Iterator[WsgiUpstream]:
    with wsgi_upstream() as upstream:
        yield upstream


@pytest.fixture
def in_front_of_wsgi(loop_thread: LoopThread, wsgi: WsgiUpstream) -> Iterator[Stack]:
    s = start_stack(loop_thread, monolith_url=wsgi.url)
    yield s
    stop_stack(s)


def test_no_spelling_of_an_internal_header_reaches_a_wsgi_app(in_front_of_wsgi: Stack, wsgi: WsgiUpstream) -> None:
    spellings = [b"X-Strangler-Identity", b"x-strangler-identity", b"X_STRANGLER_IDENTITY", b"x_Strangler-identity"]
    for spelling in spellings:
        reply, _ = exchange(
            in_front_of_wsgi.port,
            b"GET /w HTTP/1.1\r\nHost: h\r\n" + spelling + b": v1.forged.sig\r\nConnection: close\r\n\r\n",
        )
        assert parse_replies(reply)[0][0].status == 200
    assert len(wsgi.seen) == len(spellings)
    for seen in wsgi.seen:
        assert "HTTP_X_STRANGLER_IDENTITY" not in seen.environ
        assert not [k for k in seen.environ if k.startswith("HTTP_X_STRANGLER")]


def test_an_underscore_spelling_of_content_length_does_not_frame_a_wsgi_apps_body(
    in_front_of_wsgi: Stack, wsgi: WsgiUpstream
) -> None:
    exchange(
        in_front_of_wsgi.port,
        b"POST /w HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent_Length: 2\r\nConnection: close\r\n\r\nhello",
    )
    (seen,) = wsgi.seen
    assert seen.body == b"hello" and seen.environ["CONTENT_LENGTH"] == "5"
    assert "HTTP_CONTENT_LENGTH" not in seen.environ
