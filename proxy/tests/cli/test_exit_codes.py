"""Exit codes are defined once for every `strangler` group, and each group's --help lists the ones it uses."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from strangler_proxy.cli import exit_codes
from strangler_proxy.cli.main import cli
from strangler_proxy.errors import AdminCallFailed, AdminUnreachable, DataNotReady, Problem, StaleVersion, TableInvalid

TABLE = """\
0 ok
1 usage or invalid input
2 conflict: changed since read, re-read and retry
3 cannot reach a dependency (admin API, route store, database)
4 not authorised (token)
5 refused: out of order or by a gate (the message names the step to run first)
6 a database refused an operation mid-run
7 handover aborted, previous state restored
8 differences found (verify)
9 schema mismatch (a table or column is missing)"""


def test_the_table_is_the_one_every_group_shares() -> None:
    assert "\n".join(f"{code} {meaning}" for code, meaning in exit_codes.MEANINGS.items()) == TABLE
    named = (exit_codes.OK, exit_codes.INVALID, exit_codes.CONFLICT, exit_codes.UNREACHABLE, exit_codes.NOT_AUTHORISED)
    assert named == (0, 1, 2, 3, 4)
    assert (exit_codes.REFUSED, exit_codes.DIFFERENCES, exit_codes.SCHEMA_MISMATCH) == (5, 8, 9)


@pytest.mark.parametrize(
    ("command", "codes"),
    [
        ([], tuple(exit_codes.MEANINGS)),
        (["proxy"], exit_codes.PROXY_CODES),
        (["routes"], exit_codes.ROUTES_CODES),
        (["routes", "upstream"], exit_codes.ROUTES_CODES),
        (["diffs"], exit_codes.DIFFS_CODES),
        (["replay"], exit_codes.REPLAY_CODES),
    ],
    ids=["strangler", "proxy", "routes", "routes upstream", "diffs", "replay"],
)
def test_each_groups_help_lists_its_exit_codes(command: list[str], codes: tuple[int, ...]) -> None:
    shown = CliRunner().invoke(cli, [*command, "--help"], prog_name="strangler")
    assert shown.exit_code == 0, shown.output
    listed = [line.split(None, 1) for line in shown.output.split("Exit codes:")[1].strip().splitlines()]
    assert [(int(code), meaning) for code, meaning in listed] == [(c, exit_codes.MEANINGS[c]) for c in codes]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AdminCallFailed(401, "unauthorized", "wrong token"), exit_codes.NOT_AUTHORISED),
        (AdminCallFailed(403, "forbidden", "no token off loopback"), exit_codes.NOT_AUTHORISED),
        (AdminCallFailed(409, "stale_version", "changed"), exit_codes.CONFLICT),
        (AdminCallFailed(409, "data_not_ready", "run verify"), exit_codes.REFUSED),
        (AdminCallFailed(422, "validation_failed", "bad"), exit_codes.INVALID),
        (AdminCallFailed(503, "store_unavailable", "down"), exit_codes.UNREACHABLE),
        (AdminUnreachable(0, "admin_unreachable", "nothing there"), exit_codes.UNREACHABLE),
        (StaleVersion(1, 2), exit_codes.CONFLICT),
        (DataNotReady([Problem("/api/catalog", "run verify")]), exit_codes.REFUSED),
        (TableInvalid([Problem("percent", "too big")]), exit_codes.INVALID),
    ],
)
def test_an_error_exits_with_the_same_code_whichever_group_met_it(error: Exception, code: int) -> None:
    assert exit_codes.exit_code_for(error) == code  # type: ignore[arg-type]
