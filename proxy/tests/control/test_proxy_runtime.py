"""`strangler proxy` as a real process: loud config errors, the admin API only on its own listener, hot reload."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

import httpx
import psycopg
import pytest
from control_plane_helpers import ADMIN_TOKEN, STRANGLER, proxy_env, proxy_process, upstream_server, wait_for
from strangler_proxy import compiled
from strangler_proxy.control.runtime import ensure_seeded
from strangler_proxy.control.settings import Settings
from strangler_proxy.control.store import open_store
from strangler_proxy.control.table_codec import table_from_dict
from strangler_proxy.dataplane.model import RouteTable
from strangler_proxy.errors import SettingsInvalid

pytest_plugins = ("control_plane_fixtures",)

WATCHERS = (
    "select pid from pg_stat_activity "
    "where application_name = 'strangler-proxy-watcher' and datname = current_database()"
)
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def start_failure(**variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STRANGLER, "proxy"], env=proxy_env(**variables), capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"STRANGLER_ADMIN_TOKEN": ""}, "STRANGLER_ADMIN_TOKEN is not set"),
        ({"STRANGLER_ADMIN_TOKEN": "too-short"}, "STRANGLER_ADMIN_TOKEN is too short (9 characters"),
        (
            {"STRANGLER_ADMIN_TOKEN": "", "STRANGLER_ADMIN_INSECURE_DEV": "1", "STRANGLER_ADMIN_LISTEN": "0.0.0.0:0"},
            "STRANGLER_ADMIN_INSECURE_DEV is only allowed with the admin listener on loopback",
        ),
        ({"STRANGLER_ADMIN_INSECURE_DEV": "maybe"}, "STRANGLER_ADMIN_INSECURE_DEV='maybe' must be 1 or 0"),
        ({"STRANGLER_LISTEN": "8080"}, "STRANGLER_LISTEN='8080' must be HOST:PORT"),
        ({"STRANGLER_ADMIN_LISTEN": "127.0.0.1:99999"}, "STRANGLER_ADMIN_LISTEN='127.0.0.1:99999' must be HOST:PORT"),
        ({"STRANGLER_LISTEN": "127.0.0.1:9", "STRANGLER_ADMIN_LISTEN": "127.0.0.1:9"}, "must differ from"),
        ({"STRANGLER_MONOLITH_URL": "ftp://monolith"}, "STRANGLER_MONOLITH_URL 'ftp://monolith' must start with http"),
        ({"STRANGLER_ROUTE_STORE": "/nonexistent/dir/routes.sqlite3"}, "STRANGLER_ROUTE_STORE: the directory"),
        ({"STRANGLER_ROUTE_STORE": "mysql://x/y"}, "STRANGLER_ROUTE_STORE='mysql://x/y' must be a SQLite file path"),
        ({"STRANGLER_STORE_POLL": "never"}, "STRANGLER_STORE_POLL='never'"),
        ({"STRANGLER_LOG_LEVEL": "loud"}, "STRANGLER_LOG_LEVEL='loud' must be one of"),
    ],
    ids=[
        "no token",
        "short token",
        "dev mode off loopback",
        "dev flag not a flag",
        "listen without host",
        "port out of range",
        "same listener twice",
        "bad monolith url",
        "store dir missing",
        "unknown store scheme",
        "bad poll",
        "bad log level",
    ],
)
def test_each_bad_setting_is_refused_naming_the_variable(
    tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    env = proxy_env(STRANGLER_ROUTE_STORE=str(tmp_path / "r.sqlite3")) | variables
    with pytest.raises(SettingsInvalid) as caught:
        Settings.load(env)
    assert message in str(caught.value) and "too-short" not in str(caught.value)


def test_a_keyword_given_to_run_wins_over_the_environment(tmp_path: Path) -> None:
    env = proxy_env(STRANGLER_ROUTE_STORE=str(tmp_path / "r.sqlite3"), STRANGLER_LISTEN="127.0.0.1:1")
    config = Settings.load(env, listen="127.0.0.1:2")
    assert (config.host, config.port, config.admin_port) == ("127.0.0.1", 2, 0)
    assert ADMIN_TOKEN not in repr(config)


def test_the_process_exits_1_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    result = start_failure(STRANGLER_ADMIN_TOKEN="too-short", STRANGLER_ROUTE_STORE=str(tmp_path / "r.sqlite3"))
    assert result.returncode == 1
    assert "STRANGLER_ADMIN_TOKEN is too short" in result.stderr and "Traceback" not in result.stderr
    assert "too-short" not in result.stderr
    bad_setting = start_failure(STRANGLER_RETRIES="many", STRANGLER_MONOLITH_URL="http://127.0.0.1:9")
    assert bad_setting.returncode == 1 and "STRANGLER_RETRIES" in bad_setting.stderr
    for variable, value in [("STRANGLER_IDENTITY_CACHE_SECONDS", "soon"), ("STRANGLER_SERVER_MAX_HEADERS", "0")]:
        refused = start_failure(**{variable: value}, STRANGLER_ROUTE_STORE=str(tmp_path / "r.sqlite3"))
        assert refused.returncode == 1 and f"{variable}={value!r} is invalid" in refused.stderr, refused.stderr
        assert not (tmp_path / "r.sqlite3").exists()  # refused before the route store was opened


def test_an_empty_store_without_a_monolith_url_is_refused(tmp_path: Path) -> None:
    result = start_failure(STRANGLER_ROUTE_STORE=str(tmp_path / "r.sqlite3"))
    assert result.returncode == 1 and "set STRANGLER_MONOLITH_URL" in result.stderr


def test_dev_mode_on_loopback_starts_without_a_token_and_warns(tmp_path: Path) -> None:
    with (
        upstream_server("monolith") as monolith,
        proxy_process(
            STRANGLER_ADMIN_TOKEN="",
            STRANGLER_ADMIN_INSECURE_DEV="1",
            STRANGLER_ROUTE_STORE=str(tmp_path / "r.sqlite3"),
            STRANGLER_MONOLITH_URL=monolith,
        ) as proxy,
    ):
        assert httpx.get(proxy.admin_url + "/routes").json()["version"] == 1
        assert "accepts requests WITHOUT a token" in proxy.log_text()
        # one line says which build serves: the compiled hot path, or pure Python and why (strangler_proxy/compiled.py)
        assert f"serving with the {compiled.status()}" in proxy.log_text()


def test_the_admin_api_is_not_reachable_through_the_public_listener(tmp_path: Path) -> None:
    with (
        upstream_server("monolith") as monolith,
        proxy_process(STRANGLER_ROUTE_STORE=str(tmp_path / "r.sqlite3"), STRANGLER_MONOLITH_URL=monolith) as proxy,
    ):
        for path in ["/routes", "/history", "/metrics", "/healthz", "/apply"]:
            r = httpx.get(proxy.public_url + path, headers=AUTH)
            assert r.json() == {"upstream": "monolith", "path": path}
        r = httpx.post(proxy.public_url + "/apply", headers=AUTH, json={"table": {}, "dry_run": True})
        assert r.json()["upstream"] == "monolith"
        assert httpx.get(proxy.admin_url + "/routes", headers=AUTH).json()["version"] == 1
        metrics = httpx.get(proxy.admin_url + "/metrics", headers=AUTH)
        assert metrics.status_code == 200 and "strangler_proxy_route_table_version 1.0" in metrics.text


def test_secrets_never_reach_the_proxy_log(tmp_path: Path) -> None:
    with (
        upstream_server("monolith") as monolith,
        proxy_process(STRANGLER_ROUTE_STORE=str(tmp_path / "r.sqlite3"), STRANGLER_MONOLITH_URL=monolith) as proxy,
    ):
        httpx.get(proxy.admin_url + "/routes", headers=AUTH)
        httpx.get(proxy.admin_url + "/routes", headers={"Authorization": "Bearer guessed-token-1234567890"})
        httpx.get(proxy.public_url + "/api/x", headers={"Authorization": "Bearer client-secret-1234567890"})
        wait_for(lambda: "GET /routes -> 401" in proxy.log_text(), timeout=5)
    text = proxy.log_text()
    assert ADMIN_TOKEN not in text and "guessed-token" not in text and "client-secret" not in text


def test_a_change_through_the_admin_api_reroutes_the_running_proxy_within_a_second(tmp_path: Path) -> None:
    with (
        upstream_server("monolith") as monolith,
        upstream_server("catalog") as catalog,
        proxy_process(STRANGLER_ROUTE_STORE=str(tmp_path / "r.sqlite3"), STRANGLER_MONOLITH_URL=monolith) as proxy,
    ):
        assert httpx.get(proxy.public_url + "/api/catalog/1").json()["upstream"] == "monolith"
        table = {
            "upstreams": {"monolith": monolith, "catalog": catalog},
            "routes": [{"path": "/api/catalog", "service": "catalog", "stage": "live"}],
        }
        r = httpx.post(
            proxy.admin_url + "/apply", headers=AUTH, json={"table": table, "expected_version": 1, "reason": "go live"}
        )
        assert r.status_code == 200, r.text
        wait_for(lambda: httpx.get(proxy.public_url + "/api/catalog/1").json()["upstream"] == "catalog", timeout=1)
        assert httpx.get(proxy.public_url + "/api/orders").json()["upstream"] == "monolith"


def test_two_proxies_sharing_postgresql_pick_up_a_change_within_a_second(fresh_postgres_url: str) -> None:
    with (
        upstream_server("monolith") as monolith,
        upstream_server("catalog") as catalog,
        proxy_process(STRANGLER_ROUTE_STORE=fresh_postgres_url, STRANGLER_MONOLITH_URL=monolith) as first,
        proxy_process(
            STRANGLER_ROUTE_STORE=fresh_postgres_url, STRANGLER_MONOLITH_URL=monolith, STRANGLER_STORE_POLL="30"
        ) as second,
    ):
        assert httpx.get(second.public_url + "/api/catalog").json()["upstream"] == "monolith"
        version = httpx.get(second.admin_url + "/routes", headers=AUTH).json()["version"]
        table = {
            "upstreams": {"monolith": monolith, "catalog": catalog},
            "routes": [{"path": "/api/catalog", "service": "catalog", "stage": "live"}],
        }
        r = httpx.post(
            first.admin_url + "/apply",
            headers=AUTH,
            json={"table": table, "expected_version": version, "reason": "go live"},
        )
        assert r.status_code == 200, r.text
        # The second proxy polls only every 30 s, so switching within a second means NOTIFY reached it.
        took = wait_for(lambda: httpx.get(second.public_url + "/api/catalog").json()["upstream"] == "catalog", 1)
        print(f"second replica rerouted {took * 1000:.0f} ms after the change")
        assert httpx.get(second.admin_url + "/routes", headers=AUTH).json()["version"] == version + 1


def test_replicas_seeding_an_empty_shared_store_together_make_exactly_one_version(fresh_postgres_url: str) -> None:
    barrier = threading.Barrier(4)
    tables: list[RouteTable] = []

    def start() -> None:
        barrier.wait()
        with open_store(fresh_postgres_url) as store:  # creating the schema races too
            tables.append(ensure_seeded(store, "http://127.0.0.1:8000"))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [t.version for t in tables] == [1, 1, 1, 1]
    with open_store(fresh_postgres_url) as store:
        assert store.latest_version() == 1


def test_a_proxy_whose_store_connection_dies_reconnects_and_catches_up(fresh_postgres_url: str) -> None:
    with (
        upstream_server("monolith") as monolith,
        upstream_server("catalog") as catalog,
        proxy_process(
            STRANGLER_ROUTE_STORE=fresh_postgres_url, STRANGLER_MONOLITH_URL=monolith, STRANGLER_STORE_POLL="30"
        ) as proxy,
    ):
        with psycopg.connect(fresh_postgres_url, autocommit=True) as conn:
            wait_for(lambda: conn.execute(WATCHERS).fetchall() != [], timeout=5)
            killed = conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where application_name = 'strangler-proxy-watcher' and datname = current_database()"
            ).fetchall()
            assert killed == [(True,)]
        table = {
            "upstreams": {"monolith": monolith, "catalog": catalog},
            "routes": [{"path": "/api/catalog", "service": "catalog", "stage": "live"}],
        }
        # Written behind the proxy's back (no admin call, so no immediate local swap): only the watcher can see it.
        with open_store(fresh_postgres_url) as store:
            store.commit(table_from_dict(table), expected_version=1, author="bob", reason="while the watcher was down")
        wait_for(lambda: httpx.get(proxy.public_url + "/api/catalog").json()["upstream"] == "catalog", timeout=5)
        wait_for(lambda: "route store reachable again" in proxy.log_text(), timeout=5)
        assert "route store unreachable, still serving version 1" in proxy.log_text()


def test_two_proxies_sharing_a_sqlite_file_pick_up_a_change_within_a_second(tmp_path: Path) -> None:
    store = str(tmp_path / "shared.sqlite3")
    with (
        upstream_server("monolith") as monolith,
        upstream_server("catalog") as catalog,
        proxy_process(STRANGLER_ROUTE_STORE=store, STRANGLER_MONOLITH_URL=monolith) as first,
        proxy_process(STRANGLER_ROUTE_STORE=store, STRANGLER_MONOLITH_URL=monolith) as second,
    ):
        table = {
            "upstreams": {"monolith": monolith, "catalog": catalog},
            "routes": [{"path": "/api/catalog", "service": "catalog", "stage": "live"}],
        }
        r = httpx.post(
            first.admin_url + "/apply", headers=AUTH, json={"table": table, "expected_version": 1, "reason": "go live"}
        )
        assert r.status_code == 200, r.text
        wait_for(lambda: httpx.get(second.public_url + "/api/catalog").json()["upstream"] == "catalog", 1)


def test_the_mirror_listener_takes_another_data_planes_mirrors(tmp_path: Path) -> None:
    """STRANGLER_MIRROR_LISTEN: nginx's `mirror` target (docs/edge.md); a request no shadow route takes is 204."""
    with proxy_process(
        STRANGLER_ROUTE_STORE=str(tmp_path / "routes.sqlite3"),
        STRANGLER_MONOLITH_URL="http://127.0.0.1:9",
        STRANGLER_MIRROR_LISTEN="127.0.0.1:0",
    ) as proxy:
        line = next(line for line in proxy.output if "strangler proxy ready" in line)
        mirror = re.search(r" mirror=(\S+)", line)
        assert mirror is not None, line
        assert httpx.get(mirror.group(1) + "/api/catalog/1").status_code == 204
