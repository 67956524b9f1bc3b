"""Compile the proxy's hot-path modules with mypyc (the same .py files) into the venv, with a manifest of the sources.

    .venv/bin/python proxy/build_compiled.py [--out DIR]

Run by `make venv` (and by the proxy's Dockerfile). Writes `<out>/strangler_proxy/<package>/<module><EXT_SUFFIX>`
for each of `strangler_proxy.compiled.HOT_MODULES` and their shared library, then `<out>/manifest.json` with the
sha256 of every .py file of the package, taken before compiling and written last: a build that stops half-way, or
whose sources changed while it ran, is never used. Without mypyc, setuptools, Python's headers or a C compiler it
says so and exits 0: the proxy then runs pure Python, as it does with `STRANGLER_PURE_PYTHON=1`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from strangler_proxy import compiled


def _fallback(reason: str) -> int:
    print(f"build_compiled: {reason}; the proxy will run pure Python", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=compiled.build_dir())
    options = parser.parse_args()
    out: Path = options.out.resolve()
    shutil.rmtree(out, ignore_errors=True)  # the old manifest goes first: nothing half-built is ever used
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution
    except ImportError as error:
        return _fallback(f"{error.name} is not installed (`pip install mypy setuptools`)")
    if not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
        return _fallback("no Python.h (install your distribution's python3-dev)")
    if shutil.which(os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc").split()[0]) is None:
        return _fallback("no C compiler (install gcc)")
    digests = compiled.source_digests()
    sources = [str(compiled.PACKAGE_DIR / relative) for relative in compiled.HOT_MODULES]
    with tempfile.TemporaryDirectory(prefix="strangler-compile-") as work:
        here = os.getcwd()
        os.chdir(work)  # mypyc writes its C files and mypy's cache here, and reads no project's mypy config
        try:
            extensions = mypycify(sources, opt_level="3", debug_level="0", group_name=compiled.GROUP)
            distribution = Distribution(
                {
                    "ext_modules": extensions,
                    "script_name": "build_compiled",
                    "script_args": ["-q", "build_ext", "--build-lib", str(out), "--build-temp", "temp"],
                }
            )
            distribution.parse_command_line()
            distribution.run_commands()
        except (Exception, SystemExit) as error:  # mypyc's type errors exit; a compiler's failure raises
            shutil.rmtree(out, ignore_errors=True)
            return _fallback(f"compiling failed ({error!r})")
        finally:
            os.chdir(here)
    from mypy.version import __version__ as mypyc_version

    manifest = {"ext_suffix": compiled.ext_suffix(), "mypyc": mypyc_version, "sources": digests}
    (out / compiled.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"build_compiled: {len(sources)} modules compiled by mypyc into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
