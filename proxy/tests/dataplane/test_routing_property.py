"""The proxy's routing decision is exactly what the upstream receives, for arbitrary hostile paths."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from urllib.parse import unquote_to_bytes

import pytest
from conftest import LoopThread, Stack, start_stack, stop_stack
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strangler_proxy.dataplane.model import Route, Stage

BENIGN = ["/", "/", "/", "//", "/.", "/..", "/%2e", "/%2E%2e", ".", "%41", "%c3%a9", "\xe9", "a", "api", "v2", "v2x",
          "orders", "7", "reviews", ";x=1", "~", "|", "%7e", "%20", ":@", "{id}"]  # fmt: skip
HOSTILE = ["%2f", "%2F", "%5c", "\\", "%", "%4", "%00", "#", "%0a"]
PREFIXES = ["", "/api/v2", "/api/v2x", "/api/orders/7/reviews", "/api/orders/7", "/api", "/api/orders", "/api//v2"]
PIECES = st.one_of(st.sampled_from(BENIGN), st.sampled_from(BENIGN), st.sampled_from(BENIGN), st.sampled_from(HOSTILE))
ROUTES = (
    Route("/api/v2", "catalog", Stage.LIVE),
    Route("/api/orders/{id}/reviews", "catalog", Stage.LIVE),
    Route("/api/orders", "monolith", Stage.OFF),
)


def expected_upstream(path: str) -> str:
    """An independent segment-prefix matcher for the routes above."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v2"] or (len(parts) >= 4 and parts[:2] == ["api", "orders"] and parts[3] == "reviews"):
        return "catalog"
    return "monolith"


@pytest.fixture(scope="module")
def routed(loop_thread: LoopThread) -> Iterator[Stack]:
    stack = start_stack(loop_thread, ROUTES)
    yield stack
    stop_stack(stack)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from(PREFIXES),
    pieces=st.lists(PIECES, max_size=8),
    query=st.sampled_from(["", "q=%2F..%2f&x", "a=1&a=2;b"]),
)
def test_the_upstream_receives_exactly_the_routed_canonical_path(
    routed: Stack, prefix: str, pieces: list[str], query: str
) -> None:
    sent = (prefix + "/" + "".join(pieces)).encode("utf-8")
    routed.monolith.received.clear()
    routed.catalog.received.clear()
    target = sent + (b"?" + query.encode() if query else b"")
    reply = routed.raw(b"GET " + target + b" HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n")
    status = int(reply.split(b" ", 2)[1])
    got = routed.monolith.received + routed.catalog.received
    event(f"status {status}, {'monolith' if routed.monolith.received else 'catalog' if got else 'nobody'}")
    if status == 400:
        assert got == [], "a rejected request must never reach an upstream"
        return
    assert status == 200, reply
    assert len(got) == 1
    received = got[0]
    who = "monolith" if routed.monolith.received else "catalog"
    path = received.path.decode("ascii")
    assert who == expected_upstream(path)
    assert received.query == query.encode()
    body = json.loads(reply.partition(b"\r\n\r\n")[2])
    assert body["target"].encode() == received.target
    # the received path is canonical: canonicalising it again changes nothing, and it names the same resource
    # as the sent one under plain percent-decoding and dot-segment removal
    decoded_sent = posixpath.normpath(
        unquote_to_bytes(sent.replace(b"%2e", b".").replace(b"%2E", b".")).decode("latin-1")
    )
    decoded_received = posixpath.normpath(unquote_to_bytes(received.path).decode("latin-1"))
    assert decoded_received.lstrip("/") == decoded_sent.lstrip("/")
    assert b"//" not in received.path and b"/./" not in received.path and b"/../" not in received.path
