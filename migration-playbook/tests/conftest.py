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


class _DatabasePool:
    """Databases named strangler_playbook_<random>, emptied between tests and dropped at the end of the session.

    Creating and dropping a database costs ≈1.7 s here; emptying one (schema public dropped and re-created,
    leftover sessions of killed engines terminated) costs ≈50 ms.
    """

    def __init__(self, server: str) -> None:
        self.server = server
        self.free: list[str] = []
        self.created: list[str] = []

    def url(self, name: str) -> str:
        return self.server.rsplit("/", 1)[0] + "/" + name

    def take(self) -> str:
        if self.free:
            return self.free.pop()
        name = f"strangler_playbook_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return name

    def give_back(self, name: str) -> None:
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        self.free.append(name)

    def drop_all(self) -> None:
        with psycopg.connect(self.server, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_pool() -> Iterator[_DatabasePool]:
    pool = _DatabasePool(_server_url())
    yield pool
    pool.drop_all()


@pytest.fixture
def make_pg(pg_pool: _DatabasePool) -> Iterator[Callable[[], str]]:
    """Empty PostgreSQL databases for this test only."""
    taken: list[str] = []

    def make() -> str:
        name = pg_pool.take()
        taken.append(name)
        return pg_pool.url(name)

    yield make
    for name in taken:
        pg_pool.give_back(name)


@pytest.fixture
def make_sqlite(tmp_path: Path) -> Callable[[], str]:
    counter = iter(range(1000))

    def make() -> str:
        path = tmp_path / f"db{next(counter)}.sqlite3"
        path.touch()
        return f"sqlite:///{path}"

    return make


@pytest.fixture
def make_db(request: pytest.FixtureRequest, make_sqlite: Callable[[], str]) -> Callable[[str], str]:
    """Either engine; PostgreSQL is only asked for (and skipped without a server) when a test wants it."""

    def make(engine: str) -> str:
        return request.getfixturevalue("make_pg")() if engine == "pg" else make_sqlite()

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
