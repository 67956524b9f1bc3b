"""The catalog's cutover and rollback, run by `strangler data` as an operator runs them, against two proxy replicas
that share a PostgreSQL route store, with staff writing through both the whole time: the engine talks to one
replica's admin API (the cutover to a, the rollback to b), the write hold is acknowledged by both, and no request
fails and no acknowledged write is lost on either, whichever way the data moves.

Runs on a PostgreSQL stack of its own (monolith and catalog service, seeded and backfilled): the data it moves and
the handover journal it leaves are no other test's business.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

import data_cli
from conftest import Stack, catalog_stack
from databases import postgres_server
from parity import IDENTITY_KEY
from processes import free_port, run, serving
from proxy_stack import ADMIN_TOKEN
from test_cutover_through_the_proxy import WRITES_AFTER, Writer, _products

STRANGLER = str(Path(sys.executable).parent / "strangler")


@dataclass(frozen=True)
class Replica:
    name: str
    public_url: str
    admin_url: str


@contextlib.contextmanager
def route_store() -> Iterator[str]:
    server = postgres_server()
    assert server
    name = f"strangler_e2e_replicas_{secrets.token_hex(3)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """This module's own stack (it overrides the session's): replicas share a PostgreSQL route store."""
    if not postgres_server():
        pytest.skip("replicas share a PostgreSQL route store: runs when STRANGLER_TEST_POSTGRES is set")
    with catalog_stack("postgresql", tmp_path_factory.mktemp("replicas-stack"), prefix="replicas_") as built:
        yield built


@pytest.fixture(scope="module")
def replicas(stack) -> Iterator[tuple[Replica, Replica]]:
    folder = stack.logs / "replicas"
    folder.mkdir(exist_ok=True)
    routes = folder / "routes.toml"
    routes.write_text(
        f'[upstreams.monolith]\nurl = "{stack.monolith.url}"\n\n[upstreams.catalog]\nurl = "{stack.catalog.url}"\n\n'
        f'[[routes]]\npath = "/api/catalog"\nservice = "catalog"\nstage = "shadow"\ndata = "catalog"\n'
    )
    with contextlib.ExitStack() as running, route_store() as store:
        started = []
        for name in ("a", "b"):
            port, admin_port = free_port(), free_port()
            env = {
                "STRANGLER_LISTEN": f"127.0.0.1:{port}",
                "STRANGLER_ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
                "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN,
                "STRANGLER_ROUTE_STORE": store,
                "STRANGLER_MONOLITH_URL": stack.monolith.url,
                "STRANGLER_IDENTITY_KEY": IDENTITY_KEY,
                "STRANGLER_LOG_LEVEL": "warning",
                "STRANGLER_REPLICA_ID": name,
            }
            admin_url = f"http://127.0.0.1:{admin_port}"
            server = running.enter_context(
                serving(
                    f"proxy-{name}",
                    [STRANGLER, "proxy"],
                    cwd=folder,
                    env=env,
                    url=admin_url,
                    logs=folder,
                    ready_path="/healthz",
                )
            )
            server.wait_until_ready()
            if name == "a":
                run(
                    [STRANGLER, "routes", "apply", str(routes), "--reason", "e2e replicas"],
                    cwd=folder,
                    env={"STRANGLER_ADMIN_URL": admin_url, "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN},
                )
            started.append(Replica(name, f"http://127.0.0.1:{port}", admin_url))
        a, b = started
        with httpx.Client(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10) as admin:
            deadline = time.monotonic() + 20
            while sorted(r["replica"] for r in admin.get(a.admin_url + "/holds").json().get("replicas", [])) != [
                "a",
                "b",
            ]:
                assert time.monotonic() < deadline, "the two replicas never both heartbeat"
                time.sleep(0.05)
        yield a, b


def _writers(stack, replicas: tuple[Replica, Replica], tag: str) -> list[Writer]:
    token = stack.shop.personas["charlie"].token
    kitchen = stack.shop.categories["kitchen"]
    return [Writer(r.public_url, token, kitchen, f"{tag}{r.name}") for r in replicas]


def test_a_cutover_and_a_rollback_across_two_replicas_fail_no_write_on_either(stack, replicas):
    a, b = replicas
    for step in ("sync", "verify", "publish"):
        done = data_cli.data_command(step, stack, a.admin_url)
        assert done.returncode == 0, done.stdout + done.stderr
    writers = _writers(stack, replicas, "X")
    with contextlib.ExitStack() as writing:
        for writer in writers:
            writing.enter_context(writer)
        cutover = data_cli.data_command("cutover", stack, a.admin_url)
        for writer in writers:  # writes after the release, through both
            writer.wait_for_more(WRITES_AFTER)
    assert cutover.returncode == 0, cutover.stdout + cutover.stderr
    report = json.loads(cutover.stdout)
    writes = sum(w.requests for w in writers)
    print(
        f"\ncutover across 2 replicas: {writes} writes, held {report['hold_seconds']}s, "
        f"waits on a {report['hold_waits']}"
    )
    assert report["owner"] == "service" and report["stages"] == {"/api/catalog": "live"}
    assert [w.failures for w in writers] == [[], []]
    in_service = _products(stack.catalog_database)
    for writer in writers:
        assert {i: in_service.get(i) for i in writer.acknowledged} == writer.acknowledged

    writers = _writers(stack, replicas, "Y")
    with contextlib.ExitStack() as writing:
        for writer in writers:
            writing.enter_context(writer)
        rollback = data_cli.data_command("rollback", stack, b.admin_url)  # any replica's admin API will do
        for writer in writers:
            writer.wait_for_more(WRITES_AFTER)
    assert rollback.returncode == 0, rollback.stdout + rollback.stderr
    assert json.loads(rollback.stdout)["owner"] == "monolith"
    assert [w.failures for w in writers] == [[], []]
    in_monolith = _products(stack.monolith_database)
    for writer in writers:
        assert {i: in_monolith.get(i) for i in writer.acknowledged} == writer.acknowledged
    synced = data_cli.data_command("sync", stack, a.admin_url)  # the service follows the monolith again
    assert synced.returncode == 0, synced.stderr
    verified = data_cli.data_command("verify", stack, a.admin_url)
    assert verified.returncode == 0, verified.stdout
