"""Replay a captured corpus against two upstreams and compare every pair of answers.

    report = replay(read_corpus(path), primary="http://127.0.0.1:8000", candidate="http://127.0.0.1:8001")
    write_reports(report, Path("parity"))      # parity.md and parity.html

Requests go out one at a time, paced to at most `rate` per second, to the primary (the monolith: the reference)
and then the candidate (the service). Only safe methods (GET, HEAD, OPTIONS) are replayed unless `unsafe=True`:
replaying a POST against two live systems writes to both. Redacted header values are not sent (the credential is
not in the corpus); `X-Strangler-Replay: 1` is added. For a `noise` share of requests the primary is asked twice
and fields differing between its own answers are learned as noise (`noise.py`), as the proxy does.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from strangler_proxy.compare.noise import FieldReport, NoiseModel
from strangler_proxy.compare.normalise import context_for
from strangler_proxy.compare.redact import REDACTED
from strangler_proxy.compare.response_diff import FieldDiff, compare_responses
from strangler_proxy.dataplane.model import SAFE_METHODS, CompareSettings
from strangler_proxy.dataplane.shadow import CapturedResponse
from strangler_proxy.errors import CorpusInvalid, ReplayFailed

ROUTE = "replay"
NOT_SENT = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "expect", "te"})
EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class CorpusRequest:
    line: int
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool


@dataclass(slots=True)
class Example:
    method: str
    target: str
    expected_status: int
    actual_status: int
    diffs: list[FieldDiff]


@dataclass(slots=True)
class ParityReport:
    corpus: str
    primary: str
    candidate: str
    replayed: int = 0
    equal: int = 0
    noise_only: int = 0
    differing: int = 0
    skipped_unsafe: int = 0
    skipped_truncated: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    fields: list[FieldReport] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    first_example: dict[str, Example] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus,
            "primary": self.primary,
            "candidate": self.candidate,
            "replayed": self.replayed,
            "equal": self.equal,
            "noise_only": self.noise_only,
            "differing": self.differing,
            "skipped_unsafe": self.skipped_unsafe,
            "skipped_truncated": self.skipped_truncated,
            "failed": self.failed,
            "failures": self.failures[:EXAMPLES],
            "fields": [
                {"field": f.field, "raw": f.raw, "noise": f.noise, "net": f.net, "is_noise": f.is_noise}
                for f in self.fields
            ],
            "examples": [
                {
                    "method": e.method,
                    "target": e.target,
                    "status": [e.expected_status, e.actual_status],
                    "diffs": [d.as_dict() for d in e.diffs],
                }
                for e in self.examples
            ],
            "seconds": round(self.seconds, 3),
        }


def read_corpus(path: Path) -> list[CorpusRequest]:
    """Read and check every line first: a bad corpus is refused before anything is sent."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusInvalid(f"cannot read the corpus {path}: {exc}") from exc
    requests = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise CorpusInvalid(
                f"{path}:{number} is not JSON ({exc}); a corpus has one recorded request per line"
            ) from exc
        requests.append(_request(data, f"{path}:{number}", number))
    if not requests:
        raise CorpusInvalid(f"{path} holds no requests; record some with STRANGLER_CAPTURE_FILE")
    return requests


def _request(data: Any, where: str, number: int) -> CorpusRequest:
    if not isinstance(data, dict):
        raise CorpusInvalid(f"{where} must be a JSON object with method and target")
    method, target, headers = data.get("method"), data.get("target"), data.get("headers", [])
    if not isinstance(method, str) or not method.isalpha():
        raise CorpusInvalid(f"{where}: method must be an HTTP method such as GET")
    if not isinstance(target, str) or not target.startswith("/"):
        raise CorpusInvalid(f"{where}: target must be a path starting with / (with its query)")
    if not isinstance(headers, list) or not all(
        isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in headers
    ):
        raise CorpusInvalid(f"{where}: headers must be a list of [name, value] pairs")
    try:
        body = base64.b64decode(data["body_b64"]) if "body_b64" in data else str(data.get("body", "")).encode()
    except ValueError as exc:
        raise CorpusInvalid(f"{where}: body_b64 is not base64") from exc
    return CorpusRequest(
        number, method.upper(), target, [(h[0], h[1]) for h in headers], body, bool(data.get("body_truncated"))
    )


def replay(
    requests: list[CorpusRequest],
    *,
    primary: str,
    candidate: str,
    corpus: str = "",
    rate: float = 20.0,
    unsafe: bool = False,
    noise: float = 0.1,
    settings: CompareSettings | None = None,
    timeout: float = 10.0,
    on_progress: Callable[[int, int], None] | None = None,
) -> ParityReport:
    settings = settings or CompareSettings()
    report = ParityReport(corpus, primary.rstrip("/"), candidate.rstrip("/"))
    model = NoiseModel()
    started = time.monotonic()
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = started
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for index, request in enumerate(requests):
            if on_progress is not None:
                on_progress(index, len(requests))
            if request.method not in SAFE_METHODS and not unsafe:
                report.skipped_unsafe += 1
                continue
            if request.truncated:
                report.skipped_truncated += 1
                continue
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + interval, time.monotonic())
            try:
                expected = _send(client, report.primary, request)
                actual = _send(client, report.candidate, request)
                second = (
                    _send(client, report.primary, request)
                    if request.method in SAFE_METHODS and model.wants_sample(ROUTE, noise)
                    else None
                )
            except httpx.HTTPError as exc:
                report.failed += 1
                report.failures.append(f"{request.method} {request.target} (line {request.line}): {exc!r}")
                continue
            report.replayed += 1
            ctx = context_for(
                [(n.encode("latin-1"), v.encode("latin-1")) for n, v in request.headers],
                report.primary,
                report.candidate,
            )
            if second is not None:
                model.learn(
                    ROUTE, [d.field for d in compare_responses(expected, second, settings=settings, ctx=ctx).diffs]
                )
            comparison = compare_responses(expected, actual, settings=settings, ctx=ctx)
            net = model.classify(ROUTE, [d.field for d in comparison.diffs])
            if comparison.equal:
                report.equal += 1
            elif not net:
                report.noise_only += 1
            else:
                report.differing += 1
                example = Example(request.method, request.target, expected.status, actual.status, comparison.diffs)
                if len(report.examples) < EXAMPLES:
                    report.examples.append(example)
                for name in net:
                    report.first_example.setdefault(name, example)
    if report.failed and not report.replayed:
        raise ReplayFailed(
            f"no request could be replayed ({report.failed} failed); first failure: {report.failures[0]}; "
            f"check --primary {primary} and --candidate {candidate}"
        )
    report.fields = model.report(ROUTE)
    report.seconds = time.monotonic() - started
    return report


def _send(client: httpx.Client, base: str, request: CorpusRequest) -> CapturedResponse:
    headers = [(n, v) for n, v in request.headers if n.lower() not in NOT_SENT and REDACTED not in v] + [
        ("x-strangler-replay", "1")
    ]
    started = time.perf_counter()
    response = client.request(request.method, base + request.target, headers=headers, content=request.body or None)
    return CapturedResponse(
        response.status_code, list(response.headers.raw), response.content, False, time.perf_counter() - started
    )
