"""`strangler nginx sync`: keep a running nginx on the route store's newest table.

    sync = NginxSync(options, conf=Path("edge/nginx.conf"), prefix=Path("edge"), nginx=find_nginx())
    outcome = sync.apply(table)         # render → write a candidate → `nginx -t -c candidate` → install → SIGHUP
    sync.follow(store_url, poll=2.0, on_outcome=print, stop=event)   # every new version, until `stop` is set

A version that cannot be rendered, or that `nginx -t` refuses, is not installed: `conf` keeps the last good
configuration, nginx keeps serving it, and the outcome (also written to `state_file` as JSON) says which version
failed and why, so it is loud (the CLI prints it on stderr in red) and visible to monitoring. The next good version
is installed as usual. The store is followed with the proxy's own `TableWatcher` (LISTEN/NOTIFY on PostgreSQL,
polling on SQLite).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from strangler_proxy.control.store import open_store
from strangler_proxy.control.watcher import TableWatcher
from strangler_proxy.dataplane.model import RouteTable
from strangler_proxy.edge.nginx_config import NginxOptions, render_nginx
from strangler_proxy.edge.nginx_control import check_config, master_pid, reload
from strangler_proxy.errors import EdgeError


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    version: int  # the version this outcome is about
    installed: bool
    serving_version: int | None  # the version of the configuration nginx has now (the last good one)
    reloaded: bool  # a running master was signalled
    error: str | None = None
    at: str = ""

    def line(self) -> str:
        if self.installed:
            how = (
                "nginx signalled to reload"
                if self.reloaded
                else "nginx is not running: start it with this configuration"
            )
            return f"version {self.version} installed ({how})"
        return (
            f"NGINX SYNC FAILED: version {self.version} not installed; nginx keeps version {self.serving_version}: "
            f"{self.error}"
        )


class NginxSync:
    def __init__(
        self, options: NginxOptions, *, conf: Path, prefix: Path, nginx: str, state_file: Path | None = None
    ) -> None:
        self.options = options
        self.conf = conf
        self.prefix = prefix
        self.nginx = nginx
        self.state_file = state_file
        self.serving_version = _installed_version(conf)  # a restarted sync knows what nginx was left serving

    def apply(self, table: RouteTable) -> SyncOutcome:
        candidate = self.conf.with_name(self.conf.name + ".candidate")
        try:
            self.prefix.mkdir(parents=True, exist_ok=True)
            candidate.write_text(render_nginx(table, self.options, standalone=True), encoding="utf-8")
            check_config(self.nginx, candidate, self.prefix)
            os.replace(candidate, self.conf)
        except (EdgeError, OSError) as exc:
            return self._record(SyncOutcome(table.version, False, self.serving_version, False, str(exc)))
        self.serving_version = table.version
        reloaded = False
        if master_pid(self.prefix) is not None:
            try:
                reload(self.prefix)
                reloaded = True
            except EdgeError as exc:
                return self._record(SyncOutcome(table.version, True, table.version, False, str(exc)))
        return self._record(SyncOutcome(table.version, True, table.version, reloaded))

    def _record(self, outcome: SyncOutcome) -> SyncOutcome:
        outcome = SyncOutcome(**{**asdict(outcome), "at": datetime.now(UTC).isoformat(timespec="seconds")})
        if self.state_file is not None:
            state = {**asdict(outcome), "failing": not outcome.installed}
            tmp = self.state_file.with_name(self.state_file.name + ".tmp")
            tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.state_file)
        return outcome

    def follow(
        self,
        store_url: str,
        *,
        poll: float,
        on_outcome: Callable[[SyncOutcome], object],
        stop: threading.Event,
    ) -> None:
        """Apply the store's newest table now, then every new version, until `stop` is set."""
        store = open_store(store_url)
        try:
            table = store.load().table
        finally:
            store.close()
        on_outcome(self.apply(table))
        pending: list[RouteTable] = []
        arrived = threading.Condition()

        def deliver(new: RouteTable) -> None:
            with arrived:
                pending.append(new)
                arrived.notify()

        watcher = TableWatcher(store_url, table.version, poll, deliver)
        watcher.start()
        try:
            while not stop.is_set():
                with arrived:
                    arrived.wait_for(lambda: bool(pending) or stop.is_set(), timeout=1.0)
                    batch, pending[:] = list(pending), []
                if batch:
                    on_outcome(self.apply(max(batch, key=lambda t: t.version)))
        finally:
            watcher.stop()


def _installed_version(conf: Path) -> int | None:
    try:
        text = conf.read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r"# Strangler route table version (\d+),", text)
    return int(found.group(1)) if found else None
