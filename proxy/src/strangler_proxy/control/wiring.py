"""What `strangler proxy` puts around its `ProxyApp`, each with its admin endpoints: the cutover's write hold and
data gate, and the comparison (comparator, mismatch store, gates, capture).

    cutover = attach_cutover(app, admin, store_url=..., route_store=store, limits=..., owners=..., replicas=...)
    wired = attach_comparison(app, admin, public_app=cutover.public_app, store_url=..., route_store=store,
                              install=install, config=settings.compare)
    await serve(public_app=wired.public_app, ...)
    await wired.close()

The data states, the mismatch table and the gate firings live in the route store's database. Every store commit
passes the data gate; a comparison gate commits through the route store and hands the new table to `install` at
once (the watcher would bring it within a second anyway), and each firing is recorded (`GET /gates`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strangler_proxy.compare.capture import CaptureMiddleware, CorpusWriter
from strangler_proxy.compare.comparator import Comparator
from strangler_proxy.compare.gates import SharedEvidence
from strangler_proxy.compare.mismatch_store import Limits, MismatchStore, open_mismatch_store
from strangler_proxy.compare.redact import Redactor
from strangler_proxy.compare.settings import CompareConfig
from strangler_proxy.control.admin import AdminApp
from strangler_proxy.control.compare_endpoints import add_compare_endpoints
from strangler_proxy.control.cutover_endpoints import add_cutover_endpoints
from strangler_proxy.control.data_state import DataGate, GateLimits, open_data_states
from strangler_proxy.control.gate_firings import add_gate_endpoints, open_gate_firings
from strangler_proxy.control.hold_coordinator import LocalHolds, SharedHolds
from strangler_proxy.control.replica import ReplicaAgent, ReplicaSettings
from strangler_proxy.control.route_changes import gate_rollback
from strangler_proxy.control.shared_holds import SharedHoldStore
from strangler_proxy.control.store import RouteStore
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.data_owners import DataOwners
from strangler_proxy.dataplane.model import RouteTable
from strangler_proxy.dataplane.store_fence import StoreFence
from strangler_proxy.dataplane.write_hold import WriteHoldMiddleware, WriteHolds
from strangler_proxy.errors import SettingsInvalid
from strangler_proxy.http.asgi import ASGIApp

log = logging.getLogger("strangler.compare")


@dataclass
class Cutover:
    public_app: WriteHoldMiddleware
    replica: ReplicaAgent | None  # with replicas on a shared store: run it for as long as the proxy serves


def attach_cutover(
    app: ASGIApp,
    admin: AdminApp,
    *,
    store_url: str,
    route_store: RouteStore,
    limits: GateLimits | None = None,
    owners: DataOwners | None = None,
    replicas: ReplicaSettings | None = None,
    on_change: Callable[[RouteTable], None] | None = None,
) -> Cutover:
    """The write hold in front of `app` (the app to serve publicly), the data gate on every commit of
    `route_store`, their admin endpoints, and `owners` (the `ProxyApp`'s, which routes writes by them) loaded from
    the stored data states. With `replicas` (a PostgreSQL store), holds are agreed with every live replica and this
    one fences itself when it loses the store (`replica.py`). Raises StoreUnavailable before anything is served."""
    gate = DataGate(open_data_states(store_url), limits)
    route_store.gate = gate.check
    owners = owners if owners is not None else DataOwners()
    for state in gate.states.all():
        owners.set(state.spec, state.owner)
    holds = WriteHolds()
    if replicas is None:
        public = WriteHoldMiddleware(app, holds)
        add_cutover_endpoints(
            admin, LocalHolds(holds), gate, owners=owners, route_store=route_store, on_change=on_change
        )
        return Cutover(public, None)

    def guarded() -> list[str]:  # only asked while the fence is closed
        table = getattr(app, "table", None)
        data = [r.path for r in table.routes if r.data is not None] if table is not None else []
        return data + [h.path for h in holds.holds()]

    async def reload_owners() -> None:
        for state in await asyncio.to_thread(gate.states.all):
            owners.set(state.spec, state.owner)

    fence = StoreFence(replicas.fence_after, guarded)
    store = SharedHoldStore(store_url, dead_after=replicas.dead_after, url_for_humans=route_store.url_for_humans)
    agent = ReplicaAgent(
        store, holds, fence, replica=replicas.name(), heartbeat=replicas.heartbeat, reload_owners=reload_owners
    )
    public = WriteHoldMiddleware(app, holds, fence)
    add_cutover_endpoints(
        admin, SharedHolds(store, agent), gate, owners=owners, route_store=route_store, on_change=on_change
    )
    return Cutover(public, agent)


@dataclass
class Wired:
    public_app: Any
    comparator: Comparator | None
    mismatches: MismatchStore | None
    corpus: CorpusWriter | None

    async def close(self) -> None:
        if self.comparator is not None:
            await self.comparator.close()
        if self.corpus is not None:
            self.corpus.close()
        if self.mismatches is not None:
            self.mismatches.close()


def attach_comparison(
    app: ProxyApp,
    admin: AdminApp | None,
    *,
    store_url: str,
    route_store: RouteStore,
    install: Callable[[RouteTable], None],
    public_app: Any = None,
    config: CompareConfig | None = None,
    shared_gates: SharedEvidence | None = None,
) -> Wired:
    """Call on the event loop, before serving. `public_app` (default `app`) is what clients reach; capture wraps
    it. `shared_gates`: replicas on a shared store exchange their gate samples through it. Raises SettingsInvalid
    when the capture file cannot be written."""
    config = config or CompareConfig()
    comparator = mismatches = corpus = None
    public_app = app if public_app is None else public_app
    firings = open_gate_firings(store_url)
    if admin is not None:
        add_gate_endpoints(admin, firings)
    if config.enabled:
        mismatches = open_mismatch_store(
            store_url, Limits(config.mismatch_max_rows, config.mismatch_max_age, config.mismatch_max_body)
        )
        roll_back = gate_rollback(route_store, on_outcome=firings.record)
        comparator = Comparator(
            app, config=config, mismatches=mismatches, roll_back=roll_back, on_change=install, shared=shared_gates
        )
        comparator.start()
        if admin is not None:
            add_compare_endpoints(admin, comparator, mismatches)
    if config.capture_file:
        try:
            corpus = CorpusWriter(Path(config.capture_file), max_bytes=config.capture_max_bytes)
        except OSError as exc:
            raise SettingsInvalid(f"STRANGLER_CAPTURE_FILE={config.capture_file!r} cannot be written: {exc}") from exc
        redactor = Redactor(config.redact_fields, config.redact_headers)
        public_app = CaptureMiddleware(public_app, corpus, sample=config.capture_sample, redactor=redactor)
        log.info("recording %.1f%% of requests to %s", config.capture_sample * 100, config.capture_file)
    return Wired(public_app, comparator, mismatches, corpus)
