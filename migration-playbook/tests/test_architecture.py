"""The engine's import contracts (.importlinter) hold, and each reports a violation planted in a copy of the package:
a contract that cannot fail guards nothing. Also: no module imports another module's private names."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLAYBOOK = Path(__file__).resolve().parents[1]
PACKAGE = PLAYBOOK / "src" / "strangler_playbook"
CONFIG = PLAYBOOK / ".importlinter"
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the engine's contracts on the `strangler_playbook` found first in `tree`."""
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", str(tree / ".importlinter")],
        cwd=tree,
        # PYTHONPATH comes before the editable install's path, so a planted copy is the one analysed.
        env={**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


PLANTED = {
    # module to add (or extend) → the import planted in it
    "spec/reaches_up.py": "from strangler_playbook.handover import cutover",
    "sync/uses_verify.py": "from strangler_playbook.verify.verify import run_verify",
    "handover/reads_settings.py": "from strangler_playbook.settings import Settings",
    "capture/triggers.py": "from strangler_playbook.capture import feed",
    "unlisted.py": "VALUE = 1",
    "handover/publish.py": "from strangler_proxy.dataplane import model",
    "cli/group.py": "from strangler_proxy.errors import AdminCallFailed",
}


@pytest.fixture(scope="module")
def broken_tree(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    tree = tmp_path_factory.mktemp("playbook")
    shutil.copytree(PACKAGE, tree / "strangler_playbook", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CONFIG, tree / ".importlinter")
    for module, line in PLANTED.items():
        with (tree / "strangler_playbook" / module).open("a") as out:
            out.write(f"\n{line}  # noqa\n")
    return lint_imports(tree)


def test_the_engine_keeps_its_import_contracts() -> None:
    result = lint_imports(PLAYBOOK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("lower", "upper", "line"),
    [
        ("spec", "handover", "strangler_playbook.spec.reaches_up -> strangler_playbook.handover.cutover"),
        ("handover", "settings", "strangler_playbook.handover.reads_settings -> strangler_playbook.settings"),
    ],
)
def test_a_layer_importing_one_above_it_breaks_the_layers(
    broken_tree: subprocess.CompletedProcess[str], lower: str, upper: str, line: str
) -> None:
    assert broken_tree.returncode == 1, broken_tree.stdout + broken_tree.stderr
    assert f"strangler_playbook.{lower} is not allowed to import strangler_playbook.{upper}:" in broken_tree.stdout
    assert line in broken_tree.stdout


def test_one_data_phase_importing_another_breaks_their_independence(
    broken_tree: subprocess.CompletedProcess[str],
) -> None:
    assert "strangler_playbook.sync is not allowed to import strangler_playbook.verify:" in broken_tree.stdout
    assert "strangler_playbook.sync.uses_verify -> strangler_playbook.verify.verify" in broken_tree.stdout


def test_a_module_outside_every_layer_is_reported(broken_tree: subprocess.CompletedProcess[str]) -> None:
    assert "The following modules are not listed as layers:\n\n- strangler_playbook.unlisted" in broken_tree.stdout


def test_two_modules_importing_each_other_break_the_no_cycles_contract(
    broken_tree: subprocess.CompletedProcess[str],
) -> None:
    assert "No cycles are allowed in strangler_playbook.capture." in broken_tree.stdout
    assert "- .triggers -> .feed (1 import)" in broken_tree.stdout


def test_any_proxy_module_but_the_admin_client_and_the_exit_codes_breaks_the_proxy_surface(
    broken_tree: subprocess.CompletedProcess[str],
) -> None:
    assert "strangler_playbook is not allowed to import strangler_proxy:" in broken_tree.stdout
    assert "strangler_playbook.handover.publish -> strangler_proxy.dataplane.model" in broken_tree.stdout
    assert "strangler_playbook.cli.group -> strangler_proxy.errors" in broken_tree.stdout


def private_imports(source: str) -> list[str]:
    """`module: name` for every private name (one leading underscore) taken from another engine module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("strangler_playbook"):
            module = node.module or ""
            found.extend(
                f"{module}: {a.name}" for a in node.names if a.name.startswith("_") and not a.name.startswith("__")
            )
            if any(part.startswith("_") and not part.startswith("__") for part in module.split(".")):
                found.append(f"{module}: (private module)")
        elif isinstance(node, ast.Import):
            found.extend(
                f"{a.name}: (private module)"
                for a in node.names
                if a.name.startswith("strangler_playbook")
                and any(p.startswith("_") and not p.startswith("__") for p in a.name.split("."))
            )
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): names
        for path in sorted(PACKAGE.rglob("*.py"))
        if (names := private_imports(path.read_text()))
    }
    assert offenders == {}


def test_the_private_import_check_finds_what_it_looks_for() -> None:
    planted = (
        "from strangler_playbook.handover.steps import _hold, release\n"
        "from strangler_playbook.cli.phase_commands import _print_plan as print_plan\n"
        "import strangler_playbook.database._internal\n"
        "from strangler_playbook.errors import __doc__\n"
    )
    assert private_imports(planted) == [
        "strangler_playbook.handover.steps: _hold",
        "strangler_playbook.cli.phase_commands: _print_plan",
        "strangler_playbook.database._internal: (private module)",
    ]
