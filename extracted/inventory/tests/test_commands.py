"""The service's commands: configuration refused loudly by name, migrations applied once."""

import psycopg
import pytest

from conftest import run_command


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite:///x.db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://h/db"}, "STRANGLER_IDENTITY_KEY"),
        ({"DATABASE_URL": "postgresql://h/db", "STRANGLER_IDENTITY_KEY": "short"}, "STRANGLER_IDENTITY_KEY"),
        ({"DATABASE_URL": "postgresql://h/db", "STRANGLER_IDENTITY_KEY": "k" * 32}, "CATALOG_URL"),
        (
            {"DATABASE_URL": "postgresql://h/db", "STRANGLER_IDENTITY_KEY": "k" * 32, "CATALOG_URL": "http://c"},
            "ALLOWED_HOSTS",
        ),
    ],
)
def test_serve_refuses_to_start_without_its_configuration_and_names_the_variable(env, named):
    done = run_command(["serve", "--port", "1"], env | {"CATALOG_URL": env.get("CATALOG_URL", "")})

    assert done.returncode == 2
    assert named in done.stderr


def test_migrate_applies_each_file_once(database_url):
    again = run_command(["migrate"], {"DATABASE_URL": database_url})

    assert again.returncode == 0, again.stderr
    assert "nothing" in again.stdout
    with psycopg.connect(database_url) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM inventory_service_migration ORDER BY name")]
    assert names == ["0001_inventory", "0002_idempotency_keys", "0003_order_holds"]


def test_check_reports_a_valid_configuration_and_an_up_to_date_database(database_url):
    env = {
        "DATABASE_URL": database_url,
        "STRANGLER_IDENTITY_KEY": "k" * 32,
        "CATALOG_URL": "http://127.0.0.1:9",
        "ALLOWED_HOSTS": "*",
    }
    done = run_command(["check"], env)
    assert done.returncode == 0, done.stderr
