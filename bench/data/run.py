"""Data-engine benchmark (not a test): prints figures and their ratio to references measured in the same run.

On PostgreSQL ($STRANGLER_BENCH_POSTGRES, default the local server), with catalog_product rows:
1. backfill, `--repeat` times (best and median): the engine's whole CLI run (capture install, load, index builds)
   against three references, each into a fresh copy of the same target schema:
   - pipe, indexed: `psql COPY TO STDOUT | psql COPY FROM STDIN` into the indexed, constrained table (checks each
     row's foreign key and maintains 6 indexes while loading);
   - pipe, deferred: the same pipe into the table the engine loads (primary key and foreign key kept, the 2 unique
     constraints and 3 indexes dropped, foreign keys not checked per row as the engine's replica-role session),
     the same statements rebuilt after with the engine's maintenance_work_mem;  goal ≥ 1.5x this pipe
   - pgcopydb (Debian's `pgcopydb`): `copy table-data` then `copy indexes` into that same deferred table (the two
     unique constraints attached to the indexes it built);                 goal ≥ 1.0x pgcopydb
2. verify: rows/s per side (checksums computed inside each database);       goal ≥ 10⁶ rows/s per side
3. sync lag p99 with a writer doing 1k updates/s against the source;        goal ≤ 1 s

usage: bench/data/run.py [--rows 1000000] [--repeat 3] [--sync-seconds 15] [--writes-per-s 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "migration-playbook" / "tests"))
import catalog_fixture  # noqa: E402
from strangler_playbook.backfill.index_deferral import MAINTENANCE_WORK_MEM  # noqa: E402

SERVER = os.environ.get("STRANGLER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
COLUMNS = catalog_fixture.PRODUCT_COLUMNS
TABLES = ("catalog_category", "catalog_product")
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
# What the engine drops before its load and builds after (index_deferral.deferrable_indexes on this schema).
SECONDARY = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname, pg_get_constraintdef(c.oid)
FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'u'
WHERE i.indrelid = 'catalog_product'::regclass AND NOT i.indisprimary ORDER BY 1
"""
REFERENCES = ("pipe, indexed", "pipe, deferred", "pgcopydb")


def url_of(name: str) -> str:
    return SERVER.rsplit("/", 1)[0] + "/" + name


def psql_pipe(source: str, target: str, table: str, columns: str, *, replica: bool = False) -> None:
    cols = "" if columns == "*" else f" ({columns})"
    env = dict(os.environ)
    if replica:  # as the engine's session: foreign keys not checked row by row
        env["PGOPTIONS"] = "-c session_replication_role=replica"
    out = subprocess.Popen(["psql", "-X", "-q", source, "-c", f"COPY {table}{cols} TO STDOUT"], stdout=subprocess.PIPE)
    into = subprocess.run(
        ["psql", "-X", "-q", target, "-c", f"COPY {table}{cols} FROM STDIN"], stdin=out.stdout, env=env, check=False
    )
    assert out.stdout is not None
    out.stdout.close()
    if out.wait() != 0 or into.returncode != 0:
        raise SystemExit(f"the psql pipe for {table} failed")


def timed(label: str, func: Callable[[], object]) -> float:
    started = time.perf_counter()
    func()
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.2f} s", flush=True)
    return seconds


def seed(url: str, rows: int) -> None:
    """`rows` catalog products (and their categories) into `url`'s catalog schema, then analysed."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SEED_SQL.replace("%(rows)s", str(rows)))
        conn.execute("VACUUM ANALYZE catalog_category")
        conn.execute("VACUUM ANALYZE catalog_product")


def defer_indexes(url: str) -> list[tuple[str, str | None, str]]:
    """Drop catalog_product's unique constraints and secondary indexes; return (index, constraint, CREATE INDEX)."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(SECONDARY).fetchall()
        for index, _, constraint, _ in found:
            if constraint:
                conn.execute(f'ALTER TABLE catalog_product DROP CONSTRAINT "{constraint}"')
            else:
                conn.execute(f"DROP INDEX {index}")
    return [(index, constraint, index_def) for index, index_def, constraint, _ in found]


