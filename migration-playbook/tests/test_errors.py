"""One exception tree, one exit code per branch: the table every `strangler` group shares."""

from __future__ import annotations

from strangler_proxy.cli import exit_codes

from strangler_playbook import errors
from strangler_playbook.errors import EXIT_CODES_HELP, PlaybookError


def test_every_exit_code_but_ok_belongs_to_exactly_one_branch_of_the_tree() -> None:
    branches = PlaybookError.__subclasses__()
    assert sorted(b.exit_code for b in branches) == [c for c in exit_codes.MEANINGS if c != exit_codes.OK]


def test_a_leaf_exits_as_its_branch() -> None:
    for leaf, branch in [
        (errors.SpecError, errors.InvalidInput),
        (errors.SettingsError, errors.InvalidInput),
        (errors.ProxyRefused, errors.StateError),
    ]:
        assert issubclass(leaf, branch) and leaf.exit_code == branch.exit_code


def test_the_help_table_is_the_proxys_listing_every_code_in_order() -> None:
    assert exit_codes.epilog() == EXIT_CODES_HELP
    lines = EXIT_CODES_HELP.splitlines()[2:]
    assert [int(line.split()[0]) for line in lines] == list(range(10))
    assert "8  differences found (verify)" in EXIT_CODES_HELP
    assert "9  schema mismatch (a table or column is missing)" in EXIT_CODES_HELP


def test_an_error_reads_as_its_message_then_what_to_do() -> None:
    error = errors.ConnectError("cannot connect", hint="start it")
    assert str(error) == "cannot connect\n  → start it"
    assert errors.summary(error) == "cannot connect"
    assert errors.summary(ValueError("bad")) == "ValueError: bad"
