"""Fixtures for the comparison tests (loaded with `pytest_plugins = ["compare_fixtures"]`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from compare_helpers import CompareStack, MakeStack, start_compare_stack, stop_compare_stack
from conftest import LoopThread
from control_plane_helpers import scratch_database


@pytest.fixture
def make(loop_thread: LoopThread) -> Iterator[MakeStack]:
    """Start a proxy with a comparator in front of two shop doubles; everything is stopped after the test."""
    made: list[CompareStack] = []

    def factory(*routes: Any, **kwargs: Any) -> CompareStack:
        cs = start_compare_stack(loop_thread, *routes, **kwargs)
        made.append(cs)
        return cs

    yield factory
    for cs in made:
        stop_compare_stack(cs)


@pytest.fixture(scope="session")
def compare_postgres() -> Iterator[str]:
    """A fresh database strangler_compare_<random> on STRANGLER_TEST_POSTGRES, dropped at the end."""
    with scratch_database("strangler_compare") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The route store's URL, on each engine; PostgreSQL tables are dropped first so each test starts empty."""
    if request.param == "sqlite":
        return str(tmp_path / "routes.sqlite3")
    url = str(request.getfixturevalue("compare_postgres"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "drop table if exists strangler_route_versions, strangler_compare_mismatches, strangler_data_state,"
            " strangler_gate_firings"
        )
    return url
