"""What `synchronous_commit = off` would save a backfill chunk (not a test): one chunk's COPY (50k catalog_product
rows, binary, as the engine copies them) and its commit, timed apart, the commit waiting for the disk (`on`, the
engine's setting) or not (`off`), alternately. Prints each mode's median COPY and commit times, and what the
difference comes to over 10^6 rows (20 chunks), with the load average.

usage: bench/data/commit_wait.py [--chunks 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import COLUMNS, SEED_SQL, SERVER, catalog_fixture, load_average, url_of
from strangler_playbook.database.rows import COPY_WRITE_BYTES

CHUNK_ROWS = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10, help="chunks in each mode")
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    names = [f"strangler_playbook_bench_commit_{side}_{suffix}" for side in ("source", "target")]
    admin = psycopg.connect(SERVER, autocommit=True)
    for name in names:
        admin.execute(f'CREATE DATABASE "{name}"')
    source, target = (url_of(name) for name in names)
    try:
        for url in (source, target):
            catalog_fixture.create_schema(url)
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(SEED_SQL.replace("%(rows)s", str(CHUNK_ROWS)))
        src = psycopg.connect(source, autocommit=True)
        dst = psycopg.connect(target, autocommit=True)
        dst.execute("SET session_replication_role = replica")
        times: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
        for n in range(2 * args.chunks):
            mode = ("on", "off")[n % 2]
            dst.execute("TRUNCATE catalog_product")
            dst.execute(f"SET synchronous_commit = {mode}")
            started = time.perf_counter()
            dst.execute("BEGIN")
            with (
                src.cursor() as scur,
                dst.cursor() as tcur,
                scur.copy(f"COPY (SELECT {COLUMNS} FROM catalog_product) TO STDOUT (FORMAT BINARY)") as out,  # noqa: S608
                tcur.copy(f"COPY catalog_product ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as into,
            ):
                block = bytearray()  # as the engine writes (database/rows.copy_range_pg)
                for data in out:
                    block += data
                    if len(block) >= COPY_WRITE_BYTES:
                        into.write(block)
                        block = bytearray()
                into.write(block)
            copied = time.perf_counter()
            dst.execute("COMMIT")
            times[mode].append((copied - started, time.perf_counter() - copied))
        src.close()
        dst.close()
        median = {m: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v)) for m, v in times.items()}
        for mode, (copy_s, commit_s) in median.items():
            print(
                f"synchronous_commit = {mode:3}: COPY {copy_s * 1000:.0f} ms, commit {commit_s * 1000:.1f} ms (median)"
            )
        saved = (median["on"][1] - median["off"][1]) * 1_000_000 / CHUNK_ROWS
        print(f"off would save {saved:.2f} s of commit waits per 10^6 rows (load average {load_average()})")
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
