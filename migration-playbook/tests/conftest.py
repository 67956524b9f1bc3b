from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

import catalog_fixture

SERVER_ENV = "STRANGLER_TEST_POSTGRES"


def _server_url() -> str:
    url = os.environ.get(SERVER_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need a server: set {SERVER_ENV}=postgresql://postgres@127.0.0.1:5432/postgres")
    return url


@pytest.fixture
def pg_server() -> str:
    return _server_url()


@pytest.fixture
def make_pg() -> Iterator[Callable[[], str]]:
    """Creates empty databases named strangler_playbook_<random>; drops them afterwards."""
    server = _server_url()
    created: list[str] = []

    def make() -> str:
        name = f"strangler_playbook_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return server.rsplit("/", 1)[0] + "/" + name

    yield make
    with psycopg.connect(server, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_sqlite(tmp_path: Path) -> Callable[[], str]:
    counter = iter(range(1000))

    def make() -> str:
        path = tmp_path / f"db{next(counter)}.sqlite3"
        path.touch()
        return f"sqlite:///{path}"

    return make


@pytest.fixture
def make_db(make_pg: Callable[[], str], make_sqlite: Callable[[], str]) -> Callable[[str], str]:
    def make(engine: str) -> str:
        return make_pg() if engine == "pg" else make_sqlite()

    return make


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    return catalog_fixture.write_spec(tmp_path)


ENGINE_PAIRS = [("sqlite", "sqlite"), ("pg", "pg"), ("sqlite", "pg"), ("pg", "sqlite")]


@pytest.fixture(params=ENGINE_PAIRS, ids=[f"{a}-to-{b}" for a, b in ENGINE_PAIRS])
def catalog_pair(request: pytest.FixtureRequest, make_db: Callable[[str], str]) -> tuple[str, str]:
    """A seeded catalog source and an empty catalog target, for each pair of engines."""
    source_engine, target_engine = request.param
    if "pg" in (source_engine, target_engine):
        _server_url()
    source, target = make_db(source_engine), make_db(target_engine)
    catalog_fixture.create_schema(source)
    catalog_fixture.create_schema(target)
    catalog_fixture.seed(source, categories=12, products=3000)
    return source, target
