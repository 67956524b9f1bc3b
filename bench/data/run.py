"""Data-engine benchmark (not a test): prints figures and their ratio to the references of issue 5.

On PostgreSQL ($STRANGLER_BENCH_POSTGRES, default the local server), with catalog_product rows:
1. backfill: the engine (load, then build the indexes) vs `psql -c "COPY … TO STDOUT" | psql -c "COPY … FROM
   STDIN"` into the same indexed target schema, in the same run;           goal ≥ 1.5x the pipe
2. verify: rows/s per side (checksums computed inside each database);       goal ≥ 10⁶ rows/s per side
3. sync lag p99 with a writer doing 1k updates/s against the source;        goal ≤ 1 s

usage: bench/data/run.py [--rows 1000000] [--sync-seconds 15] [--writes-per-s 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "migration-playbook" / "tests"))
import catalog_fixture  # noqa: E402

SERVER = os.environ.get("STRANGLER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
COLUMNS = catalog_fixture.PRODUCT_COLUMNS
SEED_SQL = """
INSERT INTO catalog_category (id, name, slug, parent_id, created_at, updated_at)
SELECT i, 'Category ' || i, 'category-' || i, NULL, timestamptz '2025-01-01', timestamptz '2025-01-01'
FROM generate_series(1, 100) i;
INSERT INTO catalog_product
    (id, sku, name, slug, description, price, currency, active, category_id, created_at, updated_at)
SELECT i, 'SKU-' || lpad(i::text, 8, '0'), 'Product ' || i || ' ' || left(md5(i::text), 12), 'product-' || i,
       repeat('lorem ', i % 20), (i % 1000000) / 100.0, 'EUR', i % 5 <> 0, 1 + i % 100,
       timestamptz '2025-01-01' + i * interval '1.000123 second', timestamptz '2025-06-01' + i * interval '1 second'
