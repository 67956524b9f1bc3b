"""`strangler` as operators run it: a subprocess against a real proxy, --json output and documented exit codes."""

from __future__ import annotations

import json
import re
import shutil
import socket
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from control_plane_helpers import ProxyProcess, proxy_process, run_cli, upstream_server, wait_for
from strangler_proxy.edge.nginx_control import check_config, find_nginx

pytest_plugins = ("control_plane_fixtures",)


@dataclass
class Running:
    proxy: ProxyProcess
    monolith: str
    catalog: str
    tmp: Path

    def cli(self, *args: str, **kwargs: Any) -> Any:
        return run_cli(*args, admin_url=self.proxy.admin_url, **kwargs)

    def cli_json(self, *args: str, expect: int = 0) -> Any:
        result = self.cli(*args, "--json")
        assert result.returncode == expect, (result.stdout, result.stderr)
        return json.loads(result.stdout)

    def routes_file(self, stage: str = "canary", percent: int = 10, service: str = "catalog") -> Path:
        path = self.tmp / "routes.toml"
        path.write_text(
            textwrap.dedent(f"""\
                [upstreams.monolith]
                url = "{self.monolith}"

                [upstreams.catalog]
                url = "{self.catalog}"
                read_timeout = 5

                [[routes]]
                path = "/api/catalog"
                service = "{service}"
                stage = "{stage}"
                percent = {percent}
                sticky = "cookie:sessionid"
            """)
        )
        return path


