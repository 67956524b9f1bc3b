"""`strangler proxy` as an importable function: settings, route store, data plane, admin API, hot reload.

    run(listen="0.0.0.0:8080", route_store="postgresql://...", ...)   # blocks until SIGINT/SIGTERM
    run(workers=2, route_store="postgresql://...", ...)               # two replica processes on the same ports

Every setting is read and checked first (`settings.Settings`), then the store is opened (and seeded when empty),
the `ProxyApp` built on its newest table, the write hold, data gate and comparison put around it (`wiring.py`),
and the public and admin listeners served on one event loop. A watcher thread (`watcher.py`) follows the store
and swaps each new version into the running app, so a change made through any replica's admin API reaches every
replica within a second; a change made through this replica's own admin API is swapped in at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from strangler_proxy import compiled
from strangler_proxy.control.admin import AdminApp
from strangler_proxy.control.route_endpoints import route_admin_app
from strangler_proxy.control.settings import Settings
from strangler_proxy.control.shared_gates import PostgresGateEvidence
from strangler_proxy.control.shared_pins import PostgresPins
from strangler_proxy.control.store import RouteStore, open_store
from strangler_proxy.control.table_codec import table_from_dict
from strangler_proxy.control.watcher import TableWatcher
from strangler_proxy.control.wiring import attach_comparison, attach_cutover
from strangler_proxy.control.workers import run_workers
from strangler_proxy.dataplane.access_log import configure_access_log
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.identity import IdentitySigner
from strangler_proxy.dataplane.model import RouteTable
from strangler_proxy.errors import SettingsInvalid, StaleVersion, TableInvalid
from strangler_proxy.http.server import ProxyServer, new_event_loop, serve

log = logging.getLogger("strangler_proxy.runtime")

SEED_AUTHOR = "strangler proxy (seed)"


AdminExtension = Callable[[AdminApp, Settings], object]


def run(*, admin_extensions: Sequence[AdminExtension] = (), **kwargs: Any) -> None:
    """Serve until SIGINT/SIGTERM. Keywords are the settings in `settings.VARIABLES`; raises SettingsInvalid (and
    StoreUnavailable) before anything is served. Each of `admin_extensions` is given the admin app, once every
    endpoint is on it, and the settings (the CLI passes the operator console, a layer above this one, this way)."""
    settings = Settings.load(**kwargs)
    logging.basicConfig(
        level=settings.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for warning in settings.warnings:
        log.warning(warning)
    if settings.workers > 1:
        open_store(settings.route_store).close()  # an unreachable store is said once, before any worker starts
        run_workers(settings, admin_extensions, kwargs, serve=run)
        return
    log.info("serving with the %s", compiled.status())
    store = open_store(settings.route_store)
    table = ensure_seeded(store, settings.monolith_url)
    app = ProxyApp(table, settings.proxy, identity=IdentitySigner(settings.identity_key))
    if settings.proxy.access_log:
        configure_access_log()
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(_serve(settings, store, app, admin_extensions))


async def _serve(
    settings: Settings, store: RouteStore, app: ProxyApp, admin_extensions: Sequence[AdminExtension] = ()
) -> None:
    loop = asyncio.get_running_loop()

    def install(table: RouteTable) -> None:
        if table.version == app.table.version:
            return
        try:
            app.set_table(table)
        except TableInvalid as exc:
            log.error("route table version %d not loaded, still serving %d: %s", table.version, app.table.version, exc)
            return
        log.info("route table version %d now serving", table.version)

    admin = route_admin_app(
        store,
        token=settings.admin_token,
        metrics=lambda: (app.metrics_text(), app.metrics_content_type),
        on_change=install,
    )
    shared = settings.route_store.startswith(("postgresql://", "postgres://"))
    cutover = attach_cutover(
        app,
        admin,
        store_url=settings.route_store,
        route_store=store,
        limits=settings.data_gate,
        owners=app.owners,
        replicas=settings.replicas if shared else None,
        on_change=install,
    )
    public_app = cutover.public_app
    evidence = None
    if shared:
        app.shared_pins = pins = PostgresPins(settings.route_store)
        evidence = PostgresGateEvidence(settings.route_store, replica=settings.replicas.name())
    replica_task = loop.create_task(cutover.replica.run()) if cutover.replica is not None else None
    watcher = TableWatcher(
        settings.route_store, app.table.version, settings.store_poll, lambda t: loop.call_soon_threadsafe(install, t)
    )
    compare = attach_comparison(
        app,
        admin,
        public_app=public_app,
        store_url=settings.route_store,
        route_store=store,
        install=install,
        config=settings.compare,
        shared_gates=evidence,
    )
    for extend in admin_extensions:
        extend(admin, settings)
    mirror = await _start_mirror_listener(settings, app)

    def started(server: ProxyServer) -> None:
        watcher.start()
        # One machine-readable line: scripts and tests that bind port 0 read the ports from it.
        mirror_url = f" mirror=http://{_url_host(settings.mirror_host or '')}:{mirror.public_port}" if mirror else ""
        print(
            f"strangler proxy ready: public=http://{_url_host(settings.host)}:{server.public_port} "
            f"admin=http://{_url_host(settings.admin_host)}:{server.admin_bound_port} version={app.table.version}"
            + (f" replica={cutover.replica.replica}" if cutover.replica is not None else "")
            + mirror_url,
            file=sys.stderr,
            flush=True,
        )

    try:
        await serve(
            public_app=compare.public_app,
            host=settings.host,
            port=settings.port,
            admin_app=admin,
            admin_host=settings.admin_host,
            admin_port=settings.admin_port,
            limits=settings.server,
            on_started=started,
            reuse_port=settings.reuse_port,
        )
    finally:
        if replica_task is not None and cutover.replica is not None:
            replica_task.cancel()
            await cutover.replica.close()
        watcher.stop()
        if mirror is not None:
            await mirror.stop()
        if shared:
            await pins.close()
        if evidence is not None:
            evidence.close()
        await compare.close()
        await app.close()


async def _start_mirror_listener(settings: Settings, app: ProxyApp) -> ProxyServer | None:
    """STRANGLER_MIRROR_LISTEN: where nginx's `mirror` (or a Gateway's RequestMirror) sends shadow requests."""
    if settings.mirror_port is None or settings.mirror_host is None:
        return None
    from strangler_proxy.compare.mirror_intake import MirrorIntake

    server = ProxyServer(public_app=MirrorIntake(app), host=settings.mirror_host, port=settings.mirror_port)
    await server.start()
    return server


def ensure_seeded(store: RouteStore, monolith_url: str | None) -> RouteTable:
    """Load the newest table; an empty store is first given one with just the `monolith` upstream."""
    if store.latest_version() == 0:
        if monolith_url is None:
            raise SettingsInvalid(
                f"the route store {store.url_for_humans} is empty: set STRANGLER_MONOLITH_URL (e.g. "
                f"http://127.0.0.1:8000) so the proxy can seed it with the monolith upstream"
            )
        seed = table_from_dict({"upstreams": {"monolith": {"url": monolith_url}}, "routes": []})
        with contextlib.suppress(StaleVersion):  # another replica seeded the shared store first: use its table
            store.commit(seed, expected_version=0, author=SEED_AUTHOR, reason="seeded from STRANGLER_MONOLITH_URL")
    table = store.load().table
    stored = table.upstreams.get(table.default_upstream)
    if monolith_url is not None and stored is not None and stored.url != monolith_url:
        log.warning(
            "STRANGLER_MONOLITH_URL=%s differs from the stored %s upstream (%s); the route store wins - change it "
            "with `strangler routes apply`",
            monolith_url,
            table.default_upstream,
            stored.url,
        )
    return table


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
