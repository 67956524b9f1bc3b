"""`strangler proxy` as an importable function: config, route store, data plane, admin API, hot reload.

    run(listen="0.0.0.0:8080", route_store="postgresql://...", ...)   # blocks until SIGINT/SIGTERM

The proxy serves the table it loads from the store at start. A watcher thread then follows the store
(PostgreSQL: LISTEN/NOTIFY with a poll every STRANGLER_STORE_POLL seconds in case a notification was lost;
SQLite: a poll of the newest version every 0.1 s) and swaps each new version into the running app, so a
change made through any replica's admin API reaches every replica within a second. If the store goes
away, the proxy keeps serving its last table and says so in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from strangler_proxy.control.admin import AdminApp
from strangler_proxy.control.compare_wiring import attach_comparison
from strangler_proxy.control.config import RuntimeConfig
from strangler_proxy.control.cutover_endpoints import attach_cutover
from strangler_proxy.control.store import RouteStore, open_store
from strangler_proxy.control.table_codec import table_from_dict
from strangler_proxy.control_errors import ConfigInvalid, ControlPlaneError, StaleVersion
from strangler_proxy.dataplane.access_log import configure_access_log
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.identity import IdentitySigner
from strangler_proxy.dataplane.model import RouteTable
from strangler_proxy.dataplane.routing import InvalidRouteTable
from strangler_proxy.dataplane.settings import ProxySettings, SettingsError
from strangler_proxy.errors import ProxyError
from strangler_proxy.http.server import ProxyServer, ServerLimits, new_event_loop, serve

log = logging.getLogger("strangler_proxy.control.runtime")

SEED_AUTHOR = "strangler proxy (seed)"
RETRY_AFTER_STORE_ERROR = 1.0


def run(**kwargs: Any) -> None:
    """Serve until SIGINT/SIGTERM. Keywords are the settings in `config.VARIABLES`; raises ConfigInvalid."""
    config = RuntimeConfig.load(**kwargs)
    logging.basicConfig(
        level=config.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for warning in config.warnings:
        log.warning(warning)
    try:
        settings = ProxySettings.from_env()
    except SettingsError as exc:
        raise ConfigInvalid(str(exc)) from exc
    store = open_store(config.route_store)
    table = ensure_seeded(store, config.monolith_url)
    try:
        app = ProxyApp(table, settings, identity=IdentitySigner.from_env())
    except ProxyError as exc:  # e.g. a data-plane setting or key that is missing: a start-up problem, said plainly
        raise ConfigInvalid(str(exc)) from exc
    if settings.access_log:
        configure_access_log()
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(_serve(config, store, app))


async def _serve(config: RuntimeConfig, store: RouteStore, app: ProxyApp) -> None:
    loop = asyncio.get_running_loop()

    def install(table: RouteTable) -> None:
        if table.version == app.table.version:
            return
        try:
            app.set_table(table)
        except InvalidRouteTable as exc:
            log.error("route table version %d not loaded, still serving %d: %s", table.version, app.table.version, exc)
            return
        log.info("route table version %d now serving", table.version)

    admin = AdminApp(
        store,
        token=config.admin_token,
        metrics=lambda: (app.metrics_text(), app.metrics_content_type),
        on_change=install,
    )
    public_app = attach_cutover(app, admin, store_url=config.route_store, route_store=store)  # write hold, data gate
    watcher = TableWatcher(
        config.route_store, app.table.version, config.store_poll, lambda t: loop.call_soon_threadsafe(install, t)
    )
    # Comparator, gates, mismatch store, capture and their admin endpoints (STRANGLER_COMPARE*, _CAPTURE_*).
    compare = attach_comparison(
        app, admin, public_app=public_app, store_url=config.route_store, route_store=store, install=install
    )

    def started(server: ProxyServer) -> None:
        watcher.start()
        # One machine-readable line: scripts and tests that bind port 0 read the ports from it.
        print(
            f"strangler proxy ready: public=http://{_url_host(config.host)}:{server.public_port} "
            f"admin=http://{_url_host(config.admin_host)}:{server.admin_bound_port} version={app.table.version}",
            file=sys.stderr,
            flush=True,
        )

    try:
        await serve(
            public_app=compare.public_app,
            host=config.host,
            port=config.port,
            admin_app=admin,
            admin_host=config.admin_host,
            admin_port=config.admin_port,
            limits=ServerLimits(),
            on_started=started,
        )
    finally:
        watcher.stop()
        await compare.close()
        await app.close()


def ensure_seeded(store: RouteStore, monolith_url: str | None) -> RouteTable:
    """Load the newest table; an empty store is first given one with just the `monolith` upstream."""
    if store.latest_version() == 0:
        if monolith_url is None:
            raise ConfigInvalid(
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


class TableWatcher:
    """Follows the store on its own thread and hands each new table to `deliver` (thread-safe)."""

    def __init__(self, store_url: str, known: int, poll: float, deliver: Callable[[RouteTable], object]) -> None:
        self.store_url = store_url
        self.known = known
        self.poll = poll
        self.deliver = deliver
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="strangler-route-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # The thread may sit in a blocking wait on the store for up to `poll` seconds; it is a daemon and holds
        # nothing that needs flushing, so shutdown does not wait for it.
        self._stop.set()
        self._thread.join(timeout=0.2)

    def _run(self) -> None:
        store: RouteStore | None = None
        failing = False
        while not self._stop.is_set():
            try:
                if store is None:
                    store = open_store(self.store_url)
                latest = store.wait_for_change(self.known, timeout=self.poll)
                if latest != self.known and latest > 0:
                    table = store.load(latest).table
                    self.known = latest
                    try:
                        self.deliver(table)
                    except RuntimeError:  # the event loop has closed: the proxy is shutting down
                        return
                if failing:
                    log.warning("route store reachable again")
                    failing = False
            except ControlPlaneError as exc:
                if not failing:
                    log.warning("route store unreachable, still serving version %d: %s", self.known, exc)
                    failing = True
                if store is not None:
                    store.close()
                    store = None
                time.sleep(RETRY_AFTER_STORE_ERROR)
        if store is not None:
            store.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