@contextmanager
def stack(folder: Path) -> Iterator[Running]:
    with (
        upstream_server("monolith") as monolith,
        upstream_server("catalog") as catalog,
        proxy_process(STRANGLER_ROUTE_STORE=str(folder / "r.sqlite3"), STRANGLER_MONOLITH_URL=monolith) as proxy,
    ):
        yield Running(proxy, monolith, catalog, folder)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """A proxy of its own, for a test that changes routes."""
    with stack(tmp_path) as started:
        yield started


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One proxy shared by the tests that must leave the table at its seeded version 1 (each asserts it does)."""
    with stack(tmp_path_factory.mktemp("pristine")) as started:
        yield started


def test_list_shows_the_seeded_table(pristine: Running) -> None:
    listed = pristine.cli_json("routes", "list")
    assert listed["version"] == 1 and listed["author"] == "strangler proxy (seed)"
    assert listed["table"]["upstreams"]["monolith"]["url"] == pristine.monolith and listed["table"]["routes"] == []
    human = pristine.cli("routes", "list")
    assert human.returncode == 0 and "route table version 1" in human.stdout and "(default)" in human.stdout


def test_apply_shows_the_diff_then_applies_and_the_same_file_again_changes_nothing(running: Running) -> None:
    routes = running.routes_file(stage="live", percent=0)
    plan = running.cli_json("routes", "apply", str(routes), "--dry-run")
    assert plan["dry_run"] and not plan["applied"] and plan["changed"] and plan["version"] == 1
    assert plan["diff"] == [f"+ upstream catalog {running.catalog}", "+ route /api/catalog -> catalog (live)"]
    assert running.cli_json("routes", "list")["version"] == 1

    applied = running.cli("routes", "apply", str(routes))
    assert applied.returncode == 0, applied.stderr
    assert "diff against version 1:" in applied.stdout and "applied: route table version 2" in applied.stdout
    took = wait_for(lambda: httpx.get(running.proxy.public_url + "/api/catalog/7").json()["upstream"] == "catalog", 1)
    assert took < 1

    again = running.cli_json("routes", "apply", str(routes))
    assert again == {
        "dry_run": False,
        "applied": False,
        "previous_version": 2,
        "version": 2,
        "changed": False,
        "diff": [],
    }
    assert running.cli_json("routes", "history")["versions"][0]["reason"] == "apply routes.toml"


def test_export_writes_a_file_that_applies_as_a_no_op(running: Running) -> None:
    assert running.cli("routes", "apply", str(running.routes_file())).returncode == 0
    exported = running.cli("routes", "export")
    assert exported.returncode == 0 and 'sticky = "cookie:sessionid"' in exported.stdout
    path = running.tmp / "exported.toml"
    path.write_text(exported.stdout)
    assert running.cli_json("routes", "apply", str(path))["changed"] is False


def test_export_as_nginx_reads_the_running_table_and_nginx_accepts_it(running: Running) -> None:
    assert running.cli("routes", "apply", str(running.routes_file())).returncode == 0
    exported = running.cli(
        "routes", "export", "--format", "nginx", "--standalone", "--comparator", "http://127.0.0.1:9"
    )
    assert exported.returncode == 0, exported.stderr
    assert (
        "# Strangler route table version 2," in exported.stdout and '"~^[^:]+:/api/catalog(?:/|$)"' in exported.stdout
    )
    (running.tmp / "nginx.conf").write_text(exported.stdout)
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        check_config(find_nginx(), running.tmp / "nginx.conf", running.tmp)


def test_set_history_and_rollback_are_audited_versions(running: Running) -> None:
    running.cli("routes", "apply", str(running.routes_file()))
    changed = running.cli_json(
        "routes", "set", "/api/catalog", "--stage", "canary", "--percent", "30", "--reason", "diff rate 0"
    )
    assert changed["version"] == 3 and changed["previous_version"] == 2
    assert changed["diff"] == ["~ route /api/catalog -> catalog: canary 10% -> canary 30%"]
    newest = running.cli_json("routes", "history", "--limit", "2")["versions"]
    assert [(v["version"], v["author"], v["reason"]) for v in newest] == [
        (3, "alice@test", "diff rate 0"),
        (2, "alice@test", "apply routes.toml"),
    ]
    back = running.cli_json("routes", "rollback", "--reason", "errors up")
    assert back["version"] == 4 and back["diff"] == ["~ route /api/catalog -> catalog: canary 30% -> canary 10%"]
    to_first = running.cli_json("routes", "rollback", "--to", "1", "--reason", "abort extraction")
    assert to_first["version"] == 5 and "- upstream catalog" in to_first["diff"][0]
    history = running.cli("routes", "history")
    assert (
        "version 5" in history.stdout
        and "(rollback to 1)" in history.stdout
        and "why: abort extraction" in history.stdout
    )


def test_a_new_route_needs_a_known_service(pristine: Running) -> None:
    result = pristine.cli(
        "routes", "set", "/api/orders", "--service", "orders", "--stage", "live", "--reason", "r", "--json"
    )
    assert result.returncode == 1
    error = json.loads(result.stdout)
    assert error["error"] == "validation_failed" and error["problems"][0]["field"] == "service"
    human = pristine.cli("routes", "set", "/api/orders", "--service", "orders", "--stage", "live", "--reason", "r")
    assert human.returncode == 1 and "'orders' is not a known upstream" in human.stderr
    assert pristine.cli_json("routes", "list")["version"] == 1


def test_a_stale_version_exits_2_and_says_to_re_read(running: Running) -> None:
    running.cli("routes", "apply", str(running.routes_file()))
    result = running.cli("routes", "set", "/api/catalog", "--stage", "live", "--reason", "r", "--expect-version", "1")
    assert result.returncode == 2 and "read it again" in result.stderr
    as_json = running.cli(
        "routes", "set", "/api/catalog", "--stage", "live", "--reason", "r", "--expect-version", "1", "--json"
    )
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["current_version"] == 2
    assert running.cli_json("routes", "list")["version"] == 2


def test_auth_failures_exit_4_and_say_which_variable_to_set(pristine: Running) -> None:
    wrong = pristine.cli("routes", "list", token="not-the-token-0123456789")
    assert wrong.returncode == 4 and "STRANGLER_ADMIN_TOKEN" in wrong.stderr
    assert "not-the-token" not in wrong.stderr
    missing = pristine.cli("routes", "list", "--json", token=None)
    assert missing.returncode == 4 and json.loads(missing.stdout)["error"] == "unauthorized"


def test_an_unreachable_admin_api_exits_3(pristine: Running) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = run_cli("routes", "list", admin_url=closed)
    assert (
        result.returncode == 3
        and "cannot reach the admin API" in result.stderr
        and "STRANGLER_ADMIN_URL" in result.stderr
    )
    public = run_cli("routes", "list", admin_url=pristine.proxy.public_url)
    assert public.returncode == 3 and "is this the admin listener" in public.stderr


def test_bad_files_and_bad_usage_exit_1_before_calling_the_api(pristine: Running, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[routes]]\npath = /api\n")
    result = run_cli("routes", "apply", str(broken), admin_url="http://127.0.0.1:9")
    assert result.returncode == 1 and "broken.toml is not valid TOML" in result.stderr and "line 2" in result.stderr
    invalid = pristine.routes_file(stage="live", percent=50)
    result = run_cli("routes", "apply", str(invalid), "--json", admin_url="http://127.0.0.1:9")
    assert result.returncode == 1 and json.loads(result.stdout)["problems"][0]["field"] == "routes[0].percent"
    missing = run_cli("routes", "apply", str(tmp_path / "nope.toml"), admin_url="http://127.0.0.1:9")
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    no_reason = pristine.cli("routes", "set", "/api/catalog", "--stage", "live")
    assert no_reason.returncode == 1 and "Missing option '--reason'" in no_reason.stderr
    assert pristine.cli("routes", "frobnicate").returncode == 1
    assert pristine.cli_json("routes", "list")["version"] == 1


def test_help_teaches_with_examples_and_exit_codes() -> None:
    top = run_cli("--help", admin_url="http://127.0.0.1:9")
    assert top.returncode == 0 and "strangler routes set /api/catalog" in top.stdout and "Exit codes" in top.stdout
    for command, teaches in [
        (["routes", "--help"], "strangler routes rollback --to 3"),
        (["routes", "apply", "--help"], "FILE looks like"),
        (["routes", "set", "--help"], "--stage canary --percent 25"),
        (["proxy", "--help"], "STRANGLER_ADMIN_TOKEN"),
    ]:
        shown = run_cli(*command, admin_url="http://127.0.0.1:9")
        assert shown.returncode == 0 and teaches in shown.stdout, command
    assert run_cli(admin_url="http://127.0.0.1:9").returncode == 0


def test_a_plugin_group_is_loaded_and_a_broken_one_is_skipped_with_a_warning(tmp_path: Path) -> None:
    dist = tmp_path / "strangler_fake_plugins-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: strangler-fake-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[strangler.commands]\nbroken = strangler_missing_module:group\nhello = fake_hello:hello\n"
    )
    (tmp_path / "fake_hello.py").write_text(
        "import click\n\n@click.command()\ndef hello():\n    '''Say hello.'''\n    click.echo('hello from a plugin')\n"
    )
    env = {"PYTHONPATH": str(tmp_path)}
    listed = run_cli("--help", admin_url="http://127.0.0.1:9", env=env)
    assert listed.returncode == 0 and "hello" in listed.stdout
    assert "warning: skipping `strangler broken`" in listed.stderr and "strangler_missing_module" in listed.stderr
    said = run_cli("hello", admin_url="http://127.0.0.1:9", env=env)
    assert said.returncode == 0 and said.stdout == "hello from a plugin\n"


def test_a_file_with_several_problems_lists_each_one_once(pristine: Running, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[upstreams.monolith]\nurl = "http://m:1"\n[[routes]]\npath = "/a/"\nservice = "ghost"\n')
    result = run_cli("routes", "apply", str(bad), admin_url=pristine.proxy.admin_url)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: 2 problems, nothing was changed:",
        "  - routes[0].path: '/a/' must not end with / "
        "(a prefix matches with and without a trailing slash): write '/a'",
        "  - routes[0].service: 'ghost' is not a known upstream (known: monolith); add it under [upstreams] first",
    ]
    assert pristine.cli_json("routes", "list")["version"] == 1


def test_an_upstream_can_be_added_then_routed_to_and_is_kept_while_in_use(running: Running) -> None:
    added = running.cli_json("routes", "upstream", "set", "catalog", "--url", running.catalog, "--reason", "deployed")
    assert added["version"] == 2 and added["diff"] == [f"+ upstream catalog {running.catalog}"]
    live = ("routes", "set", "/api/catalog", "--service", "catalog", "--stage", "live", "--reason", "go")
    assert running.cli(*live).returncode == 0
    wait_for(lambda: httpx.get(running.proxy.public_url + "/api/catalog").json()["upstream"] == "catalog", 1)
    in_use = running.cli("routes", "upstream", "remove", "catalog", "--reason", "oops")
    assert in_use.returncode == 1 and "is the service of /api/catalog" in in_use.stderr
    tuned = running.cli_json("routes", "upstream", "set", "catalog", "--read-timeout", "5", "--reason", "fail fast")
    assert tuned["diff"] == ["~ upstream catalog: read_timeout 30.0 -> 5.0"]


def test_canary_without_a_percentage_is_refused_before_anything_changes(running: Running) -> None:
    running.cli("routes", "apply", str(running.routes_file(stage="shadow", percent=0)))
    refused = running.cli("routes", "set", "/api/catalog", "--stage", "canary", "--reason", "forgot the share")
    assert refused.returncode == 1 and "--stage canary needs --percent N" in refused.stderr
    assert running.cli_json("routes", "list")["version"] == 2


def test_list_shows_the_data_each_route_stands_on_and_never_says_none(running: Running) -> None:
    running.cli("routes", "apply", str(running.routes_file(stage="shadow", percent=0)))
    bound = running.cli("routes", "set", "/api/catalog", "--data", "catalog", "--reason", "stands on its data")
    assert bound.returncode == 0, bound.stderr
    running.cli("routes", "set", "/api/orders", "--service", "catalog", "--stage", "off", "--reason", "no data")
    listed = running.cli("routes", "list")
    header = next(line for line in listed.stdout.splitlines() if line.strip().startswith("PATH"))
    assert header.split() == ["PATH", "METHODS", "SERVICE", "STAGE", "DATA", "STICKY", "CREDENTIALS", "GATE"]
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines() if line.strip().startswith("/api/")}
    assert rows["/api/catalog"][4] == "catalog" and rows["/api/orders"][4] == "-"
    for command in (["routes", "list"], ["routes", "history"], ["routes", "export"]):
        shown = running.cli(*command)
        assert shown.returncode == 0 and not re.search(r"\bNone\b", shown.stdout + shown.stderr), command


def test_a_route_opted_in_names_the_upstream_that_answered_and_every_answer_has_a_request_id(running: Running) -> None:
    running.cli("routes", "apply", str(running.routes_file(stage="live", percent=0)))
    opted = running.cli_json("routes", "set", "/api/catalog", "--upstream-header", "--reason", "debug who answers")
    assert opted["diff"] == ["~ route /api/catalog: upstream_header off -> on"]
    wait_for(lambda: "x-strangler-upstream" in httpx.get(running.proxy.public_url + "/api/catalog/1").headers, 2)
    answer = httpx.get(running.proxy.public_url + "/api/catalog/1", headers={"X-Request-Id": "op-42"})
    assert answer.headers["x-strangler-upstream"] == "catalog" and answer.headers["x-request-id"] == "op-42"
    other = httpx.get(running.proxy.public_url + "/elsewhere")
    assert "x-strangler-upstream" not in other.headers and other.headers["x-request-id"]
    assert "upstream_header = true" in running.cli("routes", "export").stdout


def test_a_route_forwards_the_clients_credentials_only_when_it_opts_in(running: Running) -> None:
    running.cli("routes", "apply", str(running.routes_file(stage="live", percent=0)))

    def credentials_column() -> str:
        listed = running.cli("routes", "list").stdout
        return next(line for line in listed.splitlines() if line.strip().startswith("/api/catalog")).split()[6]

    assert credentials_column() == "identity"
    opted = running.cli_json("routes", "set", "/api/catalog", "--forward-credentials", "--reason", "acts as the client")
    assert opted["diff"] == ["~ route /api/catalog: forward_credentials off -> on"]
    assert credentials_column() == "forwarded"
    assert "forward_credentials = true" in running.cli("routes", "export").stdout
