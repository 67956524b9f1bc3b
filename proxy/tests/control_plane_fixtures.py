"""Fixtures for the control-plane tests (route store, admin API, CLI, runtime).

Loaded by each control-plane test module with `pytest_plugins`, so the data plane's conftest stays its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from control_plane_helpers import ADMIN_TOKEN, public_placeholder, scratch_database, serve_in_thread
from strangler_proxy.control.store import TABLE_NAME, RouteStore, open_store


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database strangler_proxy_<random> on STRANGLER_TEST_POSTGRES, dropped at the end."""
    with scratch_database("strangler_proxy") as url:
        yield url


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> str:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"drop table if exists {TABLE_NAME}")
    return postgres_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return str(tmp_path / "routes.sqlite3")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "routes.sqlite3")
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[RouteStore]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def admin(store: RouteStore) -> Iterator[tuple[str, RouteStore]]:
    """A real admin listener with token ADMIN_TOKEN over a fresh store (SQLite and PostgreSQL)."""
    from strangler_proxy.control.route_endpoints import route_admin_app

    app = route_admin_app(
        store, token=ADMIN_TOKEN, metrics=lambda: (b"strangler_test_metric 1\n", "text/plain; version=0.0.4")
    )
    with serve_in_thread(public_placeholder, app) as served:
        yield served.admin_url, store
