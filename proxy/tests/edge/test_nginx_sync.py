"""`strangler nginx sync` and `strangler routes export --format nginx` on real nginx: each new version of the route
store reaches nginx through `nginx -t` and a graceful reload; a version nginx refuses is not installed, nginx keeps
the last good configuration, and the refusal is loud (stderr, state file)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from control_plane_helpers import scratch_database
from data_planes import Upstreams, as_non_root, free_port, nginx_missing, nginx_prefix, wait_until
from strangler_proxy.control.store import RouteStore, open_store
from strangler_proxy.dataplane.model import Route, RouteTable, Stage
from strangler_proxy.edge.nginx_control import check_config, find_nginx

pytest_plugins = ["edge_fixtures"]
STRANGLER = str(Path(sys.executable).parent / "strangler")


@pytest.fixture(autouse=True)
def _needs_nginx() -> None:
    missing = nginx_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)


@pytest.fixture
def prefix() -> Iterator[Path]:
    p = nginx_prefix()
    yield p
    shutil.rmtree(p, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite (the sync polls it) and PostgreSQL (it listens for NOTIFY)."""
    if request.param == "sqlite":
        yield str(tmp_path / "routes.sqlite3")
        return
    with scratch_database("strangler_edge_export") as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[RouteStore]:
    s = open_store(store_url)
    yield s
    s.close()


def commit(store: RouteStore, table: RouteTable) -> int:
    version = store.latest_version()
    return store.commit(table, expected_version=version, author="test", reason="conformance").version


def test_sync_installs_each_version_and_keeps_the_last_good_one_when_nginx_refuses(
    tmp_path: Path, store_url: str, store: RouteStore, upstreams: Upstreams, prefix: Path
) -> None:
    port, status_port = free_port(), free_port()
    state = tmp_path / "sync.json"
    args = [STRANGLER, "nginx", "sync", "--route-store", store_url]
    args += ["--conf", str(prefix / "nginx.conf"), "--prefix", str(prefix), "--state-file", str(state)]
    args += ["--listen", f"127.0.0.1:{port}", "--status-listen", f"127.0.0.1:{status_port}", "--workers", "1"]
    commit(store, upstreams.table(Route("/api/catalog", "catalog", Stage.OFF)))

    first = subprocess.run([*args, "--once"], capture_output=True, text=True, timeout=30)
    assert first.returncode == 0, first.stderr
    assert "version 1 installed (nginx is not running" in first.stdout
    nginx = subprocess.Popen(
        as_non_root(
            [find_nginx(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"]
        ),
        stderr=subprocess.DEVNULL,
    )
    follower = subprocess.Popen([*args, "--poll", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:

        def serving() -> str:
            try:
                return httpx.get(f"http://127.0.0.1:{status_port}/strangler/version", timeout=1).text
            except httpx.HTTPError:
                return ""

        def upstream() -> str:
            return httpx.get(f"http://127.0.0.1:{port}/api/catalog/1", timeout=5).headers["x-upstream"]

        wait_until(lambda: serving() == "1", what="nginx on version 1")
        assert upstream() == "monolith"

        commit(store, upstreams.table(Route("/api/catalog", "catalog", Stage.LIVE)))
        wait_until(lambda: serving() == "2", what="version 2 installed and reloaded")
        wait_until(lambda: upstream() == "catalog", what="the live route on the catalog")

        broken = upstreams.table(Route("/api/catalog", "catalog", Stage.OFF))
        catalog = dataclasses.replace(broken.upstreams["catalog"], url="http://no-such-host.invalid:8001")
        commit(store, dataclasses.replace(broken, upstreams={**broken.upstreams, "catalog": catalog}))
        wait_until(lambda: state.exists() and json.loads(state.read_text())["version"] == 3, what="the refusal")
        refused = json.loads(state.read_text())
        assert refused["failing"] is True and refused["installed"] is False and refused["serving_version"] == 2
        assert "host not found in upstream" in refused["error"]
        assert serving() == "2" and upstream() == "catalog"  # nginx kept the last good configuration
        assert "no-such-host" not in (prefix / "nginx.conf").read_text()

        commit(store, upstreams.table(Route("/api/catalog", "catalog", Stage.OFF)))
        wait_until(lambda: serving() == "4", what="the next good version")
        wait_until(lambda: upstream() == "monolith", what="the route back on the monolith")
        assert json.loads(state.read_text())["failing"] is False
    finally:
        follower.terminate()
        _, err = follower.communicate(timeout=10)
        nginx.terminate()
        nginx.wait(10)
    assert "NGINX SYNC FAILED: version 3 not installed; nginx keeps version 2" in err


def test_export_renders_a_config_nginx_accepts_and_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    routes = tmp_path / "routes.toml"
    routes.write_text(
        '[upstreams.monolith]\nurl = "http://127.0.0.1:8000"\n[upstreams.catalog]\nurl = "http://127.0.0.1:8001"\n'
        '[[routes]]\npath = "/api/catalog"\nservice = "catalog"\nstage = "shadow"\ndata = "catalog"\n'
    )
    export = [STRANGLER, "routes", "export", "--from", str(routes), "--format", "nginx", "--standalone"]
    refused = subprocess.run(export, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "declares data 'catalog'" in refused.stderr and "--writes-via" in refused.stderr
    refused = subprocess.run([*export, "--writes-via", "http://127.0.0.1:8080"], capture_output=True, text=True)
    assert refused.returncode == 1 and "is in shadow: pass --comparator" in refused.stderr
    done = subprocess.run(
        [*export, "--writes-via", "http://127.0.0.1:8080", "--comparator", "http://127.0.0.1:8090"],
        capture_output=True,
        text=True,
        check=True,
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(done.stdout)
    check_config(find_nginx(), conf, tmp_path)
    assert "mirror /_strangler_mirror;" in done.stdout and "upstream strangler_writes" in done.stdout


def test_export_reads_the_admin_api_by_default(tmp_path: Path) -> None:
    done = subprocess.run(
        [STRANGLER, "routes", "--admin-url", f"http://127.0.0.1:{free_port()}", "export", "--format", "nginx"],
        capture_output=True,
        text=True,
        env={**os.environ, "STRANGLER_ADMIN_TOKEN": "t" * 32},
    )
    assert done.returncode == 3, done.stderr  # unreachable admin API: the routes group's exit code
