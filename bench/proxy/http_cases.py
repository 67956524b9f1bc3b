"""The request cases an edge server is judged on, each classified by what RFC 9112 / RFC 9110 allow.

* ``must-reject``: the RFC requires a 400 (or the message cannot be read one way only); a server that hands it to the
  app would have a proxy built on it pass it on.
* ``must-accept``: a valid message the server must read exactly as written (``expect``: the requests the app should
  see, in order).
* ``may-accept``: the RFC lets a server refuse it or read it one stated way; refusing is never counted as a failure,
  a reading other than ``expect`` is.

Used by `server_choice.py`; the proxy's own tests cover the same ground on the proxy (`proxy/tests/http/`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MUST_REJECT, MUST_ACCEPT, MAY_ACCEPT = "must-reject", "must-accept", "may-accept"


@dataclass(frozen=True)
class Seen:
    """One request as the app should see it: method, path, body; `absent` header names it must not see."""

    method: str
    path: str
    body: bytes = b""
    absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    name: str
    rule: str  # MUST_REJECT, MUST_ACCEPT or MAY_ACCEPT
    where: str  # the RFC section that decides it
    data: bytes
    expect: tuple[Seen, ...] = field(default_factory=tuple)  # the reading (must/may-accept); before the bad one


H = b"Host: h\r\n"
CLOSE = b"GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"  # read only when the framing before held
AFTER = Seen("GET", "/after")


def post(headers: bytes, body: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    return b"POST /p " + version + b"\r\n" + headers + b"\r\n" + body


CASES: list[Case] = [
    # --- framing: RFC 9112 §6 ---------------------------------------------------------------------------------------
    Case(
        "Content-Length and Transfer-Encoding (CL.TE)",
        MAY_ACCEPT,
        "9112 §6.1: reject, or Transfer-Encoding wins and the connection closes",
        post(H + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\nG") + CLOSE,
        (Seen("POST", "/p"),),
    ),
    Case(
        "Transfer-Encoding and Content-Length (TE.CL)",
        MAY_ACCEPT,
        "9112 §6.1: reject, or Transfer-Encoding wins and the connection closes",
        post(H + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", b"8\r\nSMUGGLED\r\n0\r\n\r\n") + CLOSE,
        (Seen("POST", "/p", b"SMUGGLED"),),
    ),
    Case(
        "two different Content-Lengths",
        MUST_REJECT,
        "9112 §6.3 (5): invalid Content-Length, 400 and close",
        post(H + b"Content-Length: 4\r\nContent-Length: 5\r\n", b"abcde") + CLOSE,
    ),
    Case(
        "two equal Content-Lengths",
        MAY_ACCEPT,
        "9110 §8.6: reject, or read as the one value",
        post(H + b"Content-Length: 4\r\nContent-Length: 4\r\n", b"abcd") + CLOSE,
        (Seen("POST", "/p", b"abcd"), AFTER),
    ),
    Case(
        "a Content-Length list of equal values",
        MAY_ACCEPT,
        "9110 §8.6: reject, or read as the one value",
        post(H + b"Content-Length: 4, 4\r\n", b"abcd") + CLOSE,
        (Seen("POST", "/p", b"abcd"), AFTER),
    ),
    Case(
        "a signed Content-Length",
        MUST_REJECT,
        "9112 §6.3 (5): not 1*DIGIT",
        post(H + b"Content-Length: +4\r\n", b"abcd") + CLOSE,
    ),
    Case(
        "a Content-Length that is not a number",
        MUST_REJECT,
        "9112 §6.3 (5)",
        post(H + b"Content-Length: 4x\r\n", b"abcd") + CLOSE,
    ),
    Case("a negative Content-Length", MUST_REJECT, "9112 §6.3 (5)", post(H + b"Content-Length: -1\r\n", b"") + CLOSE),
    Case(
        "a Content-Length with leading zeros",
        MUST_ACCEPT,
        "9110 §8.6: 1*DIGIT",
        post(H + b"Content-Length: 004\r\n", b"abcd") + CLOSE,
        (Seen("POST", "/p", b"abcd"), AFTER),
    ),
    Case(
        "a Content-Length with trailing whitespace",
        MUST_ACCEPT,
        "9112 §5: OWS around a field value is not part of it",
        post(H + b"Content-Length: 4 \r\n", b"abcd") + CLOSE,
        (Seen("POST", "/p", b"abcd"), AFTER),
    ),
    Case(
        "chunked not the final coding",
        MUST_REJECT,
        "9112 §6.3 (4): 400 and close",
        post(H + b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n") + CLOSE,
    ),
    Case(
        "Transfer-Encoding: identity",
        MUST_REJECT,
        "9112 §6.3 (4): chunked is not the final coding",
        post(H + b"Transfer-Encoding: identity\r\n", b"") + CLOSE,
    ),
    Case(
        "Transfer-Encoding: gzip, chunked",
        MAY_ACCEPT,
        "9112 §6.1: a coding the server does not know SHOULD get 501",
        post(H + b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n") + CLOSE,
        (Seen("POST", "/p"), AFTER),
    ),
    Case(
        "chunked twice (two Transfer-Encoding lines)",
        MUST_REJECT,
        "9112 §6.1: chunked MUST NOT be applied twice, the body cannot be read once",
        post(H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n") + CLOSE,
    ),
    Case(
        "Transfer-Encoding in HTTP/1.0",
        MUST_REJECT,
        "9112 §6.1: treat the framing as faulty",
        post(b"Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\n\r\n", b"HTTP/1.0") + CLOSE,
    ),
    Case(
        "an invalid chunk size",
        MUST_REJECT,
        "9112 §7.1",
        post(H + b"Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n") + CLOSE,
    ),
    Case(
        "a chunk size line ended by LF alone",
        MUST_REJECT,
        "9112 §7.1: chunk-size CRLF (bare LF is allowed only for start-line and fields, §2.2)",
        post(H + b"Transfer-Encoding: chunked\r\n", b"3\nabc\r\n0\r\n\r\n") + CLOSE,
    ),
    Case(
        "chunk extensions, upper-case hex, zero-padded sizes",
        MUST_ACCEPT,
        "9112 §7.1",
        post(H + b"Transfer-Encoding: chunked\r\n", b"003;a=b\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n") + CLOSE,
        (Seen("POST", "/p", b"abc0123456789"), AFTER),
    ),
    Case(
        "a Transfer-Encoding value with trailing whitespace",
        MUST_ACCEPT,
        "9112 §5: OWS around a field value is not part of it",
        post(H + b"Transfer-Encoding: chunked \r\n", b"3\r\nabc\r\n0\r\n\r\n") + CLOSE,
        (Seen("POST", "/p", b"abc"), AFTER),
    ),
    Case(
        "trailer fields (one of them Content-Length)",
        MAY_ACCEPT,
        "9110 §6.5: a recipient may discard trailers, never merge framing ones into the header section",
        post(H + b"Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n0\r\nContent-Length: 9\r\nX-T: 1\r\n\r\n") + CLOSE,
        (Seen("POST", "/p", b"abc", absent=("x-t",)), AFTER),
    ),
    Case(
        "Connection naming Content-Length",
        MUST_ACCEPT,
        "9112 §6.3: framing is read from Content-Length; Connection options do not change it",
        post(H + b"Content-Length: 3\r\nConnection: content-length\r\n", b"abc") + CLOSE,
        (Seen("POST", "/p", b"abc"), AFTER),
    ),
    Case(
        "Upgrade on a request with a body",
        MAY_ACCEPT,
        "9110 §7.8: a server may ignore Upgrade; the body is still read by its Content-Length",
        post(H + b"Connection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n", b"abc") + CLOSE,
        (Seen("POST", "/p", b"abc"), AFTER),
    ),
    # --- fields: RFC 9112 §5, RFC 9110 §5 ---------------------------------------------------------------------------
    Case(
        "whitespace between a field name and the colon",
        MUST_REJECT,
        "9112 §5.1: MUST reject with 400",
        post(H + b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n") + CLOSE,
    ),
    Case(
        "obsolete line folding",
        MAY_ACCEPT,
        "9112 §5.2: reject with 400, or replace each obs-fold with SP",
        b"GET /p HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  folded\r\n\r\n" + CLOSE,
        (Seen("GET", "/p"), AFTER),
    ),
    Case(
        "a header name outside the token grammar",
        MUST_REJECT,
        "9110 §5.1: field-name = token",
        b"GET /p HTTP/1.1\r\nHost: h\r\nX@Y: 1\r\n\r\n" + CLOSE,
    ),
    Case(
        "a header name with an underscore",
        MAY_ACCEPT,
        "9110 §5.1: a valid token (nginx drops it by default: CGI/WSGI read it as a dash)",
        b"GET /p HTTP/1.1\r\nHost: h\r\nX_Strangler_Identity: forged\r\n\r\n" + CLOSE,
        (Seen("GET", "/p"), AFTER),
    ),
    Case(
        "NUL in a field value",
        MAY_ACCEPT,
        "9110 §5.5: reject, or replace NUL with SP",
        b"GET /p HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n" + CLOSE,
        (Seen("GET", "/p"), AFTER),
    ),
    Case(
        "a bare CR in a field value",
        MAY_ACCEPT,
        "9112 §2.2: the element is invalid, or each bare CR is replaced with SP",
        b"GET /p HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n" + CLOSE,
        (Seen("GET", "/p"), AFTER),
    ),
    Case(
        "whitespace before the first field line",
        MAY_ACCEPT,
        "9112 §2.2: reject, or ignore each whitespace-preceded line",
        b"GET /p HTTP/1.1\r\n X-Injected: 1\r\nHost: h\r\n\r\n" + CLOSE,
        (Seen("GET", "/p", absent=("x-injected",)), AFTER),
    ),
    Case("no Host in HTTP/1.1", MUST_REJECT, "9112 §3.2: MUST respond 400", b"GET /p HTTP/1.1\r\n\r\n" + CLOSE),
    Case(
        "two Host fields",
        MUST_REJECT,
        "9112 §3.2: MUST respond 400",
        b"GET /p HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + CLOSE,
    ),
    Case(
        "a 50 KB header field",
        MAY_ACCEPT,
        "9110 §5.4: a server may refuse (431)",
        b"GET /p HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 50_000 + b"\r\n\r\n" + CLOSE,
        (Seen("GET", "/p"), AFTER),
    ),
    Case(
        "150 header fields",
        MAY_ACCEPT,
        "9110 §5.4: a server may refuse (431)",
        b"GET /p HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(150)) + b"\r\n" + CLOSE,
        (Seen("GET", "/p"), AFTER),
    ),
    # --- the request line: RFC 9112 §2-3 ----------------------------------------------------------------------------
    Case(
        "an absolute-form target",
        MUST_ACCEPT,
        "9112 §3.2.2: a server MUST accept the absolute-form",
        b"GET http://h/p?q=1 HTTP/1.1\r\nHost: h\r\n\r\n" + CLOSE,
        (Seen("GET", "/p"), AFTER),
    ),
    Case(
        "an asterisk target for GET",
        MUST_REJECT,
        "9112 §3.2.4: asterisk-form is for OPTIONS only",
        b"GET * HTTP/1.1\r\nHost: h\r\n\r\n" + CLOSE,
    ),
    Case(
        "a space in the target",
        MUST_REJECT,
        "9112 §3: an invalid request line; MUST NOT be autocorrected",
        b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n" + CLOSE,
    ),
    Case(
        "HTTP/2.0 on an HTTP/1.1 connection",
        MUST_REJECT,
        "9112 §2.3: not an HTTP/1.x message (505 or 400)",
        b"GET /p HTTP/2.0\r\nHost: h\r\n\r\n" + CLOSE,
    ),
    Case(
        "HTTP/1.2",
        MAY_ACCEPT,
        "9112 §2.3: SHOULD be read as the highest 1.x known",
        b"GET /p HTTP/1.2\r\nHost: h\r\n\r\n" + CLOSE,
        (Seen("GET", "/p"), AFTER),
    ),
    Case(
        "a TLS ClientHello on a plain port",
        MUST_REJECT,
        "9112 §3: not a request line",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ),
    Case(
        "an empty line before the request line",
        MAY_ACCEPT,
        "9112 §2.2: SHOULD ignore at least one",
        b"\r\nGET /p HTTP/1.1\r\nHost: h\r\n\r\n" + CLOSE,
        (Seen("GET", "/p"), AFTER),
    ),
    Case(
        "lines ended by LF alone",
        MAY_ACCEPT,
        "9112 §2.2: a recipient MAY take a bare LF as the end of a line",
        b"GET /p HTTP/1.1\nHost: h\n\n" + CLOSE,
        (Seen("GET", "/p"), AFTER),
    ),
    # --- connections: RFC 9112 §9 -----------------------------------------------------------------------------------
    Case(
        "three pipelined requests",
        MUST_ACCEPT,
        "9112 §9.3.2: answered in order",
        b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" + post(H + b"Content-Length: 2\r\n", b"ab") + CLOSE,
        (Seen("GET", "/1"), Seen("POST", "/p", b"ab"), AFTER),
    ),
    Case(
        "a request after Connection: close",
        MUST_REJECT,
        "9112 §9.6: MUST NOT process further requests",
        b"GET /p HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" + CLOSE,
        (Seen("GET", "/p"),),
    ),
    Case(
        "HTTP/1.0 keep-alive",
        MAY_ACCEPT,
        "9112 §9.3 and Appendix C.2.2: persistence for 1.0 is optional",
        b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
        (Seen("GET", "/1"), Seen("GET", "/2")),
    ),
]
