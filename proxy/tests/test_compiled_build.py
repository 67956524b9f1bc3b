"""The compiled hot path (`strangler_proxy/compiled.py`, built by `proxy/build_compiled.py` from `make venv`): in use
once the venv is built where a C compiler exists; never used once any source of the package differs from what was
compiled (the modules then run as pure Python); off with STRANGLER_PURE_PYTHON=1. Each case runs a fresh
interpreter, as the choice is made once, when `strangler_proxy.http` is first imported."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from strangler_proxy import compiled

PROBE = (
    "from strangler_proxy import compiled\n"
    "import strangler_proxy.dataplane.app as app, strangler_proxy.http.client as client\n"
    "print(compiled.status()); print(app.__file__); print(client.__file__)"
)


def probe(**env: str) -> tuple[str, str, str]:
    """(the status sentence, where dataplane.app and http.client were imported from) in a new interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**os.environ, **env}, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return out[0], out[1], out[2]


def can_build() -> bool:
    has_headers = os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h"))
    return has_headers and shutil.which("cc") is not None and importlib.util.find_spec("mypyc") is not None


@pytest.fixture
def built() -> None:
    if os.environ.get(compiled.PURE_ENV):
        pytest.skip(f"{compiled.PURE_ENV} is set: this run is the pure-Python one")
    if not can_build():
        pytest.skip("no C compiler, Python.h or mypyc here: the proxy runs pure Python, as it should")
    status, _, _ = probe()
    assert status.startswith("compiled hot path"), f"{status} (run `make venv`, which builds it)"


def test_the_venv_runs_the_compiled_hot_path(built: None) -> None:
    _, app_file, client_file = probe()
    for path in (app_file, client_file):
        assert path.startswith(str(compiled.build_dir())) and path.endswith(compiled.ext_suffix())


@pytest.mark.parametrize("edited", ["http/timer.py", "dataplane/model.py"])  # compiled, and one it was built against
def test_a_source_changed_since_the_build_runs_pure_python(built: None, tmp_path: Path, edited: str) -> None:
    copy = tmp_path / "strangler_proxy"
    shutil.copytree(compiled.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    status, _, _ = probe(PYTHONPATH=str(tmp_path))
    assert status.startswith("compiled hot path"), "the same sources elsewhere should use the build"
    with (copy / edited).open("a") as source:
        source.write("\n# edited after the build\n")
    status, app_file, client_file = probe(PYTHONPATH=str(tmp_path))
    assert status == f"pure Python ({edited} changed since the compiled build: run `make venv` to rebuild it)"
    assert (app_file, client_file) == (str(copy / "dataplane" / "app.py"), str(copy / "http" / "client.py"))


def test_pure_python_on_request() -> None:
    status, app_file, client_file = probe(**{compiled.PURE_ENV: "1"})
    assert status == f"pure Python ({compiled.PURE_ENV} is set)"
    assert app_file.endswith("dataplane/app.py") and client_file.endswith("http/client.py")
