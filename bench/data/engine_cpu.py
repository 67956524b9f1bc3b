"""The backfill CLI's own cost, this engine against a reference engine in the same run (not a test).

Measured as CPU seconds of the engine's process (user + system, from the OS: the load of other processes slows the
wall clock far more than it changes these), with the wall time and load average beside them:
1. start-up: `python -m strangler_playbook backfill --help`, and a backfill refused at once (a missing spec: the
   command's imports, then the error) — what every run pays before its first row;
2. a whole backfill of `--rows` catalog_product rows, PostgreSQL to PostgreSQL, each into a fresh target database.
Runs alternate between the two engines (ABBA); prints the medians and their ratio (this ÷ reference).

`--reference SRC`: another checkout's `migration-playbook/src`, e.g.
`git archive main migration-playbook | tar -x -C /tmp/ref` then `--reference /tmp/ref/migration-playbook/src`.

usage: bench/data/engine_cpu.py --reference SRC [--rows 1000000] [--runs 10] [--backfills 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import SERVER, catalog_fixture, load_average, seed, url_of


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(CPU seconds of the child, wall seconds, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = os.times().elapsed
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = os.times().elapsed - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, done.stdout


def alternate(
    runs: int, variants: dict[str, dict[str, str]], one: Callable[[str, dict[str, str]], tuple[float, float]]
) -> dict[str, list[tuple[float, float]]]:
    """`runs` of each variant in ABBA order."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    names = list(variants)
    for n in range(runs):
        for name in names if n % 2 == 0 else names[::-1]:
            results[name].append(one(name, variants[name]))
    return results


def report(label: str, results: dict[str, list[tuple[float, float]]]) -> None:
    cpu = {name: statistics.median(c for c, _ in values) for name, values in results.items()}
    wall = {name: statistics.median(w for _, w in values) for name, values in results.items()}
    for name in results:
        print(f"  {label:28} {name:9} CPU {cpu[name]:.3f} s  wall {wall[name]:.3f} s  (median of {len(results[name])})")
    print(
        f"  {label:28} this ÷ reference: CPU {cpu['this'] / cpu['reference']:.2f}x, "
        f"wall {wall['this'] / wall['reference']:.2f}x   (load average {load_average()})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, required=True, help="another engine's migration-playbook/src")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10, help="start-up runs of each engine")
    parser.add_argument("--backfills", type=int, default=4, help="whole backfills of each engine")
    args = parser.parse_args()
    if not (args.reference / "strangler_playbook").is_dir():
        raise SystemExit(
            f"{args.reference} holds no strangler_playbook package: pass a checkout's migration-playbook/src"
        )
    base = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_DATA")}
    variants = {"this": base, "reference": {**base, "PYTHONPATH": str(args.reference.resolve())}}
    engine = [sys.executable, "-m", "strangler_playbook"]
    print(f"engine CPU: this checkout against {args.reference} (load average {load_average()})", flush=True)

    print("\n1. start-up", flush=True)
    for label, command in (
        ("backfill --help", [*engine, "backfill", "--help"]),
        ("backfill, spec missing", [*engine, "backfill", "/nonexistent/spec.toml", "--json"]),
    ):
        report(label, alternate(args.runs, variants, lambda _name, env, c=command: measured(c, env)[:2]))

    print(f"\n2. a whole backfill of {args.rows:,} rows (PostgreSQL to PostgreSQL)", flush=True)
    suffix = uuid.uuid4().hex[:8]
    source = url_of(f"strangler_playbook_bench_cpu_source_{suffix}")
    target_name = f"strangler_playbook_bench_cpu_target_{suffix}"
    spec = Path(tempfile.mkdtemp()) / "catalog.toml"
    spec.write_text(catalog_fixture.SPEC)
    admin = psycopg.connect(SERVER, autocommit=True)
    admin.execute(f'CREATE DATABASE "{source.rsplit("/", 1)[1]}"')
    try:
        catalog_fixture.create_schema(source)
        seed(source, args.rows)

        def backfill(name: str, env: dict[str, str]) -> tuple[float, float]:
            admin.execute(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{target_name}"')
            target = url_of(target_name)
            catalog_fixture.create_schema(target)
            common = [str(spec), "--source", source, "--target", target]
            subprocess.run([*engine, "reset", *common, "--yes"], env=env, capture_output=True, check=True)
            cpu, wall, out = measured([*engine, "backfill", *common, "--json"], env)
            copied = json.loads(out)["rows"]
            assert copied == args.rows + 100, f"{name} copied {copied} rows"
            return cpu, wall

        report("backfill", alternate(args.backfills, variants, backfill))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)')
        admin.execute(f'DROP DATABASE IF EXISTS "{source.rsplit("/", 1)[1]}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
