"""The house style that a tool can check, checked on every `make test`: ruff (lint and format) everywhere, mypy
strict on proxy/ and migration-playbook/, the monolith's import contract that keeps its apps extractable, and the
proxy's that keeps its layers (proxy/tests/test_architecture.py proves it reports violations)."""

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def run(root: Path, *argv: str, cwd: str = ".") -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=root / cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("check", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_finds_nothing(root: Path, check: list[str]) -> None:
    result = run(root, str(BIN / "ruff"), *check, ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_on_the_proxy_and_the_playbook(root: Path) -> None:
    result = run(root, str(BIN / "mypy"), "--strict", "proxy/src", "migration-playbook/src")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_on_the_inventory_service(root: Path) -> None:
    result = run(root, str(BIN / "mypy"), "--strict", "extracted/inventory/inventory_service")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_monoliths_apps_keep_their_import_boundaries(root: Path) -> None:
    result = run(root, str(BIN / "lint-imports"), cwd="monolith")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_engines_packages_keep_their_layers(root: Path) -> None:
    result = run(root, str(BIN / "lint-imports"), "--no-cache", cwd="migration-playbook")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_proxys_layers_keep_their_import_contract(root: Path) -> None:
    result = run(root, str(BIN / "lint-imports"), "--no-cache", cwd="proxy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
