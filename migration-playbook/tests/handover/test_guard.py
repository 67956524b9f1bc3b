"""The retire guard's triggers come and go while the monolith writes its tables (a rollback removes them after
releasing the held writes): the engine gives way to a writer, never deadlocks with it (PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg

from strangler_playbook.handover.guard import guard_table, install_guard, uninstall_guard

import catalog_fixture

# The spec's order, as the guard takes the tables: categories, then products.
TABLES = ["catalog_category", "catalog_product"]


def wait_for(condition: Callable[[], object], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds:.0f} s for {what}"
        time.sleep(0.005)


def test_removing_the_guard_gives_way_to_a_writer_that_locks_the_tables_the_other_way_round(make_pg) -> None:
    url = make_pg()
    catalog_fixture.create_schema(url)
    catalog_fixture.seed(url, categories=3, products=10)
    assert install_guard(url, "catalog", TABLES)

    # The writer, as an order does with stock and warehouses: the second table first, then it reads the first.
    writer = psycopg.connect(url)
    writer.execute("UPDATE catalog_product SET name = name WHERE id = 1")
    failed: list[BaseException] = []

    def remove() -> None:
        try:
            uninstall_guard(url, "catalog", TABLES)
        except BaseException as exc:  # reported by the assertion below
            failed.append(exc)

    removing = threading.Thread(target=remove)
    removing.start()
    with psycopg.connect(url, autocommit=True) as observer:
        # The guard holds the categories and waits for the products (until its lock wait runs out).
        waiting = "SELECT 1 FROM pg_locks WHERE relation = 'catalog_product'::regclass AND NOT granted"
        wait_for(lambda: observer.execute(waiting).fetchone(), "the guard's removal to wait for the writer")
        # Without the bounded wait this is a deadlock: after deadlock_timeout PostgreSQL ends one of the two.
        writer.execute("SELECT count(*) FROM catalog_category").fetchone()
        writer.commit()
        writer.close()
        removing.join(30)

        assert failed == []
        assert not removing.is_alive()
        triggers = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '_strangler_catalog_guard_%'"
        assert observer.execute(triggers).fetchone() == (0,)
        assert observer.execute("SELECT to_regclass(%s)", (guard_table("catalog"),)).fetchone() == (None,)
