from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from strangler_playbook.cli import data, handover_commands
from strangler_playbook.cli.group import LAZY_COMMANDS

import catalog_fixture


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(data, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def snapshot(url: str) -> list[tuple]:
    """Everything a failed command must not have touched: the schema objects and the rows."""
    if catalog_fixture.is_pg(url):
        objects = catalog_fixture.fetch(
            url,
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace UNION ALL "
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
        )
    else:
        objects = catalog_fixture.fetch(url, "SELECT name FROM sqlite_master ORDER BY name")
    rows = catalog_fixture.fetch(url, "SELECT count(*), coalesce(sum(id), 0) FROM catalog_product")
    return objects + rows


@pytest.fixture
def sqlite_pair(make_sqlite) -> tuple[str, str]:
    source, target = make_sqlite(), make_sqlite()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=300)
    return source, target


def test_the_whole_flow_through_the_cli_ends_clean_with_status_showing_it(
    sqlite_pair: tuple[str, str], spec_path: Path
) -> None:
    source, target = sqlite_pair
    common = [str(spec_path), "--source", source, "--target", target, "--json"]
    assert run("backfill", *common)[0] == 0
    catalog_fixture.execute(source, "UPDATE catalog_product SET name = 'changed' WHERE id = 3")
    code, out, _ = run("sync", *common)
    assert code == 0 and json.loads(out)["applied"] == 1
    assert catalog_fixture.fetch(source, "SELECT count(*) FROM _strangler_catalog_changelog") == [(0,)]  # pruned
    assert run("verify", *common)[0] == 0
    code, out, _ = run("status", *common)
    status = json.loads(out)
    assert code == 0
    assert status["phase"] == "syncing"
    assert status["rows_copied"] == 310
    assert status["sync"] == {"applied": 1, "pending_changes": 0, "lag_s": 0.0}
    assert status["last_verify"]["clean"] is True


def test_plan_says_what_will_happen_and_changes_nothing(sqlite_pair: tuple[str, str], spec_path: Path) -> None:
    source, target = sqlite_pair
    before = snapshot(source), snapshot(target)
    code, out, _ = run("plan", str(spec_path), "--source", source, "--target", target, "--json")
    plan = json.loads(out)
    assert code == 0
    assert [(t["source"], t["source_rows"], t["target_rows"], t["capture_installed"]) for t in plan["tables"]] == [
        ("catalog_category", 10, 0, False),
        ("catalog_product", 300, 0, False),
    ]
    assert plan["steps"][0].startswith("install change capture")
    assert (snapshot(source), snapshot(target)) == before
    code, out, _ = run("plan", str(spec_path), "--source", source, "--target", target)
    assert code == 0 and "catalog_product" in out and "steps" in out


def test_plan_reports_a_missing_target_table_as_a_step_to_take_first(make_sqlite, spec_path: Path) -> None:
    source, target = make_sqlite(), make_sqlite()
    catalog_fixture.create_schema(source)
    code, out, _ = run("plan", str(spec_path), "--source", source, "--target", target, "--json")
    plan = json.loads(out)
    assert code == 0
    assert plan["tables"][0]["target_exists"] is False
    assert any(step.startswith("STOP: target table catalog_category is missing") for step in plan["steps"])


def test_verify_exits_8_and_names_the_rows_when_the_target_differs(
    sqlite_pair: tuple[str, str], spec_path: Path
) -> None:
    source, target = sqlite_pair
    common = [str(spec_path), "--source", source, "--target", target]
    run("backfill", *common)
    catalog_fixture.execute(target, "DELETE FROM catalog_product WHERE id = 42")
    code, out, err = run("verify", *common)
    assert code == 8
    assert "missing (1): [42]" in out
    assert "the sync applied every change logged meanwhile (drift): `strangler data repair SPEC`" in err


def test_a_spec_with_an_unknown_key_exits_1_and_names_it(sqlite_pair: tuple[str, str], tmp_path: Path) -> None:
    source, target = sqlite_pair
    spec = catalog_fixture.write_spec(
        tmp_path, 'name = "catalog"\n[[tables]]\nsource = "catalog_product"\nfitler = "x"\n'
    )
    before = snapshot(source), snapshot(target)
    code, out, _err = run("backfill", str(spec), "--source", source, "--target", target, "--json")
    assert code == 1
    assert "unknown key 'fitler'" in json.loads(out)["error"]
    assert (snapshot(source), snapshot(target)) == before


def test_a_spec_that_is_not_toml_exits_1(tmp_path: Path) -> None:
    spec = catalog_fixture.write_spec(tmp_path, "name = \n")
    code, _, err = run("plan", str(spec), "--source", "x.db", "--target", "y.db")
    assert code == 1 and "not valid TOML" in err


