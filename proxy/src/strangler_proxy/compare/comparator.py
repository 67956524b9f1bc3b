"""The comparator: takes each finished mirror off the shadow pool, compares, learns noise, feeds gates and metrics,
and stores a sample of mismatches — all off the client's response path.

    comparator = Comparator(app, config=config, mismatches=store, roll_back=gate_rollback(routes))
    comparator.start()            # subscribes to app.shadow.on_shadow; call on the event loop
    await comparator.drain()      # tests: wait until every queued result is compared

`on_shadow` only does `put_nowait` into a bounded queue (full: the result is skipped and counted), and at most
`STRANGLER_COMPARE_MAX_PER_SECOND` results a second are taken (a token bucket), which bounds the comparator's CPU
whatever the traffic: beyond it results are skipped and counted, and statistics come from a sample. One worker
task compares results one by one; per result that costs a JSON parse of both bodies (bodies over
`response_diff.JSON_LIMIT` are hashed instead) and, for a noise sample, one more request to the monolith on a
connection pool of the comparator's own. Mismatch records go to a writer thread through a bounded queue, and a
gate's rollback runs in a worker thread, so the event loop never waits for a database.

Which side is the reference: in `shadow` the monolith answered the client and the service got the mirror; with
`compare.shadow_monolith` on a `canary`/`live` route the service answered and the monolith got the mirror. Either
way the monolith's answer is `expected` and the service's `actual`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from strangler_proxy.compare.gates import GateOutcome, Gates, Sample, SharedEvidence, Verdict
from strangler_proxy.compare.jsonpath import IDENTIFIER
from strangler_proxy.compare.metrics import CompareMetrics
from strangler_proxy.compare.mismatch_store import MismatchStore
from strangler_proxy.compare.monolith_asker import MonolithAsker
from strangler_proxy.compare.noise import NoiseModel
from strangler_proxy.compare.normalise import Context, context_for
from strangler_proxy.compare.redact import REDACTED, Redactor
from strangler_proxy.compare.response_diff import Comparison, compare_responses
from strangler_proxy.compare.settings import CompareConfig
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import SAFE_METHODS, Route, RouteTable, route_label
from strangler_proxy.dataplane.shadow import CapturedResponse, MirroredRequest, ShadowResult
from strangler_proxy.errors import StranglerError

# What a firing gate does (blocking; run in a worker thread): roll the route back one stage, or say why not.
RollBack = Callable[[Route, Verdict], GateOutcome]

log = logging.getLogger("strangler.compare")

WRITER_QUEUE = 1000
EXCHANGE_EVERY = 0.5  # seconds between exchanges of gate samples with the other replicas


class Comparator:
    def __init__(
        self,
        app: ProxyApp,
        *,
        config: CompareConfig | None = None,
        mismatches: MismatchStore | None = None,
        roll_back: RollBack | None = None,
        on_change: Callable[[RouteTable], None] | None = None,
        rng: random.Random | None = None,
        shared: SharedEvidence | None = None,
    ) -> None:
        self.app = app
        self.shared = shared  # replicas on a shared store: gate samples exchanged, so a gate judges all traffic
        self.config = config or CompareConfig()
        self.metrics = CompareMetrics(app.metrics.registry)
        self.noise = NoiseModel(rng=rng)
        self.gates = Gates()
        self.gates.sharing = shared is not None
        self._exchanging: asyncio.Task[None] | None = None
        self.redactor = Redactor(self.config.redact_fields, self.config.redact_headers)
        self.mismatches = mismatches
        self.roll_back = roll_back
        self.on_change = on_change or app.set_table
        self._rng = rng or random.Random()
        self._queue: asyncio.Queue[ShadowResult] = asyncio.Queue(self.config.queue)
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._asker = MonolithAsker(app)
        self._stored_this_minute: dict[str, tuple[int, int]] = {}
        self._writer = _MismatchWriter(mismatches, self.metrics) if mismatches is not None else None
        self._rollbacks: set[asyncio.Task[None]] = set()
        self._route_metrics: dict[str, _RouteMetrics] = {}
        self._tokens = self.config.max_per_second  # a bucket of one second's worth: bursts up to that pass
        self._refilled = time.monotonic()

    # lifecycle
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._work())
        self._unsubscribe = self.app.shadow.on_shadow(self.submit)
        if self.shared is not None:
            self._exchanging = asyncio.get_running_loop().create_task(self._exchange(self.shared))

    async def _exchange(self, shared: SharedEvidence) -> None:
        """Every EXCHANGE_EVERY seconds: this replica's gate samples out, the others' in (each may fire a gate)."""
        while True:
            await asyncio.sleep(EXCHANGE_EVERY)
            mine, self.gates.outbox = self.gates.outbox, []
            try:
                others = await asyncio.to_thread(shared.exchange, mine)
            except StranglerError as exc:
                log.warning("gate samples not exchanged with the other replicas: %s", exc)
                continue
            routes = {route_label(r): r for r in self.app.table.routes}
            for theirs in others:
                route = routes.get(theirs.route)
                revision = self.app.route_revision(route) if route is not None else None
                if route is None or revision is None:
                    continue
                verdict = self.gates.absorb(route, revision, theirs)
                if verdict is not None:
                    self._fire(route, verdict)

    async def drain(self) -> None:
        """Wait until everything queued so far was compared, stored and acted on (tests, shutdown)."""
        await self.app.shadow.drain()
        await self._queue.join()
        while self._rollbacks:
            await asyncio.gather(*self._rollbacks)
        if self._writer is not None:
            await asyncio.to_thread(self._writer.join)

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._exchanging is not None:
            self._exchanging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._exchanging
            self._exchanging = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._asker.close()
        if self._writer is not None:
            self._writer.stop()

    # the on_shadow callback: never blocks
    def submit(self, result: ShadowResult) -> None:
        now = time.monotonic()
        rate = self.config.max_per_second
        self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens < 1:
            self.metrics.requests.labels(result.request.route, "skipped_rate").inc()
            return
        self._tokens -= 1
        try:
            self._queue.put_nowait(result)
        except asyncio.QueueFull:
            self.metrics.requests.labels(result.request.route, "skipped_queue_full").inc()

    async def _work(self) -> None:
        while True:
            result = await self._queue.get()
            try:
                # Like a mirror, a comparison waits (at most shadow.IDLE_WAIT) for a moment without client requests.
                await self.app.shadow.wait_for_idle()
                await self.process(result)
            except Exception:  # a bug in one comparison must not stop the comparator
                log.exception("comparing %s %s failed", result.request.method, result.request.route)
            finally:
                self._queue.task_done()
            # Let client traffic run between two comparisons: a full queue must not hold the loop for a batch.
            await asyncio.sleep(0)

    # one result
    async def process(self, result: ShadowResult) -> Comparison | None:
        table = self.app.table
        request = result.request
        route = find_route(table, request.route, request.method)
        if route is None:
            return None
        label = request.route
        if result.shadow is None:
            self.metrics.requests.labels(label, "mirror_failed").inc()
            return None
        reverse = request.service == table.default_upstream
        expected, actual = (result.shadow, result.primary) if reverse else (result.primary, result.shadow)
        monolith = table.upstreams.get(table.default_upstream)
        service = table.upstreams.get(route.service)
        ctx = context_for(
            request.headers,
            monolith.url if monolith else "",
            service.url if service else "",
            request_id=request.request_id,
        )
        settings = route.compare
        if request.method in SAFE_METHODS and self.noise.wants_sample(label, settings.noise_sample):
            await self._learn_noise(label, route, request, expected, ctx)
        comparison = compare_responses(expected, actual, settings=settings, ctx=ctx)
        net = self.noise.classify(label, [d.field for d in comparison.diffs])
        self._count(label, comparison, net, expected, actual)
        verdict = None
        revision = self.app.route_revision(route)
        if revision == request.route_revision:
            sample = Sample(bool(net), actual.status >= 500, expected.seconds, actual.seconds)
            verdict = self.gates.observe(route, revision, sample)
        else:
            # Routed under another revision of the route (a mirror of the shadow compared after the move to canary):
            # no evidence about the route as it is now.
            self.metrics.stale_samples.labels(label).inc()
        if verdict is not None:
            self._fire(route, verdict)
        if net and self._writer is not None and self._should_store(label):
            record = mismatch_record(
                result, comparison, net, reverse, self.redactor, self.config.mismatch_max_body, table, route
            )
            self._writer.put(label, record)
        return comparison

    async def _learn_noise(
        self, label: str, route: Route, request: MirroredRequest, expected: CapturedResponse, ctx: Context
    ) -> None:
        second = await self._asker.ask(request, why="noise sample")
        if second is None:
            return
        self.metrics.noise_samples.labels(label).inc()
        noise = compare_responses(expected, second, settings=route.compare, ctx=ctx)
        self.noise.learn(label, [d.field for d in noise.diffs])

    def _count(
        self, label: str, comparison: Comparison, net: list[str], expected: CapturedResponse, actual: CapturedResponse
    ) -> None:
        m = self._route_metrics.get(label)
        if m is None:
            m = self._route_metrics[label] = _RouteMetrics(self.metrics, label)
        m.outcome("equal" if comparison.equal else "differ" if net else "noise_only").inc()
        tally = self.noise.route(label)
        if comparison.diffs:
            for name in {d.field for d in comparison.diffs}:
                if name in tally.fields:
                    m.field(name, "raw").inc()
            for name in net:
                if name in tally.fields:
                    m.field(name, "net").inc()
        m.monolith_seconds.observe(expected.seconds)
        m.service_seconds.observe(actual.seconds)
        if expected.status >= 500:
            m.monolith_5xx.inc()
        if actual.status >= 500:
            m.service_5xx.inc()
        m.net_diff_rate.set(tally.net_diffs / tally.compared if tally.compared else 0.0)

    def _should_store(self, label: str) -> bool:
        if self.config.mismatch_sample < 1 and self._rng.random() >= self.config.mismatch_sample:
            return False
        minute = int(time.monotonic() // 60)
        seen_minute, count = self._stored_this_minute.get(label, (minute, 0))
        if seen_minute != minute:
            count = 0
        if count >= self.config.mismatch_per_minute:
            return False
        self._stored_this_minute[label] = (minute, count + 1)
        return True

    def _fire(self, route: Route, verdict: Verdict) -> None:
        if self.roll_back is not None:
            task = asyncio.get_running_loop().create_task(self._roll_back(route, verdict))
            self._rollbacks.add(task)
            task.add_done_callback(self._rollbacks.discard)

    async def _roll_back(self, route: Route, verdict: Verdict) -> None:
        assert self.roll_back is not None
        why = f"{'; '.join(verdict.reasons)} over {verdict.samples} requests in {verdict.stage}"
        try:
            outcome = await asyncio.to_thread(self.roll_back, route, verdict)
        except StranglerError as exc:
            outcome = GateOutcome("failed", str(exc))
        self.metrics.firings.labels(route.path, outcome.action).inc()
        if outcome.action == "rolled_back":
            log.warning("gate of %s fired (%s): %s", route.path, why, outcome.detail)
            self.metrics.rollbacks.labels(route.path).inc()
            if outcome.table is not None:
                self.on_change(outcome.table)
        else:
            log.error("gate of %s fired (%s), %s: %s", route.path, why, outcome.action, outcome.detail)

    def field_report(self, route: str) -> list[dict[str, Any]]:
        tally = self.noise.route(route)
        return (
            [
                {"field": r.field, "raw": r.raw, "noise": r.noise, "net": r.net, "is_noise": r.is_noise}
                for r in self.noise.report(route)
            ]
            if tally.compared or tally.noise_samples
            else []
        )


def find_route(table: RouteTable, path: str, method: str) -> Route | None:
    """The route a mirrored request was routed by: its path template, and its methods when it has some."""
    fallback = None
    for route in table.routes:
        if route.path != path:
            continue
        if route.methods is None:
            fallback = fallback or route
        elif method in route.methods or (method == "HEAD" and "GET" in route.methods):
            return route
    return fallback


def mismatch_record(
    result: ShadowResult,
    comparison: Comparison,
    net: list[str],
    reverse: bool,
    redactor: Redactor,
    max_body: int,
    table: RouteTable,
    route: Route,
) -> dict[str, Any]:
    """A stored mismatch: redacted, bodies cut to `max_body`, enough to replay the request against both sides."""
    request = result.request
    expected, actual = (result.shadow, result.primary) if reverse else (result.primary, result.shadow)
    assert expected is not None and actual is not None
    content_type = next((v.decode("latin-1") for n, v in request.headers if n.lower() == b"content-type"), "")
    monolith = table.upstreams.get(table.default_upstream)
    service = table.upstreams.get(route.service)
    net_set = set(net)
    return {
        "route": request.route,
        "request_id": request.request_id,
        "request": {
            "method": request.method,
            "target": redactor.target(request.target.decode("latin-1")),
            "headers": redactor.header_list(request.headers),
            "body": _text(redactor.body(request.body, content_type), max_body),
        },
        "expected": _answer(expected, redactor, max_body),
        "actual": _answer(actual, redactor, max_body),
        "diffs": [_redacted_diff(d.as_dict(), redactor) for d in comparison.diffs],
        "net_fields": sorted(net_set),
        "settings": {"ignore": list(route.compare.ignore), "headers": list(route.compare.headers)},
        "upstreams": {
            "expected": monolith.url if monolith else "",
            "actual": service.url if service else "",
            "served_client": "actual" if reverse else "expected",
            "service_name": route.service,  # the audience of the identity the service is sent
            "forward_credentials": route.forward_credentials,
        },
    }


def _answer(answer: CapturedResponse, redactor: Redactor, max_body: int) -> dict[str, Any]:
    content_type = next((v.decode("latin-1") for n, v in answer.headers if n.lower() == b"content-type"), "")
    return {
        "status": answer.status,
        "headers": redactor.header_list(answer.headers),
        "body": _text(redactor.body(answer.body, content_type), max_body),
        "truncated": answer.truncated or len(answer.body) > max_body,
        "seconds": round(answer.seconds, 6),
    }


def _text(body: bytes, max_body: int) -> str:
    return body[:max_body].decode("utf-8", "replace")


def _redacted_diff(diff: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    last = diff["path"].rsplit(".", 1)[-1]
    if IDENTIFIER.fullmatch(last) and last.lower() in redactor.fields:
        diff["expected"] = REDACTED if diff["expected"] is not None else None
        diff["actual"] = REDACTED if diff["actual"] is not None else None
    return diff


class _RouteMetrics:
    """One route's metric children, looked up once: `labels()` costs more than the increment itself."""

    def __init__(self, metrics: CompareMetrics, route: str) -> None:
        self._metrics = metrics
        self.route = route
        self._outcomes: dict[str, Any] = {}
        self._fields: dict[tuple[str, str], Any] = {}
        self.monolith_seconds = metrics.seconds.labels(route, "monolith")
        self.service_seconds = metrics.seconds.labels(route, "service")
        self.monolith_5xx = metrics.errors.labels(route, "monolith")
        self.service_5xx = metrics.errors.labels(route, "service")
        self.net_diff_rate = metrics.net_diff_rate.labels(route)

    def outcome(self, name: str) -> Any:
        child = self._outcomes.get(name)
        if child is None:
            child = self._outcomes[name] = self._metrics.requests.labels(self.route, name)
        return child

    def field(self, name: str, count: str) -> Any:
        child = self._fields.get((name, count))
        if child is None:
            child = self._fields[(name, count)] = self._metrics.field_diffs.labels(self.route, name, count)
        return child


class _MismatchWriter:
    """One thread writes mismatch records; the loop only enqueues (full: dropped and counted)."""

    def __init__(self, store: MismatchStore, metrics: CompareMetrics) -> None:
        self.store = store
        self.metrics = metrics
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(WRITER_QUEUE)
        self._thread = threading.Thread(target=self._run, name="strangler-mismatch-writer", daemon=True)
        self._thread.start()
        self._failing = False

    def put(self, route: str, record: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait((route, record))
        except queue.Full:
            self.metrics.dropped.labels(route).inc()

    def join(self) -> None:
        self._queue.join()

    def stop(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                route, record = item
                try:
                    self.store.add(record)
                except StranglerError as exc:
                    self.metrics.dropped.labels(route).inc()
                    if not self._failing:
                        log.warning("mismatches cannot be stored: %s", exc)
                        self._failing = True
                    continue
                self._failing = False
                self.metrics.stored.labels(route).inc()
            finally:
                self._queue.task_done()
