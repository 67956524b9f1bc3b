"""The reference proxy of the paired benchmarks (`cpu_per_request.py`, `instructions_per_request.py`): how another
checkout's proxy is run next to this checkout's, and which build (compiled hot path or pure Python) each one runs.

`--reference-src DIR`: another checkout's `proxy/src`, run by this checkout's benchmark target and interpreter.
`--reference-checkout CHECKOUT`: a whole other checkout, run by its own `bench/proxy/strangler_target.py` with its own
`.venv` when it has one (`make venv` there), for one whose package layout differs from this one's. Either way the
reference's sources come first on `PYTHONPATH`; a compiled build is only used where it matches those sources
(`strangler_proxy/compiled.py`), so a `--reference-src` tree never borrows this venv's build.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
_STATUS = (
    "try:\n    from strangler_proxy import compiled\nexcept ImportError:\n"
    "    print('pure Python (a proxy from before the compiled hot path)')\nelse:\n    print(compiled.status())"
)


class Proxies(NamedTuple):
    commands: dict[str, list[str]]  # "this" / "reference": the command line, before its arguments
    envs: dict[str, dict[str, str]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    reference = parser.add_mutually_exclusive_group(required=True)
    reference.add_argument("--reference-src", type=Path, help="the reference checkout's proxy/src")
    reference.add_argument(
        "--reference-checkout", type=Path, help="a whole reference checkout, run with its own benchmark target"
    )


def proxies(options: argparse.Namespace, env: Mapping[str, str]) -> Proxies:
    """The benchmark target's command and environment for this checkout's proxy and for the reference."""
    if options.reference_checkout is not None:
        checkout = options.reference_checkout.resolve()
        src, target = checkout / "proxy" / "src", checkout / "bench" / "proxy" / "strangler_target.py"
        python = checkout / ".venv" / "bin" / "python"
        reference_python = str(python) if python.exists() else sys.executable
    else:
        src, target, reference_python = options.reference_src.resolve(), HERE / "strangler_target.py", sys.executable
    return Proxies(
        commands={
            "this": [sys.executable, str(HERE / "strangler_target.py")],
            "reference": [reference_python, str(target)],
        },
        envs={"this": dict(env), "reference": {**env, "PYTHONPATH": str(src)}},
    )


def builds(setup: Proxies) -> dict[str, str]:
    """Which build each proxy runs, as its `strangler proxy` would log it."""
    return {
        name: subprocess.run(
            [command[0], "-c", _STATUS], env=setup.envs[name], capture_output=True, text=True, check=True
        ).stdout.strip()
        for name, command in setup.commands.items()
    }
