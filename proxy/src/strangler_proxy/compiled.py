"""The compiled hot path: which of the proxy's modules run as C extensions built by Cython, and whether they may.

`make venv` runs `proxy/build_compiled.py`, which compiles the modules in `HOT_MODULES` (unchanged Python, Cython's
pure-Python mode) into a directory outside the source tree, `<venv>/strangler_compiled/`, with a manifest of each
source's sha256. `http/__init__.py` and `dataplane/__init__.py` call `extend_path` to put that directory ahead of
their own on the package's `__path__`, so the import system finds the extension before the `.py` — but only when
every source's sha256 still matches the manifest, and the build was for this interpreter. Otherwise (a source was
edited since, no compiler when the venv was built, `STRANGLER_PURE_PYTHON=1`) every module runs as pure Python:
an extension built from older source is never imported. `status()` says which, for `strangler proxy`'s start-up line.
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
HOT_MODULES = (
    "http/breaker.py",
    "http/client.py",
    "http/headers.py",
    "http/protocol.py",
    "http/request_cycle.py",
    "http/timer.py",
    "dataplane/app.py",
    "dataplane/exchange.py",
    "dataplane/forwarding.py",
    "dataplane/metrics.py",
    "dataplane/routing.py",
    "dataplane/shadow.py",
    "dataplane/write_hold.py",
)
MANIFEST = "manifest.json"
PURE_ENV = "STRANGLER_PURE_PYTHON"
PACKAGE_DIR = Path(__file__).resolve().parent


def build_dir() -> Path:
    """Where `proxy/build_compiled.py` puts the extensions: `STRANGLER_COMPILED_DIR`, else `<sys.prefix>/strangler_compiled`."""
    return Path(os.environ.get("STRANGLER_COMPILED_DIR") or Path(sys.prefix) / "strangler_compiled")


def source_digest(relative: str) -> str:
    return hashlib.sha256((PACKAGE_DIR / relative).read_bytes()).hexdigest()


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
        return None, f"pure Python (no compiled build in {root}: run `make venv` with a C compiler to build one)"
    if manifest.get("ext_suffix") != ext_suffix():
        return None, f"pure Python (the build in {root} is for another interpreter: run `make venv`)"
    sources = manifest.get("sources", {})
    for relative in HOT_MODULES:
        if sources.get(relative) != source_digest(relative):
            return None, f"pure Python ({relative} changed since the compiled build: run `make venv` to rebuild it)"
        if not (root / "strangler_proxy" / relative).with_suffix(ext_suffix()).is_file():
            return None, f"pure Python ({relative}'s extension is missing from {root}: run `make venv`)"
    return root, f"compiled hot path ({len(HOT_MODULES)} modules, Cython {manifest.get('cython', '?')}, from {root})"


def extend_path(package_path: list[str], package: str) -> None:
    """Put the compiled build's directory for `package` (e.g. "http") first on its `__path__` when it may be used."""
    root, _ = _verdict()
    if root is not None:
        package_path.insert(0, str(root / "strangler_proxy" / package))


def status() -> str:
    return _verdict()[1]


def in_use() -> bool:
    """True when the hot modules imported so far are the compiled ones."""
    return _verdict()[0] is not None
