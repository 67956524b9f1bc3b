"""`strangler data …` as an operator runs it against the stack's databases and a proxy's admin API, and the
`strangler data follow` process `make up` runs beside them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from data_move import SPEC
from processes import ROOT
from proxy_stack import ADMIN_TOKEN

PLAYBOOK = ROOT / "migration-playbook"


def _env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_")}
    env.update(variables)
    return env


def data_command(
    command: str,
    stack,
    admin_url: str,
    *extra: str,
    token: str = ADMIN_TOKEN,
    spec: Path = SPEC,
    target: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m strangler_playbook COMMAND SPEC --json …` on the stack's two databases (the catalog's, unless
    another spec and its service's database are given)."""
    args = [sys.executable, "-m", "strangler_playbook", command, str(spec), "--json", *extra]
    args += ["--source", stack.monolith_database, "--target", target or stack.catalog_database]
    env = _env(STRANGLER_ADMIN_URL=admin_url, STRANGLER_ADMIN_TOKEN=token)
    return subprocess.run(args, cwd=PLAYBOOK, env=env, capture_output=True, text=True, timeout=90, check=False)


@contextlib.contextmanager
def follower(stack, log: Path, *, poll: str = "0.05", slice_s: str = "0.2") -> Iterator[subprocess.Popen[bytes]]:
    """`strangler data follow` for the stack's catalog, stopped with SIGTERM (as a service manager would)."""
    args = [sys.executable, "-m", "strangler_playbook", "follow", str(SPEC), "--poll", poll, "--slice", slice_s]
    args += ["--source", stack.monolith_database, "--target", stack.catalog_database]
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=PLAYBOOK, env=_env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
