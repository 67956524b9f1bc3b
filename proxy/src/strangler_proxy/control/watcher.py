"""Following the route store: a thread that hands each new version of the table to the running proxy.

PostgreSQL: LISTEN/NOTIFY, with a poll every STRANGLER_STORE_POLL seconds in case a notification was lost while
the listening connection was down; SQLite: a poll of the newest version every 0.1 s. If the store goes away, the
proxy keeps serving its last table and says so in the log, once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from strangler_proxy.control.store import RouteStore, open_store
from strangler_proxy.dataplane.model import RouteTable
from strangler_proxy.errors import StranglerError

log = logging.getLogger("strangler_proxy.runtime")

RETRY_AFTER_STORE_ERROR = 1.0


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
            except StranglerError as exc:
                if not failing:
                    log.warning("route store unreachable, still serving version %d: %s", self.known, exc)
                    failing = True
                if store is not None:
                    store.close()
                    store = None
                time.sleep(RETRY_AFTER_STORE_ERROR)
        if store is not None:
            store.close()
