"""Run every part's test suite, each in its own pytest process, and print one summary.

Each Django project gets its own process because Django settings are process-global. The services' suites come
from extracted/services.toml (tools/service_list.py): a service listed there is tested without an edit here. Suites that
need PostgreSQL run when it is reachable; with CI set, an unreachable PostgreSQL is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import service_list
from service_list import Service

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
PRINT_LOCK = threading.Lock()


@dataclass(frozen=True)
class Suite:
    name: str
    cwd: str
    needs_pg: bool = False
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()


# Two checkouts may run their suites on one PostgreSQL at once: the Django suites' fixed database names get a
# per-run suffix (pytest-django then creates and drops `test_<name>`).
RUN_ID = os.environ.get("STRANGLER_TEST_RUN_ID") or str(os.getpid())


def pg_url(database: str) -> str:
    base = os.environ.get("STRANGLER_TEST_POSTGRES", DEFAULT_PG)
    return base.rsplit("/", 1)[0] + "/" + f"{database}_{RUN_ID}"


def service_suites(services: list[Service]) -> list[Suite]:
    """Each service of extracted/services.toml on each engine it runs on: a Django service on SQLite in memory and
    on a PostgreSQL database of this run; an ASGI service's conftest makes its own scratch database."""
    suites = []
    for service in services:
        if service.kind == "django":
            suites.append(
                Suite(f"{service.folder} (SQLite)", service.folder, env={"DATABASE_URL": "sqlite:///:memory:"})
            )
            database = pg_url(f"strangler_{service.name}")
            suites.append(
                Suite(f"{service.folder} (PostgreSQL)", service.folder, needs_pg=True, env={"DATABASE_URL": database})
            )
        else:
            suites.append(Suite(f"{service.folder} (PostgreSQL)", service.folder, needs_pg=True))
    return suites


# Longest first: two suites run at once (STRANGLER_TEST_JOBS), and the long ones should not start last.
SUITES = [
    Suite("proxy", "proxy"),
    Suite("migration-playbook", "migration-playbook"),
    Suite("end-to-end", "e2e"),
    Suite("monolith (SQLite)", "monolith", env={"DATABASE_URL": "sqlite:///:memory:"}),
    Suite("monolith (PostgreSQL)", "monolith", needs_pg=True, env={"DATABASE_URL": pg_url("strangler_monolith")}),
    *service_suites(service_list.load()),
    Suite("extracted/kit", "extracted/kit", env={"DATABASE_URL": "sqlite:///:memory:"}),
    Suite("repository (compose, CI)", "tests"),
]


def postgres_reachable(url: str) -> str | None:
    """Return None when PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg
    except ImportError as exc:  # the venv is broken; say so rather than skip silently
        return f"psycopg is not installed ({exc})"
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def count(junit: Path) -> dict[str, int]:
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    if not junit.exists():
        return totals
    for suite in ET.parse(junit).getroot().iter("testsuite"):  # noqa: S314 - pytest's own report, not untrusted
        tests = int(suite.get("tests", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        totals["failed"] += failed
        totals["skipped"] += skipped
        totals["passed"] += tests - failed - skipped
    return totals


def run_suite(
    i: int, suite: Suite, tmp: Path, env_base: dict[str, str], pg_problem: str | None
) -> tuple[str, dict[str, int], int, float]:
    """Run one suite with its output in a file, printed whole when it ends, so parallel suites stay readable."""
    if suite.needs_pg and pg_problem:
        return suite.name + " — skipped, no PostgreSQL", {"passed": 0, "failed": 0, "skipped": 0}, 0, 0.0
    junit, log = tmp / f"{i}.xml", tmp / f"{i}.log"
    started = time.monotonic()
    with log.open("w") as out:
        rc = subprocess.call(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *suite.args],
            cwd=ROOT / suite.cwd,
            env={**env_base, **suite.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    with PRINT_LOCK:
        print(f"\n=== {suite.name} ===\n{log.read_text()}", flush=True)
    return suite.name, count(junit), rc, time.monotonic() - started


def main() -> int:
    pg = os.environ.get("STRANGLER_TEST_POSTGRES", DEFAULT_PG)
    pg_problem = postgres_reachable(pg)
    if pg_problem and os.environ.get("CI"):
        print(f"CI is set and PostgreSQL is unreachable at {pg}: {pg_problem}", file=sys.stderr)
        print("Start PostgreSQL (see .ci/run) or point STRANGLER_TEST_POSTGRES at one.", file=sys.stderr)
        return 2
    selected = sys.argv[1:]
    env_base = dict(os.environ)
    if pg_problem:
        env_base.pop("STRANGLER_TEST_POSTGRES", None)
        print(f"PostgreSQL not reachable at {pg} ({pg_problem}): PostgreSQL-backed tests are skipped.")
        print("To run them, start PostgreSQL or set STRANGLER_TEST_POSTGRES=postgresql://user@host:port/db.\n")
    else:
        env_base["STRANGLER_TEST_POSTGRES"] = pg

    tmp = Path(tempfile.mkdtemp(prefix="strangler-tests-"))
    chosen = [
        (i, suite)
        for i, suite in enumerate(SUITES)
        if (not selected or any(s in suite.name for s in selected))
        and ((ROOT / suite.cwd / "pyproject.toml").exists() or (ROOT / suite.cwd / "conftest.py").exists())
    ]
    jobs = max(1, int(os.environ.get("STRANGLER_TEST_JOBS", "2")))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_suite, i, suite, tmp, env_base, pg_problem) for i, suite in chosen]
        results = [f.result() for f in futures]

    print("\n=== summary ===")
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failed_suites = []
    for name, c, rc, secs in results:
        for k in totals:
            totals[k] += c[k]
        status = "ok" if rc == 0 else f"FAILED (pytest exit {rc})"
        if rc != 0:
            failed_suites.append(name)
        counts = f"{c['passed']:>5} passed {c['failed']:>3} failed {c['skipped']:>3} skipped"
        print(f"  {name:<40} {counts}  {secs:6.1f}s  {status}")
    # pytest exits 5 when it collects nothing: a suite that ran no test is a failure here.
    if failed_suites and totals["failed"] == 0:
        totals["failed"] = len(failed_suites)
    print(f"total: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if failed_suites else 0


if __name__ == "__main__":
    sys.exit(main())