FROM generate_series(1, %(rows)s) i;
"""


def url_of(name: str) -> str:
    return SERVER.rsplit("/", 1)[0] + "/" + name


def psql_pipe(source: str, target: str, table: str, columns: str) -> None:
    cols = "" if columns == "*" else f" ({columns})"
    out = subprocess.Popen(["psql", "-X", "-q", source, "-c", f"COPY {table}{cols} TO STDOUT"], stdout=subprocess.PIPE)
    into = subprocess.run(
        ["psql", "-X", "-q", target, "-c", f"COPY {table}{cols} FROM STDIN"], stdin=out.stdout, check=False
    )
    assert out.stdout is not None
    out.stdout.close()
    if out.wait() != 0 or into.returncode != 0:
        raise SystemExit(f"the psql pipe for {table} failed")


def timed(label: str, func: object) -> float:
    started = time.perf_counter()
    func()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.2f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sync-seconds", type=float, default=15.0)
    parser.add_argument("--writes-per-s", type=int, default=1000)
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:8]
    names = {role: f"strangler_playbook_bench_{role}_{suffix}" for role in ("source", "engine", "pipe")}
    admin = psycopg.connect(SERVER, autocommit=True)
    try:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}"')
        run(args, {role: url_of(name) for role, name in names.items()})
    finally:
        for name in names.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def run(args: argparse.Namespace, urls: dict[str, str]) -> None:
    rows = args.rows
    print(f"setup: {rows:,} catalog_product rows in {urls['source'].rsplit('/', 1)[1]}", flush=True)
    for url in urls.values():
        catalog_fixture.create_schema(url)
    with psycopg.connect(urls["source"], autocommit=True) as conn:
        timed("seed source", lambda: conn.execute(SEED_SQL.replace("%(rows)s", str(rows))))
        conn.execute("VACUUM ANALYZE catalog_category")
        conn.execute("VACUUM ANALYZE catalog_product")
    psql_pipe(urls["source"], urls["pipe"], "catalog_category", "*")

    print("\n1. backfill into the same indexed schema (PK, 2 unique, 3 indexes, FK)", flush=True)
    pipe_s = timed(
        "psql COPY TO STDOUT | psql COPY FROM STDIN",
        lambda: psql_pipe(urls["source"], urls["pipe"], "catalog_product", COLUMNS),
    )
    spec = Path(tempfile.mkdtemp()) / "catalog.toml"
    spec.write_text(catalog_fixture.SPEC)
    engine_cmd = [sys.executable, "-m", "strangler_playbook"]
    common = [str(spec), "--source", urls["source"], "--target", urls["engine"], "--json"]
    result: dict[str, object] = {}

    def backfill() -> None:
        out = subprocess.run([*engine_cmd, "backfill", *common], check=True, capture_output=True, text=True).stdout
        result.update(json.loads(out))

    engine_s = timed("engine backfill (whole CLI run, incl. capture install and index builds)", backfill)
    product = next(t for t in result["tables"] if t["table"] == "catalog_product")  # type: ignore[attr-defined]
    pipe_rate, engine_rate = rows / pipe_s, rows / engine_s
    print(f"  pipe   {pipe_rate:,.0f} rows/s")
    print(
        f"  engine {engine_rate:,.0f} rows/s (catalog_product alone {product['rows'] / product['seconds']:,.0f} rows/s)"
    )
    print(f"  of which rebuilding the 5 dropped indexes/constraints: {product['index_seconds']:.1f} s")
    print(f"  ratio engine/pipe = {engine_rate / pipe_rate:.2f}x   (goal ≥ 1.5x)")
    print("  (the pipe also checks the foreign key per row; the engine's session skips it: replica role)")
    with psycopg.connect(urls["engine"]) as a, psycopg.connect(urls["pipe"]) as b:
        q = "SELECT indexname FROM pg_indexes WHERE tablename = 'catalog_product' ORDER BY 1"
        assert a.execute(q).fetchall() == b.execute(q).fetchall(), "engine target lacks indexes the pipe target has"

    print("\n2. verify (checksums inside each database, both sides in parallel)", flush=True)
    verify = json.loads(
        subprocess.run([*engine_cmd, "verify", *common], capture_output=True, text=True, check=True).stdout
    )
    from strangler_playbook.database.context import open_context
    from strangler_playbook.spec.spec import load_spec
    from strangler_playbook.verify.verify import run_verify

    with open_context(load_spec(spec), urls["source"], urls["engine"]) as ctx:
        report = run_verify(ctx, record=False)
        alone = run_verify(ctx, record=False, concurrent=False)
    assert verify["clean"] and report.clean and alone.clean
    for label, result in (("both sides at once", report), ("one side at a time", alone)):
        table = next(t for t in result.tables if t.table == "catalog_product")
        print(
            f"  {label}: {table.source_rows:,} rows in {table.seconds:.2f} s wall; "
            f"source side {table.source_rows / table.source_seconds:,.0f} rows/s, "
            f"target side {table.target_rows / table.target_seconds:,.0f} rows/s"
        )
    print("  (goal ≥ 1,000,000 rows/s per side)")

    print(f"\n3. sync lag with {args.writes_per_s} updates/s for {args.sync_seconds:.0f} s", flush=True)
    stop = threading.Event()
    writers = 8  # one connection cannot commit 1k/s with fsync on a busy 2-core box; the app would not either
    written = [0] * writers
    writing = [0.0] * writers

    def writer(index: int) -> None:
        rng = random.Random(index)
        rate = args.writes_per_s / writers
        with psycopg.connect(urls["source"], autocommit=True) as conn:
            started = time.perf_counter()
            while not stop.is_set():
                conn.execute(
                    "UPDATE catalog_product SET price = price + 0.01, updated_at = now() WHERE id = %s",
                    (rng.randrange(1, rows + 1),),
                )
                written[index] += 1
                writing[index] = time.perf_counter() - started
                ahead = written[index] / rate - writing[index]
                if ahead > 0:
                    time.sleep(ahead)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    sync = subprocess.Popen(
        [*engine_cmd, "sync", *common, "--follow", "--duration", str(args.sync_seconds), "--poll", "0.05"],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)  # let the sync start before the load
    for thread in threads:
        thread.start()
    out, _ = sync.communicate(timeout=args.sync_seconds + 60)
    stop.set()
    for thread in threads:
        thread.join()
    summary = json.loads(out)
    achieved = sum(written) / max(writing)
    print(f"  writer achieved ≈{achieved:,.0f} updates/s; applied {summary['applied']:,} changes")
    print(
        f"  lag p50 {summary['lag_p50_s']:.3f} s, p99 {summary['lag_p99_s']:.3f} s, max {summary['lag_max_s']:.3f} s"
        "   (goal p99 ≤ 1 s)"
    )
    print("\n4. cutover write-hold p99: not measured (cutover waits for the proxy's admin API)")


if __name__ == "__main__":
    main()
