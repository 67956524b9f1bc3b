"""The import-linter contract in monolith/.importlinter holds, and it would catch an app reaching into another
app's models. The second half matters as much as the first: a contract that cannot fail guards nothing."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MONOLITH = Path(__file__).resolve().parents[2]
CONFIG = MONOLITH / ".importlinter"
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def root_packages() -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    return parser["importlinter"]["root_packages"].split()


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", str(tree / ".importlinter")],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=60,
    )


VIOLATIONS = [("orders", "catalog"), ("reviews", "customers"), ("inventory", "orders"), ("catalog", "reviews")]


@pytest.fixture(scope="module")
def broken_tree(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """lint-imports on a copy of the monolith in which some apps reach into other apps' models, and one app
    uses another app's selectors (allowed)."""
    tree = tmp_path_factory.mktemp("monolith")
    for package in root_packages():
        shutil.copytree(MONOLITH / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CONFIG, tree / ".importlinter")
    for importer, imported in VIOLATIONS:
        (tree / importer / "reaches_in.py").write_text(f"from {imported}.models import *  # noqa\n")
    (tree / "reviews" / "uses_selectors.py").write_text("from inventory import selectors  # noqa\n")
    return lint_imports(tree)


def test_the_monolith_keeps_its_import_contracts():
    result = lint_imports(MONOLITH)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("importer", "imported"), VIOLATIONS)
def test_the_contract_breaks_when_an_app_imports_another_apps_models(broken_tree, importer, imported):
    assert broken_tree.returncode == 1, broken_tree.stdout + broken_tree.stderr
    assert f"Illegal imports of protected package {imported}:" in broken_tree.stdout
    assert f"{importer}.reaches_in -> {imported}.models" in broken_tree.stdout


def test_importing_another_apps_selectors_is_allowed(broken_tree):
    assert "reviews.uses_selectors" not in broken_tree.stdout
