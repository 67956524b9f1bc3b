"""Compile the proxy's hot-path modules with Cython (pure-Python mode: the .py files unchanged) into the venv.

    .venv/bin/python proxy/build_compiled.py [--out DIR] [--jobs N]

Run by `make venv`. Writes `<out>/strangler_proxy/<package>/<module><EXT_SUFFIX>` for each of
`strangler_proxy.compiled.HOT_MODULES`, then `<out>/manifest.json` with each source's sha256 (written last, so a
build that stops half-way is never used). The proxy uses the build only while every source matches its manifest
(`strangler_proxy/compiled.py`). Without Cython or a C compiler it says so and exits 0: the proxy then runs pure
Python, as it does with `STRANGLER_PURE_PYTHON=1`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from strangler_proxy import compiled

# Directives: behave exactly as the interpreter does. Annotations are not used as C types (a `dict` annotation
# would otherwise refuse a dict subclass), so the compiled module accepts whatever the .py accepts.
DIRECTIVES = "binding=True,annotation_typing=False,embedsignature=False"


def _compile(relative: str, out: Path, work: Path) -> None:
    source = compiled.PACKAGE_DIR / relative
    c_file = work / (relative.replace("/", "_").removesuffix(".py") + ".c")
    module = "strangler_proxy." + relative.removesuffix(".py").replace("/", ".")
    subprocess.run(
        [sys.executable, "-m", "cython", "-3", "-X", DIRECTIVES, "--module-name", module, str(source), "-o", str(c_file)],
        check=True,
    )
    target = (out / "strangler_proxy" / relative).with_suffix(compiled.ext_suffix())
    target.parent.mkdir(parents=True, exist_ok=True)
    cc = os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    subprocess.run(
        [*cc.split(), "-shared", "-fPIC", "-O2", "-fno-strict-overflow", "-DNDEBUG", "-w", f"-I{include}",
         str(c_file), "-o", str(target)],
        check=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=compiled.build_dir())
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    options = parser.parse_args()
    try:
        import Cython  # noqa: F401  (only to tell its absence apart)
    except ImportError:
        print("build_compiled: Cython is not installed; the proxy will run pure Python", file=sys.stderr)
        return 0
    if not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")):
        print("build_compiled: no Python.h (install python3-dev); the proxy will run pure Python", file=sys.stderr)
        return 0
    out: Path = options.out
    shutil.rmtree(out, ignore_errors=True)  # the manifest goes first: nothing half-built is ever used
    digests = {relative: compiled.source_digest(relative) for relative in compiled.HOT_MODULES}
    with tempfile.TemporaryDirectory(prefix="strangler-compile-") as work:
        try:
            with ThreadPoolExecutor(max(1, options.jobs)) as pool:
                list(pool.map(lambda relative: _compile(relative, out, Path(work)), compiled.HOT_MODULES))
        except (subprocess.CalledProcessError, OSError) as error:
            shutil.rmtree(out, ignore_errors=True)
            print(f"build_compiled: compiling failed ({error}); the proxy will run pure Python", file=sys.stderr)
            return 0
    # Digests taken before compiling: a source edited during the build no longer matches, so it is not used.
    import Cython

    manifest = {"ext_suffix": compiled.ext_suffix(), "cython": Cython.__version__, "sources": digests}
    (out / compiled.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"build_compiled: {len(digests)} modules compiled into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