def test_a_missing_source_table_exits_9_and_changes_nothing(sqlite_pair: tuple[str, str], tmp_path: Path) -> None:
    source, target = sqlite_pair
    spec = catalog_fixture.write_spec(tmp_path, 'name = "catalog"\n[[tables]]\nsource = "catalog_products"\n')
    before = snapshot(source), snapshot(target)
    code, _, err = run("backfill", str(spec), "--source", source, "--target", target)
    assert code == 9
    assert "source table catalog_products does not exist" in err
    assert (snapshot(source), snapshot(target)) == before


@pytest.mark.parametrize("engine", ["sqlite", "pg"])
def test_an_unknown_column_exits_9_names_the_real_columns_and_changes_nothing(
    make_db, tmp_path: Path, engine: str
) -> None:
    source, target = make_db(engine), make_db(engine)
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=20)
    spec = catalog_fixture.write_spec(
        tmp_path, 'name = "catalog"\n[[tables]]\nsource = "catalog_product"\ncolumns = ["id", "sku", "colour"]\n'
    )
    before = snapshot(source), snapshot(target)
    code, _, err = run("backfill", str(spec), "--source", source, "--target", target)
    assert code == 9
    assert "column colour does not exist in source table catalog_product" in err
    assert "its columns are: id, sku" in err
    assert (snapshot(source), snapshot(target)) == before


def test_an_unreachable_postgres_exits_3_with_what_to_check(sqlite_pair: tuple[str, str], spec_path: Path) -> None:
    source, _ = sqlite_pair
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    before = snapshot(source)
    code, out, err = run(
        "backfill", str(spec_path), "--source", source, "--target", f"postgresql://u@127.0.0.1:{port}/x", "--json"
    )
    assert code == 3
    assert "cannot connect to target database" in err
    assert "PostgreSQL is running" in json.loads(out)["hint"]
    assert snapshot(source) == before


def test_a_missing_sqlite_file_exits_3_and_is_not_created(spec_path: Path, tmp_path: Path) -> None:
    code, _, err = run(
        "plan", str(spec_path), "--source", str(tmp_path / "nope.db"), "--target", str(tmp_path / "t.db")
    )
    assert code == 3 and "does not exist" in err
    assert not (tmp_path / "nope.db").exists()


def test_no_database_url_exits_3_naming_the_environment_variable(spec_path: Path) -> None:
    code, _, err = run("status", str(spec_path))
    assert code == 3 and "STRANGLER_SOURCE_URL" in err


def test_a_usage_mistake_exits_1(spec_path: Path) -> None:
    assert run("backfill", str(spec_path), "--chunk-rows", "zero")[0] == 1


@pytest.mark.parametrize("command", ["cutover", "rollback"])
@pytest.mark.parametrize(
    ("option", "value"),
    [
        *[("--hold-settle", v) for v in ("-1", "-0.5", "121", "soon", "nan", "inf")],
        *[("--hold-timeout", v) for v in ("0", "nan")],
        *[("--lease", v) for v in ("0.1", "nan")],
    ],
)
def test_a_hold_option_out_of_its_range_of_seconds_exits_1_naming_it_and_touches_nothing(
    sqlite_pair: tuple[str, str], spec_path: Path, command: str, option: str, value: str
) -> None:
    source, target = sqlite_pair
    before = snapshot(source), snapshot(target)
    code, _, err = run(command, str(spec_path), "--source", source, "--target", target, f"{option}={value}")
    assert code == 1
    assert f"Invalid value for '{option}'" in err and value in err
    assert (snapshot(source), snapshot(target)) == before


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("sync", "--poll"),
        ("sync", "--duration"),
        ("verify", "--settle"),
        ("repair", "--settle"),
        ("follow", "--poll"),
        ("follow", "--duration"),
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_number_of_seconds_that_is_not_finite_exits_1_naming_the_option(
    spec_path: Path, command: str, option: str, value: str
) -> None:
    code, _, err = run(command, str(spec_path), f"{option}={value}")
    assert code == 1
    assert f"Invalid value for '{option}'" in err and value in err


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "fast"])
def test_a_throttle_that_is_not_a_finite_rate_exits_1_naming_it_and_copies_nothing(
    sqlite_pair: tuple[str, str], spec_path: Path, value: str
) -> None:
    source, target = sqlite_pair
    before = snapshot(source), snapshot(target)
    code, _, err = run("backfill", str(spec_path), "--source", source, "--target", target, f"--throttle={value}")
    assert code == 1
    assert "Invalid value for '--throttle'" in err and value in err
    assert (snapshot(source), snapshot(target)) == before


def test_status_reports_pending_changes_and_the_age_of_the_oldest_as_lag(
    sqlite_pair: tuple[str, str], spec_path: Path
) -> None:
    source, target = sqlite_pair
    common = [str(spec_path), "--source", source, "--target", target, "--json"]
    run("backfill", *common)
    catalog_fixture.execute(source, "UPDATE catalog_product SET name = 'a' WHERE id IN (1, 2, 3)")
    time.sleep(0.3)
    status = json.loads(run("status", *common)[1])
    assert status["sync"]["pending_changes"] == 3
    assert status["sync"]["lag_s"] >= 0.3
    assert status["phase"] == "backfilled"


