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


@pytest.fixture(scope="module")
def copied_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the monolith's packages that a test may break without touching the real ones."""
    tree = tmp_path_factory.mktemp("monolith")
    for package in root_packages():
        shutil.copytree(MONOLITH / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CONFIG, tree / ".importlinter")
    return tree


def test_the_monolith_keeps_its_import_contracts():
    result = lint_imports(MONOLITH)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(
    ("importer", "imported"),
    [("orders", "catalog"), ("reviews", "customers"), ("inventory", "orders"), ("catalog", "reviews")],
)
def test_the_contract_breaks_when_an_app_imports_another_apps_models(copied_tree: Path, importer, imported):
    violation = copied_tree / importer / "reaches_in.py"
    violation.write_text(f"from {imported}.models import *  # noqa\n")
    try:
        result = lint_imports(copied_tree)
    finally:
        violation.unlink()

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Illegal imports of protected package {imported}:" in result.stdout
    assert f"{importer}.reaches_in -> {imported}.models" in result.stdout


def test_importing_another_apps_selectors_is_allowed(copied_tree: Path):
    first, second = "reviews", "inventory"
    allowed = copied_tree / first / "uses_selectors.py"
    allowed.write_text(f"from {second} import selectors  # noqa\n")
    try:
        result = lint_imports(copied_tree)
    finally:
        allowed.unlink()

    assert result.returncode == 0, result.stdout + result.stderr
