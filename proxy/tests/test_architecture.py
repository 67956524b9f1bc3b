"""The proxy's import contract (proxy/.importlinter) holds, and it reports each kind of violation planted in a copy
of the package: a contract that cannot fail guards nothing. And no module imports another module's private names."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROXY = Path(__file__).resolve().parents[1]
PACKAGE = PROXY / "src" / "strangler_proxy"
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"

# (module planted in a copy of the package, its one line, what lint-imports must say about it)
PLANTED = [
    (
        "dataplane/planted_control.py",
        "from strangler_proxy.control import settings",
        "strangler_proxy.dataplane is not allowed to import strangler_proxy.control",
    ),
    (
        "dataplane/planted_compare.py",
        "from strangler_proxy.compare import noise",
        "strangler_proxy.dataplane is not allowed to import strangler_proxy.compare",
    ),
    (
        "http/planted_upward.py",
        "from strangler_proxy.dataplane import model",
        "strangler_proxy.http is not allowed to import strangler_proxy.dataplane",
    ),
    (
        "compare/planted_control.py",
        "from strangler_proxy.control import store",
        "strangler_proxy.compare is not allowed to import strangler_proxy.control",
    ),
    (
        "control/planted_console.py",
        "from strangler_proxy.console import views",
        "strangler_proxy.control is not allowed to import strangler_proxy.console",
    ),
    (
        "dataplane/planted_console.py",
        "from strangler_proxy.console import app",
        "strangler_proxy.dataplane is not allowed to import strangler_proxy.console",
    ),
    ("dataplane/planted_httpx.py", "import httpx", "strangler_proxy.dataplane is not allowed to import httpx"),
    ("control/planted_aiohttp.py", "import aiohttp", "strangler_proxy is not allowed to import aiohttp"),
    ("compare/planted_a.py", "from strangler_proxy.compare import planted_b", "- .planted_b -> .planted_a"),
    ("compare/planted_b.py", "from strangler_proxy.compare import planted_a", "- .planted_b -> .planted_a"),
]


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", str(tree / ".importlinter")],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def broken_tree(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """lint-imports on a copy of the package in which each kind of forbidden import was planted."""
    tree = tmp_path_factory.mktemp("proxy")
    shutil.copytree(PACKAGE, tree / "strangler_proxy", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROXY / ".importlinter", tree / ".importlinter")
    for module, line, _ in PLANTED:
        (tree / "strangler_proxy" / module).write_text(line + "  # noqa\n")
    return lint_imports(tree)


def test_the_proxy_keeps_its_import_contracts() -> None:
    result = lint_imports(PROXY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "reported"), PLANTED, ids=[m for m, _, _ in PLANTED])
def test_each_planted_violation_is_reported(
    broken_tree: subprocess.CompletedProcess[str], module: str, line: str, reported: str
) -> None:
    assert broken_tree.returncode == 1, broken_tree.stdout + broken_tree.stderr
    assert reported in broken_tree.stdout, broken_tree.stdout
    planted = "strangler_proxy." + module.removesuffix(".py").replace("/", ".")
    assert planted.rsplit(".", 1)[1] in broken_tree.stdout


def private_imports(path: Path) -> list[str]:
    """`from x import _name` and `import x._name` of this distribution's modules, outside the module's package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("strangler_proxy")):
            if any(part.startswith("_") for part in (node.module or "").split(".")):
                found.append(f"{path.name}:{node.lineno} {node.module}")
            found += [f"{path.name}:{node.lineno} {a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [
                f"{path.name}:{node.lineno} {a.name}"
                for a in node.names
                if a.name.startswith("strangler_proxy") and any(p.startswith("_") for p in a.name.split("."))
            ]
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_imports(path)]
    assert found == []


def test_the_private_name_check_sees_one(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("from strangler_proxy.dataplane.app import _Truncated\nfrom .exchange import Exchange, _x\n")
    assert private_imports(planted) == ["planted.py:1 _Truncated", "planted.py:2 _x"]
