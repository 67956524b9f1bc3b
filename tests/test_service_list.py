"""extracted/services.toml is the one list of services: `make up` (tools/stack.py), `make test`
(tools/run_tests.py) and compose.yaml (tools/compose.py) each find every service in it, and a new service is one
entry plus its folder — no script names a service."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path

import compose
import pytest
import run_tests
import service_list
import stack

STAND_IN_SPEC = "migration-playbook/specs/catalog.toml"
WISHLIST = """
[[services]]
name = "wishlist"
folder = "{folder}"
kind = "django"
routes = ["/api/wishlists"]
spec = "{spec}"
databases = ["sqlite", "postgresql"]
port = 8009
health = "/healthz"
sync = true
seam = true
"""


@pytest.fixture
def with_wishlist(tmp_path: Path, root: Path) -> list[service_list.Service]:
    """The real list plus a third Django service: one entry and a folder of its own."""
    folder = tmp_path / "wishlist"
    folder.mkdir()
    (folder / "manage.py").write_text("")
    listed = tmp_path / "services.toml"
    # Its spec would be migration-playbook/specs/wishlist.toml; the catalog's stands in for it.
    text = (root / "extracted" / "services.toml").read_text() + WISHLIST.format(folder=folder, spec=STAND_IN_SPEC)
    listed.write_text(text)
    return service_list.load(listed)


def test_every_listed_service_has_its_folder_entry_point_and_a_spec_for_its_routes():
    for service in service_list.load():
        assert (service.path / "pyproject.toml").exists(), service.name
        if service.kind == "django":
            assert (service.path / "manage.py").exists(), service.name
        else:
            assert (service.path / str(service.module) / "__main__.py").exists(), service.name
        spec = tomllib.loads(service.spec_path.read_text())
        assert spec["name"] == service.name
        assert tuple(spec["routes"]) == service.routes


def test_make_up_runs_a_new_service_and_its_sync_worker_on_its_own_port_and_sqlite_file(with_wishlist, tmp_path):
    config = stack.parse_config(["up", "--state-dir", str(tmp_path / "run")], with_wishlist)
    (tmp_path / "run").mkdir()

    processes = {
        spec.name: spec for spec in stack.specs(config, {"STRANGLER_ADMIN_TOKEN": "t", "STRANGLER_IDENTITY_KEY": "k"})
    }

    assert {"monolith", "wishlist", "wishlist-sync", "proxy"} <= set(processes)
    wishlist = processes["wishlist"]
    assert wishlist.port == 8009 and wishlist.health_url == "http://127.0.0.1:8009/healthz"
    assert wishlist.env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'run' / 'wishlist.sqlite3'}"
    assert processes["monolith"].env["WISHLIST_SERVICE_URL"] == "http://127.0.0.1:8009"
    assert 'path = "/api/wishlists"\nservice = "wishlist"\nstage = "off"' in stack.initial_routes(config)
    assert "WISHLIST_DATABASE_URL=" in stack.cli_env(config, {"STRANGLER_ADMIN_TOKEN": "t"})


def test_make_up_takes_a_port_flag_for_each_listed_service(with_wishlist, tmp_path):
    config = stack.parse_config(["up", "--state-dir", str(tmp_path), "--wishlist-port", "9100"], with_wishlist)

    assert config.service_ports["wishlist"] == 9100
    assert 9100 in config.ports


def test_make_up_starts_a_postgresql_only_service_only_when_its_database_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv("INVENTORY_DATABASE_URL", raising=False)
    assert "inventory" not in {s.name for s in stack.parse_config(["up", "--state-dir", str(tmp_path)]).services}

    monkeypatch.setenv("INVENTORY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/inventory_dev")
    config = stack.parse_config(["up", "--state-dir", str(tmp_path)])

    assert "inventory" in {s.name for s in config.services}
    assert config.service_database_urls["inventory"].endswith("/inventory_dev")


def test_make_up_tells_the_monolith_where_the_inventory_service_listens_when_it_runs_it(monkeypatch, tmp_path):
    # Placing an order reserves stock through the inventory service once it owns inventory (docs/seam.md §8): the
    # monolith must reach it on this stack's port, not on a default that another stack may hold.
    monkeypatch.setenv("INVENTORY_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/inventory_dev")
    config = stack.parse_config(["up", "--state-dir", str(tmp_path), "--inventory-port", "9102"])
    keys = {"STRANGLER_ADMIN_TOKEN": "t", "STRANGLER_IDENTITY_KEY": "k"}

    monolith = next(spec for spec in stack.specs(config, keys) if spec.name == "monolith")

    assert monolith.env["INVENTORY_SERVICE_URL"] == "http://127.0.0.1:9102"
    assert monolith.env["STRANGLER_IDENTITY_KEY"] == "k"  # what the service verifies the monolith's calls with

    monkeypatch.delenv("INVENTORY_DATABASE_URL")
    config = stack.parse_config(["up", "--state-dir", str(tmp_path)])
    monolith = next(spec for spec in stack.specs(config, keys) if spec.name == "monolith")
    assert "INVENTORY_SERVICE_URL" not in monolith.env  # no service runs: nothing to point at


def test_make_test_runs_a_new_django_service_on_sqlite_and_on_postgresql(with_wishlist):
    suites = {suite.name: suite for suite in run_tests.service_suites(with_wishlist)}

    folder = next(s.folder for s in with_wishlist if s.name == "wishlist")
    assert suites[f"{folder} (SQLite)"].env == {"DATABASE_URL": "sqlite:///:memory:"}
    assert suites[f"{folder} (PostgreSQL)"].needs_pg
    assert "extracted/inventory (PostgreSQL)" in suites and "extracted/inventory (SQLite)" not in suites


def test_make_test_runs_every_listed_service():
    names = {suite.name for suite in run_tests.SUITES}

    for service in service_list.load():
        assert f"{service.folder} (PostgreSQL)" in names


def test_compose_gives_a_new_service_its_database_sync_worker_secret_and_seam(with_wishlist):
    rendered = compose.render(with_wishlist)

    for line in (
        "  wishlist:",
        "  wishlist-db:",
        "  wishlist-sync:",
        "      SECRET_KEY: ${WISHLIST_SECRET_KEY:?set WISHLIST_SECRET_KEY}",
        "      WISHLIST_SERVICE_URL: http://wishlist:8000",
        "      wishlist: {condition: service_healthy}",
    ):
        assert line in rendered.splitlines(), line
    assert "WISHLIST_SECRET_KEY" in compose.secret_variables(with_wishlist)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda e: e.replace('kind = "django"', 'kind = "rails"'), "kind must be one of"),
        (lambda e: e.replace("port = 8009\n", ""), "missing port"),
        (lambda e: e.replace("port = 8009", "port = 8001"), "same port: 8001"),
        (lambda e: e.replace('health = "/healthz"', 'health = "/healthz"\nhealth_check = 1'), "unknown field"),
        (lambda e: e.replace('databases = ["sqlite", "postgresql"]', 'databases = ["mysql"]'), "databases"),
        (lambda e: e.replace(STAND_IN_SPEC, "extracted/services.toml"), "spec must be in migration-playbook/specs"),
    ],
)
def test_a_mistake_in_the_list_names_the_service_and_the_field(tmp_path, root, change, named):
    entry = change(WISHLIST.format(folder=tmp_path, spec=STAND_IN_SPEC))
    listed = tmp_path / "services.toml"
    listed.write_text((root / "extracted" / "services.toml").read_text() + textwrap.dedent(entry))

    with pytest.raises(service_list.ServiceListError, match=named) as refused:
        service_list.load(listed)

    assert "wishlist" in str(refused.value) or "same port" in str(refused.value)
