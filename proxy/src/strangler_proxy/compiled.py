"""The compiled hot path: the proxy's per-request modules as C extensions built by mypyc, used only while they match.

`make venv` runs `proxy/build_compiled.py`, which compiles the modules in `HOT_MODULES` (the same .py files, type
annotations and all: `mypy --strict` already holds them) with mypyc into a directory outside the source tree,
`<sys.prefix>/strangler_compiled/`, and writes a manifest of the sha256 of every .py file of the package (the
compiled modules are built against the types of the modules they import, so any change anywhere counts).
`http/__init__.py` and `dataplane/__init__.py` call `extend_path`, which puts that directory ahead of their own on
the package's `__path__` — the import system then finds the extension before the .py — only when every digest still
matches and the build is for this interpreter. Otherwise (a source edited since, no compiler when the venv was
built, `STRANGLER_PURE_PYTHON=1`) every module runs as pure Python: an extension built from other sources is never
imported. `status()` is the sentence `strangler proxy` logs at start-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import sysconfig
from functools import cache
from pathlib import Path

# The modules a proxied request runs through (bench/proxy/profile_summary.md), relative to strangler_proxy.
# mypyc does not compile async generators: the body iterators of client.py, exchange.py and shadow.py are classes.
HOT_MODULES = (
    "http/breaker.py",
    "http/client.py",
    "http/headers.py",
    "http/protocol.py",
    "http/request_cycle.py",
    "http/timer.py",
    "dataplane/app.py",
    "dataplane/cohort.py",
    "dataplane/exchange.py",
    "dataplane/forwarding.py",
    "dataplane/metrics.py",
    "dataplane/pinning.py",
    "dataplane/routing.py",
    "dataplane/shadow.py",
    "dataplane/stages.py",
    "dataplane/write_hold.py",
)
# mypyc's shared library for the group (the modules above are thin shims that import it): `http/hot_path__mypyc`.
GROUP = "strangler_proxy.http.hot_path"
MANIFEST = "manifest.json"
PURE_ENV = "STRANGLER_PURE_PYTHON"
PACKAGE_DIR = Path(__file__).resolve().parent


def build_dir() -> Path:
    """Where `proxy/build_compiled.py` puts the extensions: `<sys.prefix>/strangler_compiled` (in the venv)."""
    return Path(sys.prefix) / "strangler_compiled"


def source_digests() -> dict[str, str]:
    """sha256 of every .py file of the package, by path relative to it."""
    return {
        path.relative_to(PACKAGE_DIR).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
    }


def ext_suffix() -> str:
    return str(sysconfig.get_config_var("EXT_SUFFIX"))


@cache
def _verdict() -> tuple[Path | None, str]:
    """(the compiled tree's root or None, a sentence saying which build runs and why)."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None, f"pure Python ({PURE_ENV} is set)"
    root = build_dir()
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None, f"pure Python (no compiled build in {root}: `make venv` builds one where a C compiler exists)"
    if manifest.get("ext_suffix") != ext_suffix():
        return None, f"pure Python (the build in {root} is for another interpreter: run `make venv`)"
    built, now = manifest.get("sources", {}), source_digests()
    changed = sorted(name for name in built.keys() | now.keys() if built.get(name) != now.get(name))
    if changed:
        return None, f"pure Python ({changed[0]} changed since the compiled build: run `make venv` to rebuild it)"
    for relative in HOT_MODULES:
        if not (root / "strangler_proxy" / relative).with_suffix(ext_suffix()).is_file():
            return None, f"pure Python ({relative}'s extension is missing from {root}: run `make venv`)"
    return root, f"compiled hot path ({len(HOT_MODULES)} modules, mypyc {manifest.get('mypyc', '?')}, in {root})"


def extend_path(package_path: list[str], package: str) -> None:
    """Put the compiled build's directory for `package` (e.g. "http") first on its `__path__` when it may be used."""
    root, _ = _verdict()
    if root is not None:
        package_path.insert(0, str(root / "strangler_proxy" / package))


def status() -> str:
    return _verdict()[1]


def in_use() -> bool:
    """True when the hot modules are (or will be) imported from the compiled build."""
    return _verdict()[0] is not None