def test_reset_removes_capture_and_state_so_a_new_backfill_starts_over(
    sqlite_pair: tuple[str, str], spec_path: Path
) -> None:
    source, target = sqlite_pair
    common = [str(spec_path), "--source", source, "--target", target, "--json"]
    pristine = snapshot(source)
    run("backfill", *common)
    assert run("reset", *common)[0] == 1  # without --yes
    assert run("reset", *common, "--yes")[0] == 0
    assert snapshot(source) == pristine
    assert json.loads(run("status", *common)[1])["phase"] == "not started"
    catalog_fixture.execute(target, "DELETE FROM catalog_product", "DELETE FROM catalog_category")
    assert run("backfill", *common)[0] == 0
    assert run("verify", *common)[0] == 0


def test_every_option_can_come_from_the_environment(sqlite_pair: tuple[str, str], spec_path: Path) -> None:
    source, target = sqlite_pair
    common = [str(spec_path), "--source", source, "--target", target, "--json"]
    run("backfill", *common)
    catalog_fixture.execute(target, "DELETE FROM catalog_product WHERE id = 7")
    assert run("verify", *common, env={"STRANGLER_DATA_VERIFY_RANGE_ROWS": "1"})[0] == 1  # below its minimum
    code, out, _ = run("verify", *common, env={"STRANGLER_DATA_VERIFY_RANGE_ROWS": "50"})
    assert code == 8
    assert json.loads(out)["tables"][1]["ranges"] == 7  # 300 rows in ranges of 50, plus the tail


@pytest.mark.parametrize("command", [None, *sorted(data.list_commands(click.Context(data)))])
def test_every_commands_help_lists_the_shared_exit_codes(command: str | None) -> None:
    code, out, _ = run(*([command] if command else []), "--help")
    assert code == 0
    table = out[out.index("Exit codes:") :]
    assert [line.split()[0] for line in table.splitlines()[1:] if line.strip()] == [str(n) for n in range(10)]
    assert "7  handover aborted, previous state restored" in table


def test_a_bad_admin_url_exits_1_naming_the_variable_before_touching_anything(
    sqlite_pair: tuple[str, str], spec_path: Path
) -> None:
    source, target = sqlite_pair
    before = snapshot(source), snapshot(target)
    code, out, err = run(
        "publish", str(spec_path), "--source", source, "--target", target, "--json",
        env={"STRANGLER_ADMIN_URL": "127.0.0.1:8081"},
    )  # fmt: skip
    assert code == 1
    assert json.loads(out)["error"].startswith("STRANGLER_ADMIN_URL must be an http(s) URL")
    assert "STRANGLER_ADMIN_URL" in err
    assert (snapshot(source), snapshot(target)) == before


def test_no_human_output_says_none_before_during_or_after_the_data_phases(
    sqlite_pair: tuple[str, str], spec_path: Path
) -> None:
    source, target = sqlite_pair
    common = [str(spec_path), "--source", source, "--target", target]
    said = []
    for command in ("status", "plan", "backfill", "status", "plan", "sync", "verify", "status", "realign"):
        code, out, err = run(command, *common)
        assert code == 0, (command, out, err)
        said.append(out + err)
    catalog_fixture.execute(target, "DELETE FROM catalog_product WHERE id = 5")
    said.append("".join(run("verify", *common)[1:]))
    said.append("".join(run("status", *common, "--reverse")[1:]))
    for text in said:
        assert not re.search(r"\bNone\b", text), text


def test_the_handover_commands_are_listed_by_the_names_their_module_defines() -> None:
    assert sorted(LAZY_COMMANDS) == sorted(command.name for command in handover_commands.COMMANDS)
    assert set(data.list_commands(click.Context(data))) >= set(LAZY_COMMANDS)


# What a backfill runs without: the other phases, the handover and the proxy's admin client it brings (httpx),
# and rich (no terminal here). Each costs start-up time on every run (see the "Start-up" note in the README).
NOT_FOR_BACKFILL = (
    "strangler_playbook.handover",
    "strangler_playbook.verify",
    "strangler_playbook.sync",
    "strangler_playbook.repair",
    "httpx",
    "rich",
)
IMPORTS_OF_A_RUN = """
import json, sys
from strangler_playbook.cli import data
try:
    data.main(sys.argv[1:], prog_name="strangler data")
except SystemExit as exc:
    print(json.dumps({"code": exc.code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def test_backfill_imports_neither_the_other_phases_nor_the_handover(
    sqlite_pair: tuple[str, str], spec_path: Path
) -> None:
    source, target = sqlite_pair
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_OF_A_RUN, "backfill", str(spec_path), "--source", source, "--target", target],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    assert "backfill complete" in done.stdout
    loaded = [m for m in report["modules"] if m.startswith(NOT_FOR_BACKFILL)]
    assert loaded == []