def rebuild_indexes(url: str, deferred: list[tuple[str, str | None, str]]) -> None:
    """The engine's rebuild: unique constraints as ALTER TABLE … ADD CONSTRAINT, the rest as CREATE INDEX."""
    with psycopg.connect(url) as conn:
        conn.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        for _, constraint, index_def in deferred:
            if constraint:
                columns = index_def[index_def.index("(") :]
                conn.execute(f'ALTER TABLE catalog_product ADD CONSTRAINT "{constraint}" UNIQUE {columns}')
            else:
                conn.execute(index_def)


def pgcopydb(source: str, target: str, deferred: list[tuple[str, str | None, str]]) -> None:
    """`pgcopydb copy table-data` then `copy indexes` (its CREATE INDEX jobs); the unique constraints are then
    attached to the unique indexes it built (catalog only). `copy constraints` is not used: it stops on the
    primary keys the deferred table kept."""
    work = Path(tempfile.mkdtemp(prefix="strangler-pgcopydb-"))
    filters = work / "filters.ini"
    filters.write_text("[include-only-table]\n" + "".join(f"public.{t}\n" for t in TABLES))
    common = ["--source", source, "--target", target, "--filters", str(filters)]
    try:
        for step, extra in (("table-data", []), ("indexes", ["--resume", "--not-consistent"])):
            done = subprocess.run(
                ["pgcopydb", "copy", step, *common, "--dir", str(work / "run"), *extra],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode:
                raise SystemExit(f"pgcopydb copy {step} failed:\n{done.stderr[-3000:]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with psycopg.connect(target, autocommit=True) as conn:
        for index, constraint, _ in deferred:
            if constraint:
                conn.execute(f'ALTER TABLE catalog_product ADD CONSTRAINT "{constraint}" UNIQUE USING INDEX {index}')


def require_pgcopydb() -> None:
    if shutil.which("pgcopydb") is None:
        raise SystemExit(
            "pgcopydb is not installed: `make bench-data` installs Debian's package when run as root; otherwise "
            "run `apt-get install pgcopydb` as root, then this again"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="backfill runs of each contender (best and median)")
    parser.add_argument("--sync-seconds", type=float, default=15.0)
    parser.add_argument("--writes-per-s", type=int, default=1000)
    args = parser.parse_args()
    require_pgcopydb()
    suffix = uuid.uuid4().hex[:8]
    roles = [
        "source",
        *(f"{who}_{n}" for n in range(args.repeat) for who in ("engine", "indexed", "deferred", "pgcopydb")),
    ]
    names = {role: f"strangler_playbook_bench_{role}_{suffix}" for role in roles}
    admin = psycopg.connect(SERVER, autocommit=True)
    try:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}"')
        run(args, {role: url_of(name) for role, name in names.items()})
    finally:
        for name in names.values():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def backfill_round(args: argparse.Namespace, urls: dict[str, str], n: int, spec: Path) -> dict[str, float]:
    """One run of each contender into its own fresh target; the order turns each round so none always goes first."""
    source = urls["source"]
    seconds: dict[str, float] = {}
    engine_cmd = [sys.executable, "-m", "strangler_playbook"]

    def engine() -> None:
        target = urls[f"engine_{n}"]
        command = [*engine_cmd, "backfill", str(spec), "--source", source, "--target", target, "--json"]
        done = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        product = next(t for t in json.loads(done)["tables"] if t["table"] == "catalog_product")
        print(
            f"    (engine: catalog_product load {product['seconds'] - product['index_seconds']:.2f} s + "
            f"index builds {product['index_seconds']:.2f} s)"
        )

    def reset() -> None:
        """Each round starts without capture on the source, as the first did; the last round's stays for the sync.
        Not timed: it is no part of a backfill."""
        if n < args.repeat - 1:
            target = urls[f"engine_{n}"]
            subprocess.run(
                [*engine_cmd, "reset", str(spec), "--source", source, "--target", target, "--yes"],
                check=True,
                capture_output=True,
            )

    def indexed() -> None:
        psql_pipe(source, urls[f"indexed_{n}"], "catalog_product", COLUMNS)

    deferred_target = urls[f"deferred_{n}"]
    deferred = defer_indexes(deferred_target)

    def pipe_deferred() -> None:
        started = time.perf_counter()
        psql_pipe(source, deferred_target, "catalog_product", COLUMNS, replica=True)
        loaded = time.perf_counter()
        rebuild_indexes(deferred_target, deferred)
        print(f"    (pipe: load {loaded - started:.2f} s + index builds {time.perf_counter() - loaded:.2f} s)")

    pgcopydb_target = urls[f"pgcopydb_{n}"]
    pgcopydb_deferred = defer_indexes(pgcopydb_target)
    contenders: list[tuple[str, Callable[[], None]]] = [
        ("engine", engine),
        ("pipe, indexed", indexed),
        ("pipe, deferred", pipe_deferred),
        ("pgcopydb", lambda: pgcopydb(source, pgcopydb_target, pgcopydb_deferred)),
    ]
    turn = n % len(contenders)
    print(f"\n  round {n + 1}/{args.repeat} (load average {load_average()})", flush=True)
    for label, action in contenders[turn:] + contenders[:turn]:
        seconds[label] = timed(label, action)
        if label == "engine":
            reset()
    q = "SELECT indexname FROM pg_indexes WHERE tablename = 'catalog_product' ORDER BY 1"
    expected = None
    for role in ("engine", "indexed", "deferred", "pgcopydb"):
        with psycopg.connect(urls[f"{role}_{n}"]) as conn:
            found = conn.execute(q).fetchall()
            count = conn.execute("SELECT count(*) FROM catalog_product").fetchone()
        assert count == (args.rows,), f"{role} target holds {count} rows"
        assert expected in (None, found), f"{role} target's indexes differ: {found} vs {expected}"
        expected = found
    return seconds


def run(args: argparse.Namespace, urls: dict[str, str]) -> None:
    rows = args.rows
    print(f"setup: {rows:,} catalog_product rows in {urls['source'].rsplit('/', 1)[1]}", flush=True)
    for url in urls.values():
        catalog_fixture.create_schema(url)
    timed("seed source", lambda: seed(urls["source"], rows))
    for role, url in urls.items():
        if role.startswith(("indexed", "deferred")):  # pgcopydb copies both tables itself, as the engine does
            psql_pipe(urls["source"], url, "catalog_category", "*")
    spec = Path(tempfile.mkdtemp()) / "catalog.toml"
    spec.write_text(catalog_fixture.SPEC)

    print(f"\n1. backfill, {args.repeat} rounds, each contender into a fresh copy of the target schema", flush=True)
    rounds = [backfill_round(args, urls, n, spec) for n in range(args.repeat)]
    rates = {label: [rows / r[label] for r in rounds] for label in rounds[0]}
    print(f"\n  {'':16} {'best rows/s':>12} {'median rows/s':>14}")
    for label, values in rates.items():
        print(f"  {label:16} {max(values):>12,.0f} {statistics.median(values):>14,.0f}")
    goals = {"pipe, indexed": "(today's reference)", "pipe, deferred": "goal ≥ 1.5x", "pgcopydb": "goal ≥ 1.0x"}
    ratios: dict[str, tuple[float, float]] = {}
    for label in REFERENCES:
        best = max(rates["engine"]) / max(rates[label])
        median = statistics.median(rates["engine"]) / statistics.median(rates[label])
        ratios[label] = (best, median)
        print(f"  engine / {label:15} best {best:.2f}x  median {median:.2f}x   {goals[label]}")
    urls["engine"] = urls[f"engine_{args.repeat - 1}"]
    engine_cmd = [sys.executable, "-m", "strangler_playbook"]
    common = [str(spec), "--source", urls["source"], "--target", urls["engine"], "--json"]

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
    print("\n4. cutover write hold: bench/data/cutover_hold.py (it runs the stack and the proxy)")
    print_table(ratios, load_average())


def print_table(ratios: dict[str, tuple[float, float]], load: str) -> None:
    """The rows of issue 16's table this benchmark measures."""
    print(f"\n| figure (load average {load}) | now: best / median of rounds | goal |")
    print("|---|---|---|")
    for label, goal in (("pipe, deferred", "≥ 1.5x"), ("pgcopydb", "≥ 1.0x"), ("pipe, indexed", "(the old reference)")):
        best, median = ratios[label]
        print(f"| backfill vs {label} | {best:.2f}x / {median:.2f}x | {goal} |")


if __name__ == "__main__":
    main()
