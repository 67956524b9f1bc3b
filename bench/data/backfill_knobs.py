"""The backfill's two knobs, `COPY_LANES` and `INDEX_BUILDS_AT_ONCE`, measured against each other (not a test).

Each variant is the engine's whole backfill CLI run (in a process of its own, the knob set on the module before the
command runs) into a fresh target database, from one source of `--rows` catalog_product rows; the fair pipe of
bench/data/run.py (`psql | psql` into the same deferred-index table, indexes rebuilt after) runs in the same rounds
as the reference. Rounds alternate the order (ABBA). Prints every run (load and index parts, the engine process's
CPU, the load average) and, per variant, the median wall time, load and index parts and the ratio to the pipe.

usage: bench/data/backfill_knobs.py [--rows 1000000] [--rounds 5] [--variant lanes=3,builds=6 ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (
    COLUMNS,
    SERVER,
    catalog_fixture,
    defer_indexes,
    load_average,
    psql_pipe,
    rebuild_indexes,
    seed,
    url_of,
)

KNOBS = {"lanes": "COPY_LANES", "builds": "INDEX_BUILDS_AT_ONCE"}
ENGINE = """
import sys
from strangler_playbook.backfill import backfill
from strangler_playbook.cli import data
for knob, value in (arg.split("=") for arg in sys.argv[1].split(",") if arg):
    setattr(backfill, knob, int(value))
data.main(sys.argv[2:], prog_name="strangler data")
"""
DEFAULT_VARIANTS = ["lanes=3,builds=6", "lanes=3,builds=4", "lanes=4,builds=6", "lanes=2,builds=6"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--variant", action="append", help=f"knobs, e.g. lanes=3,builds=6 (default: {DEFAULT_VARIANTS})"
    )
    args = parser.parse_args()
    variants = args.variant or DEFAULT_VARIANTS
    settings = {v: ",".join(f"{KNOBS[k]}={n}" for k, n in (p.split("=") for p in v.split(","))) for v in variants}
    suffix = uuid.uuid4().hex[:8]
    source_name, target_name = (
        f"strangler_playbook_bench_knobs_source_{suffix}",
        f"strangler_playbook_bench_knobs_{suffix}",
    )
    source, target = url_of(source_name), url_of(target_name)
    spec = Path(tempfile.mkdtemp()) / "catalog.toml"
    spec.write_text(catalog_fixture.SPEC)
    admin = psycopg.connect(SERVER, autocommit=True)

    def fresh_target() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{target_name}"')
        catalog_fixture.create_schema(target)

    def engine(variant: str) -> dict[str, float]:
        fresh_target()
        common = [str(spec), "--source", source, "--target", target]
        engine_cmd = [sys.executable, "-c", ENGINE, settings[variant]]
        subprocess.run([*engine_cmd, "reset", *common, "--yes"], capture_output=True, check=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        out = subprocess.run([*engine_cmd, "backfill", *common, "--json"], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        product = next(t for t in json.loads(out.stdout)["tables"] if t["table"] == "catalog_product")
        return {
            "wall": wall,
            "load": product["seconds"] - product["index_seconds"],
            "index": product["index_seconds"],
            "cpu": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
        }

    def pipe() -> dict[str, float]:
        fresh_target()
        psql_pipe(source, target, "catalog_category", "*")
        deferred = defer_indexes(target)
        started = time.perf_counter()
        psql_pipe(source, target, "catalog_product", COLUMNS, replica=True)
        loaded = time.perf_counter()
        rebuild_indexes(target, deferred)
        done = time.perf_counter()
        return {"wall": done - started, "load": loaded - started, "index": done - loaded, "cpu": float("nan")}

    admin.execute(f'CREATE DATABASE "{source_name}"')
    try:
        catalog_fixture.create_schema(source)
        seed(source, args.rows)
        contenders = [*variants, "pipe"]
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
        print(f"{args.rows:,} rows, {args.rounds} rounds (load average {load_average()})", flush=True)
        for n in range(args.rounds):
            for name in contenders if n % 2 == 0 else contenders[::-1]:
                r = pipe() if name == "pipe" else engine(name)
                runs[name].append(r)
                print(
                    f"  {name:18} {r['wall']:6.2f} s  load {r['load']:.2f} + index builds {r['index']:.2f}"
                    f"  engine CPU {r['cpu']:.2f} s   (load average {load_average()})",
                    flush=True,
                )
        pipe_wall = statistics.median(r["wall"] for r in runs["pipe"])
        print(f"\n  {'median of ' + str(args.rounds):18} {'wall':>7} {'load':>6} {'index':>6}  vs pipe")
        for name in contenders:
            med = {k: statistics.median(r[k] for r in runs[name]) for k in ("wall", "load", "index")}
            print(
                f"  {name:18} {med['wall']:6.2f}s {med['load']:5.2f}s {med['index']:5.2f}s  "
                f"{pipe_wall / med['wall']:.2f}x"
            )
        print(f"  (load average {load_average()})")
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)')
        admin.execute(f'DROP DATABASE IF EXISTS "{source_name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
